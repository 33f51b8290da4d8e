"""Access reports: who can sign in to which account with which permission set, and through what.

The report behind ``reconciler access``. It expands the account assignments of one state
(live, or a revision's desired state) into grants per user (``access.effective_access``), names
each user and account, and keeps apart what an auditor must not miss:

- grants held by a user the identity store no longer knows (a *deleted principal*: live reading
  names it ``<deleted user …>``): kept, flagged ``principal_deleted``;
- group assignments that grant nobody: a group with no members, or a group deleted from the
  identity store. They give no user access today, but anyone added to the group gets it, so
  they are listed apart (``AccessReport.idle_assignments``), never dropped.

Filters (``AccessFilter``) narrow the report: values of one filter are alternatives (``--user a
--user b``: either), different filters must all hold (``--user a --account prod``: both).
``--group G`` keeps the access that comes through group G. Every value must name something that
exists, else ``UnknownFilterError`` lists each unknown value with a suggestion.

Pure: values in, values out. Rendering is ``access_rendering``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from reconciler.errors import UnknownFilterError
from reconciler.model.state import (
    Account,
    Group,
    IdentityCenterState,
    Organization,
    PrincipalType,
    User,
)
from reconciler.model.targets import account_id, accounts_under
from reconciler.model.wording import suggestion_clause
from reconciler.planning.access import effective_access

__all__ = [
    "AccessDirectory",
    "AccessFilter",
    "AccessReport",
    "GrantRow",
    "IdleAssignment",
    "IdleReason",
    "ReportSource",
    "access_report",
    "desired_access_state",
]


class ReportSource(StrEnum):
    """What the report was made of: the live state, or a revision's desired state."""

    LIVE = "live"
    DESIRED = "desired"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessDirectory:
    """What the names of a state stand for.

    ``users`` by user name and ``groups`` by display name: the principals that exist (a name
    that a grant or assignment uses and that is not here is a deleted principal); ``accounts``
    by 12-digit id (Organizations ListAccounts); ``organization`` the OU tree, None when it was
    not read (then ``--ou`` cannot be used).
    """

    users: Mapping[str, User] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    accounts: Mapping[str, Account] = field(default_factory=dict)
    organization: Organization | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessFilter:
    """What to keep. Each field is a tuple of values as given (empty: no filter on it).

    ``users``: user names; ``groups``: group display names (the access that comes through that
    group); ``accounts``: account names or 12-digit ids; ``units``: organizational units, by
    path from the root (``Root/Workloads``) or id (``ou-…``, ``r-…``), each with every OU below
    it; ``permission_sets``: names.
    """

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    permission_sets: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        """The filters in use, by name (``user``, ``group``, ``account``, ``ou``,
        ``permission_set``), values as given; filters not in use are left out."""
        named = {
            "user": self.users,
            "group": self.groups,
            "account": self.accounts,
            "ou": self.units,
            "permission_set": self.permission_sets,
        }
        return {name: list(values) for name, values in named.items() if values}


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantRow:
    """One grant with its names: user ``user`` may sign in to account ``account_id`` with
    ``permission_set``, through group ``via`` (None: a direct assignment).

    ``display_name`` is the user's (empty when unknown); ``account_name`` the account's (empty
    when the account is not in the organization any more); ``principal_deleted`` is True when
    the identity store no longer knows the user (the assignment or membership outlived it);
    ``privileged`` is whether the permission set counts as privileged, None when the report was
    made without a rule for that.
    """

    user: str
    account_name: str
    account_id: str
    permission_set: str
    via: str | None = None
    display_name: str = ""
    principal_deleted: bool = False
    privileged: bool | None = None

    @property
    def account_label(self) -> str:
        """``prod (111111111111)``, or the id alone when the name is unknown."""
        return f"{self.account_name} ({self.account_id})" if self.account_name else self.account_id


