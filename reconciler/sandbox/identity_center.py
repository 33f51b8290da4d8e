"""The simulated IAM Identity Center (sso-admin): instances, permission sets, provisioning,
account assignments and their asynchronous operations.

Behaviour follows the IAM Identity Center API reference
(https://docs.aws.amazon.com/singlesignon/latest/APIReference/) and botocore's ``sso-admin``
service model; where AWS does not document a detail, the choice made is written next to it.

Time: asynchronous operations (CreateAccountAssignment, DeleteAccountAssignment,
ProvisionPermissionSet) are IN_PROGRESS for the configured delay (seconds, monotonic clock),
then end SUCCEEDED or FAILED. Their effects are applied lazily, in due order, whenever the
state is next read or written (``advance``), which is indistinguishable from a background
worker for any client.

Thread safety: callers hold ``lock`` around every call (the protocol layer does, per request).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from reconciler.sandbox.errors import (
    ServiceError,
    access_denied,
    conflict,
    not_found,
    quota_exceeded,
    throttling,
    validation_error,
)
from reconciler.sandbox.settings import SandboxSettings

OperationKind = Literal["CREATE_ASSIGNMENT", "DELETE_ASSIGNMENT", "PROVISION"]
IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
LATEST = "LATEST_PERMISSION_SET_PROVISIONED"
NOT_LATEST = "LATEST_PERMISSION_SET_NOT_PROVISIONED"

#: ISO-8601 duration, the subset AWS's SessionDuration accepts (botocore model pattern).
_DURATION = re.compile(
    r"(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)
MIN_SESSION_SECONDS = 3600
MAX_SESSION_SECONDS = 12 * 3600


class Directory(Protocol):
    """What the simulator needs to know about the rest of AWS (see ``directory.MotoDirectory``)."""

    def account_status(self, account_id: str) -> str | None: ...

    def principal_exists(
        self, *, identity_store_id: str, principal_type: str, principal_id: str
    ) -> bool: ...

    def principal_name(
        self, *, identity_store_id: str, principal_type: str, principal_id: str
    ) -> str | None: ...

    def customer_managed_policy_exists(self, *, account_id: str, name: str, path: str) -> bool: ...

    def aws_managed_policy_exists(self, arn: str) -> bool: ...


def session_duration_seconds(value: str) -> float:
    """Seconds in an ISO-8601 duration such as ``PT1H``, ``PT90M``, ``PT3600S``.

    Raises ``ValidationException`` for a malformed value or one with years, months, weeks or
    days (which AWS refuses for a session duration).
    """
    match = _DURATION.fullmatch(value)
    if match is None or match.group(1):
        raise validation_error(f"Invalid SessionDuration {value!r}: expected ISO-8601 like PT1H")
    if any(match.group(i) for i in (2, 3, 4)):
        raise validation_error(f"Invalid SessionDuration {value!r}: use hours/minutes/seconds")
    hours, minutes, seconds = (match.group(i) for i in (6, 7, 8))
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def _random_hex(length: int) -> str:
    return uuid.uuid4().hex[:length]


@dataclass
class Instance:
    """An Identity Center instance and its identity store."""

    arn: str
    identity_store_id: str
    owner_account_id: str
    name: str
    created_date: datetime
    access_control_attributes: list[dict[str, Any]] | None = None
    """The ABAC configuration's ``AccessControlAttributes``; None when there is none."""

    @property
    def instance_id(self) -> str:
        """``ssoins-<16>``, the last segment of the ARN."""
        return self.arn.rsplit("/", 1)[1]


@dataclass
class PermissionSet:
    """A permission set; ``version`` increases with every change that needs reprovisioning."""

    arn: str
    instance_arn: str
    name: str
    description: str | None
    session_duration: str
    relay_state: str | None
    created_date: datetime
    sequence: int
    tags: dict[str, str] = field(default_factory=dict)
    inline_policy: str | None = None
    managed_policies: list[str] = field(default_factory=list)
    customer_managed_policies: list[tuple[str, str]] = field(default_factory=list)
    permissions_boundary: dict[str, Any] | None = None
    version: int = 1

    def describe(self) -> dict[str, Any]:
        """The ``PermissionSet`` output shape."""
        return {
            "Name": self.name,
            "PermissionSetArn": self.arn,
            "Description": self.description,
            "CreatedDate": self.created_date,
            "SessionDuration": self.session_duration,
            "RelayState": self.relay_state,
        }


@dataclass(frozen=True)
class AccountAssignment:
    """(account, permission set, principal): one granted access."""

    account_id: str
    permission_set_arn: str
    principal_type: str
    principal_id: str


