"""Live state as it will be once a plan's operations are applied, worked out without AWS.

Pure: ``project(live_state, operations)`` replays the operations on an
``IdentityCenterState`` as Identity Center applies them. What a deletion takes along goes with
it: deleting a user removes its group memberships (identity store ``DeleteUser``) and the
access of its account assignments; deleting a group removes its memberships and the access of
its assignments; deleting a permission set removes its assignments (the plan deletes them first
anyway, as sso-admin requires). Updates and provisioning change no principal, membership or
assignment, so they change no access.

Used for the effect of a plan on access (``diffing.plan`` sets ``Plan.access``): the access of
the projected state against the access of live state.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model.state import IdentityCenterState, PrincipalType
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
    ProvisionPermissionSet,
    RemoveMembership,
    UpdateAccessControlAttributes,
    UpdateGroup,
    UpdatePermissionSet,
    UpdateUser,
)

__all__ = ["project"]


def project(state: IdentityCenterState, operations: Iterable[Operation]) -> IdentityCenterState:
    """``state`` (live) after ``operations`` are applied in order, every one succeeding.

    Lenient where AWS is strict: adding what exists or removing what does not changes nothing,
    so a projection never raises. Proportional to the size of ``state`` plus the operations:
    the cascades of deleted users, groups and permission sets are applied once, at the end, in
    one pass over memberships and assignments.
    """
    users = dict(state.users)
    groups = dict(state.groups)
    permission_sets = dict(state.permission_sets)
    memberships = set(state.memberships)
    assignments = set(state.assignments)
    deleted_users: set[str] = set()
    deleted_groups: set[str] = set()
    deleted_sets: set[str] = set()
    access_control_attributes = state.access_control_attributes
    for operation in operations:
        match operation:
            case CreateUser(user=user) | UpdateUser(user=user):
                users[user.user_name] = user
                deleted_users.discard(user.user_name)
            case DeleteUser(user_name=name):
                users.pop(name, None)
                deleted_users.add(name)
            case CreateGroup(group=group) | UpdateGroup(group=group):
                groups[group.name] = group
                deleted_groups.discard(group.name)
            case DeleteGroup(name=name):
                groups.pop(name, None)
                deleted_groups.add(name)
            case AddMembership(membership=membership):
                memberships.add(membership)
            case RemoveMembership(membership=membership):
                memberships.discard(membership)
            case (
                CreatePermissionSet(permission_set=permission_set)
                | UpdatePermissionSet(permission_set=permission_set)
            ):
                permission_sets[permission_set.name] = permission_set
                deleted_sets.discard(permission_set.name)
            case DeletePermissionSet(name=name):
                permission_sets.pop(name, None)
                deleted_sets.add(name)
            case CreateAssignment(assignment=key):
                assignments.add(key)
            case DeleteAssignment(assignment=key):
                assignments.discard(key)
            case ProvisionPermissionSet():
                pass
            case (
                CreateAccessControlAttributes(attributes=attributes)
                | UpdateAccessControlAttributes(attributes=attributes)
            ):
                access_control_attributes = attributes
            case DeleteAccessControlAttributes():
                access_control_attributes = None
    if deleted_users or deleted_groups:
        memberships = {
            m for m in memberships if m.user not in deleted_users and m.group not in deleted_groups
        }
    if deleted_users or deleted_groups or deleted_sets:
        assignments = {
            key
            for key in assignments
            if key.permission_set not in deleted_sets
            and key.principal_name
            not in (deleted_users if key.principal_type is PrincipalType.USER else deleted_groups)
        }
    return IdentityCenterState(
        users=users,
        groups=groups,
        memberships=frozenset(memberships),
        permission_sets=permission_sets,
        assignments=frozenset(assignments),
        access_control_attributes=access_control_attributes,
    )
