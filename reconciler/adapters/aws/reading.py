"""Reading the live state of Identity Center, Organizations and the identity store.

One pass reads everything the planner compares, with the fewest calls the APIs allow:

- the instance (sso-admin ListInstances, in the clients' Region: an instance lives in one
  Region, and ``instance_not_found`` names the Region and how to set it) and the
  organization's accounts (Organizations ListAccounts, every page: AWS may answer an empty
  page with a ``NextToken``);
- the caller (STS GetCallerIdentity, one call): its account against the instance's
  ``OwnerAccountId`` tells the management account from a delegated administrator
  (``model.administration``), whose limits planning checks;
- users and groups (identitystore ListUsers, ListGroups) and memberships, through
  ListGroupMemberships per group or ListGroupMembershipsForMember per user, whichever means
  fewer calls;
- permission sets (ListPermissionSets), then per set, on a bounded thread pool: its attributes
  (DescribePermissionSet, ListManagedPoliciesInPermissionSet,
  ListCustomerManagedPolicyReferencesInPermissionSet, GetInlinePolicyForPermissionSet,
  GetPermissionsBoundaryForPermissionSet, ListTagsForResource), the accounts it is provisioned to
  (ListAccountsForProvisionedPermissionSet, unfiltered and filtered with
  ``LATEST_PERMISSION_SET_NOT_PROVISIONED``) and its account assignments in those accounts only
  (ListAccountAssignments per provisioned account). An account assignment provisions its set to
  the account, so this sees every principal on every set, managed or not, in P·8 + Σ k_p calls
  (k_p: accounts where set p is provisioned) plus extra pages, instead of A·P for every account
  times every set. No complete reader needs fewer: an assignment of a principal deleted from
  the identity store is listed only by ListAccountAssignments of its (set, account)
  (``benchmarks/floor.py`` derives the floor);
- optionally (``assignments_by="hybrid"`` with the ``previous`` read), account assignments per
  principal plus the (set, account) pairs where deleted principals can hide: fewer calls, with
  the one blind spot its docstring names, closed by the next complete read;
- when asked (``TargetReads.access_control_attributes``: the revision declares them), the
  instance's attributes for access control (DescribeInstanceAccessControlAttributeConfiguration,
  one call).

Every call goes through the clients' rate limiters; errors are translated to ``AwsError``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal

import structlog

from reconciler.adapters.aws.clients import AwsClients
from reconciler.adapters.aws.errors import NOT_FOUND, call, pages
from reconciler.adapters.aws.organizations import read_organization
from reconciler.errors import PermanentAwsError
from reconciler.model.administration import Caller
from reconciler.model.limits import canonical_duration, duration_seconds
from reconciler.model.policies import parse_policy_text
from reconciler.model.state import (
    Account,
    AssignmentKey,
    CustomerManagedPolicyRef,
    Group,
    IdentityCenterState,
    LiveState,
    Membership,
    PermissionsBoundary,
    PermissionSet,
    PolicyDocument,
    PrincipalType,
    User,
)
from reconciler.model.targets import TargetReads

AssignmentReading = Literal["permission-set", "hybrid", "principal", "auto"]
"""How ``read_live_state`` reads account assignments (see its docstring)."""
DEFAULT_WORKERS = 4
"""Permission sets read at once. All calls still pass the sso-admin rate limiter."""
STALE = "LATEST_PERMISSION_SET_NOT_PROVISIONED"
DEFAULT_SESSION_DURATION = "PT1H"
"""What AWS applies when a permission set is created without a SessionDuration."""

log = structlog.get_logger()


def deleted_principal_name(principal_type: PrincipalType, principal_id: str) -> str:
    """Placeholder name of a principal id that the identity store no longer knows.

    ``<deleted user 9067a1b2c3-...>``: the full id, so two deleted principals never share a
    name, and angle brackets, which no desired-state name uses for such a purpose.
    """
    return f"<deleted {principal_type.value.lower()} {principal_id}>"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Instance:
    arn: str
    identity_store_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _PermissionSetReading:
    """One permission set as read, with principal ids not yet mapped to names."""

    arn: str
    permission_set: PermissionSet
    provisioned: frozenset[str]
    stale: frozenset[str]
    assignments: tuple[tuple[str, PrincipalType, str], ...]
    """(account id, principal type, principal id) of each account assignment."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Identities:
    users: dict[str, User]
    user_ids: dict[str, str]
    groups: dict[str, Group]
    group_ids: dict[str, str]
    memberships: frozenset[Membership]
    membership_ids: dict[Membership, str]


