"""Effective access: who can sign in to which account with which permission set, and through what.

Identity Center grants access through account assignments, and an assignment to a group
grants it to every member of the group (AWS IAM Identity Center User Guide, "Assign user access
to AWS accounts"). Reviewers and auditors ask about people, not assignments, so this module
expands assignments into *grants*: one per (user, account, permission set, route), where the
route is either a direct assignment to the user or an assignment to one of the user's groups.

Pure: it takes an ``IdentityCenterState`` (desired or live) and returns values. Principals
that are referred to but not declared (a live user that the files only name) are expanded like
any other; a group without members grants nothing to anyone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.model.state import IdentityCenterState, PrincipalType

__all__ = ["AccessChanges", "Grant", "access_changes", "effective_access"]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessChanges:
    """How access changes between two states.

    ``gained`` are grants of the new state whose access (user, account, permission set) no
    route of the old state gave; ``lost`` are grants of the old state whose access no route of
    the new state gives. A user who keeps an access through another route (directly after
    losing it through a group) neither gains nor loses it. Both are sorted.
    """

    gained: tuple[Grant, ...]
    lost: tuple[Grant, ...]

    @property
    def is_empty(self) -> bool:
        return not self.gained and not self.lost


def access_changes(before: Iterable[Grant], after: Iterable[Grant]) -> AccessChanges:
    """The access gained and lost going from grants ``before`` to grants ``after``."""
    old, new = frozenset(before), frozenset(after)
    old_access = {grant.access for grant in old}
    new_access = {grant.access for grant in new}
    return AccessChanges(
        gained=tuple(sorted(grant for grant in new if grant.access not in old_access)),
        lost=tuple(sorted(grant for grant in old if grant.access not in new_access)),
    )
