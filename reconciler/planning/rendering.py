"""Plans and outcomes rendered for people (text, Markdown) and machines (JSON).

Pure: every function takes values and returns a string or a JSON-ready dict. The JSON document
of ``plan --format json`` and ``apply --format json`` is::

    {
      "revision": "<40-hex commit SHA or null>",
      "summary": {"create": 0, "update": 0, "delete": 0, "provision": 0},
      "changes": [
        {"action": "create", "kind": "assignment", "key": "assignment/<account>/<set>/GROUP/<name>",
         "description": "...",
         "diff": [{"attribute", "old", "new", "added", "removed",          # updates
                   "statements": {"added", "removed", "changed"}}],     # inline_policy only
         "attributes": {"<attribute>": <value>},                        # created users, groups
                                                                        # and permission sets;
                                                                        # key → source of the
                                                                        # access control
                                                                        # attributes (created,
                                                                        # updated, deleted)
         "detail": ["session_duration: PT4H (4 hours)", ...],           # the lines shown under
                                                                        # the change in text
         "rule": "assignments.json $.assignments[2]: OU Root/Workloads",  # created assignments
         "assignment_reason": "JIRA-123 ...",           # created assignments whose entry has one
         "status": "succeeded|failed|skipped", "reason": "..."}       # status/reason: apply only
      ],
      "unmanaged": [                                                 # live, neither declared
        {"kind": "user", "key": "user/<name>", "description": "...", #   nor prunable: left as
         "reason": "...", "remedy": "..."}                           #   they are
      ],
      "unmanaged_fail": false,               # true: listed and "unmanaged": "fail" (exit 2)
      "notes": ["..."],
      "access": {"gained": [grant], "lost": [grant]},                 # null when not computed
      "onboarding": {"users": [...], "notes": [...], ...},            # users created; else null
      "outcome": {"succeeded": 0, "failed": 0, "skipped": 0},       # apply only
      "api_calls": {"<Operation>": 0},                               # apply only
      "api_calls_by_phase": {"read": {"<Operation>": 0},             # apply only
                             "apply": {"<Operation>": 0}},
      "api_calls_total": 0                                           # apply only
    }

``attributes`` holds every attribute of a created object as the diff's ``old`` and ``new``
do (policy documents as JSON, sets as sorted lists); ``detail`` the lines a reader sees under
the change (see ``reconciler.planning.details``), absent when there are none; ``statements``
the Sids of the inline policy's statements added, removed and changed.

A grant of ``access`` is ``{"user", "account_id", "account_name" (null when unknown),
"permission_set", "via": "direct" | "group", "group" (the group's name, null for a direct
assignment), "privileged"}`` (the shape of ``reconciler access --format json``);
both lists are complete and sorted by user, account, permission set and route.

``api_calls`` counts every AWS API call of the pass by operation name (one per page of a
paginator, retries not counted): the reads of live state as well as the apply phase's calls,
which ``api_calls_by_phase`` splits; ``api_calls_total`` is their sum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from reconciler.model.state import AssignmentKey
from reconciler.model.wording import count, noun
from reconciler.planning.access import AccessChanges, Grant, route_json
from reconciler.planning.details import attributes_json, detail_lines, statement_changes
from reconciler.planning.escaping import html_text, markdown_text, one_line, rich_text
from reconciler.planning.onboarding import (
    Onboarding,
    onboarding_heading,
    onboarding_json,
    onboarding_notes,
    onboarding_of,
)
from reconciler.planning.outcomes import OperationResult, Outcome, Status
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
    Unmanaged,
    UpdateAccessControlAttributes,
    UpdateGroup,
    UpdatePermissionSet,
    UpdateUser,
)

GITHUB_COMMENT_LIMIT = 65536
"""GitHub refuses issue and pull-request comments longer than this many characters."""

PLAN_COMMENT_MARKER = "<!-- identity-center-reconciler-plan -->"
"""The hidden first line of every plan comment part: how a workflow finds its earlier comments."""

_SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.PROVISION: "^"}
_STYLE = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.PROVISION: "cyan",
}


def account_label(account_id: str, account_names: Mapping[str, str]) -> str:
    """``prod (111111111111)``: the account's name beside its id, or the id alone when the
    name is unknown."""
    name = account_names.get(account_id)
    return f"{name} ({account_id})" if name else account_id


def assignment_label(key: AssignmentKey, account_names: Mapping[str, str]) -> str:
    """``ReadOnly for group Auditors in prod (111111111111)``."""
    principal = key.principal_type.value.lower()
    return (
        f"{key.permission_set} for {principal} {key.principal_name} "
        f"in {account_label(key.account_id, account_names)}"
    )


MAX_ACCESS_LINES = 50
"""Grants listed in a text or Markdown plan before "… and N more" (JSON lists them all)."""


def access_line(grant: Grant, *, gained: bool, account_names: Mapping[str, str]) -> str:
    """``jane.doe gains AdministratorAccess in prod (111111111111) via group Admins``
    (``loses``, ``directly``)."""
    verb = "gains" if gained else "loses"
    route = f"via group {grant.via}" if grant.via is not None else "directly"
    where = account_label(grant.account_id, account_names)
    return f"{grant.user} {verb} {grant.permission_set} in {where} {route}"


def access_entries(changes: AccessChanges) -> list[tuple[Grant, bool]]:
    """``(grant, gained)`` in the order plans list them: privileged gains first (so a cut
    list never hides one), then the other gains, then the losses."""
    gains = sorted(changes.gained, key=lambda grant: not changes.is_privileged(grant))
    return [(grant, True) for grant in gains] + [(grant, False) for grant in changes.lost]


def access_heading(changes: AccessChanges) -> str:
    """``Access: 3 gains (1 privileged), 1 loss``."""
    privileged = sum(1 for grant in changes.gained if changes.is_privileged(grant))
    flagged = f" ({privileged} privileged)" if privileged else ""
    gains, losses = count(len(changes.gained), "gain"), count(len(changes.lost), "loss", "losses")
    return f"Access: {gains}{flagged}, {losses}"


def grant_json(
    grant: Grant, changes: AccessChanges, account_names: Mapping[str, str]
) -> dict[str, Any]:
    """One grant of the ``access`` document (see the module docstring)."""
    return {
        "user": grant.user,
        "account_id": grant.account_id,
        "account_name": account_names.get(grant.account_id),
        "permission_set": grant.permission_set,
        **route_json(grant.via),
        "privileged": changes.is_privileged(grant),
    }


def access_json(
    changes: AccessChanges | None, account_names: Mapping[str, str]
) -> dict[str, Any] | None:
    """``{"gained": [grant], "lost": [grant]}``, complete; None when not computed."""
    if changes is None:
        return None
    return {
        "gained": [grant_json(grant, changes, account_names) for grant in changes.gained],
        "lost": [grant_json(grant, changes, account_names) for grant in changes.lost],
    }


NO_ACCESS_CHANGE = "Access: no gains or losses"
"""The access section of a plan whose operations give and take no access."""


def access_more(entries: list[tuple[Grant, bool]], changes: AccessChanges) -> str:
    """``… and 12 more (3 privileged)``: the access entries past ``MAX_ACCESS_LINES``, the
    privileged gains among them counted so a cut never hides one silently; empty when none
    are cut."""
    rest = entries[MAX_ACCESS_LINES:]
    if not rest:
        return ""
    privileged = sum(1 for grant, gained in rest if gained and changes.is_privileged(grant))
    flagged = f" ({privileged} privileged)" if privileged else ""
    return f"… and {len(rest)} more{flagged}"


def _access_text(
    changes: AccessChanges | None,
    account_names: Mapping[str, str],
    *,
    incomplete: bool = False,
    has_operations: bool = False,
) -> list[str]:
    """The plan's access section as rich markup lines: privileged gains in bold red with a
    marker; ``Access: no gains or losses`` when the plan has operations that change no access;
    nothing when it has none or access was not computed. ``incomplete`` (an apply where some
    operation did not succeed) says the section is what was planned, not what was done."""
    if changes is None:
        return []
    if changes.is_empty:
        return [f"[bold]{NO_ACCESS_CHANGE}[/]"] if has_operations else []
    caveat = " [yellow](as planned: not every operation succeeded)[/]" if incomplete else ""
    lines = [f"[bold]{access_heading(changes)}[/]{caveat}"]
    entries = access_entries(changes)
    for grant, gained in entries[:MAX_ACCESS_LINES]:
        text = _escape(access_line(grant, gained=gained, account_names=account_names))
        if gained and changes.is_privileged(grant):
            lines.append(f"  [bold red]+ {text} ⚠ privileged[/]")
        elif gained:
            lines.append(f"  [green]+ {text}[/]")
        else:
            marker = " (privileged)" if changes.is_privileged(grant) else ""
            lines.append(f"  [red]- {text}{marker}[/]")
    if len(entries) > MAX_ACCESS_LINES:
        lines.append(f"  {access_more(entries, changes)}")
    return lines


def _access_markdown(
    changes: AccessChanges | None, account_names: Mapping[str, str], *, has_operations: bool
) -> list[str]:
    """The plan's access section as Markdown blocks (a heading, then one list item a grant):
    privileged gains in bold with a ⚠️ marker; ``Access: no gains or losses`` when the plan
    has operations that change no access."""
    if changes is None:
        return []
    if changes.is_empty:
        return [f"\n#### {NO_ACCESS_CHANGE}\n"] if has_operations else []
    blocks = [f"\n#### {access_heading(changes)}\n\n"]
    entries = access_entries(changes)
    for grant, gained in entries[:MAX_ACCESS_LINES]:
        text = _markdown_cell(access_line(grant, gained=gained, account_names=account_names))
        if gained and changes.is_privileged(grant):
            blocks.append(f"- ⚠️ **{text}** — **privileged**\n")
        elif gained:
            blocks.append(f"- ➕ {text}\n")
        else:
            marker = " (privileged)" if changes.is_privileged(grant) else ""
            blocks.append(f"- ➖ {text}{marker}\n")
    if len(entries) > MAX_ACCESS_LINES:
        blocks.append(f"- {access_more(entries, changes)}\n")
    return blocks


def describe(operation: Operation, account_names: Mapping[str, str] | None = None) -> str:
    """One line saying what ``operation`` does, accounts shown by name where known."""
    names = account_names or {}
    match operation:
        case CreateUser(user=user):
            return f"create user {user.user_name}"
        case UpdateUser(user=user):
            return f"update user {user.user_name}"
        case DeleteUser(user_name=name):
            return f"delete user {name}"
        case CreateGroup(group=group):
            return f"create group {group.name}"
        case UpdateGroup(group=group):
            return f"update group {group.name}"
        case DeleteGroup(name=name):
            return f"delete group {name}"
        case AddMembership(membership=membership):
            return f"add {membership.user} to group {membership.group}"
        case RemoveMembership(membership=membership):
            return f"remove {membership.user} from group {membership.group}"
        case CreatePermissionSet(permission_set=permission_set):
            return f"create permission set {permission_set.name}"
        case UpdatePermissionSet(permission_set=permission_set):
            return f"update permission set {permission_set.name}"
        case ProvisionPermissionSet(name=name, accounts=accounts):
            where = ", ".join(account_label(account, names) for account in sorted(accounts))
            return f"provision permission set {name} to {where}"
        case DeletePermissionSet(name=name):
            return f"delete permission set {name}"
        case CreateAssignment(assignment=key):
            return f"assign {assignment_label(key, names)}"
        case DeleteAssignment(assignment=key):
            return f"unassign {assignment_label(key, names)}"
        case CreateAccessControlAttributes(attributes=attributes):
            return f"enable attributes for access control ({count(len(attributes), 'attribute')})"
        case UpdateAccessControlAttributes(attributes=attributes):
            return f"update attributes for access control ({count(len(attributes), 'attribute')})"
        case DeleteAccessControlAttributes(live=live):
            return f"disable attributes for access control (delete {count(len(live), 'attribute')})"
    raise TypeError(f"unknown operation {operation!r}")  # pragma: no cover


def _diff_json(diff: Iterable[AttributeChange], *, policies: bool = True) -> list[dict[str, Any]]:
    documents = []
    for change in diff:
        document = {
            "attribute": change.attribute,
            "old": change.old,
            "new": change.new,
            "added": list(change.added),
            "removed": list(change.removed),
        }
        if policies and change.attribute == "inline_policy":
            document["statements"] = statement_changes(change.old, change.new)
        documents.append(document)
    return documents


def _change_json(
    operation: Operation, account_names: Mapping[str, str], result: OperationResult | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "action": operation.action.value,
        "kind": operation.kind.value,
        "key": operation.key,
        "description": describe(operation, account_names),
    }
    if isinstance(
        operation, UpdateUser | UpdateGroup | UpdatePermissionSet | UpdateAccessControlAttributes
    ):
        document["diff"] = _diff_json(
            operation.diff, policies=not isinstance(operation, UpdateAccessControlAttributes)
        )
    if isinstance(operation, CreateAccessControlAttributes | UpdateAccessControlAttributes):
        document["attributes"] = dict(sorted(operation.attributes.items()))
    if isinstance(operation, DeleteAccessControlAttributes):
        document["attributes"] = dict(sorted(operation.live.items()))
    if isinstance(operation, CreateUser):
        document["attributes"] = attributes_json(operation.user)
    if isinstance(operation, CreateGroup):
        document["attributes"] = attributes_json(operation.group)
    if isinstance(operation, CreatePermissionSet):
        document["attributes"] = attributes_json(operation.permission_set)
    if isinstance(operation, CreateAssignment) and operation.rule:
        document["rule"] = operation.rule
    if isinstance(operation, CreateAssignment) and operation.reason:
        document["assignment_reason"] = operation.reason  # "reason" is apply's failure reason
    detail = detail_lines(operation)
    if detail:
        document["detail"] = list(detail)
    if result is not None:
        document["status"] = result.status.value
        if result.reason:
            document["reason"] = result.reason
    return document


def json_text(document: Any) -> str:
    """``document`` (JSON-like: dicts with string keys, lists, strings, integers, booleans,
    None) as ``json.dumps(document, indent=2, ensure_ascii=False)`` writes it, written by orjson
    (about 15x faster: the standard library's C encoder does not indent, so a 100,000-assignment
    plan's 222,058 grants took 1.3 s instead of 0.09 s).

    Raises ``TypeError`` (``orjson.JSONEncodeError``) for what orjson does not write: a key
    that is not a string, an integer beyond 64 bits, a lone surrogate, an unknown type. Floats
    are written in orjson's shortest form, which can differ from ``repr`` (``1e16`` for
    ``1e+16``) and NaN as null: plans hold none.
    """
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")


def plan_json(plan: Plan, *, account_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON document of a plan (see the module docstring)."""
    names = account_names or {}
    return {
        "revision": plan.revision,
        "summary": plan.summary(),
        "changes": [_change_json(operation, names, None) for operation in plan.operations],
        "unmanaged": unmanaged_json(plan.unmanaged),
        "unmanaged_fail": plan.failed_by_unmanaged,
        "notes": list(plan.notes),
        "access": access_json(plan.access, names),
        "onboarding": onboarding_json(onboarding_of(plan)),
    }