REGION_VARIABLE = "AWS_REGION"
"""The variable that sets the Region of every client (``clients.make_clients``)."""


def region_advice(region: str) -> str:
    """What to do when ``region`` holds no instance: the variable that sets the Region."""
    return (
        f"IAM Identity Center is Regional and these clients call {region}: set "
        f"{REGION_VARIABLE} (or AWS_DEFAULT_REGION, or the AWS profile's region) to the "
        "Region of the instance, which the Identity Center console shows on its Settings page "
        "(an instance ARN names no Region); if the instance is in "
        f"{region}, the calling account must be the organization's management account or "
        "the instance's delegated administrator"
    )


def instance_not_found(
    region: str, *, instance_arn: str | None = None, identity_store_id: str | None = None
) -> PermanentAwsError:
    """The ``InstanceNotFound`` error for ``region`` (code ``InstanceNotFound``): no instance
    at all, not ``instance_arn``, or an instance whose identity store is not
    ``identity_store_id``; its message names the Region and its advice how to set it."""
    if identity_store_id is not None:
        what = f"no identity store {identity_store_id} in {region}"
        operation = "identitystore"
    elif instance_arn is not None:
        what = f"no IAM Identity Center instance {instance_arn} in {region} for this account"
        operation = "ListInstances"
    else:
        what = f"no IAM Identity Center instance in {region} for this account"
        operation = "ListInstances"
    return PermanentAwsError(
        operation=operation, code="InstanceNotFound", reason=what, advice=region_advice(region)
    )


def _listed_instance(clients: AwsClients, *, instance_arn: str | None) -> Mapping[str, Any]:
    """The ListInstances entry of the instance (see ``find_instance``)."""
    instances: list[Mapping[str, Any]] = [
        instance
        for page in pages(clients.sso_admin, "list_instances")
        for instance in page.get("Instances", [])
    ]
    if instance_arn is not None:
        for instance in instances:
            if instance["InstanceArn"] == instance_arn:
                return instance
        raise instance_not_found(clients.region, instance_arn=instance_arn)
    if not instances:
        raise instance_not_found(clients.region)
    if len(instances) > 1:
        arns = ", ".join(sorted(str(instance["InstanceArn"]) for instance in instances))
        raise PermanentAwsError(
            operation="ListInstances",
            code="AmbiguousInstance",
            reason=f"{len(instances)} IAM Identity Center instances ({arns}): name one",
        )
    return instances[0]


def find_instance(clients: AwsClients, *, instance_arn: str | None = None) -> tuple[str, str]:
    """(instance ARN, identity store id) of the Identity Center instance (sso-admin
    ListInstances, in the clients' Region).

    Without ``instance_arn`` exactly one instance must exist. Raises ``PermanentAwsError`` with
    code ``InstanceNotFound`` when there is none or ``instance_arn`` is not among them (its
    message names the Region, its advice how to set it: ``instance_not_found``), and
    ``AmbiguousInstance`` when several exist and none was named.
    """
    instance = _listed_instance(clients, instance_arn=instance_arn)
    return str(instance["InstanceArn"]), str(instance["IdentityStoreId"])


