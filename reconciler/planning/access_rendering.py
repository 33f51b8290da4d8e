"""Access reports rendered for people (text, HTML) and machines (JSON, CSV).

Pure: each function takes an ``AccessReport`` and returns a string or a JSON-ready dict.

The JSON document of ``reconciler access --format json`` (``version`` changes only when a field
changes meaning or goes away; fields may be added)::

    {
      "report": "access", "version": 1,
      "generated_at": "2026-12-01T12:00:00+00:00",
      "source": "live" | "desired",
      "instance_arn": "arn:aws:sso:::instance/ssoins-…",
      "revision": "<40-hex commit SHA>" | null,            # null for live state
      "filters": {"user": [...], "group": [...], "account": [...], "ou": [...],
                  "permission_set": [...]},                 # only the filters in use
      "summary": {"grants": 0, "users": 0, "accounts": 0,
                  "deleted_principal_grants": 0, "idle_assignments": 0},
      "grants": [{"user", "display_name", "account_id", "account_name", "permission_set",
                  "via": "direct" | "group", "group": "<name>" | null,
                  "principal_deleted": false, "privileged": true | false | null}],
      "idle_assignments": [{"group", "account_id", "account_name", "permission_set",
                            "reason": "no_members" | "group_deleted"}]
    }

``privileged`` is null when the report was made without a rule for privileged sets.
The CSV has one row per grant under a header row (``CSV_COLUMNS``, the grant fields above),
RFC 4180 quoting. The HTML is one self-contained file (no external resource, inline style and
script, a Content-Security-Policy that allows only that script): a user by account matrix with
the permission sets in each cell, the flat table of grants, sortable by any column and
filterable, then deleted principals and idle assignments.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections import defaultdict
from functools import cache
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from reconciler.model.wording import count
from reconciler.planning.access import route_json
from reconciler.planning.access_reports import AccessReport, GrantRow, IdleAssignment
from reconciler.planning.escaping import rich_text as escape

__all__ = [
    "CSV_COLUMNS",
    "JSON_VERSION",
    "access_csv",
    "access_html",
    "access_html_policy",
    "access_json",
    "access_text",
]

JSON_VERSION = 1
CSV_COLUMNS = (
    "user",
    "display_name",
    "account_id",
    "account_name",
    "permission_set",
    "via",
    "group",
    "principal_deleted",
    "privileged",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A CSV cell starting with one of these is a formula to a spreadsheet (OWASP "CSV
injection"); such a cell is written with a leading ``'`` so it is shown as text."""

Grouping = Literal["user", "account"]


def _grant_json(grant: GrantRow) -> dict[str, Any]:
    return {
        "user": grant.user,
        "display_name": grant.display_name,
        "account_id": grant.account_id,
        "account_name": grant.account_name,
        "permission_set": grant.permission_set,
        **route_json(grant.via),
        "principal_deleted": grant.principal_deleted,
        "privileged": grant.privileged,
    }


def _idle_json(idle: IdleAssignment) -> dict[str, Any]:
    return {
        "group": idle.group,
        "account_id": idle.account_id,
        "account_name": idle.account_name,
        "permission_set": idle.permission_set,
        "reason": idle.reason.value,
    }


def access_json(report: AccessReport) -> dict[str, Any]:
    """The report as the JSON document described in the module docstring."""
    return {
        "report": "access",
        "version": JSON_VERSION,
        "generated_at": report.generated_at.isoformat(),
        "source": report.source.value,
        "instance_arn": report.instance_arn,
        "revision": report.revision,
        "filters": dict(report.filters),
        "summary": _summary(report),
        "grants": [_grant_json(grant) for grant in report.grants],
        "idle_assignments": [_idle_json(idle) for idle in report.idle_assignments],
    }


def _summary(report: AccessReport) -> dict[str, int]:
    return {
        "grants": len(report.grants),
        "users": len(report.users),
        "accounts": len(report.accounts),
        "deleted_principal_grants": len(report.deleted_principal_grants),
        "idle_assignments": len(report.idle_assignments),
    }


