"""Early ticks of the loop, asked from outside it: a push webhook, ``reconciler sync``.

Two kinds of request, both coalesced (asking ten times while the loop is busy is asking once):

- a **fetch** (a push webhook): the loop ticks at once instead of waiting for its poll
  interval; the tick fetches the branch as it is *now* and starts a pass only if the fetched
  revision is new, exactly as a poll would. The request carries no revision: a replayed or
  forged-but-signed old push can only make the controller look at the branch again;
- a **pass** (``sync``): the next tick runs a full pass whatever it fetches. Its
  :class:`Ticket` names the pass that answers it: the first one of a tick begun after the
  request (:meth:`Triggers.report_for`).

Ticks are numbered from 1 as they begin (before their fetch), in the loop's thread; the
reports of the last ``KEPT_REPORTS`` passes are kept with their tick's number. Thread-safe:
requests come from the HTTP server's threads, ticks from the loop's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from reconciler.planning.reports import PassReport

__all__ = ["KEPT_REPORTS", "STOP_CHECK_SECONDS", "Requested", "Ticket", "Triggers"]

KEPT_REPORTS = 16
"""Reports kept for ``sync`` clients to collect (a client polls every second or so)."""

STOP_CHECK_SECONDS = 0.25
"""How soon :meth:`Triggers.wait` sees a stop event set without :meth:`Triggers.wake` (a
signal handler setting the event): it looks at the event this often while it waits."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ``sync`` request: answered by the first pass of a tick numbered above ``tick``, in the
    controller process ``boot`` (a random id per process, so that a ticket of a process that
    has since restarted is unknown rather than answered by an unrelated pass)."""

    boot: str
    tick: int

    def __str__(self) -> str:
        return f"{self.boot}-{self.tick}"

    @classmethod
    def parse(cls, text: str) -> Ticket | None:
        """The ticket ``str(ticket)`` wrote; ``None`` for anything else."""
        boot, sep, tick = text.partition("-")
        if not sep or not boot.isalnum() or not tick.isdigit() or len(tick) > 18:
            return None
        return cls(boot=boot, tick=int(tick))


@dataclass(frozen=True, slots=True)
class Requested:
    """What a beginning tick takes: its number, and whether a pass was asked for."""

    tick: int
    force: bool


class Triggers:
    """The requests waiting for the loop, the ticks begun and the reports of the last passes."""

    def __init__(self) -> None:
        self.boot = uuid.uuid4().hex[:12]
        self._changed = threading.Condition()
        self._fetch = False
        self._pass = False
        self._ticks = 0
        self._ended = 0
        self._reports: deque[tuple[int, PassReport]] = deque(maxlen=KEPT_REPORTS)

    # --- asked from the HTTP server -------------------------------------------------------

    def request_fetch(self) -> None:
        """Ask for a tick at once (a pass only if the fetched revision is new)."""
        with self._changed:
            self._fetch = True
            self._changed.notify_all()

    def request_pass(self) -> Ticket:
        """Ask for a full pass at once; returns the ticket :meth:`report_for` answers."""
        with self._changed:
            self._pass = True
            self._changed.notify_all()
            return Ticket(boot=self.boot, tick=self._ticks)

    def report_for(self, ticket: Ticket) -> PassReport | None:
        """The report of the first pass of a tick numbered above ``ticket.tick`` (among the
        last ``KEPT_REPORTS``), or ``None`` while there is none yet. Raises ``LookupError``
        for a ticket this process did not give (another ``boot``, or a tick not begun yet
        when it could not have been given)."""
        with self._changed:
            if ticket.boot != self.boot or ticket.tick > self._ticks:
                raise LookupError(f"unknown ticket {ticket}")
            return next((report for tick, report in self._reports if tick > ticket.tick), None)

    @property
    def pending(self) -> bool:
        """Whether a request waits for the next tick."""
        with self._changed:
            return self._fetch or self._pass

    @property
    def ticks(self) -> int:
        """Ticks begun so far."""
        with self._changed:
            return self._ticks

    @property
    def ended(self) -> int:
        """Ticks ended so far (a tick that raised is not counted)."""
        with self._changed:
            return self._ended

    # --- used by the loop -----------------------------------------------------------------

    def begin_tick(self) -> Requested:
        """A tick begins: number it and take (clear) the requests waiting."""
        with self._changed:
            self._ticks += 1
            requested = Requested(tick=self._ticks, force=self._pass)
            self._fetch = self._pass = False
            self._changed.notify_all()
            return requested

    def renew(self, requested: Requested) -> None:
        """Give back a pass request the tick ``requested`` took and could not serve (it
        crashed before its pass): the next tick makes the pass."""
        if requested.force:
            with self._changed:
                self._pass = True
                self._changed.notify_all()

    def end_tick(self, requested: Requested, report: PassReport | None) -> None:
        """The tick ``requested`` ended, with the report of its pass (``None``: no pass)."""
        with self._changed:
            self._ended += 1
            if report is not None:
                self._reports.append((requested.tick, report))
            self._changed.notify_all()

    def wake(self) -> None:
        """End a :meth:`wait` at once (the controller is stopping)."""
        with self._changed:
            self._changed.notify_all()

    def wait(self, seconds: float, *, stop: threading.Event) -> None:
        """Wait up to ``seconds`` (real time) for a request or ``stop``; returns at once when
        a request is already waiting."""
        deadline = time.monotonic() + max(0.0, seconds)
        with self._changed:
            while not (self._fetch or self._pass) and not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(min(remaining, STOP_CHECK_SECONDS))