def read_caller(
    clients: AwsClients,
    *,
    instance_owner_account_id: str | None,
    management_account_id: str | None,
) -> Caller:
    """The account this pass calls from (STS GetCallerIdentity, one call, which AWS lets every
    identity make), compared with the instance's owner (``administration.Caller``; an owner
    AWS did not give is taken to be the caller). Raises like every read."""
    account_id = str(call(clients.sts.get_caller_identity)["Account"])
    return Caller(
        account_id=account_id,
        instance_owner_account_id=instance_owner_account_id or account_id,
        management_account_id=management_account_id,
    )


def read_accounts(clients: AwsClients) -> dict[str, Account]:
    """Every account of the organization by id (Organizations ListAccounts, every page)."""
    return {
        account["Id"]: Account(
            id=account["Id"],
            name=account.get("Name", ""),
            status=account.get("Status") or account.get("State") or "ACTIVE",
        )
        for page in pages(clients.organizations, "list_accounts")
        for account in page.get("Accounts", [])
    }


def _primary_email(emails: Iterable[Mapping[str, Any]]) -> str | None:
    listed = [email for email in emails if email.get("Value")]
    for email in listed:
        if email.get("Primary"):
            return str(email["Value"])
    return str(listed[0]["Value"]) if listed else None


def _user(raw: Mapping[str, Any]) -> User:
    name = raw.get("Name") or {}
    return User(
        user_name=raw["UserName"],
        display_name=raw.get("DisplayName") or "",
        given_name=name.get("GivenName") or "",
        family_name=name.get("FamilyName") or "",
        email=_primary_email(raw.get("Emails") or []),
    )


def _read_identities(clients: AwsClients, *, identity_store_id: str) -> _Identities:
    users: dict[str, User] = {}
    user_ids: dict[str, str] = {}
    for page in pages(clients.identitystore, "list_users", IdentityStoreId=identity_store_id):
        for raw in page.get("Users", []):
            user = _user(raw)
            users[user.user_name] = user
            user_ids[user.user_name] = raw["UserId"]
    groups: dict[str, Group] = {}
    group_ids: dict[str, str] = {}
    for page in pages(clients.identitystore, "list_groups", IdentityStoreId=identity_store_id):
        for raw in page.get("Groups", []):
            name = raw.get("DisplayName") or raw["GroupId"]
            groups[name] = Group(name=name, description=raw.get("Description") or None)
            group_ids[name] = raw["GroupId"]
    user_names = {user_id: name for name, user_id in user_ids.items()}
    group_names = {group_id: name for name, group_id in group_ids.items()}
    memberships: dict[Membership, str] = {}
    for raw in _memberships(
        clients,
        identity_store_id=identity_store_id,
        user_ids=user_ids.values(),
        group_ids=group_ids.values(),
    ):
        user_id = raw.get("MemberId", {}).get("UserId")
        if user_id is None or raw["GroupId"] not in group_names:
            continue
        user_name = user_names.get(user_id)
        if user_name is None:
            user_name = deleted_principal_name(PrincipalType.USER, user_id)
            user_ids[user_name] = user_id
        memberships[Membership(group=group_names[raw["GroupId"]], user=user_name)] = raw[
            "MembershipId"
        ]
    return _Identities(
        users=users,
        user_ids=user_ids,
        groups=groups,
        group_ids=group_ids,
        memberships=frozenset(memberships),
        membership_ids=memberships,
    )


def _identities_in_store(clients: AwsClients, *, identity_store_id: str) -> _Identities:
    """``_read_identities``, with a store that the identitystore client's Region does not hold
    (ResourceNotFoundException on the store, a client pointed at another Region than
    sso-admin's) reported as ``instance_not_found`` naming that Region."""
    try:
        return _read_identities(clients, identity_store_id=identity_store_id)
    except PermanentAwsError as exc:
        if exc.code == NOT_FOUND and identity_store_id in exc.reason:
            region = str(clients.identitystore.meta.region_name)
            raise instance_not_found(region, identity_store_id=identity_store_id) from exc
        raise