def _summary_line(report: AccessReport) -> str:
    """``8 grants to 2 users in 2 accounts; 0 grants of deleted principals; ...``"""
    summary = _summary(report)
    return (
        f"{count(summary['grants'], 'grant')} to {count(summary['users'], 'user')} in "
        f"{count(summary['accounts'], 'account')}; "
        f"{count(summary['deleted_principal_grants'], 'grant')} of deleted principals; "
        f"{count(summary['idle_assignments'], 'group assignment')} that grant nobody"
    )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def access_csv(report: AccessReport) -> str:
    """One row per grant under a header row of ``CSV_COLUMNS`` (RFC 4180: ``csv`` module,
    CRLF line ends). ``via`` is ``direct`` or ``group``, ``group`` empty for a direct grant,
    booleans ``true``/``false``, ``privileged`` empty when unknown; a text cell a spreadsheet
    would run as a formula starts with ``'``. Idle assignments grant nobody, so they have no
    row (they are in the other formats)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for grant in report.grants:
        document = _grant_json(grant)
        writer.writerow([_cell(document[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def _route(grant: GrantRow) -> str:
    return f"via group {grant.via}" if grant.via is not None else "directly"


def _privileged(grant: GrantRow) -> str:
    return " [bold red](privileged)[/]" if grant.privileged else ""


def _heading(report: AccessReport) -> str:
    what = (
        f"revision {report.revision or 'working tree'} (desired state)"
        if report.source.value == "desired"
        else "live state"
    )
    summary = _summary(report)
    return (
        f"[bold]Access in {escape(what)}[/] of {escape(report.instance_arn)}, "
        f"{report.generated_at:%Y-%m-%d %H:%M:%S %Z}: "
        f"{count(summary['grants'], 'grant')} to {count(summary['users'], 'user')} "
        f"in {count(summary['accounts'], 'account')}"
    )


def _by_user(grants: list[GrantRow]) -> list[str]:
    width = max((len(grant.permission_set) for grant in grants), default=0)
    lines: list[str] = []
    current_user = current_account = None
    for grant in grants:
        if grant.user != current_user:
            current_user, current_account = grant.user, None
            name = f" ({escape(grant.display_name)})" if grant.display_name else ""
            lines.append(f"\n[bold]{escape(grant.user)}[/]{name}")
        if grant.account_id != current_account:
            current_account = grant.account_id
            lines.append(f"  {escape(grant.account_label)}")
        padding = " " * (width - len(grant.permission_set))
        lines.append(
            f"    {escape(grant.permission_set)}{padding}  [dim]{escape(_route(grant))}[/]"
            f"{_privileged(grant)}"
        )
    return lines


def _who(grant: GrantRow) -> str:
    return f"{grant.user} ({grant.display_name})" if grant.display_name else grant.user


def _by_account(grants: list[GrantRow]) -> list[str]:
    width = max((len(_who(grant)) for grant in grants), default=0)
    per_account: defaultdict[tuple[str, str], list[GrantRow]] = defaultdict(list)
    for grant in grants:
        per_account[(grant.account_name, grant.account_id)].append(grant)
    lines: list[str] = []
    for key in sorted(per_account):
        rows = sorted(per_account[key], key=lambda g: (g.permission_set, g.user, g.via or ""))
        lines.append(f"\n[bold]{escape(rows[0].account_label)}[/]")
        current_set = None
        for grant in rows:
            if grant.permission_set != current_set:
                current_set = grant.permission_set
                lines.append(f"  {escape(grant.permission_set)}{_privileged(grant)}")
            padding = " " * (width - len(_who(grant)))
            lines.append(f"    {escape(_who(grant))}{padding}  [dim]{escape(_route(grant))}[/]")
    return lines


def access_text(report: AccessReport, *, by: Grouping = "user") -> str:
    """The report as rich console markup: a heading, then the grants per user (account, then
    permission set and route) or, ``by="account"``, per account (permission set, then users);
    then, each in its own section, the grants of deleted principals and the group assignments
    that grant nobody. Print with ``rich.console.Console().print(..., highlight=False)``."""
    lines = [_heading(report)]
    if report.filters:
        used = ", ".join(
            f"--{name.replace('_', '-')} {value}"
            for name, values in report.filters.items()
            for value in values
        )
        lines.append(f"[dim]filters: {escape(used)}[/]")
    current = [grant for grant in report.grants if not grant.principal_deleted]
    if not report.grants:
        lines.append("\nNo grants" + (" match the filters." if report.filters else "."))
    lines.extend(_by_user(current) if by == "user" else _by_account(current))
    deleted = report.deleted_principal_grants
    if deleted:
        lines.append(
            f"\n[bold red]Deleted principals still holding access "
            f"({count(len(deleted), 'grant')})[/]: the identity store no longer knows these "
            "users; remove their assignments and memberships"
        )
        lines.extend(
            f"  [red]{escape(grant.user)}[/]: {escape(grant.permission_set)}{_privileged(grant)} "
            f"in {escape(grant.account_label)} [dim]{escape(_route(grant))}[/]"
            for grant in deleted
        )
    if report.idle_assignments:
        lines.append(
            f"\n[bold yellow]Group assignments that grant nobody "
            f"({count(len(report.idle_assignments), 'assignment')})[/]"
        )
        lines.extend(
            f"  [yellow]{escape(idle.group)}[/]: {escape(idle.permission_set)} in "
            f"{escape(idle.account_label)} [dim]({escape(idle.explanation)})[/]"
            for idle in report.idle_assignments
        )
    return "\n".join(lines)


@cache
def _loader() -> jinja2.BaseLoader:
    return jinja2.PackageLoader("reconciler.planning", "templates")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=_loader(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _script() -> tuple[Markup, str]:
    """The report's inline script and its CSP source (``'sha256-…'``)."""
    text, _, _ = _loader().get_source(_environment(), "access_report.js")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return Markup(text), f"'sha256-{digest}'"  # noqa: S704 - our own file, not input


