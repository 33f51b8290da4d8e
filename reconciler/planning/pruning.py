"""The prune scope: which live objects a revision may delete.

One function, ``prune_scope``, answers it for both the planner (``diffing``: what to delete is
the scope minus what is declared) and the deletion guard (``guards``: the scope is what its
limits are measured against), so the two cannot drift apart.

An object is in scope (*managed*) when the revision would delete it were it not declared:

- a user or group: its kind's prune switch is on, its name is not protected, and the desired
  state does not refer to it without declaring it (as a member or an assignment's principal);
- a permission set: ``prune.permission_sets`` is on, it carries the managed-by tag, and its
  name is not protected;
- a membership: of a declared group when ``prune.memberships`` is on, or of a user in scope and
  not declared (a user being deleted loses its memberships first, in any group);
- an assignment: of a declared permission set when ``prune.assignments`` is on, or of a set in
  scope and not declared (being deleted); never of a protected set nor to a protected principal;
- the attributes for access control (one configuration): when the revision declares them
  (``access-control-attributes.json``); an empty list there deletes the live configuration.

Conditions of one pass (an account that is not ACTIVE, a set kept because one of its
assignments cannot be deleted) do not change the scope: the planner applies them on top.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.model.loading import is_protected
from reconciler.model.resolving import DesiredState
from reconciler.model.state import AssignmentKey, LiveState, Membership, PrincipalType
from reconciler.planning.plans import (
    DeleteAccessControlAttributes,
    DeleteAssignment,
    DeleteGroup,
    DeletePermissionSet,
    DeleteUser,
    Kind,
    RemoveMembership,
)

__all__ = ["PruneScope", "live_counts", "prune_scope"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneScope:
    """The live objects a revision manages (may delete), by kind.

    ``users`` are user names, ``groups`` group display names, ``permission_sets`` set names.
    """

    users: frozenset[str]
    groups: frozenset[str]
    memberships: frozenset[Membership]
    permission_sets: frozenset[str]
    assignments: frozenset[AssignmentKey]
    access_control_attributes: bool = False
    """Whether the live configuration of attributes for access control is managed: it exists
    and the revision declares the attributes."""

    def counts(self) -> dict[Kind, int]:
        """How many live objects of each kind are managed."""
        return {
            Kind.USER: len(self.users),
            Kind.GROUP: len(self.groups),
            Kind.MEMBERSHIP: len(self.memberships),
            Kind.PERMISSION_SET: len(self.permission_sets),
            Kind.ASSIGNMENT: len(self.assignments),
            Kind.ACCESS_CONTROL_ATTRIBUTES: int(self.access_control_attributes),
        }


def live_counts(live: LiveState) -> dict[Kind, int]:
    """How many live objects of each kind there are, managed or not."""
    state = live.state
    return {
        Kind.USER: len(state.users),
        Kind.GROUP: len(state.groups),
        Kind.MEMBERSHIP: len(state.memberships),
        Kind.PERMISSION_SET: len(state.permission_sets),
        Kind.ASSIGNMENT: len(state.assignments),
        Kind.ACCESS_CONTROL_ATTRIBUTES: int(state.access_control_attributes is not None),
    }


def live_keys(live: LiveState) -> frozenset[str]:
    """The key (``Operation.key``: ``user/<name>``, ``assignment/<account>/<set>/<type>/<name>``
    ...) of every live object, as the operation deleting it would name it."""
    state = live.state
    return frozenset(
        [
            *(DeleteUser(user_name=name).key for name in state.users),
            *(DeleteGroup(name=name).key for name in state.groups),
            *(RemoveMembership(membership=membership).key for membership in state.memberships),
            *(DeletePermissionSet(name=name).key for name in state.permission_sets),
            *(DeleteAssignment(assignment=key).key for key in state.assignments),
            *(
                [DeleteAccessControlAttributes(live=state.access_control_attributes).key]
                if state.access_control_attributes is not None
                else []
            ),
        ]
    )


def _protection(patterns: Iterable[str]) -> Callable[[str], bool]:
    """``is_protected(name, patterns)`` memoized by name: a live state repeats each set and
    principal name in thousands of assignments."""
    kept = tuple(patterns)
    memo: dict[str, bool] = {}

    def protected(name: str) -> bool:
        answer = memo.get(name)
        if answer is None:
            answer = memo[name] = is_protected(name, kept)
        return answer

    return protected


def prune_scope(desired: DesiredState, live: LiveState) -> PruneScope:
    """The live objects of ``live`` that the revision ``desired`` may delete (module docstring).

    Pure; proportional to the number of live objects.
    """
    config, want, have = desired.config, desired.state, live.state
    prune, protected = config.prune, config.protected

    # A principal the desired state refers to without declaring it is still wanted.
    referenced_users = {m.user for m in want.memberships} | {
        key.principal_name for key in want.assignments if key.principal_type is PrincipalType.USER
    }
    referenced_groups = {
        key.principal_name for key in want.assignments if key.principal_type is PrincipalType.GROUP
    }
    users = frozenset(
        name
        for name in have.users
        if prune.users
        and not is_protected(name, protected.users)
        and (name in want.users or name not in referenced_users)
    )
    groups = frozenset(
        name
        for name in have.groups
        if prune.groups
        and not is_protected(name, protected.groups)
        and (name in want.groups or name not in referenced_groups)
    )
    permission_sets = frozenset(
        name
        for name, live_set in have.permission_sets.items()
        if prune.permission_sets
        and live_set.is_managed
        and not is_protected(name, protected.permission_sets)
    )

    users_deleted = users - want.users.keys()
    memberships = frozenset(
        m
        for m in have.memberships
        if (prune.memberships and m.group in want.groups) or m.user in users_deleted
    )

    sets_deleted = permission_sets - want.permission_sets.keys()
    set_protected = _protection(protected.permission_sets)
    principal_protected = {
        PrincipalType.GROUP: _protection(protected.groups),
        PrincipalType.USER: _protection(protected.users),
    }
    assignments = frozenset(
        key
        for key in have.assignments
        if (
            (prune.assignments and key.permission_set in want.permission_sets)
            or key.permission_set in sets_deleted
        )
        and not set_protected(key.permission_set)
        and not principal_protected[key.principal_type](key.principal_name)
    )
    return PruneScope(
        users=users,
        groups=groups,
        memberships=memberships,
        permission_sets=permission_sets,
        assignments=assignments,
        access_control_attributes=(
            want.access_control_attributes is not None
            and have.access_control_attributes is not None
        ),
    )