def _memberships(
    clients: AwsClients,
    *,
    identity_store_id: str,
    user_ids: Iterable[str],
    group_ids: Iterable[str],
) -> Iterable[Mapping[str, Any]]:
    """Every group membership, by group or by member, whichever takes fewer calls."""
    users, groups = list(user_ids), list(group_ids)
    if len(groups) <= len(users):
        for group_id in groups:
            for page in pages(
                clients.identitystore,
                "list_group_memberships",
                IdentityStoreId=identity_store_id,
                GroupId=group_id,
            ):
                yield from page.get("GroupMemberships", [])
    else:
        for user_id in users:
            for page in pages(
                clients.identitystore,
                "list_group_memberships_for_member",
                IdentityStoreId=identity_store_id,
                MemberId={"UserId": user_id},
            ):
                yield from page.get("GroupMemberships", [])


def session_duration(value: object) -> str:
    """Canonical ISO-8601 form of a SessionDuration as AWS returns it.

    AWS returns an ISO-8601 string (``PT1H``, ``PT3600S``); some implementations return seconds
    as an integer. Missing means AWS's default, PT1H. A string that is not an hours, minutes and
    seconds duration is returned unchanged, so the planner shows it as drift.
    """
    if value is None or value == "":
        return DEFAULT_SESSION_DURATION
    if isinstance(value, int | float):
        return canonical_duration(int(value))
    text = str(value)
    seconds = duration_seconds(text)
    return canonical_duration(seconds) if seconds is not None else text


def inline_policy(text: str | None) -> PolicyDocument | None:
    """The inline policy as AWS returns it (an empty string means none)."""
    if not text:
        return None
    try:
        return parse_policy_text(text)
    except ValueError:
        # Not JSON (AWS would not store it): compare the text as is.
        return PolicyDocument(canonical=text, text=text)


def _boundary(clients: AwsClients, *, instance_arn: str, arn: str) -> PermissionsBoundary | None:
    try:
        response = call(
            clients.sso_admin.get_permissions_boundary_for_permission_set,
            InstanceArn=instance_arn,
            PermissionSetArn=arn,
        )
    except PermanentAwsError as exc:
        if exc.code == NOT_FOUND:
            return None
        raise
    raw: Mapping[str, Any] = response.get("PermissionsBoundary") or {}
    reference = raw.get("CustomerManagedPolicyReference")
    if reference:
        return PermissionsBoundary(
            customer_managed_policy=CustomerManagedPolicyRef(
                name=reference["Name"], path=reference.get("Path") or "/"
            )
        )
    if raw.get("ManagedPolicyArn"):
        return PermissionsBoundary(managed_policy_arn=raw["ManagedPolicyArn"])
    return None


def _provisioned(
    clients: AwsClients, *, instance_arn: str, arn: str, status: str | None
) -> frozenset[str]:
    extra: dict[str, Any] = {"ProvisioningStatus": status} if status else {}
    return frozenset(
        account_id
        for page in pages(
            clients.sso_admin,
            "list_accounts_for_provisioned_permission_set",
            InstanceArn=instance_arn,
            PermissionSetArn=arn,
            **extra,
        )
        for account_id in page.get("AccountIds", [])
    )


def _assignments_in(
    clients: AwsClients, *, instance_arn: str, arn: str, account_ids: Iterable[str]
) -> Iterable[tuple[str, PrincipalType, str]]:
    """(account id, principal type, principal id) of the set's assignments in those accounts
    (ListAccountAssignments, every page, per account)."""
    for account_id in sorted(account_ids):
        for page in pages(
            clients.sso_admin,
            "list_account_assignments",
            InstanceArn=instance_arn,
            PermissionSetArn=arn,
            AccountId=account_id,
        ):
            for raw in page.get("AccountAssignments", []):
                yield raw["AccountId"], PrincipalType(raw["PrincipalType"]), raw["PrincipalId"]


