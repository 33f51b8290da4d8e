"""Which accounts an assignment targets: by name or id, by OU, by account tag, or all accounts,
minus exclusions. Pure; resolved again at every pass, so that an account that joins a targeted
OU or gets a targeted tag receives the access at the next pass, and one that leaves loses it.

Rules (``organizational_units``, ``account_tags``, ``all_accounts``) select ACTIVE accounts
only; suspended or closing accounts, and the management account unless it is also named in
``accounts``, are skipped with a note. ``exclude_accounts`` removes accounts whatever selected
them. Every selected account carries the rule that selected it (``Targets.accounts``), which
the plan shows next to each new assignment.

What the reader must fetch for the rules in use is ``target_reads(assignments)``: the
organization (DescribeOrganization) for any rule, the OU tree only for OU rules, account tags
only for tag rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.errors import Problem
from reconciler.model import documents as docs
from reconciler.model.limits import ACCOUNT_ID, full_match
from reconciler.model.state import Account, AccountStatus, Organization
from reconciler.model.wording import count, suggestion_clause


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetReads:
    """What live reading must include for the assignments' targets.

    ``organization``: the management account (Organizations DescribeOrganization, one call);
    ``units``: the OU tree (ListRoots, ListOrganizationalUnitsForParent per OU, and the
    accounts of each OU); ``account_tags``: ListTagsForResource per account.

    ``access_control_attributes`` (not a target, but read the same way: only when a revision
    needs it): the instance's ABAC configuration (sso-admin
    DescribeInstanceAccessControlAttributeConfiguration, one call), for a revision that
    declares ``access-control-attributes.json``.
    """

    organization: bool = False
    units: bool = False
    account_tags: bool = False
    access_control_attributes: bool = False


def target_reads(assignments: Iterable[docs.Assignment]) -> TargetReads:
    """The least reading that resolves every target of ``assignments``."""
    units = tags = every = False
    for assignment in assignments:
        units = units or bool(assignment.organizational_units)
        tags = tags or bool(assignment.account_tags)
        every = every or assignment.all_accounts
    return TargetReads(organization=units or tags or every, units=units, account_tags=tags)


@dataclass(frozen=True, slots=True, kw_only=True)
class Targets:
    """The accounts one assignment entry targets.

    ``accounts`` maps each 12-digit account id to the rules that selected it (``account prod``,
    ``OU Root/Workloads (recursive)``, ``tag env=prod``, ``all accounts``), joined by ``, ``;
    ``problems`` are unresolvable references (unknown OU, unknown account); ``notes`` say which
    accounts a rule skipped and why.
    """

    accounts: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    notes: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetDirectory:
    """What target resolution reads from live state: accounts by id, the OU tree and account
    tags (None when they were not read)."""

    accounts: Mapping[str, Account]
    organization: Organization | None = None
    account_tags: Mapping[str, Mapping[str, str]] | None = None
    resolved: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Account references already resolved without a problem (reference -> account id): a
    memo of :func:`account_id`, whose answer for a resolvable reference depends only on
    ``accounts``, so that 100,000 references to 400 accounts are not each a scan of them."""


def account_id(
    reference: str, accounts: Iterable[Account], *, file: str, path: str
) -> tuple[str | None, Problem | None]:
    """The id of the account ``reference`` names (its 12-digit id or its unique name), or a
    problem (``unknown_account``, ``ambiguous_account``)."""
    listed = list(accounts)
    if full_match(ACCOUNT_ID, reference):
        if any(account.id == reference for account in listed):
            return reference, None
        return None, Problem(
            file=file,
            path=path,
            rule="unknown_account",
            message=f"account id {reference} is not an account of this organization: check "
            "it against `aws organizations list-accounts`, or name the account by its name"
            + suggestion_clause(
                reference, (account.id for account in listed), kind="account id", max_listed=0
            ),
        )
    named = [account for account in listed if account.name == reference]
    if len(named) == 1:
        return named[0].id, None
    if not named:
        return None, Problem(
            file=file,
            path=path,
            rule="unknown_account",
            message=f"no account of this organization is named {reference!r}"
            + suggestion_clause(
                reference, (account.name for account in listed), kind="account name"
            ),
        )
    ids = ", ".join(sorted(account.id for account in named))
    return None, Problem(
        file=file,
        path=path,
        rule="ambiguous_account",
        message=f"{len(named)} accounts are named {reference!r} ({ids}); "
        "name the account by its 12-digit id",
    )


def _unit_id(
    target: docs.OrganizationalUnitTarget, organization: Organization, *, file: str, path: str
) -> tuple[str | None, Problem | None]:
    if target.id is not None:
        if target.id in organization.units:
            return target.id, None
        return None, Problem(
            file=file,
            path=f"{path}.id",
            rule="unknown_organizational_unit",
            message=f"organizational unit {target.id} is not in this organization: check the "
            "id, or name the unit by its path from the root ('Root/<OU>/<OU>')"
            + suggestion_clause(
                target.id, organization.units, kind="organizational unit id", max_listed=0
            ),
        )
    wanted = target.path or ""
    matches = [unit_id for unit_id in organization.units if organization.path(unit_id) == wanted]
    if len(matches) == 1:
        return matches[0], None
    if not matches:
        known = [organization.path(unit_id) for unit_id in organization.units]
        return None, Problem(
            file=file,
            path=f"{path}.path",
            rule="unknown_organizational_unit",
            message=f"no organizational unit has the path {wanted!r}"
            + suggestion_clause(wanted, known, kind="path", max_listed=20),
        )
    return None, Problem(
        file=file,
        path=f"{path}.path",
        rule="ambiguous_organizational_unit",
        message=f"{len(matches)} organizational units have the path {wanted!r} "
        f"({', '.join(sorted(matches))}); name it by id",
    )


