"""What the controller remembers across restarts: the last applied and last attempted revisions,
the deletions made within the deletion guard's window, and the Slack messages posted within the
dedup window.

A small JSON file, replaced atomically (written next to it, then renamed), so a crash never
leaves half a file. Version 2::

    {"version": 2, "last_applied_revision": "<sha>", "last_attempted_revision": "<sha>",
     "deletions": [{"kind": "assignment", "count": 7, "revision": "<sha>",
                    "at": "2024-05-01T12:00:00+00:00", "allowed": false}],
     "slack_posted": [{"fingerprint": "<64 hex>", "at": "2024-05-01T12:00:00+00:00"}],
     "last_applied_at": "2024-05-01T12:00:00+00:00",
     "last_attempted_at": "2024-05-01T12:00:00+00:00",
     "updated_at": "2024-05-01T12:00:00+00:00"}

``deletions`` holds one entry per kind and pass that deleted something (the deletions that
succeeded), oldest first; the controller drops entries older than its window when it saves.
``allowed`` marks deletions made while the guard was lifted for that revision.
``last_applied_at`` and ``last_attempted_at`` say since when each revision is the last applied
and the last attempted one (the status page shows them); optional like ``slack_posted``, and
informational: one that does not parse is read as unknown, with a warning.
``slack_posted`` holds the fingerprints (``slack_messages.message_fingerprint``) of the drift and
failure messages posted within the Slack dedup window, with when; at most
``MAX_POSTED_MESSAGES``, the newest, so that a controller started again (``run --once`` from
cron) does not post an identical message twice within the window. It is optional: files
without it (version 1, and version 2 files written before it) are read as having posted none,
and controllers that do not know it ignore it. Version 1 files (without ``deletions``) are read
as having none; an entry that does not parse is dropped with a
warning, the rest of the file is kept.

Only commit SHAs are kept: the desired state of the last applied revision is checked out again
by SHA after a restart (the Git repository is the store of record), and kept in memory after.
A missing file is a first start. A file that exists but cannot be read whole (not JSON, an
unknown version, a revision that is not a full lowercase SHA, a deletion entry that does not
parse) raises :class:`StateError`: taken for a first start, it would let the controller apply
any revision (a rewind among them) and forget the deletion guard's window, so the controller
refuses new revisions until the file is fixed or removed (a deliberate act).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from reconciler.errors import ReconcilerError
from reconciler.planning.guards import RecordedDeletion
from reconciler.planning.plans import Kind

__all__ = [
    "MAX_POSTED_MESSAGES",
    "ControllerState",
    "PostedMessage",
    "StateError",
    "StateFile",
    "decode_state",
    "encode_state",
    "newest_posted",
]

log = structlog.get_logger("reconciler.controller")

_VERSION = 2
MAX_POSTED_MESSAGES = 32
"""Posted Slack messages kept in the state (the newest): about 100 bytes each, so the state
shared with the writer lock stays far below ``locking.MAX_SHARED_STATE_BYTES``."""
_READABLE_VERSIONS = (1, 2)
_HEX = "0123456789abcdef"


@dataclass(frozen=True, slots=True, kw_only=True)
class PostedMessage:
    """A Slack message posted: its ``fingerprint`` (64 lowercase hex digits) and when, ``at``
    (timezone-aware UTC)."""

    fingerprint: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerState:
    """``last_applied_revision``: the last revision accepted (valid, verified, allowed by the
    deletion guard) and applied, the one in force and the base of drift detection.
    ``last_attempted_revision``: the newest revision the controller tried, whatever came of it.
    Both are full commit SHAs (40 or 64 hex digits), or ``None`` before the first pass.
    ``deletions``: what passes deleted lately, oldest first (the deletion guard's window).
    ``slack_posted``: the drift and failure messages posted lately, oldest first, one per
    fingerprint (the Slack dedup window).
    ``last_applied_at`` and ``last_attempted_at``: since when (timezone-aware UTC) each
    revision holds its place; ``None`` when unknown (files written before they were kept).
    """

    last_applied_revision: str | None = None
    last_attempted_revision: str | None = None
    last_applied_at: datetime | None = None
    last_attempted_at: datetime | None = None
    deletions: tuple[RecordedDeletion, ...] = ()
    slack_posted: tuple[PostedMessage, ...] = ()


class StateError(ReconcilerError):
    """A state (a file, or the text shared with a writer lock) exists but cannot be read whole;
    the message names where and why."""


class StateFile:
    """The state at ``path`` (its folder is created on first save)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ControllerState:
        """The saved state; an empty one when the file does not exist. Raises
        :class:`StateError` when it exists but cannot be read whole."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ControllerState()
        except (OSError, UnicodeDecodeError) as exc:
            raise StateError(f"the state file {self.path} cannot be read: {exc}") from exc
        return decode_state(text, where=f"the state file {self.path}")

    def save(self, state: ControllerState) -> None:
        """Write ``state`` atomically. Raises ``OSError`` when the folder is not writable."""
        document = {**_document(state), "updated_at": datetime.now(UTC).isoformat()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def encode_state(state: ControllerState) -> str:
    """``state`` as one line of JSON (the file's format, without ``updated_at``), for sharing
    with the writer lock: equal states encode alike."""
    return json.dumps(_document(state), sort_keys=True, separators=(",", ":"))


def decode_state(text: str, *, where: str = "the shared state") -> ControllerState:
    """The state in ``text`` (the file's format, version 1 or 2). Raises :class:`StateError`,
    naming ``where``, when it is not JSON, of an unknown version, names a revision that is not a
    full lowercase commit SHA, or holds a deletion or posted-message entry that does not
    parse."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise StateError(f"{where} is not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("version") not in _READABLE_VERSIONS:
        raise StateError(f"{where} is not a controller state of a known version")
    entries = document.get("deletions", [])
    if not isinstance(entries, list):
        raise StateError(f"{where}: deletions is not a list")
    posted = document.get("slack_posted", [])
    if not isinstance(posted, list):
        raise StateError(f"{where}: slack_posted is not a list")
    return ControllerState(
        last_applied_revision=_sha(document, "last_applied_revision", where),
        last_attempted_revision=_sha(document, "last_attempted_revision", where),
        deletions=tuple(_deletions(entries, where=where)),
        slack_posted=newest_posted(_posted(posted, where=where)),
        last_applied_at=_time(document, "last_applied_at", where),
        last_attempted_at=_time(document, "last_attempted_at", where),
    )


def newest_posted(messages: Iterable[PostedMessage]) -> tuple[PostedMessage, ...]:
    """``messages`` one per fingerprint (its latest), the newest ``MAX_POSTED_MESSAGES`` of
    them, oldest first."""
    latest: dict[str, PostedMessage] = {}
    for message in messages:
        kept = latest.get(message.fingerprint)
        if kept is None or message.at > kept.at:
            latest[message.fingerprint] = message
    ordered = sorted(latest.values(), key=lambda message: (message.at, message.fingerprint))
    return tuple(ordered[-MAX_POSTED_MESSAGES:])


def _document(state: ControllerState) -> dict[str, Any]:
    return {
        "version": _VERSION,
        "last_applied_revision": state.last_applied_revision,
        "last_attempted_revision": state.last_attempted_revision,
        "deletions": [
            {
                "kind": deletion.kind.value,
                "count": deletion.count,
                "revision": deletion.revision,
                "at": deletion.at.astimezone(UTC).isoformat(),
                "allowed": deletion.allowed,
            }
            for deletion in state.deletions
        ],
        "slack_posted": [
            {"fingerprint": message.fingerprint, "at": message.at.astimezone(UTC).isoformat()}
            for message in newest_posted(state.slack_posted)
        ],
        "last_applied_at": _iso(state.last_applied_at),
        "last_attempted_at": _iso(state.last_attempted_at),
    }


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def _time(document: dict[str, Any], key: str, where: str) -> datetime | None:
    """``document[key]`` as a timezone-aware time; ``None`` when absent, or (with a warning)
    when it does not parse: an informational value never makes the state unreadable."""
    value = document.get(key)
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        log.warning("state.time_unreadable", where=where, key=key, value=repr(value)[:80])
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _posted(entries: list[Any], *, where: str) -> list[PostedMessage]:
    messages = []
    for index, entry in enumerate(entries):
        try:
            fingerprint = entry["fingerprint"]
            at = datetime.fromisoformat(entry["at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(
                f"{where}: slack_posted entry {index} cannot be read ({exc!r})"
            ) from exc
        if not (
            isinstance(fingerprint, str)
            and len(fingerprint) == 64
            and set(fingerprint) <= set(_HEX)
        ):
            raise StateError(f"{where}: slack_posted entry {index} has no SHA-256 fingerprint")
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        messages.append(PostedMessage(fingerprint=fingerprint, at=at))
    return messages


def _deletions(entries: list[Any], *, where: str) -> list[RecordedDeletion]:
    deletions = []
    for index, entry in enumerate(entries):
        try:
            at = datetime.fromisoformat(entry["at"])
            deletion = RecordedDeletion(
                kind=Kind(entry["kind"]),
                count=int(entry["count"]),
                revision=_sha(entry, "revision", where),
                at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
                allowed=entry.get("allowed") is True,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"{where}: deletion entry {index} cannot be read ({exc!r})") from exc
        if deletion.count > 0:
            deletions.append(deletion)
    return sorted(deletions, key=lambda deletion: deletion.at)


def _sha(document: Any, key: str, where: str) -> str | None:
    """``document[key]``: ``None`` when absent or null, else a full lowercase commit SHA (40 hex
    digits, SHA-1 repositories; 64, SHA-256 ones). Raises :class:`StateError` otherwise."""
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, str) and len(value) in (40, 64) and set(value) <= set(_HEX):
        return value
    raise StateError(f"{where}: {key} is not a full commit SHA ({value!r})")