def _assignments_by_principal(
    clients: AwsClients,
    *,
    instance_arn: str,
    readings: list[_PermissionSetReading],
    principals: list[tuple[PrincipalType, str]],
    workers: int,
    also_read: Mapping[str, frozenset[str]] | None = None,
) -> list[_PermissionSetReading]:
    """``readings`` with their assignments read per principal.

    One ListAccountAssignmentsForPrincipal (every page) per principal of ``principals``. Then
    every (set, account) where the set is provisioned but no assignment was found, and every
    provisioned (set, account) of ``also_read`` (set ARN -> account ids), is read with
    ListAccountAssignments: that finds sets whose only assignments there belong to principals
    deleted from the identity store. Not seen: an assignment of a deleted principal in a (set,
    account) that also holds an assignment of a live one and is not in ``also_read``.
    """
    by_arn = {reading.arn: reading for reading in readings}
    found: dict[str, list[tuple[str, PrincipalType, str]]] = {arn: [] for arn in by_arn}

    def read(principal: tuple[PrincipalType, str]) -> list[Mapping[str, Any]]:
        try:
            return [
                raw
                for page in pages(
                    clients.sso_admin,
                    "list_account_assignments_for_principal",
                    InstanceArn=instance_arn,
                    PrincipalType=principal[0].value,
                    PrincipalId=principal[1],
                )
                for raw in page.get("AccountAssignments", [])
            ]
        except PermanentAwsError as exc:
            # A principal deleted from the identity store: AWS does not document whether
            # this call answers for its id. Its known (set, account) pairs are read anyway.
            if exc.code == NOT_FOUND:
                return []
            raise

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="read") as pool:
        runs = [pool.submit(contextvars.copy_context().run, read, p) for p in principals]
        for run in runs:
            for raw in run.result():
                if raw["PermissionSetArn"] in found:
                    found[raw["PermissionSetArn"]].append(
                        (raw["AccountId"], PrincipalType(raw["PrincipalType"]), raw["PrincipalId"])
                    )
        extra = also_read or {}
        unexplained = {
            arn: reading.provisioned
            - ({account_id for account_id, _, _ in found[arn]} - extra.get(arn, frozenset()))
            for arn, reading in by_arn.items()
        }
        checks = {
            arn: pool.submit(
                contextvars.copy_context().run,
                lambda arn, accounts: list(
                    _assignments_in(
                        clients, instance_arn=instance_arn, arn=arn, account_ids=accounts
                    )
                ),
                arn,
                accounts,
            )
            for arn, accounts in unexplained.items()
            if accounts
        }
        for arn, check in checks.items():
            found[arn].extend(check.result())
    return [
        replace(reading, assignments=tuple(sorted(set(found[reading.arn])))) for reading in readings
    ]


def _gone_since(
    previous: LiveState, identities: _Identities
) -> tuple[list[tuple[PrincipalType, str]], dict[str, frozenset[str]]]:
    """What ``previous`` knew that the identity store no longer holds: the principals (type,
    id) it knew by id that are gone, and the (set ARN -> account ids) where it saw an
    assignment of a principal that is gone now."""
    live = {
        PrincipalType.USER: {identities.user_ids[name] for name in identities.users},
        PrincipalType.GROUP: {identities.group_ids[name] for name in identities.groups},
    }
    known = {PrincipalType.USER: previous.user_ids, PrincipalType.GROUP: previous.group_ids}
    vanished = sorted(
        {
            (principal_type, principal_id)
            for principal_type, ids in known.items()
            for principal_id in ids.values()
            if principal_id not in live[principal_type]
        },
        key=lambda principal: (principal[0].value, principal[1]),
    )
    pairs: dict[str, set[str]] = {}
    for key in previous.state.assignments:
        principal_id = known[key.principal_type].get(key.principal_name)
        set_arn = previous.permission_set_arns.get(key.permission_set)
        if set_arn is not None and principal_id not in live[key.principal_type]:
            pairs.setdefault(set_arn, set()).add(key.account_id)
    return vanished, {set_arn: frozenset(accounts) for set_arn, accounts in pairs.items()}