def accounts_under(organization: Organization, unit_id: str, *, recursive: bool) -> set[str]:
    """Ids of the accounts directly in the root or OU ``unit_id`` and, with ``recursive``, in
    every OU below it (any status)."""
    units = {unit_id}
    if recursive:
        children: dict[str, list[str]] = defaultdict(list)
        for unit in organization.units.values():
            if unit.parent_id is not None:
                children[unit.parent_id].append(unit.id)
        pending = [unit_id]
        while pending:
            for child in children.get(pending.pop(), []):
                if child not in units:
                    units.add(child)
                    pending.append(child)
    return {account for account, parent in organization.account_parents.items() if parent in units}


def _not_read(file: str, path: str, what: str) -> Problem:
    return Problem(
        file=file,
        path=path,
        rule="targets_not_read",
        message=f"{what} were not read from Organizations in this pass; run the pass through "
        "the engine, which reads what the targets need",
    )


def _named_accounts(
    references: Iterable[str],
    accounts: Mapping[str, Account],
    *,
    file: str,
    path: str,
    problems: list[Problem],
    resolved: dict[str, str] | None = None,
) -> dict[str, str]:
    """{account id: reference} of the accounts ``references`` (at ``path[i]``) name;
    ``resolved`` memoizes the references resolved without a problem (see
    ``TargetDirectory.resolved``)."""
    found_ids: dict[str, str] = {}
    for index, reference in enumerate(references):
        found = resolved.get(reference) if resolved is not None else None
        if found is None:
            where = f"{path}[{index}]"
            found, problem = account_id(reference, accounts.values(), file=file, path=where)
            if problem is not None:
                problems.append(problem)
                continue
            if found is not None and resolved is not None:
                resolved[reference] = found
        if found is not None:
            found_ids[found] = reference
    return found_ids


def _unit_rules(
    targets: Iterable[docs.OrganizationalUnitTarget],
    organization: Organization,
    *,
    file: str,
    path: str,
    problems: list[Problem],
) -> dict[str, list[str]]:
    ruled: dict[str, list[str]] = defaultdict(list)
    for index, target in enumerate(targets):
        unit_id, problem = _unit_id(target, organization, file=file, path=f"{path}[{index}]")
        if unit_id is None:
            problems.extend([problem] if problem is not None else [])
            continue
        rule = f"OU {organization.path(unit_id)}" + (" (recursive)" if target.recursive else "")
        for account in accounts_under(organization, unit_id, recursive=target.recursive):
            ruled[account].append(rule)
    return ruled


def _rules(
    assignment: docs.Assignment, directory: TargetDirectory, *, file: str, path: str
) -> tuple[dict[str, list[str]], list[Problem]]:
    """{account id: rules} of every account the rules select (any status), and problems."""
    problems: list[Problem] = []
    ruled: dict[str, list[str]] = defaultdict(list)
    organization = directory.organization
    if assignment.organizational_units:
        if organization is None:
            problems.append(_not_read(file, f"{path}.organizational_units", "organizational units"))
        else:
            units = _unit_rules(
                assignment.organizational_units,
                organization,
                file=file,
                path=f"{path}.organizational_units",
                problems=problems,
            )
            for account, rules in units.items():
                ruled[account].extend(rules)
    if assignment.account_tags:
        if directory.account_tags is None:
            problems.append(_not_read(file, f"{path}.account_tags", "account tags"))
        else:
            wanted = assignment.account_tags
            rule = "tag " + ", ".join(f"{key}={value}" for key, value in sorted(wanted.items()))
            for account, tags in directory.account_tags.items():
                if all(tags.get(key) == value for key, value in wanted.items()):
                    ruled[account].append(rule)
    if assignment.all_accounts:
        for account in directory.accounts:
            ruled[account].append("all accounts")
    return ruled, problems


def resolve_targets(
    assignment: docs.Assignment, directory: TargetDirectory, *, file: str, path: str
) -> Targets:
    """The accounts ``assignment`` (declared at ``file``/``path``) targets, with their rules.

    Never raises: unresolvable references are returned as ``Targets.problems``.
    """
    accounts = directory.accounts
    problems: list[Problem] = []
    named = _named_accounts(
        assignment.accounts,
        accounts,
        file=file,
        path=f"{path}.accounts",
        problems=problems,
        resolved=directory.resolved,
    )
    selected: dict[str, list[str]] = {
        account: [f"account {reference}"] for account, reference in named.items()
    }
    ruled, rule_problems = _rules(assignment, directory, file=file, path=path)
    problems.extend(rule_problems)

    organization = directory.organization
    management = organization.management_account_id if organization else None
    skipped: list[str] = []
    for account, rules in sorted(ruled.items()):
        known = accounts.get(account)
        if account in named:
            selected[account].extend(rules)
        elif known is None:
            continue
        elif account == management:
            skipped.append(
                f"{known.name} ({account}): management account (name it in accounts to target it)"
            )
        elif known.status != AccountStatus.ACTIVE:
            skipped.append(f"{known.name} ({account}): {known.status}")
        else:
            selected[account] = rules

    excluded = _named_accounts(
        assignment.exclude_accounts,
        accounts,
        file=file,
        path=f"{path}.exclude_accounts",
        problems=problems,
        resolved=directory.resolved,
    )
    notes: tuple[Problem, ...] = ()
    if skipped:
        notes = (
            Problem(
                file=file,
                path=path,
                rule="accounts_skipped",
                message=f"{count(len(skipped), 'account')} not targeted: {'; '.join(skipped)}",
            ),
        )
    return Targets(
        accounts={
            account: ", ".join(rules)
            for account, rules in sorted(selected.items())
            if account not in excluded
        },
        problems=tuple(problems),
        notes=notes,
    )
