"""What a running controller remembers of its recent passes, for the status page.

In memory only (a restart starts an empty record; the revisions and their times are in the
state file): the reports of the last ``MAX_PASSES`` passes, and the revisions refused lately
with why, one entry per revision (a refused revision is refused again at every pass while it
is the newest; its entry keeps when it was first and last refused), the newest
``MAX_REFUSALS``.

Values: :meth:`PassRecords.add` returns a new record, so the loop replaces its record in one
assignment and a reader in another thread (the HTTP server) always sees a whole one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from reconciler.planning.reports import PassReport

__all__ = ["MAX_PASSES", "MAX_REFUSALS", "PassRecords", "RefusedRevision"]

MAX_PASSES = 20
"""Pass reports kept (the newest): enough to see a pattern of failures, small in memory."""
MAX_REFUSALS = 10
"""Refused revisions kept (the most recently refused)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RefusedRevision:
    """A revision refused whole: ``revision`` its commit SHA (``None`` when unknown), ``phase``
    where (``verify``, ``history``, ``load``, ``guard``), ``reason`` why, in words;
    ``first_at`` and ``last_at`` when it was first and last refused (timezone-aware UTC)."""

    revision: str | None
    phase: str
    reason: str
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PassRecords:
    """``passes``: the last pass reports, oldest first; ``refusals``: the refused revisions,
    least recently refused first."""

    passes: tuple[PassReport, ...] = ()
    refusals: tuple[RefusedRevision, ...] = ()

    @property
    def last(self) -> PassReport | None:
        """The newest pass report, ``None`` before the first pass."""
        return self.passes[-1] if self.passes else None

    def add(
        self, report: PassReport, refused: Iterable[tuple[str | None, str, str]]
    ) -> PassRecords:
        """The record with ``report`` and the revisions it ``refused`` (``(revision, phase,
        reason)`` each), dated at the report's ``started_at``."""
        at = report.started_at
        refusals = {entry.revision: entry for entry in self.refusals}
        for revision, phase, reason in refused:
            known = refusals.pop(revision, None)
            first_at = known.first_at if known is not None else at
            refusals[revision] = RefusedRevision(
                revision=revision, phase=phase, reason=reason, first_at=first_at, last_at=at
            )
        return replace(
            self,
            passes=(*self.passes, report)[-MAX_PASSES:],
            refusals=tuple(refusals.values())[-MAX_REFUSALS:],
        )