def read_permission_set(
    clients: AwsClients, *, instance_arn: str, arn: str, assignments: bool = True
) -> _PermissionSetReading | None:
    """Everything about one permission set; None when it was deleted while being read.

    With ``assignments`` False its account assignments are not read (left empty): the caller
    reads them another way (``read_live_state(..., assignments_by="principal")``).
    """
    sso = clients.sso_admin
    try:
        described = call(
            sso.describe_permission_set, InstanceArn=instance_arn, PermissionSetArn=arn
        )["PermissionSet"]
    except PermanentAwsError as exc:
        if exc.code == NOT_FOUND:
            return None
        raise
    target: dict[str, Any] = {"InstanceArn": instance_arn, "PermissionSetArn": arn}
    managed = frozenset(
        policy["Arn"]
        for page in pages(sso, "list_managed_policies_in_permission_set", **target)
        for policy in page.get("AttachedManagedPolicies", [])
    )
    customer = frozenset(
        CustomerManagedPolicyRef(name=ref["Name"], path=ref.get("Path") or "/")
        for page in pages(
            sso, "list_customer_managed_policy_references_in_permission_set", **target
        )
        for ref in page.get("CustomerManagedPolicyReferences", [])
    )
    inline = call(sso.get_inline_policy_for_permission_set, **target).get("InlinePolicy")
    tags = {
        tag["Key"]: tag.get("Value", "")
        for page in pages(sso, "list_tags_for_resource", InstanceArn=instance_arn, ResourceArn=arn)
        for tag in page.get("Tags", [])
    }
    permission_set = PermissionSet(
        name=described["Name"],
        description=described.get("Description") or None,
        session_duration=session_duration(described.get("SessionDuration")),
        relay_state=described.get("RelayState") or None,
        managed_policies=managed,
        customer_managed_policies=customer,
        inline_policy=inline_policy(inline),
        permissions_boundary=_boundary(clients, instance_arn=instance_arn, arn=arn),
        tags=tags,
    )
    provisioned = _provisioned(clients, instance_arn=instance_arn, arn=arn, status=None)
    stale = _provisioned(clients, instance_arn=instance_arn, arn=arn, status=STALE)
    found = tuple(
        _assignments_in(clients, instance_arn=instance_arn, arn=arn, account_ids=provisioned)
        if assignments
        else ()
    )
    return _PermissionSetReading(
        arn=arn,
        permission_set=permission_set,
        provisioned=provisioned,
        stale=stale,
        assignments=found,
    )


def read_access_control_attributes(
    clients: AwsClients, *, instance_arn: str
) -> dict[str, str] | None:
    """The instance's attributes for access control, key → source (sso-admin
    DescribeInstanceAccessControlAttributeConfiguration); None when it has no configuration.

    AWS answers ResourceNotFoundException when no configuration exists (the operation lists it
    in botocore's model; Terraform's aws_ssoadmin_instance_access_control_attributes reads it as
    "gone" the same way). Each attribute has exactly one source
    (``AccessControlAttributeValueSourceList``: min 1, max 1). A configuration whose Status is
    not ENABLED (CREATION_IN_PROGRESS, CREATION_FAILED) is read as it is listed, and logged.
    Raises ``AwsError`` for any other error.
    """
    try:
        response = call(
            clients.sso_admin.describe_instance_access_control_attribute_configuration,
            InstanceArn=instance_arn,
        )
    except PermanentAwsError as exc:
        if exc.code == NOT_FOUND:
            return None
        raise
    status = response.get("Status")
    if status not in (None, "ENABLED"):
        log.warning(
            "access_control_attributes.status",
            status=status,
            reason=response.get("StatusReason"),
        )
    configuration: Mapping[str, Any] = (
        response.get("InstanceAccessControlAttributeConfiguration") or {}
    )
    attributes: dict[str, str] = {}
    for attribute in configuration.get("AccessControlAttributes") or []:
        sources = (attribute.get("Value") or {}).get("Source") or [""]
        attributes[str(attribute["Key"])] = str(sources[0])
    return attributes


