"""What the controller remembers across restarts: the last applied and last attempted revisions.

A small JSON file, replaced atomically (written next to it, then renamed), so a crash never
leaves half a file::

    {"version": 1, "last_applied_revision": "<sha>", "last_attempted_revision": "<sha>",
     "updated_at": "2024-05-01T12:00:00+00:00"}

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

import structlog

__all__ = ["ControllerState", "StateFile"]

log = structlog.get_logger("reconciler.controller")

_VERSION = 1
_HEX = "0123456789abcdef"


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerState:
    """``last_applied_revision``: the last revision accepted (valid, verified, allowed by the
    deletion guard) and applied, the one in force and the base of drift detection.
    ``last_attempted_revision``: the newest revision the controller tried, whatever came of it.
    Both are full commit SHAs (40 or 64 hex digits), or ``None`` before the first pass.
    """

    last_applied_revision: str | None = None
    last_attempted_revision: str | None = None


class StateFile:
    """The state at ``path`` (its folder is created on first save)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ControllerState:
        """The saved state; an empty one when the file is missing or unreadable."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return ControllerState()
        except (OSError, ValueError) as exc:
            log.warning("state.unreadable", path=str(self.path), error=str(exc))
            return ControllerState()
        if not isinstance(document, dict) or document.get("version") != _VERSION:
            log.warning("state.unreadable", path=str(self.path), error="unknown format")
            return ControllerState()
        return ControllerState(
            last_applied_revision=_sha(document.get("last_applied_revision")),
            last_attempted_revision=_sha(document.get("last_attempted_revision")),
        )

    def save(self, state: ControllerState) -> None:
        """Write ``state`` atomically. Raises ``OSError`` when the folder is not writable."""
        document = {
            "version": _VERSION,
            "last_applied_revision": state.last_applied_revision,
            "last_attempted_revision": state.last_attempted_revision,
            "updated_at": datetime.now(UTC).isoformat(),
        }
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


def _sha(value: object) -> str | None:
    # 40 hex digits (SHA-1 repositories) or 64 (SHA-256 repositories).
    if isinstance(value, str) and len(value) in (40, 64) and set(value) <= set(_HEX):
        return value
    return None
