"""Applying a plan to AWS: one result per operation, in plan order.

Two lanes run at once, because the identity store and sso-admin have separate rate budgets:
identity-store writes (users, groups, memberships) in one, sso-admin writes (permission sets,
provisioning, account assignments) in the other. Each lane runs its operations in plan order;
across lanes an operation waits only for the earlier operations it depends on
(``_cross_lane_dependencies``): an account assignment for the user or group being created
waits for that creation; an operation that may take access away (deleting an assignment, a
permission set, a membership, a group, a user) waits for every earlier operation of the other
lane (make before break), and later operations wait for it. In the sso-admin lane, permission
set creations and updates run beside the account assignment creations right after them, each
creation waiting only for its own set. ``ApplySettings.side_by_side=False`` runs everything in
plan order, in one lane.

Within a lane, runs of consecutive operations of one asynchronous kind run concurrently, and
the next operation waits for the whole run to end (a barrier):

- ``CreateAssignment`` runs and ``DeleteAssignment`` runs, at most ``assignment_concurrency``
  requests in flight at once (AWS allows about 15 outstanding account assignment requests per
  instance);
- ``ProvisionPermissionSet`` runs, at most ``provisioning_concurrency`` at once (AWS: 3);
- ``CreateUser``, ``CreateGroup``, ``AddMembership`` and ``RemoveMembership`` runs, at most
  ``identity_concurrency`` at once (independent identity-store writes).

Progress: ``apply_plan`` reports every finished operation to the listener in
``progress_listener`` (a context variable; the CLI shows a rich progress bar on a TTY), and
without a listener logs ``apply_progress`` (done, total, failed, ETA) every
``PROGRESS_LOG_SECONDS`` during long applies.

So a permission set is deleted only after its account assignment deletions ended, deletions
start only after creations ended (make before break), and a user's memberships come after
the user.

Asynchronous requests (sso-admin CreateAccountAssignment, DeleteAccountAssignment,
ProvisionPermissionSet; botocore has no waiters for them) are followed until SUCCEEDED or
FAILED, or until ``poll_timeout_seconds``, which fails the operation as timed out:

- account assignment requests: ``request_status.RequestWatch`` (its module docstring gives the
  reasoning and the API documentation it relies on). One List...Status call filtered on
  IN_PROGRESS answers for every request in flight; in ``"lists"`` mode (the default) a request
  that left it frees its place for the next write, and the run's requests are settled
  together (every ``status_batch`` ready ones, the rest at the run's end): one List...Status
  call filtered on FAILED, a Describe for each failure (AWS's ``FailureReason``) and two
  canaries; a request is reported SUCCEEDED only on that evidence or on Describe. In
  ``"describe"`` mode each request that left IN_PROGRESS is described. A request the write
  already answered SUCCEEDED or FAILED is not polled;
- provisioning requests are described one by one (DescribePermissionSetProvisioningStatus):
  at most three run at once.

ConflictException ("conflicting operation in process", botocore does not retry it) is retried
with exponential backoff, and writes on one permission set hold that set's lock. A create that
meets ConflictException because the object already exists (a lost response retried by botocore)
adopts it; a delete that meets ResourceNotFoundException counts as done.

Failures: an operation that fails makes the later operations that depend on it SKIPPED, with
a reason naming the failed operation; independent operations continue:

- a failed CreateUser or CreateGroup skips the principal's AddMembership and CreateAssignment;
- a failed CreatePermissionSet or UpdatePermissionSet skips the set's ProvisionPermissionSet
  and CreateAssignment (a half-written set, say without its boundary, must not reach accounts);
- a failed DeleteAssignment skips DeletePermissionSet of its set.

An error after which no call can succeed (``errors.stops_the_pass``: bad credentials,
unreachable endpoint; or the instance is gone, checked with ListInstances after a
ResourceNotFoundException, and the reason then names the Region and how to set it) stops
writing: every later operation is SKIPPED with the reason.

Stopping from outside (``apply_plan(..., stop=event)``, set by the controller on SIGTERM): once
the event is set no operation starts, operations already started run to their end (an
asynchronous request is polled until SUCCEEDED, FAILED or its deadline, so none is left
IN_PROGRESS unwatched), and every operation not started is SKIPPED with ``STOPPED_REASON``.

Fenced writes (``apply_plan(..., fence=check)``, the controller's writer lock): ``check`` is
called before every operation starts and before every HTTP attempt of every write (each
ConflictException retry here, and each of botocore's own retries, through the clients'
``before-send`` hook, see ``clients.write_fence``); it raises ``WriterLockLostError`` once the
lock is lost or its lease lapses within the safety margin. From then on writing stops the way
it stops on SIGTERM: no operation starts, requests in flight are polled to their end (polls are
reads), the operations not started are SKIPPED with a reason starting with
``LOCK_LOST_REASON`` (naming the new holder when known), an operation refused midway (after
some of its writes) is FAILED as interrupted, and ``Outcome.lock_lost`` says why.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from reconciler.adapters.aws.clients import AwsClients, write_fence
from reconciler.adapters.aws.errors import (
    CONFLICT,
    NOT_FOUND,
    call,
    pages,
    stops_the_pass,
)
from reconciler.adapters.aws.reading import (
    instance_not_found,
    read_access_control_attributes,
    read_permission_set,
)
from reconciler.adapters.aws.request_status import (
    FAILED,
    IN_PROGRESS,
    RequestFailedError,
    RequestStatus,
    RequestWatch,
)
from reconciler.errors import AwsError, PermanentAwsError, WriterLockLostError
from reconciler.model.state import (
    AssignmentKey,
    LiveState,
    Membership,
    PermissionsBoundary,
    PermissionSet,
    PrincipalType,
    User,
)
from reconciler.planning.outcomes import OperationResult, Outcome, Status
from reconciler.planning.plans import (
    AddMembership,
    CreateAccessControlAttributes,
    CreateAssignment,
    CreateGroup,
    CreatePermissionSet,
    CreateUser,
    DeleteAccessControlAttributes,
    DeleteAssignment,
    DeleteGroup,
    DeletePermissionSet,
    DeleteUser,
    Operation,
    Plan,
    ProvisionPermissionSet,
    RemoveMembership,
    UpdateAccessControlAttributes,
    UpdateGroup,
    UpdatePermissionSet,
    UpdateUser,
)

log = structlog.get_logger()

STOPPED_REASON = "not attempted: the reconciler is stopping"
"""Reason of the operations skipped because ``apply_plan``'s ``stop`` event was set."""
LOCK_LOST_REASON = "not attempted: the writer lock was lost"
"""Start of the reason of the operations skipped because ``apply_plan``'s ``fence`` refused
a write (followed by the lock's own words, naming the new holder when known)."""


