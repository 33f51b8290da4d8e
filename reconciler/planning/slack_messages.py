"""Pass reports as Slack messages (Block Kit), and the stable fingerprint that deduplicates them.

Pure: every function takes a :class:`~reconciler.planning.reports.PassReport` and returns a
value. The message is the JSON body of an incoming-webhook post::

    {"text": "<fallback for notifications, at most 3,000 characters>",
     "blocks": [<header>, <counts>, <failures>, <changes>, <access>, <drift>, <unmanaged>,
                <notes>, <context>]}

Slack's limits are respected (Block Kit reference, "Blocks" and "Composition objects"): at
most 50 blocks, a header's text at most 150 characters, a section's text and each of its
fields at most 3,000 and 2,000 characters, at most 10 fields and 10 context elements. Long lists
are cut, ending in "…and N more"; each change or drift item shows at most ``MAX_DETAIL_LINES``
lines of its attribute detail (``managed_policies: -arn:…``); the access list puts
privileged gains first, so a cut never hides one. Text is escaped for Slack's
mrkdwn (``&``, ``<``, ``>``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.model.wording import count
from reconciler.planning.escaping import slack_text
from reconciler.planning.onboarding import onboarding_heading, onboarding_notes
from reconciler.planning.reports import (
    AccessItem,
    PassReport,
    PassStatus,
    ReportItem,
    repeats_error,
)

__all__ = [
    "MAX_BLOCKS",
    "MAX_HEADER_CHARS",
    "MAX_ITEMS_SHOWN",
    "MAX_TEXT_CHARS",
    "heartbeat_message",
    "is_deduplicated",
    "message_fingerprint",
    "pass_message",
    "unmanaged_fingerprint",
    "worth_posting",
]

MAX_BLOCKS = 50
"""Slack accepts at most this many blocks in one message."""
MAX_TEXT_CHARS = 3000
"""Slack's limit on a section's text and on the message's fallback ``text``, in characters."""
MAX_FIELD_CHARS = 2000
"""Slack's limit on each of a section's fields, in characters."""
MAX_HEADER_CHARS = 150
"""Slack's limit on a header block's text, in characters."""
MAX_ITEMS_SHOWN = 20
"""Items listed per list (changes, drift, failures) before "…and N more"."""
MAX_REASON_CHARS = 500
"""AWS's failure reasons are cut to this many characters each."""
MAX_DETAIL_LINES = 4
"""Attribute detail lines shown under each change or drift item before "…N more lines"."""
MAX_DETAIL_CHARS = 200
"""Each attribute detail line is cut to this many characters."""

_PROBLEMS = frozenset(
    {
        PassStatus.DRIFTED,
        PassStatus.FAILED,
        PassStatus.ABANDONED,
        PassStatus.INVALID,
        PassStatus.ERROR,
    }
)
_SYMBOL = {"create": "+", "update": "~", "delete": "-", "provision": "^"}


def worth_posting(report: PassReport) -> bool:
    """Whether the pass is news: something changed (or would), drifted or failed."""
    return bool(
        report.status in _PROBLEMS
        or report.changes
        or report.drift
        or report.failures
        or report.error
    )


def is_deduplicated(report: PassReport) -> bool:
    """Whether an identical earlier message suppresses this one: drift and failures repeat
    from pass to pass until someone acts; applied changes are each news."""
    return report.status is not PassStatus.APPLIED