class IdleReason(StrEnum):
    """Why a group assignment grants nobody."""

    NO_MEMBERS = "no_members"
    GROUP_DELETED = "group_deleted"


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class IdleAssignment:
    """An assignment of ``permission_set`` in ``account_id`` to ``group`` that grants no user,
    for ``reason``: the group has no members, or the identity store no longer knows it."""

    group: str
    account_name: str
    account_id: str
    permission_set: str
    reason: IdleReason

    @property
    def account_label(self) -> str:
        return f"{self.account_name} ({self.account_id})" if self.account_name else self.account_id

    @property
    def explanation(self) -> str:
        if self.reason is IdleReason.GROUP_DELETED:
            return "the group was deleted from the identity store; the assignment remains"
        return "the group has no members; whoever is added to it gets this access"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessReport:
    """Who has access to what, at ``generated_at`` (timezone-aware).

    ``source`` says whether it is the live state of instance ``instance_arn`` or the desired
    state of ``revision`` (a commit SHA; None for live state or a folder outside Git);
    ``filters`` the filters applied (``AccessFilter.as_dict``); ``grants`` sorted by user,
    account name, account id, permission set and route; ``idle_assignments`` the group
    assignments (within the filters) that grant nobody, sorted by group.
    """

    generated_at: datetime
    instance_arn: str
    source: ReportSource
    revision: str | None
    filters: Mapping[str, list[str]]
    grants: tuple[GrantRow, ...]
    idle_assignments: tuple[IdleAssignment, ...] = ()

    @property
    def deleted_principal_grants(self) -> tuple[GrantRow, ...]:
        """The grants of users the identity store no longer knows."""
        return tuple(grant for grant in self.grants if grant.principal_deleted)

    @property
    def users(self) -> tuple[str, ...]:
        """Users holding at least one grant, sorted."""
        return tuple(sorted({grant.user for grant in self.grants}))

    @property
    def accounts(self) -> tuple[tuple[str, str], ...]:
        """(account id, name) of the accounts in at least one grant, sorted by name then id."""
        seen = {(grant.account_name, grant.account_id) for grant in self.grants}
        return tuple((account, name) for name, account in sorted(seen))


def desired_access_state(
    desired: IdentityCenterState, live: IdentityCenterState
) -> IdentityCenterState:
    """The state whose access a revision declares: ``desired`` with the live memberships of
    the groups it assigns without declaring them.

    A revision may assign a group it does not declare (an identity provider's group with
    ``"identities": "external"``, or a group left unmanaged): the reconciler never changes that
    group's members, so its live members are who gets the access. Memberships of declared
    groups are the revision's own.
    """
    declared = desired.groups.keys()
    kept = frozenset(
        membership for membership in live.memberships if membership.group not in declared
    )
    return replace(desired, memberships=desired.memberships | kept)


def access_report(
    state: IdentityCenterState,
    directory: AccessDirectory,
    *,
    generated_at: datetime,
    instance_arn: str,
    source: ReportSource = ReportSource.LIVE,
    revision: str | None = None,
    filters: AccessFilter | None = None,
    privileged: Callable[[str], bool] | None = None,
) -> AccessReport:
    """The access report of ``state`` (its assignments and memberships), named through
    ``directory`` and narrowed by ``filters``.

    ``privileged`` tells whether a permission set (by name) is privileged; without it every
    row's ``privileged`` is None. Raises ``UnknownFilterError`` when a filter value names no
    user, group, account, OU or permission set of ``state`` or ``directory`` (each with a
    suggestion), or an OU is asked for and ``directory.organization`` is None.

    Proportional to the assignments plus the grants they give.
    """
    chosen = filters or AccessFilter()
    keep = _Selection.of(chosen, state, directory)
    rows = []
    for grant in effective_access(state):
        if not keep.grant(grant.user, grant.account_id, grant.permission_set, grant.via):
            continue
        user = directory.users.get(grant.user)
        account = directory.accounts.get(grant.account_id)
        rows.append(
            GrantRow(
                user=grant.user,
                account_name=account.name if account else "",
                account_id=grant.account_id,
                permission_set=grant.permission_set,
                via=grant.via,
                display_name=user.display_name if user else "",
                principal_deleted=user is None,
                privileged=privileged(grant.permission_set) if privileged else None,
            )
        )
    return AccessReport(
        generated_at=generated_at,
        instance_arn=instance_arn,
        source=source,
        revision=revision,
        filters=chosen.as_dict(),
        grants=tuple(sorted(rows, key=_row_order)),
        idle_assignments=tuple(sorted(_idle(state, directory, keep))),
    )


def _row_order(row: GrantRow) -> tuple[str, str, str, str, int, str]:
    return (
        row.user,
        row.account_name,
        row.account_id,
        row.permission_set,
        row.via is not None,
        row.via or "",
    )