PROGRESS_LOG_SECONDS = 10.0
"""Seconds between two ``apply_progress`` log lines when no progress listener is set."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyProgress:
    """How far an apply is: ``done`` of ``total`` operations (``failed`` of them not
    SUCCEEDED), ``elapsed_seconds`` since it started, ``eta_seconds`` until the end at the rate
    so far (None before the first operation ends)."""

    done: int
    total: int
    failed: int
    elapsed_seconds: float
    eta_seconds: float | None


progress_listener: contextvars.ContextVar[Callable[[ApplyProgress], None] | None] = (
    contextvars.ContextVar("progress_listener", default=None)
)
"""Called (from worker threads) after each operation of ``apply_plan`` ends."""


class _ProgressTracker:
    """Counts finished operations and reports them to the listener or, periodically, the log."""

    def __init__(self, *, total: int) -> None:
        self.total = total
        self.listener = progress_listener.get()
        self._lock = threading.Lock()
        self._done = 0
        self._failed = 0
        self._started = time.monotonic()
        self._logged = self._started

    def ended(self) -> None:
        """Count an operation whose request left IN_PROGRESS and whose result comes later
        (``record(..., counted=True)``): progress shows it done as soon as it ended."""
        self._report(done=1, failed=0)

    def record(self, result: OperationResult, *, counted: bool = False) -> OperationResult:
        """Count a finished operation (``counted``: already counted by ``ended``; reported
        again only if it did not succeed)."""
        failed = result.status is not Status.SUCCEEDED
        if not counted or failed:
            self._report(done=0 if counted else 1, failed=int(failed))
        return result

    def _report(self, *, done: int, failed: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._done += done
            self._failed += failed
            elapsed = now - self._started
            remaining = self.total - self._done
            progress = ApplyProgress(
                done=self._done,
                total=self.total,
                failed=self._failed,
                elapsed_seconds=elapsed,
                eta_seconds=elapsed / self._done * remaining,
            )
            due = self.listener is None and now - self._logged >= PROGRESS_LOG_SECONDS
            if due:
                self._logged = now
        if self.listener is not None:
            self.listener(progress)
        elif due and remaining:
            log.info(
                "apply_progress",
                done=progress.done,
                total=progress.total,
                failed=progress.failed,
                eta_seconds=round(progress.eta_seconds or 0.0, 1),
            )


@dataclass(frozen=True, kw_only=True)
class ApplySettings:
    """How applying paces itself. Durations in seconds.

    ``assignment_concurrency``: account assignment requests in flight at once (AWS allows
    about 15 outstanding per instance). ``provisioning_concurrency``: ProvisionPermissionSet
    requests at once (AWS: 3). ``identity_concurrency``: identity-store creations of users and
    groups, membership additions and removals at once (each identitystore API has its own
    20 requests/s). ``poll_interval_seconds``: pause between status polls.
    ``request_status``: how the final status of an account assignment request that left
    IN_PROGRESS is learnt (``request_status`` module): ``"lists"`` (default: batches settled
    from the List...Status calls, Describe only for failures and two canaries per batch) or
    ``"describe"`` (one Describe... call per request). ``status_list_lag_seconds``: how late
    the List...Status calls may be (AWS documents no bound; an assumption, doubled when a
    canary disagrees). ``status_batch``: in ``"lists"`` mode, requests settled together
    while a run goes on (the rest at its end; progress counts an operation done when its
    request left IN_PROGRESS, and again as failed if it turns out FAILED).
    ``side_by_side``: run identity-store writes beside sso-admin writes (two lanes), and
    permission set writes beside the assignment creations after them (module docstring);
    False runs every operation in plan order, in one lane, so that a seeded fault sequence
    meets the same calls in the same order on every run.
    ``poll_timeout_seconds``: how long an asynchronous request may stay IN_PROGRESS before its
    operation fails as timed out. ``conflict_attempts``: attempts of a write that meets
    ConflictException, with a backoff starting at ``conflict_backoff_seconds`` and doubling up
    to ``conflict_backoff_max_seconds`` (with jitter).
    """

    assignment_concurrency: int = 15
    provisioning_concurrency: int = 3
    identity_concurrency: int = 8
    poll_interval_seconds: float = 0.5
    request_status: RequestStatus = "lists"
    status_list_lag_seconds: float = 0.5
    status_batch: int = 1000
    side_by_side: bool = True
    poll_timeout_seconds: float = 300.0
    conflict_attempts: int = 6
    conflict_backoff_seconds: float = 0.5
    conflict_backoff_max_seconds: float = 8.0


class _UnresolvedError(Exception):
    """An object the operation needs is unknown (never read, never created)."""


class _DeferredError(Exception):
    """An account assignment request left IN_PROGRESS; its final status is learnt later, with
    others, by ``RequestWatch.settle`` (``"lists"`` mode)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


@dataclass(frozen=True, slots=True)
class _Pending:
    """An operation whose request left IN_PROGRESS and whose final status is not known yet."""

    operation: Operation
    request_id: str
    started: float