def message_fingerprint(report: PassReport) -> str:
    """A hex SHA-256 of the report's stable fields: equal for passes saying the same thing.

    Covers status, mode, suspension, revision, revision in force, every item's action, kind,
    key, status, reason and attribute detail, and the pass-level error and its phase; never
    the pass id, start time, duration, API call counts or notes, which differ from pass to
    pass.
    """

    def items(entries: Sequence[ReportItem]) -> list[list[str]]:
        return sorted(
            [item.action, item.kind, item.key, item.status or "", item.reason or "", *item.detail]
            for item in entries
        )

    document = {
        "status": report.status.value,
        "mode": report.mode.value,
        "suspended": report.suspended,
        "revision": report.revision,
        "applied_revision": report.applied_revision,
        "changes": items(report.changes),
        "drift": items(report.drift),
        "failures": items(report.failures),
        "error": report.error,
        "phase": report.phase,
        "unmanaged": unmanaged_fingerprint(report),
    }
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def unmanaged_fingerprint(report: PassReport) -> str | None:
    """A hex SHA-256 of the report's unmanaged objects (kind, key, reason), equal while the
    same objects are left alone for the same reasons; ``None`` when there are none. The
    notifier posts an unmanaged list when this changes, not at every pass."""
    if not report.unmanaged:
        return None
    entries = sorted([item.kind.value, item.key, item.reason] for item in report.unmanaged)
    encoded = json.dumps(entries, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def pass_message(report: PassReport, *, repository_web_url: str | None = None) -> dict[str, Any]:
    """The Slack message for ``report``: ``{"text": str, "blocks": [block, ...]}``.

    ``repository_web_url`` (``https://github.com/org/access``) makes the revisions links to
    ``{repository_web_url}/commit/{sha}``. Failures and the pass-level error come first after
    the counts, with AWS's reasons.
    """
    title = _title(report)
    blocks: list[dict[str, Any]] = [_header(title), _facts(report, repository_web_url)]
    if report.error:
        where = f" (phase: {_escape(report.phase)})" if report.phase else ""
        blocks.append(
            _section(
                f"*:rotating_light: Error*{where}\n```{_cut(_escape_lines(report.error), 2800)}```"
            )
        )
    failures = [item for item in report.failures if not repeats_error(report, item)]
    if failures:
        blocks.append(_section(_listing(":x: *Failures*", failures, _failure_line)))
    if report.changes:
        blocks.append(_section(_listing(_changes_heading(report), report.changes, _item_line)))
    blocks.extend(_access_blocks(report.access))
    if report.drift:
        healed = any(item.status is not None for item in report.drift)
        heading = (
            ":wrench: *Drift from the revision in force, healed*"
            if healed
            else ":warning: *Drift from the revision in force*"
        )
        blocks.append(_section(_listing(heading, report.drift, _item_line)))
    blocks.extend(_unmanaged_blocks(report))
    blocks.extend(_onboarding_blocks(report))
    if report.notes:
        blocks.append(_section(_listing_text("*Notes*", [_escape(n) for n in report.notes])))
    blocks.append(_context(report))
    return {"text": _cut(_fallback(report, title), MAX_TEXT_CHARS), "blocks": blocks[:MAX_BLOCKS]}


def heartbeat_message(
    report: PassReport, *, repository_web_url: str | None = None
) -> dict[str, Any]:
    """The daily "still in sync" message: header, revision in force, mode, context."""
    title = "Identity Center: in sync"
    blocks = [_header(title), _facts(report, repository_web_url), _context(report)]
    return {"text": _cut(_fallback(report, title), MAX_TEXT_CHARS), "blocks": blocks}


# -- pieces ------------------------------------------------------------------------------------


def _title(report: PassReport) -> str:
    items = (*report.changes, *report.drift)  # drift healed by the pass is applied too
    applied = sum(1 for item in items if item.status == "succeeded")
    changes = len(items)
    match report.status:
        case PassStatus.APPLIED:
            return f"Identity Center: applied {count(applied or changes, 'change')}"
        case PassStatus.DRIFTED if report.unmanaged and not report.drift:
            return (
                f"Identity Center: {count(len(report.unmanaged), 'unmanaged object')} beside "
                "the desired state"
            )
        case PassStatus.DRIFTED:
            return f"Identity Center: drift detected ({count(len(report.drift), 'item')})"
        case PassStatus.FAILED:
            return f"Identity Center: {count(len(report.failures), 'change')} failed"
        case PassStatus.ABANDONED:
            return "Identity Center: apply abandoned, the writer lock was lost"
        case PassStatus.INVALID:
            return "Identity Center: revision refused"
        case PassStatus.ERROR:
            return "Identity Center: reconcile pass failed"
        case PassStatus.PENDING:
            return f"Identity Center: {count(changes, 'change')} pending"
    if report.unmanaged:
        return (
            f"Identity Center: in sync, {count(len(report.unmanaged), 'unmanaged object')} "
            "beside it"
        )
    return "Identity Center: in sync"


def _unmanaged_blocks(report: PassReport) -> list[dict[str, Any]]:
    """The section listing the unmanaged objects, each with why it is left alone and how to
    manage it; none when there are none."""
    if not report.unmanaged:
        return []
    lines = [
        f"{':warning: *privileged* ' if item.privileged else ''}"
        f"`!` {_escape(_cut(item.description or item.key, 250))}: "
        f"{_escape(_cut(item.reason, 300))}\n      _to manage:_ {_escape(_cut(item.remedy, 300))}"
        for item in report.unmanaged
    ]
    heading = (
        f":eyes: *Unmanaged: live objects the revision neither declares nor may delete* "
        f"({len(report.unmanaged)})"
    )
    return [_section(_listing_text(heading, lines))]


def _onboarding_blocks(report: PassReport) -> list[dict[str, Any]]:
    """The section saying which users were created and what AWS does not do for them (the
    password email, MFA); none when the pass creates no user."""
    if report.onboarding is None:
        return []
    lines = [_escape(_cut(note, 600)) for note in onboarding_notes(report.onboarding)]
    heading = f":bust_in_silhouette: *{_escape(onboarding_heading(report.onboarding))}*"
    return [_section(_listing_text(heading, lines))]


def _header(title: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(title, MAX_HEADER_CHARS)}}


