"""Resolve validated documents against live state into the desired ``IdentityCenterState``.

Pure. References that only live state can answer are checked here: account names and ids
(through Organizations), group members and assignment principals that are not declared but may
already exist in the identity store. Every problem names the file and JSON path of the
reference. ``resolve`` with ``live=None`` (offline validation) checks nothing against live state
and builds no state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model import documents as docs
from reconciler.model.limits import ACCOUNT_ID, canonical_duration, duration_seconds, full_match
from reconciler.model.loading import Documents, Located
from reconciler.model.policies import policy_document
from reconciler.model.state import (
    MANAGED_TAG_KEY,
    MANAGED_TAG_VALUE,
    Account,
    AssignmentKey,
    CustomerManagedPolicyRef,
    Group,
    IdentityCenterState,
    Membership,
    PermissionsBoundary,
    PermissionSet,
    PrincipalType,
    User,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DesiredState:
    """A revision's desired state, resolved: what planning compares with live state.

    ``state`` holds only what the files declare (memberships of declared groups, the managed-by
    tag on every permission set); ``config`` is ``reconciler.json``; ``warnings`` are problems
    that do not refuse the revision.
    """

    state: IdentityCenterState
    config: docs.ReconcilerFile
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveDirectory:
    """What resolution needs to know of live state: accounts, user names and group names."""

    accounts: Iterable[Account]
    user_names: frozenset[str]
    group_names: frozenset[str]


def _user(document: docs.User) -> User:
    return User(
        user_name=document.user_name,
        display_name=document.display_name,
        given_name=document.given_name,
        family_name=document.family_name,
        email=document.email,
    )


def _customer_policy(reference: docs.CustomerManagedPolicy) -> CustomerManagedPolicyRef:
    return CustomerManagedPolicyRef(name=reference.name, path=reference.path)


def permission_set_from_document(document: docs.PermissionSetFile) -> PermissionSet:
    """The normalized ``PermissionSet`` a permission-set file declares, with the managed-by tag."""
    boundary = None
    if document.permissions_boundary is not None:
        declared = document.permissions_boundary
        boundary = PermissionsBoundary(
            managed_policy_arn=declared.managed_policy_arn,
            customer_managed_policy=(
                _customer_policy(declared.customer_managed_policy)
                if declared.customer_managed_policy
                else None
            ),
        )
    seconds = duration_seconds(document.session_duration)
    if seconds is None:  # the document model already refused it; keep mypy and readers honest
        raise ValueError(f"invalid session duration {document.session_duration!r}")
    return PermissionSet(
        name=document.name,
        description=document.description,
        session_duration=canonical_duration(seconds),
        relay_state=document.relay_state,
        managed_policies=frozenset(document.managed_policies),
        customer_managed_policies=frozenset(
            _customer_policy(reference) for reference in document.customer_managed_policies
        ),
        inline_policy=(
            policy_document(document.inline_policy) if document.inline_policy is not None else None
        ),
        permissions_boundary=boundary,
        tags={**document.tags, MANAGED_TAG_KEY: MANAGED_TAG_VALUE},
    )


class _AccountIndex:
    def __init__(self, accounts: Iterable[Account]) -> None:
        self.by_id: dict[str, Account] = {}
        self.by_name: dict[str, list[Account]] = defaultdict(list)
        for account in accounts:
            self.by_id[account.id] = account
            self.by_name[account.name].append(account)

    def resolve(self, reference: str, *, file: str, path: str) -> tuple[str | None, Problem | None]:
        if full_match(ACCOUNT_ID, reference):
            if reference in self.by_id:
                return reference, None
            return None, Problem(
                file=file,
                path=path,
                rule="unknown_account",
                message=f"account id {reference} is not an account of this organization",
            )
        named = self.by_name.get(reference, [])
        if len(named) == 1:
            return named[0].id, None
        if not named:
            return None, Problem(
                file=file,
                path=path,
                rule="unknown_account",
                message=f"no account of this organization is named {reference!r}",
            )
        ids = ", ".join(sorted(account.id for account in named))
        return None, Problem(
            file=file,
            path=path,
            rule="ambiguous_account",
            message=f"{len(named)} accounts are named {reference!r} ({ids}); "
            "name the account by its 12-digit id",
        )


def _check_principals(
    items: Iterable[tuple[str, str, str]],
    *,
    known: frozenset[str],
    what: str,
    rule: str,
) -> list[Problem]:
    return [
        Problem(
            file=file,
            path=path,
            rule=rule,
            message=f"{what} {name!r} is neither declared nor an existing {what} "
            "in the identity store",
        )
        for name, file, path in items
        if name not in known
    ]


def resolve(documents: Documents, live: LiveDirectory) -> DesiredState:
    """Resolve ``documents`` against ``live`` into a ``DesiredState``.

    Raises ``InvalidRevisionError`` with every unresolvable reference (unknown or ambiguous
    account, unknown member, unknown principal).
    """
    users = {item.value.user_name: _user(item.value) for item in documents.users}
    groups = {
        item.value.name: Group(name=item.value.name, description=item.value.description)
        for item in documents.groups
    }
    known_users = frozenset(users) | live.user_names
    known_groups = frozenset(groups) | live.group_names

    problems = _check_principals(
        (
            (member, item.file, f"{item.path}.members[{index}]")
            for item in documents.groups
            for index, member in enumerate(item.value.members)
        ),
        known=known_users,
        what="user",
        rule="unknown_user",
    )
    problems += _check_principals(
        (
            (user, item.file, f"{item.path}.users[{index}]")
            for item in documents.assignments
            for index, user in enumerate(item.value.users)
        ),
        known=known_users,
        what="user",
        rule="unknown_user",
    )
    problems += _check_principals(
        (
            (group, item.file, f"{item.path}.groups[{index}]")
            for item in documents.assignments
            for index, group in enumerate(item.value.groups)
        ),
        known=known_groups,
        what="group",
        rule="unknown_group",
    )

    accounts = _AccountIndex(live.accounts)
    assignments: set[AssignmentKey] = set()
    for item in documents.assignments:
        assignments |= _expand(item, accounts, problems)

    if problems:
        raise InvalidRevisionError(problems)
    memberships = frozenset(
        Membership(group=item.value.name, user=member)
        for item in documents.groups
        for member in item.value.members
    )
    permission_sets = {
        item.value.name: permission_set_from_document(item.value)
        for item in documents.permission_sets
    }
    return DesiredState(
        state=IdentityCenterState(
            users=users,
            groups=groups,
            memberships=memberships,
            permission_sets=permission_sets,
            assignments=frozenset(assignments),
        ),
        config=documents.config,
        warnings=documents.warnings,
    )


def _expand(
    item: Located[docs.Assignment], accounts: _AccountIndex, problems: list[Problem]
) -> set[AssignmentKey]:
    assignment = item.value
    account_ids = []
    for index, reference in enumerate(assignment.accounts):
        account_id, problem = accounts.resolve(
            reference, file=item.file, path=f"{item.path}.accounts[{index}]"
        )
        if problem is not None:
            problems.append(problem)
        elif account_id is not None:
            account_ids.append(account_id)
    principals = [(PrincipalType.GROUP, name) for name in assignment.groups] + [
        (PrincipalType.USER, name) for name in assignment.users
    ]
    return {
        AssignmentKey(
            account_id=account_id,
            permission_set=assignment.permission_set,
            principal_type=principal_type,
            principal_name=name,
        )
        for account_id in account_ids
        for principal_type, name in principals
    }


def live_directory(
    *, accounts: Mapping[str, Account], user_names: Iterable[str], group_names: Iterable[str]
) -> LiveDirectory:
    """Build a ``LiveDirectory`` from the parts of a ``LiveState``."""
    return LiveDirectory(
        accounts=tuple(accounts.values()),
        user_names=frozenset(user_names),
        group_names=frozenset(group_names),
    )