@dataclass
class AsyncOperation:
    """One asynchronous request and its status."""

    kind: OperationKind
    request_id: str
    instance_arn: str
    permission_set_arn: str
    created_date: datetime
    due: float
    sequence: int
    assignment: AccountAssignment | None = None
    target_id: str | None = None
    target_type: str = "AWS_ACCOUNT"
    status: str = IN_PROGRESS
    failure_reason: str | None = None
    #: clock seconds when the request was accepted, and when it ended (None while IN_PROGRESS)
    started: float = 0.0
    ended: float | None = None

    def status_at(self, moment: float) -> str | None:
        """The status the request had at clock second ``moment`` (None: not yet accepted)."""
        if moment < self.started:
            return None
        if self.ended is None or moment < self.ended:
            return IN_PROGRESS
        return self.status

    def assignment_status(self) -> dict[str, Any]:
        """The ``AccountAssignmentOperationStatus`` output shape."""
        if self.assignment is None:
            raise TypeError(f"{self.kind} request {self.request_id} has no account assignment")
        return {
            "Status": self.status,
            "RequestId": self.request_id,
            "FailureReason": self.failure_reason,
            "TargetId": self.assignment.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": self.permission_set_arn,
            "PrincipalType": self.assignment.principal_type,
            "PrincipalId": self.assignment.principal_id,
            "CreatedDate": self.created_date,
        }

    def provisioning_status(self) -> dict[str, Any]:
        """The ``PermissionSetProvisioningStatus`` output shape."""
        return {
            "Status": self.status,
            "RequestId": self.request_id,
            "AccountId": self.target_id,
            "PermissionSetArn": self.permission_set_arn,
            "FailureReason": self.failure_reason,
            "CreatedDate": self.created_date,
        }

    def metadata(self, status: str | None = None) -> dict[str, Any]:
        """The ``...StatusMetadata`` shape used by the List...Status calls (``status``: the
        one to show, when the list lags behind the request's own)."""
        return {
            "Status": status or self.status,
            "RequestId": self.request_id,
            "CreatedDate": self.created_date,
        }