def _facts(report: PassReport, repository_web_url: str | None) -> dict[str, Any]:
    mode = report.mode.value + (" (writes suspended)" if report.suspended else "")
    fields = [
        f"*Status*\n{_STATUS_WORDS.get(report.status, report.status.value)}",
        f"*Mode*\n{mode}",
        f"*Revision*\n{_revision(report.revision, repository_web_url)}",
    ]
    if report.applied_revision != report.revision:
        fields.append(f"*In force*\n{_revision(report.applied_revision, repository_web_url)}")
    counts = _counts(report)
    if counts:
        fields.append(f"*Counts*\n{counts}")
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": _cut(text, MAX_FIELD_CHARS)} for text in fields],
    }


_STATUS_WORDS = {
    PassStatus.IN_SYNC: ":large_green_circle: in sync",
    PassStatus.APPLIED: ":white_check_mark: applied",
    PassStatus.DRIFTED: ":warning: drifted",
    PassStatus.PENDING: ":hourglass: changes pending",
    PassStatus.FAILED: ":x: failed",
    PassStatus.ABANDONED: ":octagonal_sign: abandoned (writer lock lost)",
    PassStatus.INVALID: ":no_entry: refused",
    PassStatus.ERROR: ":rotating_light: error",
}


def _counts(report: PassReport) -> str:
    parts = []
    if report.changes:
        by_action = Counter(item.action for item in report.changes)
        detail = ", ".join(f"{action} {n}" for action, n in sorted(by_action.items()))
        parts.append(f"{count(len(report.changes), 'change')} ({detail})")
    if report.drift:
        healed = sum(1 for item in report.drift if item.status == "succeeded")
        parts.append(f"{len(report.drift)} drifted" + (f" ({healed} healed)" if healed else ""))
    if report.failures:
        parts.append(f"{len(report.failures)} failed")
    if report.unmanaged:
        parts.append(f"{len(report.unmanaged)} unmanaged")
    return " · ".join(parts)


def _changes_heading(report: PassReport) -> str:
    if any(item.status is not None for item in report.changes):
        return "*Changes*"
    return "*Changes planned* (not applied)"


def _item_line(item: ReportItem) -> str:
    symbol = _SYMBOL.get(item.action, "•")
    line = f"`{symbol}` {_escape(item.description)}"
    if item.status == "failed":
        line += " — *failed*"
    elif item.status == "skipped":
        line += " — skipped"
    return _cut(line, 300) + _detail(item.detail)