def access_html_policy() -> str:
    """The Content-Security-Policy of :func:`access_html`'s page (its ``<meta>`` says the same):
    no resource but its inline style and its own script, named by hash. A server sending the
    page sends it as a header too (with ``frame-ancestors``, which only a header can carry)."""
    return f"default-src 'none'; style-src 'unsafe-inline'; script-src {_script()[1]}"


def access_html(report: AccessReport) -> str:
    """The report as one self-contained HTML page (see the module docstring). Every name is
    HTML-escaped (Jinja2 autoescaping); the only script that runs is the report's own, which
    the Content-Security-Policy names by hash."""
    script, script_source = _script()
    routes: defaultdict[tuple[str, str], defaultdict[str, list[str]]] = defaultdict(
        lambda: defaultdict(list)
    )
    privileged: set[str] = set()
    display: dict[str, str] = {}
    deleted: set[str] = set()
    for grant in report.grants:
        routes[(grant.user, grant.account_id)][grant.permission_set].append(_route(grant))
        display[grant.user] = grant.display_name
        if grant.privileged:
            privileged.add(grant.permission_set)
        if grant.principal_deleted:
            deleted.add(grant.user)
    cells = {
        key: [(name, "; ".join(ways)) for name, ways in sorted(sets.items())]
        for key, sets in routes.items()
    }
    template = _environment().get_template("access_report.html.j2")
    return template.render(
        report=report,
        summary=_summary_line(report),
        users=report.users,
        accounts=report.accounts,
        cells=cells,
        privileged=privileged,
        display=display,
        deleted=deleted,
        script=script,
        script_source=script_source,
        filters=[
            f"--{name.replace('_', '-')} {value}"
            for name, values in report.filters.items()
            for value in values
        ],
    )
