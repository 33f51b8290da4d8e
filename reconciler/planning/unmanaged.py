"""Unmanaged objects: live objects the revision neither declares nor may prune.

The plan converges what the revision declares and deletes what ``pruning.prune_scope`` puts in
scope; everything else that is live is left alone. Left alone is not the same as absent: a user
made by hand and given AdministratorAccess in ``prod`` signs in all the same. ``unmanaged``
lists each such object with why the reconciler does not touch it and how to bring it under
management, so that a plan never calls Identity Center converged while access exists beside the
desired state.

One reason per object, the first that applies:

========================  ===============================================================
kind                      reasons
========================  ===============================================================
user, group               its name is protected; the files refer to it (a member, an
                          assignment's principal) without declaring it; its prune switch
                          (``prune.users``, ``prune.groups``) is off
membership                its group is not declared (the group is listed too); the group
                          is declared but ``prune.memberships`` is off
permission set            its name is protected; it lacks the managed-by tag (made outside
                          the reconciler, or adopted through ``export`` and its file since
                          removed: adoption tags a set only with its first change);
                          ``prune.permission_sets`` is off
assignment                its permission set is protected; its principal is protected; its
                          principal was deleted from the identity store; its permission
                          set is not managed (listed too); ``prune.assignments`` is off
========================  ===============================================================

With ``"identities": "external"`` in ``reconciler.json`` an identity provider owns users,
groups and memberships: they are never declared, so listing each would only repeat the
identity store. They are left out; the access they hold beyond the files is not: every
assignment the files do not declare and the reconciler will not remove is listed, whoever its
principal is.

Not listed: objects in scope that a condition of the pass keeps (an account that is not ACTIVE,
a permission set kept by one of its assignments); the plan's notes say why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from reconciler.model.documents import ReconcilerFile
from reconciler.model.resolving import DesiredState
from reconciler.model.state import AssignmentKey, LiveState, Membership, PrincipalType
from reconciler.planning.plans import (
    DeleteAssignment,
    DeleteGroup,
    DeletePermissionSet,
    DeleteUser,
    Kind,
    RemoveMembership,
    Unmanaged,
)
from reconciler.planning.pruning import PruneScope, prune_scope
from reconciler.planning.rendering import assignment_label

__all__ = ["DELETED_PRINCIPAL_PREFIX", "unmanaged"]

DELETED_PRINCIPAL_PREFIX = "<deleted "
"""How live state names a principal the identity store no longer knows (``<deleted user
9067…>``, see ``adapters.aws.reading.deleted_principal_name``)."""

_KIND_ORDER = {kind: index for index, kind in enumerate(Kind)}


def unmanaged(
    desired: DesiredState, live: LiveState, *, scope: PruneScope | None = None
) -> tuple[Unmanaged, ...]:
    """Every live object of ``live`` that ``desired`` does not declare and may not prune.

    ``scope`` is ``prune_scope(desired, live)`` when the caller has it already. Returns the
    objects sorted by kind (users, groups, memberships, permission sets, assignments), then by
    key; each with a one-line ``reason`` and ``remedy`` (see the module docstring). Pure;
    proportional to the number of live objects.
    """
    scope = scope if scope is not None else prune_scope(desired, live)
    config, want, have = desired.config, desired.state, live.state
    names = {account.id: account.name for account in live.accounts.values()}
    found: list[Unmanaged] = []
    if config.identities == "managed":
        referenced_users = {m.user for m in want.memberships} | _principals(
            want.assignments, PrincipalType.USER
        )
        referenced_groups = _principals(want.assignments, PrincipalType.GROUP)
        found.extend(
            _principal(
                kind=Kind.USER,
                key=DeleteUser(user_name=name).key,
                description=f"user {name}",
                name=name,
                file="users.json",
                patterns=config.protected.users,
                referenced=name in referenced_users,
                prune=config.prune.users,
                export="users",
            )
            for name in sorted(have.users.keys() - want.users.keys() - scope.users)
        )
        found.extend(
            _principal(
                kind=Kind.GROUP,
                key=DeleteGroup(name=name).key,
                description=f"group {name}",
                name=name,
                file="groups.json",
                patterns=config.protected.groups,
                referenced=name in referenced_groups,
                prune=config.prune.groups,
                export="groups",
            )
            for name in sorted(have.groups.keys() - want.groups.keys() - scope.groups)
        )
        found.extend(
            _membership(membership, declared_group=membership.group in want.groups)
            for membership in sorted(have.memberships - want.memberships - scope.memberships)
        )
    found.extend(
        _permission_set(name, config=config, tagged=have.permission_sets[name].is_managed)
        for name in sorted(
            have.permission_sets.keys() - want.permission_sets.keys() - scope.permission_sets
        )
    )
    managed_sets = want.permission_sets.keys() | scope.permission_sets
    found.extend(
        _assignment(key, config=config, managed_sets=managed_sets, names=names)
        for key in sorted(have.assignments - want.assignments - scope.assignments)
    )
    return tuple(sorted(found, key=lambda item: (_KIND_ORDER[item.kind], item.key)))


def _principals(keys: Iterable[AssignmentKey], principal_type: PrincipalType) -> set[str]:
    return {key.principal_name for key in keys if key.principal_type is principal_type}


def _matching(name: str, patterns: Iterable[str]) -> str | None:
    """The first of ``patterns`` that ``name`` matches, or None (see ``loading.is_protected``)."""
    return next((pattern for pattern in patterns if fnmatchcase(name, pattern)), None)


def _principal(
    *,
    kind: Kind,
    key: str,
    description: str,
    name: str,
    file: str,
    patterns: Iterable[str],
    referenced: bool,
    prune: bool,
    export: str,
) -> Unmanaged:
    what = kind.value
    pattern = _matching(name, patterns)
    declare = f"declare it in {file} (`reconciler export --kinds {export}` writes it)"
    if pattern is not None:
        reason = f"not declared in {file}, and protected (protected.{export}: {pattern!r})"
        remedy = f"{declare}, or leave it protected on purpose"
    elif referenced:
        reason = (
            f"not declared in {file}, but the desired state refers to it "
            f"({'groups.json or ' if kind is Kind.USER else ''}assignments.json), so it is kept"
        )
        remedy = f"{declare}, or remove the references to this {what}"
    else:
        reason = f"not declared in {file}, and prune.{export} is false"
        remedy = f"{declare}, or set prune.{export} to true to delete it"
    if not prune and pattern is None and referenced:
        reason += f" (prune.{export} is false too)"
    return Unmanaged(kind=kind, key=key, description=description, reason=reason, remedy=remedy)


def _membership(membership: Membership, *, declared_group: bool) -> Unmanaged:
    key = RemoveMembership(membership=membership).key
    description = f"{membership.user} in group {membership.group}"
    if not declared_group:
        return Unmanaged(
            kind=Kind.MEMBERSHIP,
            key=key,
            description=description,
            reason=f"group {membership.group} is not declared in groups.json",
            remedy="declare the group and its members in groups.json "
            "(`reconciler export --kinds groups` writes them)",
        )
    return Unmanaged(
        kind=Kind.MEMBERSHIP,
        key=key,
        description=description,
        reason="not a declared member, and prune.memberships is false",
        remedy=f"add {membership.user} to the members of {membership.group} in groups.json, "
        "or set prune.memberships to true to remove it",
    )


def _permission_set(name: str, *, config: ReconcilerFile, tagged: bool) -> Unmanaged:
    key = DeletePermissionSet(name=name).key
    declare = (
        f"declare it in permission-sets/{name}.json "
        "(`reconciler export --kinds permission_sets` writes it)"
    )
    pattern = _matching(name, config.protected.permission_sets)
    if pattern is not None:
        reason = f"not declared, and protected (protected.permission_sets: {pattern!r})"
        remedy = f"{declare}, or leave it protected on purpose"
    elif not tagged:
        reason = (
            "not declared, and not owned: it lacks the managed-by tag (made outside the "
            "reconciler, or adopted and its file since removed); only sets it tagged are deleted"
        )
        remedy = f"{declare}, or delete it by hand"
    else:
        reason = "not declared, and prune.permission_sets is false"
        remedy = f"{declare}, or set prune.permission_sets to true to delete it"
    return Unmanaged(
        kind=Kind.PERMISSION_SET,
        key=key,
        description=f"permission set {name}",
        reason=reason,
        remedy=remedy,
        permission_set=name,
    )


def _assignment(
    key: AssignmentKey,
    *,
    config: ReconcilerFile,
    managed_sets: Iterable[str],
    names: Mapping[str, str],
) -> Unmanaged:
    principal = key.principal_type.value.lower()
    protected = config.protected
    principal_patterns = (
        protected.users if key.principal_type is PrincipalType.USER else protected.groups
    )
    set_pattern = _matching(key.permission_set, config.protected.permission_sets)
    principal_pattern = _matching(key.principal_name, principal_patterns)
    declare = "declare it in assignments.json (`reconciler export --kinds assignments` writes it)"
    if set_pattern is not None:
        reason = f"its permission set is protected (protected.permission_sets: {set_pattern!r})"
        remedy = f"{declare}, or leave it protected on purpose"
    elif principal_pattern is not None:
        reason = f"its {principal} is protected (protected.{principal}s: {principal_pattern!r})"
        remedy = f"{declare}, or leave it protected on purpose"
    elif key.principal_name.startswith(DELETED_PRINCIPAL_PREFIX):
        reason = (
            f"its {principal} was deleted from the identity store, and the assignment of "
            f"permission set {key.permission_set} remains"
        )
        remedy = (
            "delete it by hand, or set prune.assignments to true (with the permission set "
            "declared) to remove it"
        )
    elif key.permission_set not in managed_sets:
        reason = f"its permission set {key.permission_set} is not managed (see that set)"
        remedy = (
            f"declare permission set {key.permission_set} and this assignment "
            "(`reconciler export --kinds permission_sets,assignments` writes both), "
            "or delete it by hand"
        )
    else:
        reason = "not declared in assignments.json, and prune.assignments is false"
        remedy = f"{declare}, or set prune.assignments to true to delete it"
    return Unmanaged(
        kind=Kind.ASSIGNMENT,
        key=DeleteAssignment(assignment=key).key,
        description=assignment_label(key, names),
        reason=reason,
        remedy=remedy,
        permission_set=key.permission_set,
    )