def _detail(lines: Sequence[str]) -> str:
    """The attribute detail under an item: at most ``MAX_DETAIL_LINES`` lines of at most
    ``MAX_DETAIL_CHARS`` characters, then "…N more lines"."""
    shown = [
        f"\n        {_escape(_cut(line, MAX_DETAIL_CHARS))}" for line in lines[:MAX_DETAIL_LINES]
    ]
    rest = len(lines) - MAX_DETAIL_LINES
    if rest > 0:
        shown.append(f"\n        …{count(rest, 'more line')}")
    return "".join(shown)


def _access_blocks(items: Sequence[AccessItem]) -> list[dict[str, Any]]:
    """One section listing the access gained and lost, privileged gains bold with
    :warning: and "privileged"; none when no access changes."""
    if not items:
        return []
    gains = [item for item in items if item.gained]
    privileged = sum(1 for item in gains if item.privileged)
    flagged = f", *{privileged} privileged*" if privileged else ""
    heading = (
        f":key: *Access*: {count(len(gains), 'gain')}{flagged}, "
        f"{count(len(items) - len(gains), 'loss', 'losses')}"
    )
    return [_section(_listing_text(heading, [_access_line(item) for item in items]))]


def _access_line(item: AccessItem) -> str:
    text = _escape(item.description)
    if item.gained and item.privileged:
        return _cut(f":warning: *{text}* — *privileged*", 300)
    if item.gained:
        return _cut(f"`+` {text}", 300)
    return _cut(f"`-` {text}{' (privileged)' if item.privileged else ''}", 300)


def _failure_line(item: ReportItem) -> str:
    line = f"• *{_escape(_cut(item.description, 250))}*"
    if item.reason:
        line += f"\n>{_escape(_cut(item.reason, MAX_REASON_CHARS))}"
    return line


def _listing(heading: str, items: Sequence[ReportItem], line: Callable[[ReportItem], str]) -> str:
    return _listing_text(f"{heading} ({len(items)})", [line(item) for item in items])


def _listing_text(heading: str, lines: Sequence[str]) -> str:
    """``heading`` and as many of ``lines`` as fit in a section, then "…and N more"."""
    text = heading
    for shown, entry in enumerate(lines):
        rest = len(lines) - shown
        more = f"\n…and {rest - 1} more" if rest > 1 else ""
        if shown >= MAX_ITEMS_SHOWN or len(text) + 1 + len(entry) + len(more) > MAX_TEXT_CHARS:
            return text + f"\n…and {rest} more"
        text += "\n" + entry
    return text


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_TEXT_CHARS)}}


def _context(report: PassReport) -> dict[str, Any]:
    calls = sum(report.api_calls.values())
    started = report.started_at.isoformat(timespec="seconds")
    text = (
        f"pass `{_escape(report.pass_id)}` · started {started} · {report.seconds:.1f} s"
        f" · {count(calls, 'AWS call')}"
    )
    if report.read is not None:  # which read: a hybrid one is blind to a rare case (LiveRead)
        text += f" · {report.read.value} read"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, 2000)}]}


def _fallback(report: PassReport, title: str) -> str:
    revision = f" at {report.revision[:12]}" if report.revision else ""
    text = title + revision
    if report.error:
        text += f": {report.error}"
    elif report.failures and report.failures[0].reason:
        text += f": {report.failures[0].reason}"
    return text


def _revision(sha: str | None, repository_web_url: str | None) -> str:
    if not sha:
        return "(none)"
    short = f"`{sha[:12]}`"
    if not repository_web_url or not repository_web_url.startswith(("https://", "http://")):
        return short
    if any(char in repository_web_url for char in "<>| \n"):
        return short  # would break Slack's <url|label> link syntax
    return f"<{repository_web_url.rstrip('/')}/commit/{sha}|{sha[:12]}>"


_escape = slack_text
"""A value as literal Slack mrkdwn on one line (``reconciler.planning.escaping``)."""


def _escape_lines(text: str) -> str:
    """Multi-line text meant to be multi-line (the pass's error, one problem a line) as
    literal mrkdwn, each line made one line (a ``\\r`` cannot return to its start)."""
    return "\n".join(slack_text(line) for line in text.split("\n"))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