class _Applying:
    """The state of one apply: ids learnt so far, failures, locks, pollers."""

    def __init__(
        self,
        *,
        clients: AwsClients,
        live: LiveState,
        settings: ApplySettings,
        stop: threading.Event | None = None,
        fence: Callable[[], None] | None = None,
    ) -> None:
        self.clients = clients
        self.stop = stop
        self.fence = fence
        #: why the fence refused a write (the first refusal), None while it never did
        self.lock_lost: str | None = None
        self._writes = threading.local()
        self.live = live
        self.settings = settings
        self.instance_arn = live.instance_arn
        self.store_id = live.identity_store_id
        self.user_ids = dict(live.user_ids)
        self.group_ids = dict(live.group_ids)
        self.membership_ids = dict(live.membership_ids)
        self.permission_set_arns = dict(live.permission_set_arns)
        self._lock = threading.Lock()
        self._set_locks: dict[str, threading.Lock] = {}
        self._failed: dict[str, str] = {}
        #: account id -> the operation AWS answered AccessDeniedException there
        self._denied_accounts: dict[str, str] = {}
        #: account id -> set once AWS answered the pass's first assignment write there
        self._account_gates: dict[str, threading.Event] = {}
        self.stop_reason: str | None = None
        sso = clients.sso_admin
        self.creations = RequestWatch(
            clients=clients,
            instance_arn=self.instance_arn,
            list_method="list_account_assignment_creation_status",
            list_key="AccountAssignmentsCreationStatus",
            describe=lambda request_id: call(
                sso.describe_account_assignment_creation_status,
                InstanceArn=self.instance_arn,
                AccountAssignmentCreationRequestId=request_id,
            )["AccountAssignmentCreationStatus"],
            interval=settings.poll_interval_seconds,
            lag=settings.status_list_lag_seconds,
            mode=settings.request_status,
            tail_describe=settings.assignment_concurrency,
        )
        self.deletions = RequestWatch(
            clients=clients,
            instance_arn=self.instance_arn,
            list_method="list_account_assignment_deletion_status",
            list_key="AccountAssignmentsDeletionStatus",
            describe=lambda request_id: call(
                sso.describe_account_assignment_deletion_status,
                InstanceArn=self.instance_arn,
                AccountAssignmentDeletionRequestId=request_id,
            )["AccountAssignmentDeletionStatus"],
            interval=settings.poll_interval_seconds,
            lag=settings.status_list_lag_seconds,
            mode=settings.request_status,
            tail_describe=settings.assignment_concurrency,
        )

    # --- bookkeeping ------------------------------------------------------------------------

    @contextmanager
    def _writing_set(self, name: str) -> Iterator[None]:
        """Serialize writes on the permission set ``name``."""
        with self._lock:
            lock = self._set_locks.setdefault(name, threading.Lock())
        with lock:
            yield

    def _depends_on(self, operation: Operation) -> list[str]:
        """Keys of earlier failures that make ``operation`` pointless or unsafe."""
        match operation:
            case AddMembership(membership=membership):
                return [f"user/{membership.user}", f"group/{membership.group}"]
            case CreateAssignment(assignment=key):
                principal = "user" if key.principal_type is PrincipalType.USER else "group"
                return [
                    f"permission-set/{key.permission_set}",
                    f"{principal}/{key.principal_name}",
                ]
            case ProvisionPermissionSet(name=name):
                return [f"permission-set/{name}"]
            case DeletePermissionSet(name=name):
                return [f"assignments-of/{name}"]
            case _:
                return []

    def _marks(self, operation: Operation) -> str | None:
        """The key that a failure of ``operation`` marks for its dependents."""
        match operation:
            case CreateUser(user=user):
                return f"user/{user.user_name}"
            case CreateGroup(group=group):
                return f"group/{group.name}"
            case CreatePermissionSet(permission_set=permission_set):
                return f"permission-set/{permission_set.name}"
            case UpdatePermissionSet(permission_set=permission_set):
                return f"permission-set/{permission_set.name}"
            case DeleteAssignment(assignment=key):
                return f"assignments-of/{key.permission_set}"
            case _:
                return None

    def check_fence(self) -> None:
        """Call the fence; a refusal stops writing for the rest of the pass (the operations not
        started are skipped with ``LOCK_LOST_REASON``) and is raised again."""
        if self.fence is None:
            return
        try:
            self.fence()
        except WriterLockLostError as exc:
            with self._lock:
                if self.lock_lost is None:
                    self.lock_lost = exc.reason
                    self.stop_reason = f"{LOCK_LOST_REASON} ({exc.reason})"
                    log.warning("apply.fenced", reason=exc.reason, holder=exc.holder)
            raise

    def _skip_reason(self, operation: Operation) -> str | None:
        if self.stop is not None and self.stop.is_set():
            return STOPPED_REASON
        with contextlib.suppress(WriterLockLostError):  # stop_reason now says why
            self.check_fence()
        with self._lock:
            if self.stop_reason is not None:
                return self.stop_reason
            account_id = _target_account(operation)
            if account_id is not None and account_id in self._denied_accounts:
                return (
                    f"skipped: AWS denied {self._denied_accounts[account_id]} in the same "
                    "account (AccessDeniedException; a delegated administrator cannot manage "
                    "assignments in the management account)"
                )
            for key in self._depends_on(operation):
                if key in self._failed:
                    return f"skipped: it depends on {self._failed[key]}, which failed"
        return None

    def _record_failure(self, operation: Operation, error: Exception) -> None:
        key = self._marks(operation)
        gone = (
            isinstance(error, AwsError) and error.code == NOT_FOUND and not self._instance_alive()
        )
        stops = gone or (isinstance(error, AwsError) and stops_the_pass(error))
        account_id = _target_account(operation)
        denied = isinstance(error, AwsError) and error.code == ACCESS_DENIED
        with self._lock:
            if key is not None:
                self._failed.setdefault(key, f"{operation.action.value} {operation.key}")
            if denied and account_id is not None:
                # One refusal per account and pass: the other writes there are skipped.
                self._denied_accounts.setdefault(
                    account_id, f"{operation.action.value} {operation.key}"
                )
            if stops and self.stop_reason is None:
                self.stop_reason = (
                    f"not attempted: writing stopped after {operation.key} failed: {error}"
                )
                if gone:  # the instance, or its identity store, is not where it was read
                    missing = instance_not_found(
                        self.clients.region, instance_arn=self.instance_arn
                    )
                    self.stop_reason += f" ({missing.reason}: {missing.advice})"

    def _instance_alive(self) -> bool:
        """Whether the instance and its identity store still exist (sso-admin ListInstances)."""
        try:
            for page in pages(self.clients.sso_admin, "list_instances"):
                for instance in page.get("Instances", []):
                    if instance["InstanceArn"] == self.instance_arn:
                        return bool(instance.get("IdentityStoreId") == self.store_id)
        except AwsError:
            return True
        return False

    # --- calls ------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(
            self.settings.conflict_backoff_max_seconds,
            self.settings.conflict_backoff_seconds * 2.0**attempt,
        )
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 -- jitter, not cryptography

    def write(
        self,
        method: Callable[..., Any],
        /,
        *,
        done_if_conflict: Callable[[], bool] | None = None,
        done_if_not_found: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call a write, retrying ConflictException with backoff.

        ``done_if_conflict`` is asked after a ConflictException whether the write already took
        effect (a lost response retried by botocore); ``done_if_not_found`` makes
        ResourceNotFoundException a success (a delete of what is gone). Returns the response,
        or None when the write was found done.
        """
        attempt = 0
        while True:
            self.check_fence()
            self._writes.count = getattr(self._writes, "count", 0) + 1
            try:
                return self._fenced_call(method, **kwargs)
            except AwsError as exc:
                if done_if_not_found and exc.code == NOT_FOUND:
                    return None
                if exc.code != CONFLICT:
                    raise
                if done_if_conflict is not None and done_if_conflict():
                    return None
                attempt += 1
                if isinstance(exc, PermanentAwsError) or attempt >= self.settings.conflict_attempts:
                    raise
                log.info("conflict_retry", operation=exc.operation, attempt=attempt)
                time.sleep(self._backoff(attempt - 1))

    def _fenced_call(self, method: Callable[..., Any], /, **kwargs: Any) -> Any:
        """``call`` with the fence checked before each HTTP attempt (botocore's retries)."""
        token = write_fence.set(self.check_fence if self.fence is not None else None)
        try:
            return call(method, **kwargs)
        finally:
            write_fence.reset(token)

    def _deadline(self) -> float:
        return time.monotonic() + self.settings.poll_timeout_seconds

    # --- identities -------------------------------------------------------------------------

    def _lookup(self, method: Callable[..., Any], key: str, **kwargs: Any) -> str | None:
        """An id from identitystore Get*Id, or None when not found."""
        try:
            return str(call(method, IdentityStoreId=self.store_id, **kwargs)[key])
        except PermanentAwsError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise

    def _user_id(self, name: str) -> str:
        user_id = self.user_ids.get(name)
        if user_id is None:
            raise _UnresolvedError(f"user {name} is not in the identity store")
        return user_id

    def _group_id(self, name: str) -> str:
        group_id = self.group_ids.get(name)
        if group_id is None:
            raise _UnresolvedError(f"group {name} is not in the identity store")
        return group_id

    def create_user(self, user: User) -> None:
        ids = self.clients.identitystore
        params: dict[str, Any] = {
            "IdentityStoreId": self.store_id,
            "UserName": user.user_name,
            "DisplayName": user.display_name,
            "Name": {"GivenName": user.given_name, "FamilyName": user.family_name},
        }
        if user.email:
            params["Emails"] = [{"Value": user.email, "Type": "work", "Primary": True}]
        found: list[str] = []

        def existing() -> bool:
            user_id = self._lookup(
                ids.get_user_id,
                "UserId",
                AlternateIdentifier={
                    "UniqueAttribute": {
                        "AttributePath": "userName",
                        "AttributeValue": user.user_name,
                    }
                },
            )
            found.extend([user_id] if user_id else [])
            return user_id is not None

        response = self.write(ids.create_user, done_if_conflict=existing, **params)
        self.user_ids[user.user_name] = response["UserId"] if response else found[0]

    def update_user(self, user: User) -> None:
        before = self.live.state.users.get(user.user_name)
        operations: list[dict[str, Any]] = []
        if before is None or before.display_name != user.display_name:
            operations.append({"AttributePath": "displayName", "AttributeValue": user.display_name})
        if before is None or before.given_name != user.given_name:
            operations.append(
                {"AttributePath": "name.givenName", "AttributeValue": user.given_name}
            )
        if before is None or before.family_name != user.family_name:
            operations.append(
                {"AttributePath": "name.familyName", "AttributeValue": user.family_name}
            )
        if before is None or before.email != user.email:
            # SCIM-style value (identitystore API reference, User.Emails); no value removes it.
            operations.append(
                {
                    "AttributePath": "emails",
                    "AttributeValue": [{"value": user.email, "type": "work", "primary": True}],
                }
                if user.email
                else {"AttributePath": "emails"}
            )
        if operations:
            self.write(
                self.clients.identitystore.update_user,
                IdentityStoreId=self.store_id,
                UserId=self._user_id(user.user_name),
                Operations=operations,
            )

    def delete_user(self, name: str) -> None:
        self.write(
            self.clients.identitystore.delete_user,
            done_if_not_found=True,
            IdentityStoreId=self.store_id,
            UserId=self._user_id(name),
        )
        self.user_ids.pop(name, None)

    def create_group(self, name: str, description: str | None) -> None:
        ids = self.clients.identitystore
        params: dict[str, Any] = {"IdentityStoreId": self.store_id, "DisplayName": name}
        if description:
            params["Description"] = description
        found: list[str] = []

        def existing() -> bool:
            group_id = self._lookup(
                ids.get_group_id,
                "GroupId",
                AlternateIdentifier={
                    "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}
                },
            )
            found.extend([group_id] if group_id else [])
            return group_id is not None

        response = self.write(ids.create_group, done_if_conflict=existing, **params)
        self.group_ids[name] = response["GroupId"] if response else found[0]

    def update_group(self, name: str, description: str | None) -> None:
        operation: dict[str, Any] = {"AttributePath": "description"}
        if description:
            operation["AttributeValue"] = description
        self.write(
            self.clients.identitystore.update_group,
            IdentityStoreId=self.store_id,
            GroupId=self._group_id(name),
            Operations=[operation],
        )

    def delete_group(self, name: str) -> None:
        self.write(
            self.clients.identitystore.delete_group,
            done_if_not_found=True,
            IdentityStoreId=self.store_id,
            GroupId=self._group_id(name),
        )
        self.group_ids.pop(name, None)

    def _membership_id(self, group_id: str, user_id: str) -> str | None:
        return self._lookup(
            self.clients.identitystore.get_group_membership_id,
            "MembershipId",
            GroupId=group_id,
            MemberId={"UserId": user_id},
        )

    def add_membership(self, membership: Membership) -> None:
        group_id = self._group_id(membership.group)
        user_id = self._user_id(membership.user)
        found: list[str] = []

        def existing() -> bool:
            membership_id = self._membership_id(group_id, user_id)
            found.extend([membership_id] if membership_id else [])
            return membership_id is not None

        response = self.write(
            self.clients.identitystore.create_group_membership,
            done_if_conflict=existing,
            IdentityStoreId=self.store_id,
            GroupId=group_id,
            MemberId={"UserId": user_id},
        )
        self.membership_ids[membership] = response["MembershipId"] if response else found[0]

    def remove_membership(self, membership: Membership) -> None:
        membership_id = self.membership_ids.get(membership) or self._membership_id(
            self._group_id(membership.group), self._user_id(membership.user)
        )
        if membership_id is None:
            return  # already gone
        self.write(
            self.clients.identitystore.delete_group_membership,
            done_if_not_found=True,
            IdentityStoreId=self.store_id,
            MembershipId=membership_id,
        )
        self.membership_ids.pop(membership, None)

    # --- permission sets ----------------------------------------------------------------------

    def _arn(self, name: str) -> str:
        arn = self.permission_set_arns.get(name)
        if arn is None:
            raise _UnresolvedError(f"permission set {name} does not exist")
        return arn

    def _find_permission_set(self, name: str) -> str | None:
        """The ARN of the permission set named ``name``, listing and describing every set."""
        sso = self.clients.sso_admin
        for page in pages(sso, "list_permission_sets", InstanceArn=self.instance_arn):
            for arn in page.get("PermissionSets", []):
                described = call(
                    sso.describe_permission_set, InstanceArn=self.instance_arn, PermissionSetArn=arn
                )["PermissionSet"]
                if described["Name"] == name:
                    return str(arn)
        return None

    def create_permission_set(self, permission_set: PermissionSet) -> None:
        sso = self.clients.sso_admin
        params: dict[str, Any] = {
            "InstanceArn": self.instance_arn,
            "Name": permission_set.name,
            "SessionDuration": permission_set.session_duration,
        }
        if permission_set.description:
            params["Description"] = permission_set.description
        if permission_set.relay_state:
            params["RelayState"] = permission_set.relay_state
        if permission_set.tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in permission_set.tags.items()]
        found: list[str] = []

        def existing() -> bool:
            arn = self._find_permission_set(permission_set.name)
            found.extend([arn] if arn else [])
            return arn is not None

        with self._writing_set(permission_set.name):
            response = self.write(sso.create_permission_set, done_if_conflict=existing, **params)
            if response is not None:
                arn = response["PermissionSet"]["PermissionSetArn"]
                self.permission_set_arns[permission_set.name] = arn
                before = PermissionSet(
                    name=permission_set.name,
                    description=permission_set.description,
                    session_duration=permission_set.session_duration,
                    relay_state=permission_set.relay_state,
                    tags=permission_set.tags,
                )
            else:
                # It exists already (created by a retried call whose response was lost, or by
                # someone else meanwhile): bring what it is to what is desired.
                arn = found[0]
                self.permission_set_arns[permission_set.name] = arn
                reading = read_permission_set(self.clients, instance_arn=self.instance_arn, arn=arn)
                if reading is None:
                    raise _UnresolvedError(
                        f"permission set {permission_set.name} vanished while being created"
                    )
                before = reading.permission_set
            self._converge(arn, desired=permission_set, live=before)

    def update_permission_set(self, desired: PermissionSet, live: PermissionSet) -> None:
        with self._writing_set(desired.name):
            self._converge(self._arn(desired.name), desired=desired, live=live)

    def _converge(self, arn: str, *, desired: PermissionSet, live: PermissionSet) -> None:
        """The calls that turn permission set ``arn`` from ``live`` into ``desired``.

        UpdatePermissionSet always sends every field it has: AWS clears an omitted RelayState.
        Policies are detached before others are attached, so the policy quota is not exceeded
        on the way; nothing reaches the accounts before ProvisionPermissionSet anyway.
        """
        sso = self.clients.sso_admin
        target: dict[str, Any] = {"InstanceArn": self.instance_arn, "PermissionSetArn": arn}
        if (desired.description, desired.session_duration, desired.relay_state) != (
            live.description,
            live.session_duration,
            live.relay_state,
        ):
            update: dict[str, Any] = {**target, "SessionDuration": desired.session_duration}
            # Description has a minimum length of 1: AWS offers no way to clear it.
            if desired.description:
                update["Description"] = desired.description
            if desired.relay_state:
                update["RelayState"] = desired.relay_state
            self.write(sso.update_permission_set, **update)
        for policy_arn in sorted(live.managed_policies - desired.managed_policies):
            self.write(
                sso.detach_managed_policy_from_permission_set,
                done_if_not_found=True,
                ManagedPolicyArn=policy_arn,
                **target,
            )
        for reference in sorted(live.customer_managed_policies - desired.customer_managed_policies):
            self.write(
                sso.detach_customer_managed_policy_reference_from_permission_set,
                done_if_not_found=True,
                CustomerManagedPolicyReference={"Name": reference.name, "Path": reference.path},
                **target,
            )
        for policy_arn in sorted(desired.managed_policies - live.managed_policies):
            self.write(
                sso.attach_managed_policy_to_permission_set,
                done_if_conflict=functools.partial(self._has_managed, arn, policy_arn),
                ManagedPolicyArn=policy_arn,
                **target,
            )
        for reference in sorted(desired.customer_managed_policies - live.customer_managed_policies):
            body = {"Name": reference.name, "Path": reference.path}
            self.write(
                sso.attach_customer_managed_policy_reference_to_permission_set,
                done_if_conflict=functools.partial(self._has_customer_managed, arn, body),
                CustomerManagedPolicyReference=body,
                **target,
            )
        if desired.inline_policy != live.inline_policy:
            if desired.inline_policy is None:
                self.write(sso.delete_inline_policy_from_permission_set, **target)
            else:
                self.write(
                    sso.put_inline_policy_to_permission_set,
                    InlinePolicy=desired.inline_policy.text,
                    **target,
                )
        if desired.permissions_boundary != live.permissions_boundary:
            if desired.permissions_boundary is None:
                self.write(
                    sso.delete_permissions_boundary_from_permission_set,
                    done_if_not_found=True,
                    **target,
                )
            else:
                self.write(
                    sso.put_permissions_boundary_to_permission_set,
                    PermissionsBoundary=_boundary(desired.permissions_boundary),
                    **target,
                )
        self._tag(arn, desired=desired.tags, live=live.tags)

    def _tag(self, arn: str, *, desired: Mapping[str, str], live: Mapping[str, str]) -> None:
        sso = self.clients.sso_admin
        removed = sorted(set(live) - set(desired))
        changed = {key: value for key, value in desired.items() if live.get(key) != value}
        if removed:
            self.write(
                sso.untag_resource,
                InstanceArn=self.instance_arn,
                ResourceArn=arn,
                TagKeys=removed,
            )
        if changed:
            self.write(
                sso.tag_resource,
                InstanceArn=self.instance_arn,
                ResourceArn=arn,
                Tags=[{"Key": key, "Value": value} for key, value in sorted(changed.items())],
            )

    def _has_managed(self, arn: str, policy_arn: str) -> bool:
        return any(
            policy["Arn"] == policy_arn
            for page in pages(
                self.clients.sso_admin,
                "list_managed_policies_in_permission_set",
                InstanceArn=self.instance_arn,
                PermissionSetArn=arn,
            )
            for policy in page.get("AttachedManagedPolicies", [])
        )

    def _has_customer_managed(self, arn: str, body: Mapping[str, str]) -> bool:
        return any(
            (ref["Name"], ref.get("Path") or "/") == (body["Name"], body["Path"])
            for page in pages(
                self.clients.sso_admin,
                "list_customer_managed_policy_references_in_permission_set",
                InstanceArn=self.instance_arn,
                PermissionSetArn=arn,
            )
            for ref in page.get("CustomerManagedPolicyReferences", [])
        )

    def provision(self, name: str, accounts: frozenset[str] = frozenset()) -> None:
        """ProvisionPermissionSet to every provisioned account (ALL_PROVISIONED_ACCOUNTS) when
        ``accounts`` covers them all, else to each of ``accounts`` (AWS_ACCOUNT), one after the
        other: the plan leaves out accounts that cannot take it (suspended, closing)."""
        everywhere = self.live.provisioned_accounts.get(name, frozenset()) | (
            self.live.stale_accounts.get(name, frozenset())
        )
        if not accounts or accounts >= everywhere:
            self._provision_to(name, {"TargetType": "ALL_PROVISIONED_ACCOUNTS"})
            return
        for account_id in sorted(accounts):
            self._provision_to(name, {"TargetType": "AWS_ACCOUNT", "TargetId": account_id})

    def _provision_to(self, name: str, target: Mapping[str, Any]) -> None:
        sso = self.clients.sso_admin
        with self._writing_set(name):
            response = self.write(
                sso.provision_permission_set,
                InstanceArn=self.instance_arn,
                PermissionSetArn=self._arn(name),
                **target,
            )
            status: Mapping[str, Any] = response["PermissionSetProvisioningStatus"]
            deadline = self._deadline()
            interval = self.settings.poll_interval_seconds
            while status.get("Status") == IN_PROGRESS:
                if time.monotonic() >= deadline:
                    raise RequestFailedError(
                        f"timed out: provisioning request {status.get('RequestId')} still "
                        "IN_PROGRESS after the polling deadline"
                    )
                time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
                status = call(
                    sso.describe_permission_set_provisioning_status,
                    InstanceArn=self.instance_arn,
                    ProvisionPermissionSetRequestId=status["RequestId"],
                )["PermissionSetProvisioningStatus"]
            _raise_if_failed(status)

    def delete_permission_set(self, name: str) -> None:
        arn = self.permission_set_arns.get(name)
        if arn is None:
            return
        with self._writing_set(name):
            self.write(
                self.clients.sso_admin.delete_permission_set,
                done_if_not_found=True,
                InstanceArn=self.instance_arn,
                PermissionSetArn=arn,
            )
        self.permission_set_arns.pop(name, None)

    # --- account assignments -------------------------------------------------------------------

    def _assignment(self, key: AssignmentKey) -> dict[str, Any]:
        principal_id = (
            self._user_id(key.principal_name)
            if key.principal_type is PrincipalType.USER
            else self._group_id(key.principal_name)
        )
        return {
            "InstanceArn": self.instance_arn,
            "TargetId": key.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": self._arn(key.permission_set),
            "PrincipalType": key.principal_type.value,
            "PrincipalId": principal_id,
        }

    def create_assignment(self, key: AssignmentKey) -> None:
        response = self.write(
            self.clients.sso_admin.create_account_assignment, **self._assignment(key)
        )
        self._open_account_gate(key.account_id)
        self._await_status(response["AccountAssignmentCreationStatus"], self.creations)

    def delete_assignment(self, key: AssignmentKey) -> None:
        response = self.write(
            self.clients.sso_admin.delete_account_assignment, **self._assignment(key)
        )
        self._open_account_gate(key.account_id)
        self._await_status(response["AccountAssignmentDeletionStatus"], self.deletions)

    def _await_status(self, status: Mapping[str, Any], watch: RequestWatch) -> None:
        """Wait for an account assignment request to leave IN_PROGRESS; raise
        ``_DeferredError`` when its final status is to be settled later (``"lists"`` mode)."""
        if status.get("Status") == IN_PROGRESS:
            final = watch.wait_ended(status["RequestId"], deadline=self._deadline())
            if final is None:
                raise _DeferredError(status["RequestId"])
            status = final
        _raise_if_failed(status)

    # --- attributes for access control (ABAC) -------------------------------------------------

    def _access_control_request(self, attributes: Mapping[str, str]) -> dict[str, Any]:
        return {
            "InstanceArn": self.instance_arn,
            "InstanceAccessControlAttributeConfiguration": {
                "AccessControlAttributes": [
                    {"Key": key, "Value": {"Source": [attributes[key]]}}
                    for key in sorted(attributes)
                ]
            },
        }

    def create_access_control_attributes(self, attributes: Mapping[str, str]) -> None:
        """CreateInstanceAccessControlAttributeConfiguration; when AWS answers
        ConflictException because a configuration exists (made in the console since the read,
        or this create's lost response retried), it is adopted: updated to ``attributes``."""
        sso = self.clients.sso_admin

        def existing() -> bool:
            found = read_access_control_attributes(self.clients, instance_arn=self.instance_arn)
            return found is not None

        request = self._access_control_request(attributes)
        created = self.write(
            sso.create_instance_access_control_attribute_configuration,
            done_if_conflict=existing,
            **request,
        )
        if created is None:
            self.write(sso.update_instance_access_control_attribute_configuration, **request)

    def update_access_control_attributes(self, attributes: Mapping[str, str]) -> None:
        """UpdateInstanceAccessControlAttributeConfiguration with every attribute."""
        self.write(
            self.clients.sso_admin.update_instance_access_control_attribute_configuration,
            **self._access_control_request(attributes),
        )

    def delete_access_control_attributes(self) -> None:
        """DeleteInstanceAccessControlAttributeConfiguration; none left is done."""
        self.write(
            self.clients.sso_admin.delete_instance_access_control_attribute_configuration,
            done_if_not_found=True,
            InstanceArn=self.instance_arn,
        )

    # --- dispatch -------------------------------------------------------------------------------

    def execute(self, operation: Operation) -> None:
        match operation:
            case CreateUser(user=user):
                self.create_user(user)
            case UpdateUser(user=user):
                self.update_user(user)
            case DeleteUser(user_name=name):
                self.delete_user(name)
            case CreateGroup(group=group):
                self.create_group(group.name, group.description)
            case UpdateGroup(group=group):
                self.update_group(group.name, group.description)
            case DeleteGroup(name=name):
                self.delete_group(name)
            case AddMembership(membership=membership):
                self.add_membership(membership)
            case RemoveMembership(membership=membership):
                self.remove_membership(membership)
            case CreatePermissionSet(permission_set=permission_set):
                self.create_permission_set(permission_set)
            case UpdatePermissionSet(permission_set=desired, live=live):
                self.update_permission_set(desired, live)
            case ProvisionPermissionSet(name=name, accounts=accounts):
                self.provision(name, accounts)
            case DeletePermissionSet(name=name):
                self.delete_permission_set(name)
            case CreateAssignment(assignment=key):
                self.create_assignment(key)
            case DeleteAssignment(assignment=key):
                self.delete_assignment(key)
            case CreateAccessControlAttributes(attributes=attributes):
                self.create_access_control_attributes(attributes)
            case UpdateAccessControlAttributes(attributes=attributes):
                self.update_access_control_attributes(attributes)
            case DeleteAccessControlAttributes():
                self.delete_access_control_attributes()

    def _await_account_gate(self, operation: Operation) -> None:
        """Hold an account assignment operation until AWS answered the first write of this
        pass in its account, so that an AccessDeniedException there (a delegated
        administrator and the management account) is met once, not once per operation."""
        account_id = _target_account(operation)
        if account_id is None:
            return
        with self._lock:
            gate = self._account_gates.get(account_id)
            if gate is None:
                self._account_gates[account_id] = threading.Event()  # this one goes first
                return
        gate.wait(timeout=self.settings.poll_timeout_seconds)

    def _open_account_gate(self, account_id: str) -> None:
        with self._lock:
            gate = self._account_gates.get(account_id)
        if gate is not None:
            gate.set()

    def run(self, operation: Operation) -> OperationResult | _Pending:
        """Apply one operation and log its result; never raises for an AWS failure. An account
        assignment operation whose request left IN_PROGRESS in ``"lists"`` mode answers
        ``_Pending``: ``finish`` makes its result once ``RequestWatch.settle`` knows the
        status."""
        try:
            self._await_account_gate(operation)
            return self._run(operation)
        finally:
            account_id = _target_account(operation)
            if account_id is not None:
                self._open_account_gate(account_id)

    def finish(
        self, pending: _Pending, status: Mapping[str, Any] | RequestFailedError
    ) -> OperationResult:
        """The result of a ``_Pending`` operation from its request's final status."""
        try:
            if isinstance(status, RequestFailedError):
                raise status
            _raise_if_failed(status)
        except RequestFailedError as exc:
            self._record_failure(pending.operation, exc)
            result = OperationResult(
                operation=pending.operation,
                status=Status.FAILED,
                reason=exc.reason,
                seconds=time.monotonic() - pending.started,
            )
        else:
            result = OperationResult(
                operation=pending.operation,
                status=Status.SUCCEEDED,
                seconds=time.monotonic() - pending.started,
            )
        _log_result(result)
        return result

    def _run(self, operation: Operation) -> OperationResult | _Pending:
        started = time.monotonic()
        skip = self._skip_reason(operation)
        self._writes.count = 0
        if skip is not None:
            result = OperationResult(operation=operation, status=Status.SKIPPED, reason=skip)
        else:
            try:
                self.execute(operation)
            except _DeferredError as deferred:
                return _Pending(
                    operation=operation, request_id=deferred.request_id, started=started
                )
            except WriterLockLostError as exc:
                if self._writes.count:  # a write of it may have reached AWS
                    result = OperationResult(
                        operation=operation,
                        status=Status.FAILED,
                        reason="interrupted after it began writing: the writer lock was lost "
                        f"({exc.reason})",
                        seconds=time.monotonic() - started,
                    )
                else:
                    result = OperationResult(
                        operation=operation,
                        status=Status.SKIPPED,
                        reason=f"{LOCK_LOST_REASON} ({exc.reason})",
                    )
            except (AwsError, RequestFailedError, _UnresolvedError) as exc:
                self._record_failure(operation, exc)
                reason = exc.reason if isinstance(exc, RequestFailedError) else str(exc)
                result = OperationResult(
                    operation=operation,
                    status=Status.FAILED,
                    reason=reason,
                    seconds=time.monotonic() - started,
                )
            else:
                result = OperationResult(
                    operation=operation,
                    status=Status.SUCCEEDED,
                    seconds=time.monotonic() - started,
                )
        _log_result(result)
        return result


def _boundary(boundary: PermissionsBoundary) -> dict[str, Any]:
    if boundary.customer_managed_policy is not None:
        return {
            "CustomerManagedPolicyReference": {
                "Name": boundary.customer_managed_policy.name,
                "Path": boundary.customer_managed_policy.path,
            }
        }
    return {"ManagedPolicyArn": boundary.managed_policy_arn}


ACCESS_DENIED = "AccessDeniedException"


def _target_account(operation: Operation) -> str | None:
    """The account an account assignment operation writes in (None for other operations)."""
    if isinstance(operation, CreateAssignment | DeleteAssignment):
        return operation.assignment.account_id
    return None


def _raise_if_failed(status: Mapping[str, Any]) -> None:
    if status.get("Status") == FAILED:
        raise RequestFailedError(
            str(status.get("FailureReason") or f"request {status.get('RequestId')} FAILED")
        )


def _log_result(result: OperationResult) -> None:
    fields: dict[str, Any] = {
        "key": result.operation.key,
        "action": result.operation.action.value,
        "status": result.status.value,
        "seconds": round(result.seconds, 3),
    }
    if result.reason is not None:
        fields["reason"] = result.reason
    if result.status is Status.SUCCEEDED:
        log.info("operation_applied", **fields)
    else:
        log.warning("operation_applied", **fields)


_IDENTITY_KINDS = (
    CreateUser,
    UpdateUser,
    DeleteUser,
    CreateGroup,
    UpdateGroup,
    DeleteGroup,
    AddMembership,
    RemoveMembership,
)
"""Operations written to the identity store (its own rate budgets), the rest to sso-admin."""
_BREAKING_KINDS = (
    DeleteAssignment,
    DeletePermissionSet,
    RemoveMembership,
    DeleteGroup,
    DeleteUser,
)
"""Operations that may take access away: they wait for every earlier operation."""


def _principal(operation: Operation) -> str | None:
    """``user/NAME`` or ``group/NAME``: the principal an operation writes or assigns."""
    match operation:
        case CreateUser(user=user) | UpdateUser(user=user):
            return f"user/{user.user_name}"
        case DeleteUser(user_name=name):
            return f"user/{name}"
        case CreateGroup(group=group) | UpdateGroup(group=group):
            return f"group/{group.name}"
        case DeleteGroup(name=name):
            return f"group/{name}"
        case CreateAssignment(assignment=key) | DeleteAssignment(assignment=key):
            principal = "user" if key.principal_type is PrincipalType.USER else "group"
            return f"{principal}/{key.principal_name}"
        case _:
            return None


def _cross_lane_dependencies(
    operations: Sequence[Operation],
) -> tuple[list[list[int]], list[int]]:
    """For each operation, the earlier operations of the other lane it must wait for: a list of
    indices, and a count of the other lane's first operations (in plan order).

    Identity-store writes and sso-admin writes run in two lanes at once (separate rate
    budgets). Across lanes an operation waits for: every earlier operation (the count), when it
    may take access away (``_BREAKING_KINDS``: make before break); else the last earlier
    operation that may, and the earlier operations on the same principal (an assignment waits
    for its user's or group's creation). Within a lane plan order holds, as ``_runs`` groups it.
    """
    dependencies: list[list[int]] = []
    prefixes: list[int] = []
    last_break: dict[bool, int] = {}
    by_principal: dict[tuple[bool, str], list[int]] = {}
    seen = {True: 0, False: 0}  # operations of each lane so far (True: identity)
    for index, operation in enumerate(operations):
        identity = isinstance(operation, _IDENTITY_KINDS)
        other = not identity
        principal = _principal(operation)
        if isinstance(operation, _BREAKING_KINDS):
            dependencies.append([])
            prefixes.append(seen[other])
            last_break[identity] = index
        else:
            waits = [j for j in [last_break.get(other)] if j is not None]
            if principal is not None:
                waits += by_principal.get((other, principal), [])
            dependencies.append(sorted(set(waits)))
            prefixes.append(0)
        if principal is not None:
            by_principal.setdefault((identity, principal), []).append(index)
        seen[identity] += 1
    return dependencies, prefixes


def _concurrency(operation: Operation, settings: ApplySettings) -> tuple[type, int] | None:
    """(kind, bound) when ``operation`` runs concurrently with its like neighbours."""
    if isinstance(operation, CreateAssignment | DeleteAssignment):
        return type(operation), max(1, settings.assignment_concurrency)
    if isinstance(operation, ProvisionPermissionSet):
        return type(operation), max(1, settings.provisioning_concurrency)
    if isinstance(operation, CreateUser | CreateGroup | AddMembership | RemoveMembership):
        return type(operation), max(1, settings.identity_concurrency)
    return None


def _runs(
    operations: Sequence[tuple[int, Operation]], settings: ApplySettings
) -> Iterator[tuple[Sequence[tuple[int, Operation]], int]]:
    """Consecutive runs of (index, operation) with their concurrency (1: one at a time)."""
    start = 0
    while start < len(operations):
        grouping = _concurrency(operations[start][1], settings)
        end = start + 1
        if grouping is not None:
            while end < len(operations) and _concurrency(operations[end][1], settings) == grouping:
                end += 1
        yield operations[start:end], grouping[1] if grouping else 1
        start = end


def _set_writes_before_creations(
    runs: Sequence[tuple[Sequence[tuple[int, Operation]], int]], position: int
) -> list[tuple[int, Operation]]:
    """The permission set creations and updates from ``runs[position]`` on when the run right
    after them creates account assignments (they can then run side by side), else []."""
    writes: list[tuple[int, Operation]] = []
    while position < len(runs) and all(
        isinstance(operation, CreatePermissionSet | UpdatePermissionSet)
        for _, operation in runs[position][0]
    ):
        writes.extend(runs[position][0])
        position += 1
    creations = position < len(runs) and all(
        isinstance(operation, CreateAssignment) for _, operation in runs[position][0]
    )
    return writes if writes and creations and runs[position][1] > 1 else []


class _Scheduler:
    """Runs a plan's two lanes (identity store, sso-admin) at once, each in plan order with its
    runs and barriers, holding each operation until the other lane's operations it depends on
    (``_cross_lane_dependencies``) have their results."""

    def __init__(
        self,
        *,
        applying: _Applying,
        operations: Sequence[Operation],
        settings: ApplySettings,
        tracker: _ProgressTracker,
    ) -> None:
        self.applying = applying
        self.operations = operations
        self.settings = settings
        self.tracker = tracker
        self.results: dict[int, OperationResult] = {}
        self.done = [threading.Event() for _ in operations]
        self.dependencies, self.prefixes = _cross_lane_dependencies(operations)
        #: each lane's operation indices in plan order (True: identity), and how many of its
        #: first ones have their results
        self._lanes = {
            lane: [i for i, op in enumerate(operations) if isinstance(op, _IDENTITY_KINDS) == lane]
            for lane in (True, False)
        }
        self._finished = {True: 0, False: 0}
        self._progress = threading.Condition()

    def record(self, index: int, result: OperationResult, *, counted: bool = False) -> None:
        self.results[index] = self.tracker.record(result, counted=counted)
        self.done[index].set()
        lane = isinstance(self.operations[index], _IDENTITY_KINDS)
        with self._progress:
            order, finished = self._lanes[lane], self._finished[lane]
            while finished < len(order) and self.done[order[finished]].is_set():
                finished += 1
            self._finished[lane] = finished
            self._progress.notify_all()

    def start(self, index: int, operation: Operation) -> OperationResult | _Pending:
        for dependency in self.dependencies[index]:
            self.done[dependency].wait()
        if self.prefixes[index]:
            other = not isinstance(operation, _IDENTITY_KINDS)
            with self._progress:
                while self._finished[other] < self.prefixes[index]:
                    self._progress.wait()
        return self.applying.run(operation)

    def run_lane(self, lane: Sequence[tuple[int, Operation]]) -> None:
        runs = list(_runs(lane, self.settings))
        position = 0
        while position < len(runs):
            run, concurrency = runs[position]
            writes = (
                _set_writes_before_creations(runs, position) if self.settings.side_by_side else []
            )
            if writes:
                self._pipeline(writes, *runs[position + len(writes)])
                position += len(writes) + 1
                continue
            position += 1
            if concurrency == 1 or len(run) == 1:
                self._sequentially(run)
            else:
                self._run_concurrently(run, concurrency)

    def _sequentially(self, run: Sequence[tuple[int, Operation]]) -> None:
        for index, operation in run:
            self._finish_one(index, self.start(index, operation))

    def _pipeline(
        self,
        writes: Sequence[tuple[int, Operation]],
        creations: Sequence[tuple[int, Operation]],
        concurrency: int,
    ) -> None:
        """Permission set writes (one at a time) beside the account assignment creations that
        follow them: a creation waits only for the write of its own set."""
        written = {
            operation.permission_set.name: index
            for index, operation in writes
            if isinstance(operation, CreatePermissionSet | UpdatePermissionSet)
        }
        for index, operation in creations:
            if isinstance(operation, CreateAssignment):
                own = written.get(operation.assignment.permission_set)
                if own is not None:
                    self.dependencies[index] = [*self.dependencies[index], own]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="apply-sets") as lane:
            sets = lane.submit(contextvars.copy_context().run, self._sequentially, writes)
            try:
                self._run_concurrently(creations, concurrency)
            finally:
                sets.result()

    def _finish_one(self, index: int, outcome: OperationResult | _Pending) -> None:
        if isinstance(outcome, _Pending):
            self.tracker.ended()
            self._settle({outcome.request_id: (index, outcome)}, wait=True)
        else:
            self.record(index, outcome)

    def _watch(self, operation: Operation) -> RequestWatch:
        if isinstance(operation, DeleteAssignment):
            return self.applying.deletions
        return self.applying.creations

    def _settle(self, pending: dict[str, tuple[int, _Pending]], *, wait: bool) -> None:
        """Record the results of the pending operations whose status is settled (all of them
        with ``wait``); they leave ``pending``."""
        if not pending:
            return
        watch = self._watch(next(iter(pending.values()))[1].operation)
        for request_id, status in watch.settle(list(pending), wait=wait).items():
            index, item = pending.pop(request_id)
            self.record(index, self.applying.finish(item, status), counted=True)

    def _run_concurrently(self, run: Sequence[tuple[int, Operation]], concurrency: int) -> None:
        pending: dict[str, tuple[int, _Pending]] = {}
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="apply") as pool:
            # Each task runs in a copy of this context, so bound log context (pass id) follows.
            futures = {
                pool.submit(contextvars.copy_context().run, self.start, index, operation): index
                for index, operation in run
            }
            running = set(futures)
            while running:
                finished, running = wait(
                    running,
                    timeout=max(0.01, self.settings.poll_interval_seconds),
                    return_when=FIRST_COMPLETED,
                )
                for future in finished:
                    outcome = future.result()
                    if isinstance(outcome, _Pending):
                        pending[outcome.request_id] = (futures[future], outcome)
                        self.tracker.ended()
                    else:
                        self.record(futures[future], outcome)
                if pending:
                    watch = self._watch(next(iter(pending.values()))[1].operation)
                    if watch.ready(pending) >= max(1, self.settings.status_batch):
                        self._settle(pending, wait=False)
        self._settle(pending, wait=True)


