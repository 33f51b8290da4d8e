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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model import documents as docs
from reconciler.model.administration import (
    Caller,
    management_assignment_problem,
    management_permission_set_problem,
)
from reconciler.model.collection import collection_paused
from reconciler.model.limits import canonical_duration, duration_seconds
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
    Organization,
    PermissionsBoundary,
    PermissionSet,
    PrincipalType,
    User,
)
from reconciler.model.targets import TargetDirectory, resolve_targets
from reconciler.model.wording import suggestion_clause


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
    rules: Mapping[AssignmentKey, str] = field(default_factory=dict)
    """Why each desired assignment exists: ``assignments.json $.assignments[2]: OU
    Root/Workloads (recursive)`` (the file and JSON path of the entry and the targeting rules
    that selected the account; entries declaring the same assignment joined by ``; ``)."""
    reasons: Mapping[AssignmentKey, str] = field(default_factory=dict)
    """The ``reason`` of the entries declaring each desired assignment that give one (several
    different ones sorted and joined by ``; ``): the repository's note, never sent to AWS."""
    expired: frozenset[AssignmentKey] = frozenset()
    """Assignments the files still declare but whose ``expires_at`` has passed (and that no
    entry in force declares): removed on purpose, not by an emptied file."""


EXPIRING_SOON = timedelta(days=7)
"""Assignments expiring within this time are listed in the plan's notes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveDirectory:
    """What resolution needs to know of live state: accounts, user names and group names;
    ``caller`` (who the pass calls as) and ``provisioned_accounts`` (account ids by permission
    set name) for what a delegated administrator may not touch."""

    accounts: Iterable[Account]
    user_names: frozenset[str]
    group_names: frozenset[str]
    organization: Organization | None = None
    account_tags: Mapping[str, Mapping[str, str]] | None = None
    caller: Caller | None = None
    provisioned_accounts: Mapping[str, frozenset[str]] = field(default_factory=dict)


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


def _check_principals(
    items: Iterable[tuple[str, str, str]],
    *,
    known: frozenset[str] | None,
    what: str,
    rule: str,
) -> list[Problem]:
    if known is None:  # the file declaring this kind could not be read: nothing to check by
        return []
    return [
        Problem(
            file=file,
            path=path,
            rule=rule,
            message=f"{what} {name!r} is neither declared nor an existing {what} "
            "in the identity store" + suggestion_clause(name, known, kind=f"{what} name"),
        )
        for name, file, path in items
        if name not in known
    ]


def _case_clashes(
    declared: Iterable[tuple[str, str, str]], *, live: frozenset[str], what: str
) -> list[Problem]:
    """Declared names that differ only in case from an existing name: the identity store holds
    user and group names unique ignoring case, so creating one would fail."""
    by_folded = {name.casefold(): name for name in live}
    problems = []
    for name, file, path in declared:
        existing = by_folded.get(name.casefold())
        if existing is not None and existing != name:
            problems.append(
                Problem(
                    file=file,
                    path=path,
                    rule=f"{what}_name_case",
                    message=f"{what} {name!r} differs only in case from the existing {what} "
                    f"{existing!r}; the identity store treats them as one name: write {existing!r}",
                )
            )
    return problems


@collection_paused
def resolve(
    documents: Documents,
    live: LiveDirectory,
    *,
    now: datetime | None = None,
) -> DesiredState:
    """Resolve ``documents`` against ``live`` into a ``DesiredState``.

    ``now`` (timezone-aware; default: the current time) decides which assignments have expired:
    those are left out of the desired state (so the plan removes them) and listed in the
    warnings (rule ``access_expired``), as are those expiring within ``EXPIRING_SOON``. An
    expired entry is never a problem, for ``validate`` as for a pass: it grants nothing, and
    refusing it would refuse every later revision until someone deletes the entry.

    When ``live.caller`` is the instance's delegated administrator, an entry in force that
    targets the management account, and a declared permission set provisioned to it, are
    problems too (``administration``: AWS refuses those writes to a delegated administrator).

    Raises ``InvalidRevisionError`` with every unresolvable reference (unknown or ambiguous
    account or organizational unit, unknown member, unknown principal) and every problem of a
    delegated administrator.
    """
    now = now or datetime.now(UTC)
    users = {item.value.user_name: _user(item.value) for item in documents.users}
    groups = {
        item.value.name: Group(name=item.value.name, description=item.value.description)
        for item in documents.groups
    }
    known_users = _known(frozenset(users) | live.user_names, documents, "user")
    known_groups = _known(frozenset(groups) | live.group_names, documents, "group")
    case_clashes = _case_clashes(
        ((item.value.user_name, item.file, f"{item.path}.user_name") for item in documents.users),
        live=live.user_names,
        what="user",
    ) + _case_clashes(
        ((item.value.name, item.file, f"{item.path}.name") for item in documents.groups),
        live=live.group_names,
        what="group",
    )

    problems = case_clashes + _check_principals(
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

    if documents.config.identities == "external":
        problems = [_external_identity_problem(problem) for problem in problems]

    directory = TargetDirectory(
        accounts={account.id: account for account in live.accounts},
        organization=live.organization,
        account_tags=live.account_tags,
    )
    assignments: set[AssignmentKey] = set()
    rules: dict[AssignmentKey, list[str]] = defaultdict(list)
    reasons: dict[AssignmentKey, dict[str, None]] = defaultdict(dict)
    warnings = list(documents.warnings)
    expired: set[AssignmentKey] = set()
    for item in documents.assignments:
        if not _in_force(item, now=now, notes=warnings):
            # Targets of an expired entry are resolved only to know what it declared: their
            # problems do not matter any more.
            gone = resolve_targets(item.value, directory, file=item.file, path=item.path)
            expired.update(_expand(item, gone.accounts))
            continue
        targets = resolve_targets(item.value, directory, file=item.file, path=item.path)
        problems.extend(targets.problems)
        warnings.extend(targets.notes)
        problems.extend(_management_assignment(item, targets.accounts, live, directory))
        for key, rule in _expand(item, targets.accounts).items():
            assignments.add(key)
            rules[key].append(f"{item.file} {item.path}: {rule}")
            if item.value.reason is not None:
                reasons[key][item.value.reason] = None

    problems.extend(_management_permission_sets(documents, live))
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
            access_control_attributes=access_control_attributes(documents),
        ),
        config=documents.config,
        warnings=tuple(warnings),
        rules={key: "; ".join(found) for key, found in rules.items()},
        reasons={key: "; ".join(sorted(found)) for key, found in reasons.items()},
        expired=frozenset(expired - assignments),
    )


def access_control_attributes(documents: Documents) -> dict[str, str] | None:
    """The attributes for access control the revision declares, key → source; None when it
    does not declare them (``access-control-attributes.json`` absent: left alone)."""
    if documents.access_control_attributes is None:
        return None
    return {item.value.key: item.value.source for item in documents.access_control_attributes}


def _management(live: LiveDirectory) -> tuple[Caller, str, str] | None:
    """(caller, management account id, its label) when the caller is a delegated
    administrator, else None."""
    caller = live.caller
    if caller is None or not caller.delegated_administrator:
        return None
    management = caller.management_account
    name = next((a.name for a in live.accounts if a.id == management and a.name), None)
    return caller, management, f"{name} ({management})" if name else management


def _management_assignment(
    item: Located[docs.Assignment],
    accounts: Mapping[str, str],
    live: LiveDirectory,
    directory: TargetDirectory,
) -> list[Problem]:
    """The problem of an entry targeting the management account from a delegated
    administrator (none otherwise), at the path of the reference that names it."""
    found = _management(live)
    if found is None or found[1] not in accounts:
        return []
    caller, management, label = found
    path = next(
        (
            f"{item.path}.accounts[{index}]"
            for index, reference in enumerate(item.value.accounts)
            if directory.resolved.get(reference) == management
        ),
        item.path,
    )
    return [
        management_assignment_problem(
            file=item.file,
            path=path,
            permission_set=item.value.permission_set,
            principals=", ".join([*item.value.groups, *item.value.users]),
            management=label,
            caller=caller,
        )
    ]


def _management_permission_sets(documents: Documents, live: LiveDirectory) -> list[Problem]:
    """The problems of declared permission sets provisioned to the management account, from a
    delegated administrator (none otherwise)."""
    found = _management(live)
    if found is None:
        return []
    caller, management, label = found
    return [
        management_permission_set_problem(
            file=item.file,
            path=f"{item.path}.name",
            permission_set=item.value.name,
            management=label,
            caller=caller,
        )
        for item in documents.permission_sets
        if management in live.provisioned_accounts.get(item.value.name, frozenset())
    ]


def _known(names: frozenset[str], documents: Documents, kind: str) -> frozenset[str] | None:
    """``names`` with those of the entries of ``kind`` that did not validate (documents loaded
    with problems: their references are not reported again); ``None`` when that kind's file
    could not be read, so no reference to it can be checked."""
    invalid = documents.invalid_names.get(kind, frozenset())
    return None if invalid is None else names | invalid


def _external_identity_problem(problem: Problem) -> Problem:
    """An unknown principal, explained for ``"identities": "external"``."""
    what = {"unknown_user": "user", "unknown_group": "group"}.get(problem.rule)
    if what is None:
        return problem
    name = problem.message.split("'")[1] if problem.message.count("'") >= 2 else "?"
    suggested = problem.message.partition(" in the identity store")[2]  # "; did you mean ..."
    return replace(
        problem,
        message=f"{what} {name!r} does not exist in the identity store; with "
        '"identities": "external" it must come from your identity provider: check its SCIM '
        f"sync and the {what}'s exact name{suggested}",
    )


def expiry_notes(documents: Documents, *, now: datetime) -> list[Problem]:
    """The notes ``resolve`` gives on expiry, with no live state needed (offline validation):
    ``access_expired`` for every assignment whose ``expires_at`` is not after ``now``,
    ``access_expiring_soon`` for those within ``EXPIRING_SOON``."""
    notes: list[Problem] = []
    for item in documents.assignments:
        _in_force(item, now=now, notes=notes)
    return notes


def _in_force(item: Located[docs.Assignment], *, now: datetime, notes: list[Problem]) -> bool:
    """False when the entry has expired (noted); notes an entry expiring within
    ``EXPIRING_SOON``."""
    expires_at = item.value.expires_at
    if expires_at is None:
        return True
    principals = ", ".join([*item.value.groups, *item.value.users])
    what = f"permission set {item.value.permission_set} for {principals}"
    when = expires_at.isoformat()
    if expires_at <= now:
        notes.append(
            Problem(
                file=item.file,
                path=f"{item.path}.expires_at",
                rule="access_expired",
                message=f"access expired at {when}: {what} is not granted (a pass removes it "
                "where it exists); delete the entry from the file, or give a later expiry",
            )
        )
        return False
    if expires_at - now <= EXPIRING_SOON:
        notes.append(
            Problem(
                file=item.file,
                path=f"{item.path}.expires_at",
                rule="access_expiring_soon",
                message=f"access expires at {when}: {what}",
            )
        )
    return True


def _expand(
    item: Located[docs.Assignment], accounts: Mapping[str, str]
) -> dict[AssignmentKey, str]:
    """Every assignment key of ``item`` in the target ``accounts`` (id → rule), with its rule."""
    assignment = item.value
    principals = [(PrincipalType.GROUP, name) for name in assignment.groups] + [
        (PrincipalType.USER, name) for name in assignment.users
    ]
    return {
        AssignmentKey(
            account_id=account_id,
            permission_set=assignment.permission_set,
            principal_type=principal_type,
            principal_name=name,
        ): rule
        for account_id, rule in accounts.items()
        for principal_type, name in principals
    }


def live_directory(
    *,
    accounts: Mapping[str, Account],
    user_names: Iterable[str],
    group_names: Iterable[str],
    organization: Organization | None = None,
    account_tags: Mapping[str, Mapping[str, str]] | None = None,
    caller: Caller | None = None,
    provisioned_accounts: Mapping[str, frozenset[str]] | None = None,
) -> LiveDirectory:
    """Build a ``LiveDirectory`` from the parts of a ``LiveState``."""
    return LiveDirectory(
        accounts=tuple(accounts.values()),
        user_names=frozenset(user_names),
        group_names=frozenset(group_names),
        organization=organization,
        account_tags=account_tags,
        caller=caller,
        provisioned_accounts=provisioned_accounts or {},
    )