def outcome_json(
    plan: Plan, outcome: Outcome, *, account_names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The JSON document of an apply: the plan's document plus each change's status."""
    names = account_names or {}
    return {
        "revision": plan.revision,
        "summary": plan.summary(),
        "changes": [_change_json(result.operation, names, result) for result in outcome.results],
        "unmanaged": unmanaged_json(plan.unmanaged),
        "unmanaged_fail": plan.failed_by_unmanaged,
        "notes": list(plan.notes),
        "access": access_json(plan.access, names),
        "onboarding": onboarding_json(onboarding_of(plan, outcome)),
        "outcome": outcome.counts(),
        "api_calls": outcome.pass_calls,
        "api_calls_by_phase": {
            "read": dict(sorted(outcome.read_calls.items())),
            "apply": dict(sorted(outcome.api_calls.items())),
        },
        "api_calls_total": sum(outcome.pass_calls.values()),
    }


def _short(revision: str | None) -> str:
    return revision[:12] if revision else "(working tree)"


# -- unmanaged objects (``Plan.unmanaged``, see ``planning.unmanaged``) -------------------------


def _no_changes(plan: Plan) -> str:
    """The verdict of a plan without operations: never "matches" while anything live exists
    beside the desired state."""
    if not plan.unmanaged:
        return "no changes. Identity Center matches the desired state."
    if plan.failed_by_unmanaged:
        return (
            f"✗ not converged: {count(len(plan.unmanaged), 'unmanaged object')} "
            f"{noun(len(plan.unmanaged), 'exists', 'exist')} beside the declared objects, and "
            '"unmanaged": "fail" fails the plan (listed below; the declared objects match).'
        )
    return (
        "no changes to the declared objects: they match Identity Center. "
        f"{count(len(plan.unmanaged), 'unmanaged object')} "
        f"{noun(len(plan.unmanaged), 'exists', 'exist')} beside them (listed below)."
    )


UNMANAGED_FAIL_MARKER = "<!-- identity-center-reconciler-unmanaged-fail -->"
"""A hidden line of a Markdown plan that unmanaged objects fail (``Plan.failed_by_unmanaged``):
how a pull-request workflow tells it from a plan that only has changes (both exit 2)."""


_UNMANAGED_VERDICT = (
    '"unmanaged": "fail" in reconciler.json: these objects fail `plan` (exit 2) and controller '
    "passes until they are declared or removed; `apply` still applies the declared changes"
)


def _unmanaged_heading(plan: Plan) -> str:
    return (
        f"Unmanaged: {count(len(plan.unmanaged), 'live object')} the revision neither declares "
        "nor may delete, left as they are"
    )


def unmanaged_json(items: Iterable[Unmanaged]) -> list[dict[str, Any]]:
    """Unmanaged objects (``Plan.unmanaged``, ``PassReport.unmanaged``) as JSON: ``[{"kind",
    "key", "description", "reason", "remedy", "privileged": bool}]``."""
    return [
        {
            "kind": item.kind.value,
            "key": item.key,
            "description": item.description,
            "reason": item.reason,
            "remedy": item.remedy,
            "privileged": item.privileged,
        }
        for item in items
    ]


def unmanaged_marker(item: Unmanaged) -> str:
    """`` ⚠ privileged`` after an unmanaged object whose permission set is privileged."""
    return " ⚠ privileged" if item.privileged else ""


def _unmanaged_lines(plan: Plan) -> list[str]:
    """The text section listing ``Plan.unmanaged``: a heading, then per object a line with its
    description and reason and a line with the remedy."""
    if not plan.unmanaged:
        return []
    lines = [f"[bold magenta]{_escape(_unmanaged_heading(plan))}:[/]"]
    for item in plan.unmanaged:
        style = "bold red" if item.privileged else "magenta"
        lines.append(
            f"  [{style}]! {_escape(item.description or item.key)}{unmanaged_marker(item)}[/]: "
            f"{_escape(item.reason)}"
        )
        lines.append(f"      [dim]to manage: {_escape(item.remedy)}[/]")
    if plan.failed_by_unmanaged:
        lines.append(f"[bold red]✗ {_escape(_UNMANAGED_VERDICT)}[/]")
    return lines


def _unmanaged_markdown(plan: Plan) -> list[str]:
    """The Markdown blocks listing ``Plan.unmanaged``: a heading and a table, a row each."""
    if not plan.unmanaged:
        return []
    rows = [
        f"| {'⚠️ **privileged** ' if item.privileged else ''}"
        f"{_markdown_cell(item.description or item.key)} | {_markdown_cell(item.reason)} | "
        f"{_markdown_cell(item.remedy)} |\n"
        for item in plan.unmanaged
    ]
    head = (
        f"\n#### {_markdown_cell(_unmanaged_heading(plan))}\n\n"
        "| object | why it is left alone | to manage it |\n|---|---|---|\n"
    )
    if plan.failed_by_unmanaged:
        verdict = _markdown_cell(_UNMANAGED_VERDICT)
        rows.append(f"\n{UNMANAGED_FAIL_MARKER}\n**✗ {verdict}**\n")
    return [head, *rows]


def _summary_line(plan: Plan) -> str:
    summary = plan.summary()
    return (
        f"{summary['create']} to create, {summary['update']} to update, "
        f"{summary['delete']} to delete, {summary['provision']} to provision"
    )


def plan_text(
    plan: Plan,
    *,
    account_names: Mapping[str, str] | None = None,
    outcome: Outcome | None = None,
) -> str:
    """The plan (or, with ``outcome``, the apply) as rich console markup, one change a line.

    Print it with ``rich.console.Console().print(..., highlight=False)``; markup is stripped
    when the console is not a terminal.
    """
    names = account_names or {}
    results = {id(result.operation): result for result in outcome.results} if outcome else {}
    lines = []
    if plan.is_empty:
        lines.append(f"[bold]Revision {_short(plan.revision)}:[/] {_no_changes(plan)}")
    else:
        verb = "Applied" if outcome else "Plan for"
        lines.append(f"[bold]{verb} revision {_short(plan.revision)}:[/] {_summary_line(plan)}")
    for operation in plan.operations:
        style = _STYLE[operation.action]
        line = f"  [{style}]{_SYMBOL[operation.action]} {_escape(describe(operation, names))}[/]"
        result = results.get(id(operation))
        if result is not None:
            line += _result_suffix(result)
        lines.append(line)
        if isinstance(operation, CreateAssignment):
            if operation.rule:
                lines.append(f"      [dim]rule: {_escape(operation.rule)}[/]")
            if operation.reason:
                lines.append(f"      reason: {_escape(operation.reason)}")
        else:
            lines.extend(f"      {_escape(text)}" for text in detail_lines(operation))
    if outcome is not None:
        counts = outcome.counts()
        style = "green" if outcome.succeeded else "bold red"
        lines.append(
            f"[{style}]{counts['succeeded']} succeeded, {counts['failed']} failed, "
            f"{counts['skipped']} skipped[/]"
        )
    incomplete = outcome is not None and not outcome.succeeded
    lines.extend(
        _access_text(
            plan.access, names, incomplete=incomplete, has_operations=bool(plan.operations)
        )
    )
    lines.extend(_unmanaged_lines(plan))
    lines.extend(_onboarding_text(onboarding_of(plan, outcome)))
    lines.extend(f"[dim]note: {_escape(note)}[/]" for note in plan.notes)
    return "\n".join(lines)


def _onboarding_text(onboarding: Onboarding | None) -> list[str]:
    """The onboarding section of a plan or apply in text: a heading, then one line a note."""
    if onboarding is None:
        return []
    return [
        f"[bold cyan]{_escape(onboarding_heading(onboarding))}[/]",
        *(f"  - {_escape(note)}" for note in onboarding_notes(onboarding)),
    ]


def _onboarding_markdown(plan: Plan) -> list[str]:
    """The onboarding section of a Markdown plan: a heading and a bullet a note."""
    onboarding = onboarding_of(plan)
    if onboarding is None:
        return []
    return [
        f"\n#### {_markdown_cell(onboarding_heading(onboarding))}\n\n",
        *(f"- {_markdown_cell(note)}\n" for note in onboarding_notes(onboarding)),
    ]


def _result_suffix(result: OperationResult) -> str:
    if result.status is Status.SUCCEEDED:
        return " [green]✓[/]"
    reason = f": {_escape(result.reason)}" if result.reason else ""
    if result.status is Status.FAILED:
        return f" [bold red]✗ FAILED{reason}[/]"
    return f" [yellow]skipped{reason}[/]"


_escape = rich_text
"""A value as literal rich markup on one line (``reconciler.planning.escaping``)."""

_markdown_cell = markdown_text
"""A value as literal inline Markdown on one line that cannot leave its table cell, summary
or quote (``reconciler.planning.escaping``)."""


def _code_span(text: str) -> str:
    """``text`` as an inline code span on one line that no backtick in it can close early."""
    one = one_line(text).replace("|", "\\|")
    ticks = "`" * (_longest_backtick_run(one) + 1)
    return f"{ticks} {one} {ticks}" if "`" in one else f"`{one}`"


def _code_fence(text: str) -> str:
    """A fence (at least three backticks) longer than any run of backticks in ``text``, so the
    text cannot close the code block and write Markdown or HTML of its own."""
    return "`" * max(3, _longest_backtick_run(text) + 1)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def plan_markdown(
    plan: Plan,
    *,
    account_names: Mapping[str, str] | None = None,
    limit: int = GITHUB_COMMENT_LIMIT,
) -> list[str]:
    """The plan as pull-request comments: counts, a table of changes, collapsible diffs.

    Returns one or more Markdown documents, each at most ``limit`` characters (GitHub's comment
    limit by default); a long plan is split between table rows, each part saying which it is.
    Each part's first line is :data:`PLAN_COMMENT_MARKER`, an HTML comment GitHub does not
    show, by which a workflow finds (and updates) the comments of an earlier run.
    """
    names = account_names or {}
    marker = PLAN_COMMENT_MARKER + "\n"
    head = f"### Identity Center plan for `{_short(plan.revision)}`\n\n"
    if plan.is_empty and not plan.unmanaged:
        return [marker + head + "No changes. Identity Center matches the desired state.\n"]
    summary = plan.summary()
    counts = (
        "| create | update | delete | provision |\n|---:|---:|---:|---:|\n"
        f"| {summary['create']} | {summary['update']} | {summary['delete']} | "
        f"{summary['provision']} |\n\n"
    )
    table_head = "| | change | key |\n|---|---|---|\n"
    if plan.is_empty:
        counts, table_head = f"{_no_changes(plan)}\n\n", ""
    rows = [
        f"| {_SYMBOL[op.action]} | {_markdown_change(op, names)} | {_code_span(op.key)} |\n"
        for op in plan.operations
    ]
    details = []
    for op in plan.operations:
        if not isinstance(op, CreateAssignment) and detail_lines(op):
            body = "\n".join(one_line(line) for line in detail_lines(op))
            fence = _code_fence(body)
            details.append(
                f"<details><summary>{html_text(describe(op, names))}</summary>\n\n"
                f"{fence}\n{body}\n{fence}\n</details>\n"
            )
    notes = "".join(f"> {_markdown_cell(note)}\n" for note in plan.notes)
    blocks = [
        *rows,
        "\n",
        *details,
        *_access_markdown(plan.access, names, has_operations=bool(plan.operations)),
        *_unmanaged_markdown(plan),
        *_onboarding_markdown(plan),
        "\n" if notes else "",
        notes,
    ]
    parts = _split(
        head + counts + table_head, blocks, limit=limit - len(marker), table_head=table_head
    )
    return [marker + part for part in parts]


def _markdown_change(operation: Operation, account_names: Mapping[str, str]) -> str:
    """The change cell of the Markdown table: what the operation does and, for a created
    assignment, the rule of ``assignments.json`` that asked for it."""
    cell = _markdown_cell(describe(operation, account_names))
    if isinstance(operation, CreateAssignment) and operation.rule:
        cell += f"<br><sub>rule: {_markdown_cell(operation.rule)}</sub>"
    if isinstance(operation, CreateAssignment) and operation.reason:
        cell += f"<br><sub>reason: {_markdown_cell(operation.reason)}</sub>"
    return cell


def _fit(block: str, room: int) -> str:
    """``block``, or as much of it as fits in ``room`` characters followed by a note saying it
    was cut (a diff longer than a whole comment); never cut silently."""
    if len(block) <= room:
        return block
    closing = f"\n{_code_fence(block)}\n</details>\n" if block.startswith("<details>") else "\n"
    note = f"\n… cut to fit the comment limit ({len(block)} characters in all)"
    return block[: max(0, room - len(note) - len(closing))] + note + closing


def _split(first: str, blocks: list[str], *, limit: int, table_head: str) -> list[str]:
    reserve = 80  # room for the "part i of n" line
    parts: list[str] = []
    current = first
    in_table = True
    for block in blocks:
        if in_table and not block.startswith("|"):
            in_table = False
        if len(current) + len(block) > limit - reserve:
            parts.append(current)
            current = table_head if in_table else ""
        current += _fit(block, limit - reserve - len(current))
    parts.append(current)
    if len(parts) == 1:
        return parts
    return [f"{part}\n_part {index} of {len(parts)}_\n" for index, part in enumerate(parts, 1)]