def apply_plan(
    clients: AwsClients,
    plan: Plan,
    live: LiveState,
    *,
    settings: ApplySettings | None = None,
    stop: threading.Event | None = None,
    fence: Callable[[], None] | None = None,
) -> Outcome:
    """Apply ``plan`` to the instance ``live`` was read from; never raises for AWS failures.

    ``live`` gives the identifiers (user and group ids, permission set ARNs, membership ids)
    of objects the plan names; ids of objects created here are remembered for the operations
    after them. Returns one ``OperationResult`` per operation, in plan order, and the API calls
    made by operation name. See the module docstring for ordering, concurrency, polling,
    retries and skips. Once ``stop`` is set, no operation starts; those started finish (their
    requests polled to the end) and the rest are SKIPPED with ``STOPPED_REASON``. ``fence``
    (the writer lock's check) is called before every operation and every HTTP attempt of a
    write; once it raises ``WriterLockLostError``, writing stops the same way, the rest are
    SKIPPED with ``LOCK_LOST_REASON`` and ``Outcome.lock_lost`` says why.
    """
    settings = settings or ApplySettings()
    started = clients.calls.snapshot()
    applying = _Applying(clients=clients, live=live, settings=settings, stop=stop, fence=fence)
    scheduler = _Scheduler(
        applying=applying,
        operations=plan.operations,
        settings=settings,
        tracker=_ProgressTracker(total=len(plan.operations)),
    )
    indexed = list(enumerate(plan.operations))
    identity = [(i, op) for i, op in indexed if isinstance(op, _IDENTITY_KINDS)]
    sso_admin = [(i, op) for i, op in indexed if not isinstance(op, _IDENTITY_KINDS)]
    if not settings.side_by_side:
        scheduler.dependencies = [[] for _ in plan.operations]
        scheduler.prefixes = [0 for _ in plan.operations]
        scheduler.run_lane(indexed)
    elif identity and sso_admin:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="identity") as lane:
            identity_lane = lane.submit(
                contextvars.copy_context().run, scheduler.run_lane, identity
            )
            try:
                scheduler.run_lane(sso_admin)
            finally:
                identity_lane.result()
    else:
        scheduler.run_lane(identity or sso_admin)
    outcome = Outcome(
        revision=plan.revision,
        results=tuple(scheduler.results[i] for i in range(len(plan.operations))),
        api_calls=clients.calls.since(started),
        lock_lost=applying.lock_lost,
    )
    log.info(
        "plan_applied", revision=plan.revision, **outcome.counts(), api_calls=outcome.api_calls
    )
    return outcome
