"""Effective access: who can sign in to which account with which permission set, and through what.

Identity Center grants access through account assignments, and an assignment to a group
grants it to every member of the group (AWS IAM Identity Center User Guide, "Assign user access
to AWS accounts"). Reviewers and auditors ask about people, not assignments, so this module
expands assignments into *grants*: one per (user, account, permission set, route), where the
route is either a direct assignment to the user or an assignment to one of the user's groups.

Pure: it takes an ``IdentityCenterState`` (desired or live) and returns values. Principals
that are referred to but not declared (a live user that the files only name) are expanded like
any other; a group without members grants nothing to anyone.

A plan's effect on access (``access_effect``, for ``Plan.access``) compares live state with
live state as the plan leaves it (``projection.project``), looking only at the (user, account,
set) triples a changed membership or assignment touches, so its cost follows the change, not
the organization's millions of grants. Permission sets matching ``reconciler.json``'s
``privileged_permission_sets`` (shell-style patterns) are marked privileged.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from reconciler.model.state import IdentityCenterState, PrincipalType

__all__ = [
    "AccessChanges",
    "Grant",
    "access_changes",
    "access_effect",
    "affected_access",
    "effective_access",
    "is_privileged",
]


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    """User ``user`` (a user name) may sign in to account ``account_id`` (12 digits) with the
    permission set ``permission_set`` (a name), ``via`` a group (its display name) or directly
    (``via`` None)."""

    user: str
    account_id: str
    permission_set: str
    via: str | None = None

    @property
    def access(self) -> tuple[str, str, str]:
        """``(user, account_id, permission_set)``: what the grant gives, whatever its route."""
        return (self.user, self.account_id, self.permission_set)

    def __str__(self) -> str:
        route = f"via group {self.via}" if self.via is not None else "directly"
        return f"{self.user}: {self.permission_set} in {self.account_id} ({route})"


def effective_access(state: IdentityCenterState) -> frozenset[Grant]:
    """Every grant that ``state``'s assignments and memberships give.

    A USER assignment gives one grant with ``via`` None; a GROUP assignment gives one grant per
    member of the group (``state.memberships``) with ``via`` the group's name. Nested groups do
    not exist in Identity Center, so one level of expansion is complete.

    Proportional to the number of assignments plus the grants they give.
    """
    members: defaultdict[str, list[str]] = defaultdict(list)
    for membership in state.memberships:
        members[membership.group].append(membership.user)
    grants: set[Grant] = set()
    for key in state.assignments:
        if key.principal_type is PrincipalType.USER:
            grants.add(Grant(key.principal_name, key.account_id, key.permission_set))
            continue
        for user in members.get(key.principal_name, ()):
            grants.add(Grant(user, key.account_id, key.permission_set, key.principal_name))
    return frozenset(grants)


Access = tuple[str, str, str]
"""``(user, account_id, permission_set)``: what a grant gives, whatever its route."""


def affected_access(before: IdentityCenterState, after: IdentityCenterState) -> frozenset[Access]:
    """Every ``(user, account_id, permission_set)`` whose routes may differ between the states.

    Only a changed assignment or a changed membership changes a route: a changed USER
    assignment touches its own access; a changed GROUP assignment that of every member of the
    group (in either state); a changed membership every (account, set) assigned to its group
    (in either state). A deleted user or group changes access only through the memberships and
    assignments that go with it. Proportional to the size of the states plus the result.
    """
    memberships = before.memberships ^ after.memberships
    assignments = before.assignments ^ after.assignments
    result: set[Access] = set()
    groups = {k.principal_name for k in assignments if k.principal_type is PrincipalType.GROUP}
    members: defaultdict[str, set[str]] = defaultdict(set)
    if groups:
        for state in (before, after):
            for membership in state.memberships:
                if membership.group in groups:
                    members[membership.group].add(membership.user)
    for key in assignments:
        users = (
            (key.principal_name,)
            if key.principal_type is PrincipalType.USER
            else members.get(key.principal_name, ())
        )
        result.update((user, key.account_id, key.permission_set) for user in users)
    if memberships:
        changed_groups = {membership.group for membership in memberships}
        assigned: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
        for state in (before, after):
            for key in state.assignments:
                if (
                    key.principal_type is PrincipalType.GROUP
                    and key.principal_name in changed_groups
                ):
                    assigned[key.principal_name].add((key.account_id, key.permission_set))
        for membership in memberships:
            result.update(
                (membership.user, account_id, permission_set)
                for account_id, permission_set in assigned.get(membership.group, ())
            )
    return frozenset(result)


class _Routes:
    """The routes of ``state`` to a given set of access, indexed in one pass over the
    memberships and one over the assignments (only what concerns that access is kept)."""

    __slots__ = ("assigned_groups", "direct", "groups_of")

    def __init__(
        self,
        state: IdentityCenterState,
        users: AbstractSet[str],
        pairs: AbstractSet[tuple[str, str]],
    ) -> None:
        """Index the routes of ``state`` that concern ``users`` and the (account, set)
        ``pairs`` (those of the access asked about)."""
        self.groups_of: defaultdict[str, set[str]] = defaultdict(set)
        for membership in state.memberships:
            if membership.user in users:
                self.groups_of[membership.user].add(membership.group)
        self.direct: set[Access] = set()
        self.assigned_groups: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        for key in state.assignments:
            if (key.account_id, key.permission_set) not in pairs:
                continue
            if key.principal_type is PrincipalType.USER:
                self.direct.add((key.principal_name, key.account_id, key.permission_set))
            else:
                self.assigned_groups[key.account_id, key.permission_set].add(key.principal_name)

    def gives(self, access: Access) -> bool:
        """Whether some route (direct or through a group) gives ``access``."""
        if access in self.direct:
            return True
        groups = self.assigned_groups.get((access[1], access[2]))
        return groups is not None and not groups.isdisjoint(self.groups_of.get(access[0], ()))

    def grants(self, access: Iterable[Access]) -> list[Grant]:
        """One grant per route to each of ``access``, in the order of ``access`` and for each
        the direct route first, then the groups by name."""
        grants: list[Grant] = []
        append, direct = grants.append, self.direct
        assigned_groups, groups_of = self.assigned_groups.get, self.groups_of.get
        for access_key in access:
            user, account_id, permission_set = access_key
            if access_key in direct:
                append(Grant(user, account_id, permission_set))
            routes = assigned_groups((account_id, permission_set))
            if routes:
                via = routes.intersection(groups_of(user, ()))
                # One route is the common case: no list to sort.
                for group in via if len(via) < 2 else sorted(via):
                    append(Grant(user, account_id, permission_set, group))
        return grants


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessChanges:
    """How access changes between two states.

    ``gained`` are grants of the new state whose access (user, account, permission set) no
    route of the old state gave; ``lost`` are grants of the old state whose access no route of
    the new state gives. A user who keeps an access through another route (directly after
    losing it through a group) neither gains nor loses it. Both are sorted by user, account
    and permission set, the direct route before the groups (by name).
    """

    gained: tuple[Grant, ...]
    lost: tuple[Grant, ...]
    privileged: frozenset[str] = field(default=frozenset())
    """The names of the permission sets, among those of ``gained`` and ``lost``, that
    ``reconciler.json`` marks privileged (``privileged_permission_sets``)."""

    @property
    def is_empty(self) -> bool:
        return not self.gained and not self.lost

    def is_privileged(self, grant: Grant) -> bool:
        """Whether ``grant``'s permission set is marked privileged."""
        return grant.permission_set in self.privileged


