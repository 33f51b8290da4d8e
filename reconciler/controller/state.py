"""What the controller remembers across restarts: the last applied and last attempted revisions,
and the deletions made within the deletion guard's window.

A small JSON file, replaced atomically (written next to it, then renamed), so a crash never
leaves half a file. Version 2::

    {"version": 2, "last_applied_revision": "<sha>", "last_attempted_revision": "<sha>",
     "deletions": [{"kind": "assignment", "count": 7, "revision": "<sha>",
                    "at": "2024-05-01T12:00:00+00:00", "allowed": false}],
     "updated_at": "2024-05-01T12:00:00+00:00"}

``deletions`` holds one entry per kind and pass that deleted something (the deletions that
succeeded), oldest first; the controller drops entries older than its window when it saves.
``allowed`` marks deletions made while the guard was lifted for that revision. Version 1 files
(without ``deletions``) are read as having none; an entry that does not parse is dropped with a
warning, the rest of the file is kept.

Only commit SHAs are kept: the desired state of the last applied revision is checked out again
by SHA after a restart (the Git repository is the store of record), and kept in memory after.
A missing file is a first start; an unreadable one is logged and treated as a first start (the
controller then re-applies the newest valid revision, which is idempotent).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from reconciler.planning.guards import RecordedDeletion
from reconciler.planning.plans import Kind

__all__ = ["ControllerState", "StateFile", "decode_state", "encode_state"]

log = structlog.get_logger("reconciler.controller")

_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_HEX = "0123456789abcdef"


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerState:
    """``last_applied_revision``: the last revision accepted (valid, verified, allowed by the
    deletion guard) and applied, the one in force and the base of drift detection.
    ``last_attempted_revision``: the newest revision the controller tried, whatever came of it.
    Both are full commit SHAs (40 or 64 hex digits), or ``None`` before the first pass.
    ``deletions``: what passes deleted lately, oldest first (the deletion guard's window).
    """

    last_applied_revision: str | None = None
    last_attempted_revision: str | None = None
    deletions: tuple[RecordedDeletion, ...] = ()


class StateFile:
    """The state at ``path`` (its folder is created on first save)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ControllerState:
        """The saved state; an empty one when the file is missing or unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ControllerState()
        except OSError as exc:
            log.warning("state.unreadable", path=str(self.path), error=str(exc))
            return ControllerState()
        return decode_state(text, where=str(self.path)) or ControllerState()

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


def decode_state(text: str, *, where: str = "shared state") -> ControllerState | None:
    """The state in ``text`` (the file's format, version 1 or 2); ``None`` when it is not JSON
    or of an unknown version (logged with ``where``). Entries of ``deletions`` that do not parse
    are dropped with a warning."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        log.warning("state.unreadable", path=where, error=str(exc))
        return None
    if not isinstance(document, dict) or document.get("version") not in _READABLE_VERSIONS:
        log.warning("state.unreadable", path=where, error="unknown format")
        return None
    entries = document.get("deletions", [])
    return ControllerState(
        last_applied_revision=_sha(document.get("last_applied_revision")),
        last_attempted_revision=_sha(document.get("last_attempted_revision")),
        deletions=tuple(_deletions(entries if isinstance(entries, list) else [], where=where)),
    )


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
    }


def _deletions(entries: list[Any], *, where: str) -> list[RecordedDeletion]:
    deletions = []
    for entry in entries:
        try:
            at = datetime.fromisoformat(entry["at"])
            revision = entry.get("revision")
            deletion = RecordedDeletion(
                kind=Kind(entry["kind"]),
                count=int(entry["count"]),
                revision=_sha(revision),
                at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
                allowed=entry.get("allowed") is True,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("state.deletion_unreadable", path=where, error=repr(exc))
            continue
        if deletion.count > 0:
            deletions.append(deletion)
    return sorted(deletions, key=lambda deletion: deletion.at)


def _sha(value: object) -> str | None:
    # 40 hex digits (SHA-1 repositories) or 64 (SHA-256 repositories).
    if isinstance(value, str) and len(value) in (40, 64) and set(value) <= set(_HEX):
        return value
    return None