def _idle(
    state: IdentityCenterState, directory: AccessDirectory, keep: _Selection
) -> Iterable[IdleAssignment]:
    if keep.users is not None:  # a user filter: only grants of those users are asked for
        return
    with_members = {membership.group for membership in state.memberships}
    for key in state.assignments:
        if key.principal_type is not PrincipalType.GROUP or key.principal_name in with_members:
            continue
        if not keep.assignment(key.account_id, key.permission_set, key.principal_name):
            continue
        account = directory.accounts.get(key.account_id)
        yield IdleAssignment(
            group=key.principal_name,
            account_name=account.name if account else "",
            account_id=key.account_id,
            permission_set=key.permission_set,
            reason=(
                IdleReason.NO_MEMBERS
                if key.principal_name in directory.groups
                else IdleReason.GROUP_DELETED
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Selection:
    """A filter resolved against a state: sets of names and account ids; None keeps all."""

    users: frozenset[str] | None
    groups: frozenset[str] | None
    accounts: frozenset[str] | None
    permission_sets: frozenset[str] | None

    def assignment(self, account: str, permission_set: str, group: str | None) -> bool:
        return (
            (self.accounts is None or account in self.accounts)
            and (self.permission_sets is None or permission_set in self.permission_sets)
            and (self.groups is None or (group is not None and group in self.groups))
        )

    def grant(self, user: str, account: str, permission_set: str, via: str | None) -> bool:
        return (self.users is None or user in self.users) and self.assignment(
            account, permission_set, via
        )

    @classmethod
    def of(
        cls, chosen: AccessFilter, state: IdentityCenterState, directory: AccessDirectory
    ) -> _Selection:
        unknown: list[str] = []
        assigned: defaultdict[PrincipalType, set[str]] = defaultdict(set)
        for key in state.assignments:
            assigned[key.principal_type].add(key.principal_name)
        users = _names(
            chosen.users,
            {
                *directory.users,
                *(m.user for m in state.memberships),
                *assigned[PrincipalType.USER],
            },
            kind="user",
            unknown=unknown,
        )
        groups = _names(
            chosen.groups,
            {*directory.groups, *assigned[PrincipalType.GROUP]},
            kind="group",
            unknown=unknown,
        )
        permission_sets = _names(
            chosen.permission_sets,
            {*state.permission_sets, *(key.permission_set for key in state.assignments)},
            kind="permission set",
            unknown=unknown,
        )
        accounts = _accounts(chosen.accounts, directory, unknown)
        units = _units(chosen.units, directory.organization, unknown)
        if unknown:
            raise UnknownFilterError(unknown)
        if accounts is not None and units is not None:
            accounts &= units
        return cls(
            users=users,
            groups=groups,
            accounts=accounts if accounts is not None else units,
            permission_sets=permission_sets,
        )


def _names(
    wanted: tuple[str, ...], known: set[str], *, kind: str, unknown: list[str]
) -> frozenset[str] | None:
    if not wanted:
        return None
    folded: defaultdict[str, list[str]] = defaultdict(list)
    for candidate in known:
        folded[candidate.casefold()].append(candidate)
    chosen: set[str] = set()
    for name in wanted:
        if name in known:
            chosen.add(name)
        elif len(alike := folded.get(name.casefold(), [])) == 1:
            chosen.add(alike[0])  # Identity Center compares user names without case
        else:
            unknown.append(
                f"--{kind.replace(' ', '-')} {name!r}: no {kind} has that name"
                + suggestion_clause(name, known, kind=f"{kind} name")
            )
    return frozenset(chosen)


def _accounts(
    wanted: tuple[str, ...], directory: AccessDirectory, unknown: list[str]
) -> frozenset[str] | None:
    if not wanted:
        return None
    found = set()
    for reference in wanted:
        account, problem = account_id(
            reference, directory.accounts.values(), file="", path="--account"
        )
        if problem is not None:
            unknown.append(f"--account {reference!r}: {problem.message}")
        elif account is not None:
            found.add(account)
    return frozenset(found)


def _units(
    wanted: tuple[str, ...], organization: Organization | None, unknown: list[str]
) -> frozenset[str] | None:
    if not wanted:
        return None
    if organization is None:
        unknown.append("--ou: the organizational units were not read from Organizations")
        return frozenset()
    paths = {organization.path(unit_id): unit_id for unit_id in organization.units}
    found: set[str] = set()
    for reference in wanted:
        unit_id = reference if reference in organization.units else paths.get(reference)
        if unit_id is None:
            unknown.append(
                f"--ou {reference!r}: no organizational unit has that path or id"
                + suggestion_clause(reference, paths, kind="path", max_listed=20)
            )
            continue
        found |= accounts_under(organization, unit_id, recursive=True)
    return frozenset(found)