def _sort_key(grant: Grant) -> tuple[str, str, str, bool, str]:
    """User, account, set, then the direct route before the groups (``via`` may be None)."""
    route = grant.via is not None
    return (grant.user, grant.account_id, grant.permission_set, route, grant.via or "")


def route_json(via: str | None) -> dict[str, str | None]:
    """How a grant reaches its user, as every JSON document writes it (``plan``, the pass
    report, ``access``): ``{"via": "direct" | "group", "group": "<group name>" | None}``, from
    ``Grant.via`` (the group's name, None for an assignment to the user)."""
    return {"via": "direct" if via is None else "group", "group": via}


def is_privileged(permission_set: str, patterns: Iterable[str]) -> bool:
    """True when the permission set name matches one of the shell-style ``patterns``
    (case-sensitive, as ``protected`` names are)."""
    return any(fnmatch.fnmatchcase(permission_set, pattern) for pattern in patterns)


def access_changes(
    before: Iterable[Grant], after: Iterable[Grant], *, privileged: Iterable[str] = ()
) -> AccessChanges:
    """The access gained and lost going from grants ``before`` to grants ``after``; the
    permission sets among them matching the shell-style patterns ``privileged`` are marked."""
    old, new = frozenset(before), frozenset(after)
    old_access = {grant.access for grant in old}
    new_access = {grant.access for grant in new}
    gained = tuple(sorted((g for g in new if g.access not in old_access), key=_sort_key))
    lost = tuple(sorted((g for g in old if g.access not in new_access), key=_sort_key))
    patterns = tuple(privileged)
    names = {grant.permission_set for grant in (*gained, *lost)}
    return AccessChanges(
        gained=gained,
        lost=lost,
        privileged=frozenset(name for name in names if is_privileged(name, patterns)),
    )


def access_effect(
    before: IdentityCenterState, after: IdentityCenterState, *, privileged: Iterable[str] = ()
) -> AccessChanges:
    """``access_changes(effective_access(before), effective_access(after), privileged=...)``,
    computed only for the access whose routes may differ (``affected_access``): proportional to
    the size of the states plus the change, not to every grant of the organization."""
    access = affected_access(before, after)
    if not access:
        return AccessChanges(gained=(), lost=())
    users = {user for user, _, _ in access}
    pairs = {(account_id, permission_set) for _, account_id, permission_set in access}
    old, new = _Routes(before, users, pairs), _Routes(after, users, pairs)
    gained: list[Access] = []
    lost: list[Access] = []
    old_gives, new_gives = old.gives, new.gives
    for key in access:
        has = new_gives(key)
        if old_gives(key) != has:
            (gained if has else lost).append(key)
    patterns = tuple(privileged)
    names = {key[2] for key in (*gained, *lost)}
    # Sorted triples give grants in access_changes' order (direct route first, then groups).
    return AccessChanges(
        gained=tuple(new.grants(sorted(gained))),
        lost=tuple(old.grants(sorted(lost))),
        privileged=frozenset(name for name in names if is_privileged(name, patterns)),
    )