def read_live_state(
    clients: AwsClients,
    *,
    instance_arn: str | None = None,
    workers: int = DEFAULT_WORKERS,
    assignments_by: AssignmentReading = "permission-set",
    targets: TargetReads | None = None,
    previous: LiveState | None = None,
) -> LiveState:
    """Read the whole live state of one Identity Center instance and its organization.

    ``targets`` says what of Organizations the assignments' targets need beyond the accounts
    (management account, OU tree, account tags; see ``organizations.read_organization``);
    default: nothing, and ``LiveState.organization`` and ``account_tags`` stay None. With
    ``targets.access_control_attributes`` the instance's attributes for access control are
    read too (``read_access_control_attributes``); else the state's stay None.

    ``assignments_by`` chooses how account assignments are read: ``"permission-set"`` (the
    default, complete: ListAccountAssignments per set and account where it is provisioned,
    P + Σ k_p calls), ``"hybrid"`` (incremental: see below), ``"principal"``
    (ListAccountAssignmentsForPrincipal per user and group: U + G calls, then a check of
    provisioned (set, account) pairs where nothing was found; see ``_assignments_by_principal``
    for the one case it cannot see), or ``"auto"`` (the principal way when U + G < Σ k_p).

    ``"hybrid"`` with ``previous`` (an earlier read of the same instance, complete or hybrid)
    reads per principal: ListAccountAssignmentsForPrincipal for every live user and group and
    for every principal id ``previous`` knew that the identity store no longer holds, then
    ListAccountAssignments for every provisioned (set, account) where no live principal's
    assignment was found and every one where ``previous`` saw an assignment of a principal that
    is now gone. Without ``previous`` (or with one of another instance) it reads per permission
    set. What it relies on (AWS user guide, "Remove user and group access": deleting a user or
    group leaves its assignments, so they must be looked for; API reference,
    CreateAccountAssignment: an assignment provisions its set to its account, and one for a
    principal that does not exist fails): an assignment of a deleted principal is either known
    to ``previous`` or was made after ``previous`` for a principal ``previous`` knew, or sits
    in a (set, account) with no live principal's assignment. Not seen, until the next read per
    permission set: an assignment of a principal created after ``previous`` was read and deleted
    before this read, in a (set, account) that also holds a live principal's assignment (and,
    since AWS does not document whether ListAccountAssignmentsForPrincipal answers for a
    deleted principal's id, possibly one made after ``previous`` for a principal deleted since,
    in such a (set, account)). Callers bound that window by reading per permission set every
    so often; no complete reader can do with fewer ListAccountAssignments calls than one per
    provisioned (set, account) (``benchmarks.floor``).

    ``instance_arn`` names the instance when the account has several (see ``find_instance``);
    ``workers`` is how many permission sets are read at once (identity-store reading runs
    alongside on the calling thread). Account assignments of principals the identity store no
    longer knows keep a placeholder name (``deleted_principal_name``) that maps to their id in
    ``user_ids``/``group_ids``, so that they can be deleted.

    Raises ``TemporaryAwsError`` or ``PermanentAwsError`` (see ``errors``); nothing partial is
    returned.
    """
    started = clients.calls.snapshot()
    instance = _listed_instance(clients, instance_arn=instance_arn)
    arn, identity_store_id = str(instance["InstanceArn"]), str(instance["IdentityStoreId"])
    owner = instance.get("OwnerAccountId")
    incremental = (
        assignments_by == "hybrid" and previous is not None and previous.instance_arn == arn
    )
    by_set = assignments_by == "permission-set" or (assignments_by == "hybrid" and not incremental)
    permission_set_arns = [
        permission_set_arn
        for page in pages(clients.sso_admin, "list_permission_sets", InstanceArn=arn)
        for permission_set_arn in page.get("PermissionSets", [])
    ]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="read") as pool:
        futures = [
            pool.submit(
                contextvars.copy_context().run,
                read_permission_set,
                clients,
                instance_arn=arn,
                arn=permission_set_arn,
                assignments=by_set,
            )
            for permission_set_arn in permission_set_arns
        ]
        try:
            accounts = read_accounts(clients)
            identities = _identities_in_store(clients, identity_store_id=identity_store_id)
            readings = [r for future in futures if (r := future.result()) is not None]
        except BaseException:
            # Nothing partial is returned: do not start reading sets nobody will look at.
            for future in futures:
                future.cancel()
            raise
    principals = [
        (PrincipalType.USER, identities.user_ids[name]) for name in sorted(identities.users)
    ] + [(PrincipalType.GROUP, identities.group_ids[name]) for name in sorted(identities.groups)]
    if assignments_by == "auto" and len(principals) >= sum(len(r.provisioned) for r in readings):
        readings = [
            replace(
                r,
                assignments=tuple(
                    _assignments_in(clients, instance_arn=arn, arn=r.arn, account_ids=r.provisioned)
                ),
            )
            for r in readings
        ]
    elif incremental and previous is not None:
        vanished, also_read = _gone_since(previous, identities)
        readings = _assignments_by_principal(
            clients,
            instance_arn=arn,
            readings=readings,
            principals=principals + vanished,
            workers=workers,
            also_read=also_read,
        )
    elif not by_set:
        readings = _assignments_by_principal(
            clients, instance_arn=arn, readings=readings, principals=principals, workers=workers
        )
    user_ids, group_ids = dict(identities.user_ids), dict(identities.group_ids)
    user_names = {user_id: name for name, user_id in user_ids.items()}
    group_names = {group_id: name for name, group_id in group_ids.items()}
    assignments: set[AssignmentKey] = set()
    for reading in readings:
        for account_id, principal_type, principal_id in reading.assignments:
            names, ids = (
                (user_names, user_ids)
                if principal_type is PrincipalType.USER
                else (group_names, group_ids)
            )
            name = names.get(principal_id)
            if name is None:
                name = deleted_principal_name(principal_type, principal_id)
                names[principal_id], ids[name] = name, principal_id
            assignments.add(
                AssignmentKey(account_id, reading.permission_set.name, principal_type, name)
            )
    live = LiveState(
        state=IdentityCenterState(
            users=identities.users,
            groups=identities.groups,
            memberships=identities.memberships,
            permission_sets={r.permission_set.name: r.permission_set for r in readings},
            assignments=frozenset(assignments),
        ),
        instance_arn=arn,
        identity_store_id=identity_store_id,
        accounts=accounts,
        user_ids=user_ids,
        group_ids=group_ids,
        membership_ids=identities.membership_ids,
        permission_set_arns={r.permission_set.name: r.arn for r in readings},
        provisioned_accounts={r.permission_set.name: r.provisioned for r in readings},
        stale_accounts={r.permission_set.name: r.stale for r in readings},
    )
    if targets is not None and (targets.organization or targets.units or targets.account_tags):
        organization, account_tags = read_organization(
            clients, reads=targets, account_ids=accounts.keys()
        )
        live = replace(live, organization=organization, account_tags=account_tags)
    if targets is not None and targets.access_control_attributes:
        attributes = read_access_control_attributes(clients, instance_arn=arn)
        live = replace(live, state=replace(live.state, access_control_attributes=attributes))
    management = live.organization.management_account_id if live.organization else None
    caller = read_caller(
        clients,
        instance_owner_account_id=str(owner) if owner else None,
        management_account_id=management,
    )
    live = replace(live, caller=caller)
    log.info(
        "live_state_read",
        instance_arn=arn,
        caller_account=caller.account_id,
        administration=caller.role.value,
        accounts=len(accounts),
        users=len(identities.users),
        groups=len(identities.groups),
        memberships=len(identities.memberships),
        permission_sets=len(readings),
        assignments=len(assignments),
        api_calls=clients.calls.since(started),
    )
    return live
