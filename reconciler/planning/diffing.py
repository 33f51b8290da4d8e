"""Desired state against live state: the plan of operations that converges them.

Pure and proportional to the data: users, groups and permission sets are compared by key,
memberships and assignments by set arithmetic on their keys, and attributes are diffed only for
objects whose values differ.

Order (so that no principal loses access in between and AWS's dependencies hold): create and
update users and groups; add memberships; create or update the attributes for access control
(before the sets whose policies may read them as principal tags); create and update permission
sets; provision changed sets; create assignments; then delete assignments, permission sets,
memberships, groups, users and, last, the attributes for access control. A rename of a
permission set is therefore create-new, assign-new, unassign-old, delete-old.

Scope (``reconciler.json``): what is deleted is what ``pruning.prune_scope`` puts in scope and
the revision does not declare. Permission sets are deleted only when they carry the managed-by
tag; assignments only of declared permission sets (or of sets being deleted); memberships only
of declared groups; users and groups only when pruning them is enabled, and never while the
desired state refers to them (as a member or the principal of an assignment). Protected names are
never deleted, nor are assignments of protected sets or to protected groups or users.
"""

from __future__ import annotations

import glob
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any, TypeVar

from reconciler.model.collection import collection_paused
from reconciler.model.policies import allows_broad_access
from reconciler.model.resolving import DesiredState
from reconciler.model.state import (
    MANAGED_TAG_KEY,
    AccountStatus,
    AssignmentKey,
    LiveState,
    PermissionSet,
    User,
)
from reconciler.model.wording import count, noun
from reconciler.planning.access import access_effect, is_privileged
from reconciler.planning.details import json_value as _json_value
from reconciler.planning.plans import (
    Action,
    AddMembership,
    AttributeChange,
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
from reconciler.planning.projection import project
from reconciler.planning.pruning import PruneScope, prune_scope
from reconciler.planning.rendering import account_label, assignment_label
from reconciler.planning.unmanaged import unmanaged

T = TypeVar("T")

# Attributes that shape the IAM role provisioned into each account: a change to any of them
# reaches the accounts only through ProvisionPermissionSet (IAM Identity Center user guide,
# "Update permission sets"). Description, relay state and tags live on the permission set only.
_PROVISIONED_ATTRIBUTES = frozenset(
    {
        "session_duration",
        "managed_policies",
        "customer_managed_policies",
        "inline_policy",
        "permissions_boundary",
    }
)


def attribute_diff(live: Any, desired: Any) -> tuple[AttributeChange, ...]:
    """The attributes in which two dataclass values of the same type differ, in field order."""
    changes = []
    for attribute in fields(desired):
        old, new = getattr(live, attribute.name), getattr(desired, attribute.name)
        if old == new:
            continue
        added: tuple[str, ...] = ()
        removed: tuple[str, ...] = ()
        if isinstance(new, frozenset):
            added = tuple(sorted(str(item) for item in new - old))
            removed = tuple(sorted(str(item) for item in old - new))
        elif isinstance(new, Mapping):
            added = tuple(sorted(f"{k}={v}" for k, v in new.items() if old.get(k) != v))
            removed = tuple(sorted(f"{k}={v}" for k, v in old.items() if new.get(k) != v))
        changes.append(
            AttributeChange(
                attribute=attribute.name,
                old=_json_value(old),
                new=_json_value(new),
                added=added,
                removed=removed,
            )
        )
    return tuple(changes)


def _compare(
    desired: Mapping[str, T],
    live: Mapping[str, T],
) -> tuple[list[T], list[tuple[T, T]], list[str]]:
    """(to create, (live, desired) pairs to update, names only live)."""
    created = [desired[name] for name in sorted(desired.keys() - live.keys())]
    updated = [
        (live[name], desired[name])
        for name in sorted(desired.keys() & live.keys())
        if live[name] != desired[name]
    ]
    only_live = sorted(live.keys() - desired.keys())
    return created, updated, only_live


@collection_paused
def plan(
    desired: DesiredState,
    live: LiveState,
    *,
    revision: str | None,
    base_privileged: Iterable[str] = (),
) -> Plan:
    """Compute the plan that converges ``live`` to ``desired``.

    Returns a ``Plan`` whose operations are ordered as the module docstring says and sorted by
    key within each step, so the same inputs always give the same plan; its ``access`` is the
    operations' effect on who can sign in where (live state against its ``projection``), with
    the sets matching ``reconciler.json``'s ``privileged_permission_sets`` marked, and those
    matching ``base_privileged`` (the patterns of the commits the revision builds on: a
    revision cannot stop its own gains from being highlighted) too, with a note naming the
    patterns the revision dropped, and the sets whose policies give the run of an account
    (``policies.allows_broad_access``) whatever their names.
    """
    want, have = desired.state, live.state
    scope = prune_scope(desired, live)
    notes: list[str] = [str(problem) for problem in desired.warnings]

    users_created, users_updated, _ = _compare(want.users, have.users)
    notes.extend(_email_case_notes(users_updated))
    groups_created, groups_updated, _ = _compare(want.groups, have.groups)
    wanted_sets, adopted = _adopt_untagged_sets(
        _keep_uncleared_descriptions(want.permission_sets, have.permission_sets),
        have.permission_sets,
    )
    sets_created, sets_updated, _ = _compare(wanted_sets, have.permission_sets)
    if adopted:
        notes.append(
            f"{count(len(adopted), 'declared permission set')} "
            f"{noun(len(adopted), 'matches', 'match')} "
            f"{noun(len(adopted), 'its live copy', 'their live copy')} except for the "
            f"managed-by tag, which is added with "
            f"{noun(len(adopted), 'its', 'their')} next change: {', '.join(adopted)}"
        )

    # Deletions: what is in the prune scope and not declared (see ``pruning``).
    sets_deleted = sorted(scope.permission_sets - want.permission_sets.keys())
    users_deleted = sorted(scope.users - want.users.keys())
    groups_deleted = sorted(scope.groups - want.groups.keys())
    memberships_added = sorted(want.memberships - have.memberships)
    memberships_removed = scope.memberships - want.memberships

    # Assignments: create what is missing; delete what is not wanted, within scope. Accounts
    # that are not ACTIVE (suspended, pending closure) take no assignment write: they are left
    # as they are, with a note, so a suspension outside the repository never fails a pass.
    deleted_sets = set(sets_deleted)
    inactive = _inactive_accounts(live)
    names = {account.id: account.name for account in live.accounts.values()}
    management = _out_of_reach(live)
    for name in sorted(deleted_sets):
        if management is not None and management in live.provisioned_accounts.get(name, ()):
            deleted_sets.discard(name)
            notes.append(
                f"permission set {name} is not deleted: it is provisioned to the management "
                f"account {account_label(management, names)}, which a delegated administrator "
                "cannot change (IAM Identity Center user guide, Delegated administration); "
                "delete it from the management account"
            )
    assignments_created, assignments_deleted, blocked_sets = _assignment_changes(
        desired=want.assignments,
        live=have.assignments,
        scope=scope,
        deleted_sets=deleted_sets,
        inactive=inactive,
        names=names,
        notes=notes,
        management=management,
    )
    for name, keys in sorted(blocked_sets.items()):
        deleted_sets.discard(name)
        notes.append(
            f"permission set {name} is not deleted: {len(keys)} of its assignments "
            f"{noun(len(keys), 'is')} "
            f"protected or in accounts that are not ACTIVE "
            f"(first: {assignment_label(keys[0], names)})"
        )

    access_control = access_control_changes(
        want.access_control_attributes, have.access_control_attributes
    )
    access_control_writes = [op for op in access_control if op.action is not Action.DELETE]
    access_control_deletes = [op for op in access_control if op.action is Action.DELETE]

    provisioned: list[ProvisionPermissionSet] = []
    updates: list[UpdatePermissionSet] = []
    for live_set, desired_set in sets_updated:
        diff = attribute_diff(live_set, desired_set)
        updates.append(UpdatePermissionSet(permission_set=desired_set, live=live_set, diff=diff))
    for name in sorted(want.permission_sets.keys() & have.permission_sets.keys()):
        accounts = live.provisioned_accounts.get(name, frozenset())
        changed = any(
            change.attribute in _PROVISIONED_ATTRIBUTES
            for update in updates
            if update.permission_set.name == name
            for change in update.diff
        )
        stale = live.stale_accounts.get(name, frozenset()) - inactive.keys()
        if accounts - inactive.keys() and (changed or stale):
            provisioned.append(
                ProvisionPermissionSet(name=name, accounts=(accounts | stale) - inactive.keys())
            )

    operations: list[Operation] = [
        *(CreateUser(user=user) for user in users_created),
        *(UpdateUser(user=new, diff=attribute_diff(old, new)) for old, new in users_updated),
        *(CreateGroup(group=group) for group in groups_created),
        *(UpdateGroup(group=new, diff=attribute_diff(old, new)) for old, new in groups_updated),
        *(AddMembership(membership=membership) for membership in memberships_added),
        *access_control_writes,
        *(CreatePermissionSet(permission_set=permission_set) for permission_set in sets_created),
        *updates,
        *provisioned,
        *(
            CreateAssignment(
                assignment=key, rule=desired.rules.get(key), reason=desired.reasons.get(key)
            )
            for key in assignments_created
        ),
        *(DeleteAssignment(assignment=key) for key in assignments_deleted),
        *(DeletePermissionSet(name=name) for name in sorted(deleted_sets)),
        *(RemoveMembership(membership=m) for m in sorted(memberships_removed)),
        *(DeleteGroup(name=name) for name in groups_deleted),
        *(DeleteUser(user_name=name) for name in users_deleted),
        *access_control_deletes,
    ]
    own = desired.config.privileged_permission_sets
    dropped = [pattern for pattern in dict.fromkeys(base_privileged) if pattern not in own]
    if dropped:
        notes.append(
            f"this revision drops {', '.join(dropped)} from privileged_permission_sets: the "
            f"commit it builds on {noun(len(dropped), 'has it', 'has them')}, so "
            f"{noun(len(dropped), 'it', 'they')} still "
            f"{noun(len(dropped), 'marks', 'mark')} privileged sets in this plan"
        )
    # A set is privileged by what it allows too, whatever its name ("superadmin" holding
    # AdministratorAccess): its definition as the plan leaves it.
    broad = [
        glob.escape(name)
        for name, permission_set in {**have.permission_sets, **want.permission_sets}.items()
        if allows_broad_access(permission_set.managed_policies, permission_set.inline_policy)
    ]
    patterns = [*own, *dropped, *broad]
    access = access_effect(have, project(have, operations), privileged=patterns)
    left_alone = tuple(
        replace(item, privileged=True)
        if item.permission_set is not None and is_privileged(item.permission_set, patterns)
        else item
        for item in unmanaged(desired, live, scope=scope)
    )
    return Plan(
        revision=revision,
        operations=tuple(operations),
        notes=tuple(notes),
        unmanaged=left_alone,
        unmanaged_fail=desired.config.unmanaged == "fail",
        access=access,
    )


def access_control_changes(
    desired: Mapping[str, str] | None, live: Mapping[str, str] | None
) -> list[Operation]:
    """The operation (none or one) that brings the instance's attributes for access control
    from ``live`` (None: no configuration) to ``desired`` (None: not declared, left alone;
    empty: no configuration), both key → source.

    Keys are compared as written: AWS keeps them as sent, and the files refuse two keys
    differing only in case.
    """
    if desired is None:
        return []
    if not desired:
        return [] if live is None else [DeleteAccessControlAttributes(live=dict(live))]
    if live is None:
        return [CreateAccessControlAttributes(attributes=dict(desired))]
    if dict(live) == dict(desired):
        return []
    diff = tuple(
        AttributeChange(attribute=key, old=live.get(key), new=desired.get(key))
        for key in sorted(live.keys() | desired.keys())
        if live.get(key) != desired.get(key)
    )
    return [UpdateAccessControlAttributes(attributes=dict(desired), live=dict(live), diff=diff)]


def _email_case_notes(updated: Iterable[tuple[User, User]]) -> list[str]:
    """A note for each updated user whose email address differs from the live one only in
    letter case: addresses are compared as written, because the identity store keeps them as
    given and the part before the @ may be case-sensitive (RFC 5321, section 2.4), so the
    file's spelling is applied like any other change."""
    return [
        f"user {new.user_name}: the email address differs from the live one only in letter "
        f"case ({old.email} → {new.email}); addresses are kept as written, so the file's "
        "spelling is applied"
        for old, new in updated
        if old.email is not None
        and new.email is not None
        and old.email != new.email
        and old.email.casefold() == new.email.casefold()
    ]


def _adopt_untagged_sets(
    desired: Mapping[str, PermissionSet], live: Mapping[str, PermissionSet]
) -> tuple[dict[str, PermissionSet], list[str]]:
    """Desired sets, with the live copy where it differs only by lacking the managed-by tag;
    and the names of those sets (sorted).

    Adopting an existing set (declaring it, e.g. after ``reconciler export``) is silent: a plan
    made right after adoption shows no change. The tag rides along with the set's first real
    update (``UpdatePermissionSet`` always sends every tag); until then the set is not pruned
    when its file is removed, because pruning requires the tag.
    """
    result = dict(desired)
    adopted = []
    for name, permission_set in desired.items():
        existing = live.get(name)
        if existing is None or existing.is_managed or not permission_set.is_managed:
            continue
        tags = {k: v for k, v in permission_set.tags.items() if k != MANAGED_TAG_KEY}
        if replace(permission_set, tags=tags) == replace(existing, tags=dict(existing.tags)):
            result[name] = existing
            adopted.append(name)
    return result, sorted(adopted)


def _keep_uncleared_descriptions(
    desired: Mapping[str, PermissionSet], live: Mapping[str, PermissionSet]
) -> dict[str, PermissionSet]:
    """Desired sets, with the live description where the desired one is absent.

    sso-admin cannot clear a description (UpdatePermissionSet requires at least one character),
    so a set declared without one keeps whatever description it has, instead of showing a
    change that no pass could ever make.
    """
    result = dict(desired)
    for name, permission_set in desired.items():
        existing = live.get(name)
        if permission_set.description is None and existing is not None and existing.description:
            result[name] = replace(permission_set, description=existing.description)
    return result


def _assignment_changes(
    *,
    desired: frozenset[AssignmentKey],
    live: frozenset[AssignmentKey],
    scope: PruneScope,
    deleted_sets: set[str],
    inactive: Mapping[str, str],
    names: Mapping[str, str],
    notes: list[str],
    management: str | None = None,
) -> tuple[list[AssignmentKey], list[AssignmentKey], dict[str, list[AssignmentKey]]]:
    """(assignments to create, to delete, and by permission set those that keep a set being
    deleted alive), appending to ``notes`` what is held back in accounts that are not ACTIVE,
    and in the ``management`` account (a delegated administrator's caller cannot write
    there: ``_out_of_reach``)."""
    created: list[AssignmentKey] = []
    held_back: list[AssignmentKey] = []
    for key in sorted(desired - live):
        (held_back if key.account_id in inactive else created).append(key)
    deleted: list[AssignmentKey] = []
    left_in_place: list[AssignmentKey] = []
    out_of_reach: list[AssignmentKey] = []
    blocked_sets: dict[str, list[AssignmentKey]] = defaultdict(list)
    for key in sorted(live - desired):
        being_deleted = key.permission_set in deleted_sets
        if key in scope.assignments and key.account_id == management:
            out_of_reach.append(key)
        elif key in scope.assignments:
            if key.account_id in inactive:
                left_in_place.append(key)
                if being_deleted:
                    blocked_sets[key.permission_set].append(key)
            else:
                deleted.append(key)
        elif being_deleted:  # out of scope although its set is being deleted: protected
            blocked_sets[key.permission_set].append(key)
    for keys, verb in ((held_back, "created"), (left_in_place, "deleted")):
        if keys:
            notes.append(
                f"{count(len(keys), 'account assignment')} {noun(len(keys), 'is')} not {verb}: "
                f"{noun(len(keys), 'its account is', 'their account is')} not ACTIVE "
                f"({_account_statuses(keys, inactive, names)}); "
                f"first: {assignment_label(keys[0], names)}"
            )
    if out_of_reach:
        notes.append(
            f"{count(len(out_of_reach), 'account assignment')} "
            f"{noun(len(out_of_reach), 'is')} not deleted: "
            f"{noun(len(out_of_reach), 'it is', 'they are')} in the management account, where a "
            "delegated administrator cannot write (IAM Identity Center user guide, Delegated "
            "administration); delete them from the management account; first: "
            f"{assignment_label(out_of_reach[0], names)}"
        )
    return created, deleted, blocked_sets


def _out_of_reach(live: LiveState) -> str | None:
    """The management account's id when the pass calls as the instance's delegated
    administrator (``LiveState.caller``), which AWS does not let write there: neither account
    assignments in it nor permission sets provisioned to it (IAM Identity Center user guide,
    Delegated administration). None otherwise. Declared objects there are refused earlier, as
    revision problems (``resolving.resolve``); this keeps pruning away from them."""
    caller = live.caller
    if caller is None or not caller.delegated_administrator:
        return None
    return caller.management_account


def _inactive_accounts(live: LiveState) -> dict[str, str]:
    """Status of every account that is not ACTIVE (SUSPENDED, PENDING_CLOSURE), by account id.

    Identity Center cannot provision a role into such an account, so assignment writes there
    would fail at every pass until the account is reinstated or closed.
    """
    return {
        account.id: str(account.status)
        for account in live.accounts.values()
        if account.status != AccountStatus.ACTIVE
    }


def _account_statuses(
    keys: Iterable[AssignmentKey], inactive: Mapping[str, str], names: Mapping[str, str]
) -> str:
    accounts = sorted({key.account_id for key in keys})
    return ", ".join(
        f"{account_label(account_id, names)} {inactive[account_id]}" for account_id in accounts
    )