class IdentityCenter:
    """State and behaviour of every Identity Center instance in the sandbox.

    ``directory`` answers questions about accounts, principals and policies; ``clock`` returns
    monotonic seconds (replaceable in tests).
    """

    def __init__(
        self,
        *,
        settings: SandboxSettings,
        directory: Directory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.clock = clock
        self.lock = threading.RLock()
        self.instances: dict[str, Instance] = {}
        self.permission_sets: dict[str, PermissionSet] = {}
        self.assignments: dict[AccountAssignment, int] = {}
        #: (permission set ARN, account id) -> version of the set provisioned there
        self.provisioned: dict[tuple[str, str], int] = {}
        self.operations: dict[str, AsyncOperation] = {}
        #: IN_PROGRESS operations by request id (a subset of ``operations``)
        self.pending: dict[str, AsyncOperation] = {}
        #: (permission set ARN, account id) -> that target's assignments (an index)
        self._by_target: dict[tuple[str, str], dict[AccountAssignment, int]] = {}
        self._sequence = itertools.count(1)
        #: every DeleteAccountAssignment request accepted, in order, named as at the request:
        #: (account id, permission set name, USER or GROUP, principal name or, unknown, its id)
        self.assignment_deletions: list[tuple[str, str, str, str]] = []

    # --- instances ------------------------------------------------------------------------

    def create_instance(
        self, *, owner_account_id: str, name: str = "", identity_store_id: str | None = None
    ) -> Instance:
        """Create an instance ``arn:aws:sso:::instance/ssoins-<16 hex>`` with an identity store
        ``d-<10 hex>`` (the shapes botocore's model patterns allow)."""
        instance = Instance(
            arn=f"arn:aws:sso:::instance/ssoins-{_random_hex(16)}",
            identity_store_id=identity_store_id or f"d-{_random_hex(10)}",
            owner_account_id=owner_account_id,
            name=name,
            created_date=datetime.now(UTC),
        )
        self.instances[instance.arn] = instance
        return instance

    def instance(self, instance_arn: str) -> Instance:
        """The instance, or ``ResourceNotFoundException``."""
        try:
            return self.instances[instance_arn]
        except KeyError:
            raise not_found(f"Instance {instance_arn} does not exist") from None

    # --- attributes for access control (ABAC) ---------------------------------------------

    @staticmethod
    def _check_attribute_keys(attributes: list[dict[str, Any]]) -> None:
        """ValidationException for two attributes with one key (ignoring case, as session tag
        keys are compared). AWS's model does not state this rule; the console refuses it."""
        seen: set[str] = set()
        for attribute in attributes:
            key = str(attribute["Key"]).casefold()
            if key in seen:
                raise validation_error(f"Duplicate attribute key {attribute['Key']!r}")
            seen.add(key)

    def create_access_control_attributes(
        self, *, instance_arn: str, attributes: list[dict[str, Any]]
    ) -> None:
        """CreateInstanceAccessControlAttributeConfiguration: ConflictException when the
        instance already has a configuration (one per instance; made in the console too)."""
        instance = self.instance(instance_arn)
        if instance.access_control_attributes is not None:
            raise conflict(
                "The instance already has an attribute-based access control configuration"
            )
        self._check_attribute_keys(attributes)
        instance.access_control_attributes = [dict(attribute) for attribute in attributes]

    def access_control_attributes(self, instance_arn: str) -> list[dict[str, Any]]:
        """The configuration's attributes; ResourceNotFoundException when there is none
        (DescribeInstanceAccessControlAttributeConfiguration)."""
        attributes = self.instance(instance_arn).access_control_attributes
        if attributes is None:
            raise not_found(
                f"No attribute-based access control configuration for instance {instance_arn}"
            )
        return attributes

    def update_access_control_attributes(
        self, *, instance_arn: str, attributes: list[dict[str, Any]]
    ) -> None:
        """UpdateInstanceAccessControlAttributeConfiguration: replaces every attribute;
        ResourceNotFoundException when there is no configuration."""
        self.access_control_attributes(instance_arn)
        self._check_attribute_keys(attributes)
        self.instance(instance_arn).access_control_attributes = [
            dict(attribute) for attribute in attributes
        ]

    def delete_access_control_attributes(self, *, instance_arn: str) -> None:
        """DeleteInstanceAccessControlAttributeConfiguration: ResourceNotFoundException when
        there is no configuration."""
        self.access_control_attributes(instance_arn)
        self.instance(instance_arn).access_control_attributes = None

    # --- time -----------------------------------------------------------------------------

    def advance(self) -> None:
        """Complete every IN_PROGRESS operation whose delay has passed, in due order."""
        now = self.clock()
        due = sorted(
            (op for op in self.pending.values() if op.due <= now),
            key=lambda op: (op.due, op.sequence),
        )
        for operation in due:
            del self.pending[operation.request_id]
            operation.ended = operation.due
            if operation.kind == "CREATE_ASSIGNMENT":
                self._complete_creation(operation)
            elif operation.kind == "DELETE_ASSIGNMENT":
                self._complete_deletion(operation)
            else:
                self._complete_provisioning(operation)

    def complete_in_progress(self) -> None:
        """Complete every IN_PROGRESS operation now, as if its delay had passed."""
        now = self.clock()
        for operation in self.pending.values():
            operation.due = min(operation.due, now)
        self.advance()

    def _in_progress(
        self, *, kinds: Iterable[OperationKind], permission_set_arn: str | None = None
    ) -> list[AsyncOperation]:
        wanted = set(kinds)
        return [
            op
            for op in self.pending.values()
            if op.kind in wanted
            and (permission_set_arn is None or op.permission_set_arn == permission_set_arn)
        ]

    def _refuse_if_busy(self, permission_set_arn: str, *, kinds: Iterable[OperationKind]) -> None:
        """ConflictException while an asynchronous operation on the set is IN_PROGRESS.

        AWS answers overlapping writes on one permission set with ConflictException
        ("... conflicting operation in process"); botocore does not retry it.
        """
        busy = self._in_progress(kinds=kinds, permission_set_arn=permission_set_arn)
        if busy:
            raise conflict(
                "Could not complete the request because of a conflicting operation in process "
                f"on permission set {permission_set_arn} (request {busy[0].request_id}). "
                "Retry when it has completed."
            )

    # --- permission sets ------------------------------------------------------------------

    def permission_set(self, instance_arn: str, permission_set_arn: str) -> PermissionSet:
        """The permission set, or ``ResourceNotFoundException``."""
        self.instance(instance_arn)
        found = self.permission_sets.get(permission_set_arn)
        if found is None or found.instance_arn != instance_arn:
            raise not_found(f"Could not find PermissionSet with ARN {permission_set_arn}")
        return found

    def _refuse_management_account(
        self, instance_arn: str, *, account_id: str | None, permission_set_arn: str | None
    ) -> None:
        """AccessDeniedException when the caller is a delegated administrator (setting
        ``delegated_administrator``) and the write targets the management account, or a
        permission set provisioned there (IAM Identity Center user guide, Delegated
        administration: only the management account manages those)."""
        if not self.settings.delegated_administrator:
            return
        management = self.instance(instance_arn).owner_account_id
        if account_id == management:
            raise access_denied(
                "User is not authorized to perform this operation on the management account "
                f"{management} from a delegated administrator account"
            )
        if permission_set_arn is not None and (permission_set_arn, management) in self.provisioned:
            raise access_denied(
                f"User is not authorized to manage permission set {permission_set_arn}: it is "
                f"provisioned to the management account {management}"
            )

    def _writable_set(self, instance_arn: str, permission_set_arn: str) -> PermissionSet:
        found = self.permission_set(instance_arn, permission_set_arn)
        self._refuse_management_account(
            instance_arn, account_id=None, permission_set_arn=permission_set_arn
        )
        self._refuse_if_busy(
            permission_set_arn, kinds=("CREATE_ASSIGNMENT", "DELETE_ASSIGNMENT", "PROVISION")
        )
        return found

    def create_permission_set(
        self,
        *,
        instance_arn: str,
        name: str,
        description: str | None,
        session_duration: str | None,
        relay_state: str | None,
        tags: list[dict[str, str]],
    ) -> PermissionSet:
        """CreatePermissionSet. Names are unique per instance (ConflictException); the session
        duration defaults to PT1H and must lie between PT1H and PT12H."""
        instance = self.instance(instance_arn)
        siblings = [ps for ps in self.permission_sets.values() if ps.instance_arn == instance_arn]
        if any(ps.name == name for ps in siblings):
            raise conflict(f"PermissionSet with name {name} already exists in this instance")
        if len(siblings) >= self.settings.max_permission_sets_per_instance:
            raise quota_exceeded(
                "The number of permission sets in the instance has reached its quota of "
                f"{self.settings.max_permission_sets_per_instance}"
            )
        duration = session_duration or "PT1H"
        _check_session_duration(duration)
        self._check_tags(tags, existing={})
        permission_set = PermissionSet(
            arn=f"arn:aws:sso:::permissionSet/{instance.instance_id}/ps-{_random_hex(16)}",
            instance_arn=instance_arn,
            name=name,
            description=description,
            session_duration=duration,
            relay_state=relay_state,
            created_date=datetime.now(UTC),
            sequence=next(self._sequence),
            tags={tag["Key"]: tag["Value"] for tag in tags},
        )
        self.permission_sets[permission_set.arn] = permission_set
        return permission_set

    def list_permission_sets(self, instance_arn: str) -> list[PermissionSet]:
        """Every permission set of the instance."""
        self.instance(instance_arn)
        return [ps for ps in self.permission_sets.values() if ps.instance_arn == instance_arn]

    def update_permission_set(
        self,
        *,
        instance_arn: str,
        permission_set_arn: str,
        description: str | None,
        session_duration: str | None,
        relay_state: str | None,
    ) -> None:
        """UpdatePermissionSet.

        An omitted RelayState is cleared (AWS behaviour, see terraform-provider-aws issue
        17411: "The AWS SSO API requires we send the RelayState value regardless if it's
        unchanged else the existing Permission Set's RelayState value will be cleared").
        An omitted Description or SessionDuration keeps its value. A changed session duration
        makes provisioned copies stale (they need ProvisionPermissionSet).
        """
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if description is not None:
            permission_set.description = description
        if session_duration is not None:
            _check_session_duration(session_duration)
            if session_duration_seconds(session_duration) != session_duration_seconds(
                permission_set.session_duration
            ):
                permission_set.version += 1
            permission_set.session_duration = session_duration
        permission_set.relay_state = relay_state

    def delete_permission_set(self, *, instance_arn: str, permission_set_arn: str) -> None:
        """DeletePermissionSet; ConflictException while the set is assigned or provisioned."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if any(arn == permission_set_arn for arn, _ in self._by_target):
            raise conflict(
                f"PermissionSet {permission_set_arn} is still assigned; delete its account "
                "assignments first"
            )
        if any(arn == permission_set_arn for arn, _ in self.provisioned):
            raise conflict(
                f"PermissionSet {permission_set_arn} is still provisioned to accounts; "
                "delete its account assignments first"
            )
        del self.permission_sets[permission_set.arn]

    # --- policies ---------------------------------------------------------------------------

    def put_inline_policy(
        self, *, instance_arn: str, permission_set_arn: str, inline_policy: str
    ) -> None:
        """PutInlinePolicyToPermissionSet (≤ 32,768 characters by the model; the document must
        be JSON). A change makes provisioned copies stale."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        _check_policy_document(inline_policy)
        if permission_set.inline_policy != inline_policy:
            permission_set.inline_policy = inline_policy
            permission_set.version += 1

    def delete_inline_policy(self, *, instance_arn: str, permission_set_arn: str) -> None:
        """DeleteInlinePolicyFromPermissionSet; deleting an absent policy succeeds."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if permission_set.inline_policy is not None:
            permission_set.inline_policy = None
            permission_set.version += 1

    def _policy_count(self, permission_set: PermissionSet) -> int:
        return len(permission_set.managed_policies) + len(permission_set.customer_managed_policies)

    def _check_room_for_policy(self, permission_set: PermissionSet) -> None:
        limit = self.settings.max_policies_per_permission_set
        if self._policy_count(permission_set) >= limit:
            raise quota_exceeded(
                f"PermissionSet {permission_set.arn} already has {limit} managed and "
                "customer-managed policies attached, the quota"
            )

    def attach_managed_policy(
        self, *, instance_arn: str, permission_set_arn: str, managed_policy_arn: str
    ) -> None:
        """AttachManagedPolicyToPermissionSet.

        The ARN may carry a path (``arn:aws:iam::aws:policy/job-function/ViewOnlyAccess``);
        an ARN that names no AWS-managed policy is refused (ValidationException), an already
        attached one too (ConflictException).
        """
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if not self.directory.aws_managed_policy_exists(managed_policy_arn):
            raise validation_error(f"Policy {managed_policy_arn} does not exist")
        if managed_policy_arn in permission_set.managed_policies:
            raise conflict(
                f"Policy {managed_policy_arn} is already attached to {permission_set_arn}"
            )
        self._check_room_for_policy(permission_set)
        permission_set.managed_policies.append(managed_policy_arn)
        permission_set.version += 1

    def detach_managed_policy(
        self, *, instance_arn: str, permission_set_arn: str, managed_policy_arn: str
    ) -> None:
        """DetachManagedPolicyFromPermissionSet; ResourceNotFoundException if not attached."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if managed_policy_arn not in permission_set.managed_policies:
            raise not_found(f"Policy {managed_policy_arn} is not attached to {permission_set_arn}")
        permission_set.managed_policies.remove(managed_policy_arn)
        permission_set.version += 1

    def attach_customer_managed_policy(
        self, *, instance_arn: str, permission_set_arn: str, name: str, path: str
    ) -> None:
        """AttachCustomerManagedPolicyReferenceToPermissionSet. The policy is not looked up
        now: it must exist in each account when the set is provisioned there."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if (name, path) in permission_set.customer_managed_policies:
            raise conflict(f"Customer managed policy {path}{name} is already attached")
        self._check_room_for_policy(permission_set)
        permission_set.customer_managed_policies.append((name, path))
        permission_set.version += 1

    def detach_customer_managed_policy(
        self, *, instance_arn: str, permission_set_arn: str, name: str, path: str
    ) -> None:
        """DetachCustomerManagedPolicyReferenceFromPermissionSet; ResourceNotFound if absent."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if (name, path) not in permission_set.customer_managed_policies:
            raise not_found(f"Customer managed policy {path}{name} is not attached")
        permission_set.customer_managed_policies.remove((name, path))
        permission_set.version += 1

    def put_permissions_boundary(
        self, *, instance_arn: str, permission_set_arn: str, boundary: dict[str, Any]
    ) -> None:
        """PutPermissionsBoundaryToPermissionSet: exactly one of ManagedPolicyArn or
        CustomerManagedPolicyReference (Path defaults to ``/``)."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        managed = boundary.get("ManagedPolicyArn")
        reference = boundary.get("CustomerManagedPolicyReference")
        if (managed is None) == (reference is None):
            raise validation_error(
                "PermissionsBoundary needs exactly one of ManagedPolicyArn or "
                "CustomerManagedPolicyReference"
            )
        if managed is not None:
            if not self.directory.aws_managed_policy_exists(managed):
                raise validation_error(f"Policy {managed} does not exist")
            normalized: dict[str, Any] = {"ManagedPolicyArn": managed}
        elif reference is not None:
            normalized = {
                "CustomerManagedPolicyReference": {
                    "Name": reference["Name"],
                    "Path": reference.get("Path") or "/",
                }
            }
        if permission_set.permissions_boundary != normalized:
            permission_set.permissions_boundary = normalized
            permission_set.version += 1

    def delete_permissions_boundary(self, *, instance_arn: str, permission_set_arn: str) -> None:
        """DeletePermissionsBoundaryFromPermissionSet; ResourceNotFoundException if none."""
        permission_set = self._writable_set(instance_arn, permission_set_arn)
        if permission_set.permissions_boundary is None:
            raise not_found(f"PermissionSet {permission_set_arn} has no permissions boundary")
        permission_set.permissions_boundary = None
        permission_set.version += 1

    # --- tags -------------------------------------------------------------------------------

    def _check_tags(self, tags: list[dict[str, str]], *, existing: dict[str, str]) -> None:
        keys = [tag["Key"] for tag in tags]
        if len(set(keys)) != len(keys):
            raise validation_error("Duplicate tag keys in the request")
        if any(key.lower().startswith("aws:") for key in keys):
            raise validation_error("Tag keys starting with 'aws:' are reserved")
        if len(set(existing) | set(keys)) > self.settings.max_tags_per_resource:
            raise validation_error(
                f"A resource can have at most {self.settings.max_tags_per_resource} tags"
            )

    def _tagged(self, resource_arn: str) -> dict[str, str]:
        found = self.permission_sets.get(resource_arn)
        if found is None:
            raise not_found(f"Could not find resource {resource_arn}")
        return found.tags

    def tag_resource(self, *, resource_arn: str, tags: list[dict[str, str]]) -> None:
        """TagResource on a permission set; an existing key gets the new value."""
        current = self._tagged(resource_arn)
        self._check_tags(tags, existing=current)
        current.update({tag["Key"]: tag["Value"] for tag in tags})

    def untag_resource(self, *, resource_arn: str, tag_keys: list[str]) -> None:
        """UntagResource; absent keys are ignored."""
        current = self._tagged(resource_arn)
        for key in tag_keys:
            current.pop(key, None)

    def tags(self, resource_arn: str) -> dict[str, str]:
        """ListTagsForResource."""
        return dict(self._tagged(resource_arn))

    # --- provisioning -----------------------------------------------------------------------

    def _new_operation(
        self,
        *,
        kind: OperationKind,
        instance_arn: str,
        permission_set_arn: str,
        delay: float,
        assignment: AccountAssignment | None = None,
        target_id: str | None = None,
        target_type: str = "AWS_ACCOUNT",
    ) -> AsyncOperation:
        operation = AsyncOperation(
            kind=kind,
            request_id=str(uuid.uuid4()),
            instance_arn=instance_arn,
            permission_set_arn=permission_set_arn,
            created_date=datetime.now(UTC),
            due=self.clock() + delay,
            started=self.clock(),
            sequence=next(self._sequence),
            assignment=assignment,
            target_id=target_id,
            target_type=target_type,
        )
        self.operations[operation.request_id] = operation
        self.pending[operation.request_id] = operation
        return operation

    def provision_permission_set(
        self,
        *,
        instance_arn: str,
        permission_set_arn: str,
        target_type: str,
        target_id: str | None,
    ) -> AsyncOperation:
        """ProvisionPermissionSet to one account (``AWS_ACCOUNT`` + TargetId) or to every account
        where the set is provisioned (``ALL_PROVISIONED_ACCOUNTS``).

        Refused with ConflictException while another operation on the set is IN_PROGRESS and
        with ThrottlingException when ``max_concurrent_provisioning`` provisionings are.
        """
        self._writable_set(instance_arn, permission_set_arn)
        self._refuse_management_account(instance_arn, account_id=target_id, permission_set_arn=None)
        if target_type == "AWS_ACCOUNT" and not target_id:
            raise validation_error("TargetId is required when TargetType is AWS_ACCOUNT")
        if target_type == "ALL_PROVISIONED_ACCOUNTS" and target_id:
            raise validation_error("TargetId must be omitted with ALL_PROVISIONED_ACCOUNTS")
        running = self._in_progress(kinds=("PROVISION",))
        if len(running) >= self.settings.max_concurrent_provisioning:
            raise throttling(
                f"Too many concurrent ProvisionPermissionSet requests ({len(running)} in "
                "progress); retry later"
            )
        return self._new_operation(
            kind="PROVISION",
            instance_arn=instance_arn,
            permission_set_arn=permission_set_arn,
            delay=self.settings.provisioning_delay_seconds,
            target_id=target_id,
            target_type=target_type,
        )

    def _provisioning_problem(self, permission_set: PermissionSet, account_id: str) -> str | None:
        """Why the set cannot be provisioned to the account now, or None if it can."""
        status = self.directory.account_status(account_id)
        if status is None:
            return f"Account {account_id} is not a member of the organization"
        if status != "ACTIVE":
            return f"Account {account_id} is {status}"
        for name, path in permission_set.customer_managed_policies:
            if not self.directory.customer_managed_policy_exists(
                account_id=account_id, name=name, path=path
            ):
                return (
                    f"Received a 404 status error: Customer managed policy {path}{name} "
                    f"does not exist in account {account_id}"
                )
        boundary = permission_set.permissions_boundary or {}
        reference = boundary.get("CustomerManagedPolicyReference")
        if reference is not None and not self.directory.customer_managed_policy_exists(
            account_id=account_id, name=reference["Name"], path=reference["Path"]
        ):
            return (
                "Received a 404 status error: Permissions boundary policy "
                f"{reference['Path']}{reference['Name']} does not exist in account {account_id}"
            )
        return None

    def _complete_provisioning(self, operation: AsyncOperation) -> None:
        permission_set = self.permission_sets.get(operation.permission_set_arn)
        if permission_set is None:
            operation.status, operation.failure_reason = FAILED, "Permission set was deleted"
            return
        if operation.target_type == "AWS_ACCOUNT":
            targets = [operation.target_id] if operation.target_id else []
        else:
            targets = sorted(a for arn, a in self.provisioned if arn == permission_set.arn)
        problems = []
        for account_id in targets:
            problem = self._provisioning_problem(permission_set, account_id)
            if problem is None:
                self.provisioned[(permission_set.arn, account_id)] = permission_set.version
            else:
                problems.append(problem)
        if problems:
            operation.status, operation.failure_reason = FAILED, "; ".join(problems)
        else:
            operation.status = SUCCEEDED

    def provisioned_accounts(
        self, *, instance_arn: str, permission_set_arn: str, provisioning_status: str | None
    ) -> list[str]:
        """ListAccountsForProvisionedPermissionSet: accounts holding a copy of the set,
        filtered by LATEST_PERMISSION_SET_PROVISIONED / LATEST_PERMISSION_SET_NOT_PROVISIONED."""
        permission_set = self.permission_set(instance_arn, permission_set_arn)
        return [
            account
            for (arn, account), version in self.provisioned.items()
            if arn == permission_set_arn
            and _matches(provisioning_status, version=version, latest=permission_set.version)
        ]

    def permission_sets_provisioned_to(
        self, *, instance_arn: str, account_id: str, provisioning_status: str | None
    ) -> list[PermissionSet]:
        """ListPermissionSetsProvisionedToAccount, with the same status filter."""
        self.instance(instance_arn)
        found = []
        for (arn, account), version in self.provisioned.items():
            permission_set = self.permission_sets.get(arn)
            if (
                account == account_id
                and permission_set is not None
                and permission_set.instance_arn == instance_arn
                and _matches(provisioning_status, version=version, latest=permission_set.version)
            ):
                found.append(permission_set)
        return found

    # --- account assignments ---------------------------------------------------------------

    def _assignment_slot(self) -> None:
        running = self._in_progress(kinds=("CREATE_ASSIGNMENT", "DELETE_ASSIGNMENT"))
        if len(running) >= self.settings.max_outstanding_assignment_operations:
            raise throttling(
                f"Too many outstanding account assignment requests ({len(running)} in "
                "progress); retry later"
            )

    def create_account_assignment(
        self, *, instance_arn: str, assignment: AccountAssignment
    ) -> AsyncOperation:
        """CreateAccountAssignment: IN_PROGRESS now, then SUCCEEDED or FAILED.

        FAILED (asynchronously, with a FailureReason) when the account is not an ACTIVE member
        of the organization, the principal does not exist in the identity store, or the set
        cannot be provisioned there (a customer-managed policy or boundary is missing). On
        success the set is provisioned to the account if it was not yet (AWS: "As part of a
        successful CreateAccountAssignment call, the specified permission set will
        automatically be provisioned to the account"); an existing stale copy is left as is.
        Creating an existing assignment succeeds without a duplicate.
        """
        return self._start_assignment_operation(
            kind="CREATE_ASSIGNMENT", instance_arn=instance_arn, assignment=assignment
        )

    def _complete_creation(self, operation: AsyncOperation) -> None:
        assignment = operation.assignment
        if assignment is None:
            raise TypeError(f"request {operation.request_id} has no account assignment")
        permission_set = self.permission_sets.get(assignment.permission_set_arn)
        instance = self.instances.get(operation.instance_arn)
        if permission_set is None or instance is None:
            operation.status, operation.failure_reason = FAILED, "Permission set was deleted"
            return
        status = self.directory.account_status(assignment.account_id)
        if status is None or status != "ACTIVE":
            operation.status = FAILED
            operation.failure_reason = (
                f"Account {assignment.account_id} is not an active member of the organization"
            )
            return
        if not self.directory.principal_exists(
            identity_store_id=instance.identity_store_id,
            principal_type=assignment.principal_type,
            principal_id=assignment.principal_id,
        ):
            operation.status = FAILED
            operation.failure_reason = (
                f"Received a 404 status error: {assignment.principal_type} principal "
                f"{assignment.principal_id} does not exist in identity store "
                f"{instance.identity_store_id}"
            )
            return
        if assignment in self.assignments:
            operation.status = SUCCEEDED
            return
        key = (permission_set.arn, assignment.account_id)
        if key not in self.provisioned:
            problem = self._provisioning_problem(permission_set, assignment.account_id)
            if problem is not None:
                operation.status, operation.failure_reason = FAILED, problem
                return
            self.provisioned[key] = permission_set.version
        sequence = next(self._sequence)
        self.assignments[assignment] = sequence
        self._by_target.setdefault(key, {})[assignment] = sequence
        operation.status = SUCCEEDED

    def delete_account_assignment(
        self, *, instance_arn: str, assignment: AccountAssignment
    ) -> AsyncOperation:
        """DeleteAccountAssignment: IN_PROGRESS now, then SUCCEEDED.

        Deleting the last assignment of a set in an account removes the set's provisioned copy
        there (AWS deletes the role). Deleting an assignment that does not exist succeeds
        (sandbox choice: AWS does not document it).
        """
        operation = self._start_assignment_operation(
            kind="DELETE_ASSIGNMENT", instance_arn=instance_arn, assignment=assignment
        )
        principal_name = self.directory.principal_name(
            identity_store_id=self.instances[instance_arn].identity_store_id,
            principal_type=assignment.principal_type,
            principal_id=assignment.principal_id,
        )
        self.assignment_deletions.append(
            (
                assignment.account_id,
                self.permission_sets[assignment.permission_set_arn].name,
                assignment.principal_type,
                principal_name or assignment.principal_id,
            )
        )
        return operation

    def _start_assignment_operation(
        self, *, kind: OperationKind, instance_arn: str, assignment: AccountAssignment
    ) -> AsyncOperation:
        """The checks both assignment writes share (set exists, management account, no
        provisioning of the set in flight, an outstanding-request slot), then the request."""
        self.permission_set(instance_arn, assignment.permission_set_arn)
        self._refuse_management_account(
            instance_arn, account_id=assignment.account_id, permission_set_arn=None
        )
        self._refuse_if_busy(assignment.permission_set_arn, kinds=("PROVISION",))
        self._assignment_slot()
        return self._new_operation(
            kind=kind,
            instance_arn=instance_arn,
            permission_set_arn=assignment.permission_set_arn,
            delay=self.settings.assignment_delay_seconds,
            assignment=assignment,
        )

    def _complete_deletion(self, operation: AsyncOperation) -> None:
        assignment = operation.assignment
        if assignment is None:
            raise TypeError(f"request {operation.request_id} has no account assignment")
        self.assignments.pop(assignment, None)
        key = (assignment.permission_set_arn, assignment.account_id)
        target = self._by_target.get(key, {})
        target.pop(assignment, None)
        if not target:
            self._by_target.pop(key, None)
            self.provisioned.pop(key, None)
        operation.status = SUCCEEDED

    def operation(
        self, *, instance_arn: str, request_id: str, kind: OperationKind
    ) -> AsyncOperation:
        """One operation by request id, or ResourceNotFoundException (also once it aged out:
        setting ``status_retention_seconds``). Describe... calls are never late."""
        self.instance(instance_arn)
        found = self.operations.get(request_id)
        if (
            found is None
            or found.kind != kind
            or found.instance_arn != instance_arn
            or self._aged_out(found)
        ):
            raise not_found(f"Request {request_id} does not exist")
        return found

    def _aged_out(self, operation: AsyncOperation) -> bool:
        retention = self.settings.status_retention_seconds
        return retention is not None and self.clock() - operation.started >= retention

    def operations_of(
        self, *, instance_arn: str, kind: OperationKind, status: str | None
    ) -> list[tuple[AsyncOperation, str]]:
        """Operations of one kind as a List...Status call shows them, with the status shown,
        optionally only those showing ``status``. The list lags ``status_list_lag_seconds``
        behind (each request as it was that long ago; one younger is not listed) and leaves out
        requests that aged out (``status_retention_seconds``)."""
        self.instance(instance_arn)
        moment = self.clock() - self.settings.status_list_lag_seconds
        shown = []
        for op in self.operations.values():
            if op.kind != kind or op.instance_arn != instance_arn or self._aged_out(op):
                continue
            listed = op.status_at(moment)
            if listed is not None and (status is None or listed == status):
                shown.append((op, listed))
        return shown

    def list_assignments(
        self, *, instance_arn: str, account_id: str, permission_set_arn: str
    ) -> list[tuple[AccountAssignment, int]]:
        """ListAccountAssignments: one account and one set, with ordering sequence numbers."""
        self.permission_set(instance_arn, permission_set_arn)
        return list(self._by_target.get((permission_set_arn, account_id), {}).items())

    def assignments_for_principal(
        self, *, instance_arn: str, principal_type: str, principal_id: str, account_id: str | None
    ) -> list[tuple[AccountAssignment, int]]:
        """ListAccountAssignmentsForPrincipal, optionally filtered to one account."""
        self.instance(instance_arn)
        return [
            (a, seq)
            for a, seq in self.assignments.items()
            if a.principal_type == principal_type
            and a.principal_id == principal_id
            and (account_id is None or a.account_id == account_id)
            and self.permission_sets.get(a.permission_set_arn) is not None
            and self.permission_sets[a.permission_set_arn].instance_arn == instance_arn
        ]


def _matches(provisioning_status: str | None, *, version: int, latest: int) -> bool:
    if provisioning_status is None:
        return True
    if provisioning_status == LATEST:
        return version == latest
    return version != latest


def _check_session_duration(value: str) -> None:
    seconds = session_duration_seconds(value)
    if not MIN_SESSION_SECONDS <= seconds <= MAX_SESSION_SECONDS:
        raise validation_error(
            f"SessionDuration {value} is out of range: it must be between PT1H and PT12H"
        )


def _check_policy_document(document: str) -> None:
    try:
        parsed = json.loads(document)
    except ValueError as exc:
        raise validation_error("The inline policy is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise validation_error("The inline policy must be a JSON object")
    non_whitespace = sum(1 for ch in document if not ch.isspace())
    if non_whitespace > 10240:
        raise ServiceError(
            "ValidationException",
            "The inline policy exceeds 10,240 characters excluding whitespace (IAM role policy "
            "size quota)",
        )
