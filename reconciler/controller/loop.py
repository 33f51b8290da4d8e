"""The controller: a long-running loop of reconcile passes.

Each tick fetches the repository. A new commit (one not attempted yet) starts a pass at once;
otherwise a pass runs when the schedule says so (drift interval, or retry after a failure; see
``scheduling``). One pass at a time, in the loop's thread. Between ticks the loop waits on
``triggers``: a push webhook makes it tick at once, a sync request makes the next tick a full
pass (see ``reconciler.controller.triggers``).

A pass, phase by phase (the phase names appear in logs, reports and metrics)::

    fetch ─▶ verify ─▶ lock ─▶ history ─▶ load ─▶ read ─▶ plan (changes + drift) ─▶ guard
          ─▶ apply ─▶ report

- **fetch / verify / history / load**: the newest revision (the *target*) is fetched, its
  signature checked when trusted keys are configured, its history checked (it must descend from
  the last applied revision: forward-only, so a force push back to an older commit, signed or
  not, or a rewritten history is never applied, unless ``allow_rewind_revision`` names it), and
  its files validated. An invalid revision, one whose signature is refused
  (``UnverifiedRevisionError``) or one that does not descend from the last applied revision is
  *rejected whole*: nothing of it is applied, the refusal is reported, and the last applied
  revision stays in force. A Git error (unreachable, authentication) is reported too, and the
  pass goes on with the last applied revision, so drift is still detected and healed.
- **lock**: when the pass may write (mode ``heal``, not suspended), the writer lock is taken
  first, so the history check, the plan and the apply all happen under it; the last applied
  revision recorded with the lock replaces this controller's own when it is newer (another
  replica applied since, or the state file is new). Held by another controller: the
  pass goes on read-only and reports who holds it.
- **read / plan**: live state is read once. Two plans are made against it: *changes*, the plan
  of the revision in force (the target when it is accepted, else the last applied one), and
  *drift*, the plan of the last applied revision: what someone changed by hand since. One read
  in ``complete_read_every`` is complete (per permission set), as is the first after start and
  the first after this controller wrote; the others are hybrid, per principal given the
  previous read (``Controller._read`` says why that is sound); the report's ``read`` says which.
- **guard**: the deletion guard refuses a plan deleting too much; a refused target is rejected
  like an invalid one. Its limits are the strictest of the target's ``reconciler.json``, the
  last applied revision's and the controller's settings (a commit cannot raise its own limit),
  and it counts the deletions of the passes within its window (kept in the state file) with
  the planned ones. ``allow_deletions_revision`` lifts it for one named target revision (logged
  at warning, noted in the reports).
- **apply**: with mode ``heal``, writes not suspended and the lock held, the changes are
  applied; on stop (SIGTERM) no new operation starts and those in flight are polled to their
  end (``apply_plan(stop=...)``). Every write is fenced (``apply_plan(fence=...)``): the lock
  must still be ours for ``lock_margin_seconds`` more before each HTTP attempt of each write.
  Once it is not (taken over while this process was paused, renewals failing), writing stops
  the same way and the pass is ``abandoned``: the revision is not recorded as applied.

The last applied revision is kept in memory with its documents (no second checkout while the
process lives) and its SHA in the state file; after a restart its documents are checked out
again by SHA, once, when needed. A revision becomes the last applied one when it was accepted
and its plan applied (or found empty); operations that failed are reported and retried by the
next passes, which re-plan against live state (level-based, never replaying old plans).

The Slack messages posted within the dedup window are kept in the state file too (saved again
after the notification when they changed), so a restarted controller, or ``run --once`` from
cron, does not post an identical drift or failure twice within the window.

Nothing that fails in a pass stops the loop: Git, AWS, the lock, the state file and Slack each
end up in the report, the logs (one ``pass.finished`` line per pass) and the metrics.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import structlog

from reconciler.adapters.aws.applying import STOPPED_REASON, ApplySettings, apply_plan
from reconciler.adapters.aws.clients import WRITE_ATTEMPT_SECONDS, AwsClients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.adapters.source import Checkout, RevisionRelation
from reconciler.controller.metrics import ControllerMetrics
from reconciler.controller.protocols import Notifier, RemembersPosts, Source, WriterLock
from reconciler.controller.records import PassRecords
from reconciler.controller.scheduling import Schedule
from reconciler.controller.state import (
    ControllerState,
    PostedMessage,
    StateError,
    StateFile,
    decode_state,
    encode_state,
    newest_posted,
)
from reconciler.controller.triggers import Triggers
from reconciler.engine import load, plan_revision, revision_of, target_reads_of
from reconciler.errors import (
    AwsError,
    InvalidRevisionError,
    PermanentAwsError,
    Problem,
    SourceError,
    UnverifiedRevisionError,
)
from reconciler.model.loading import Documents
from reconciler.model.resolving import DesiredState
from reconciler.model.state import LiveState
from reconciler.model.targets import TargetReads
from reconciler.model.wording import count
from reconciler.planning.guards import (
    DeletionWindow,
    GuardLimit,
    RecordedDeletion,
    deletion_guard_violations,
)
from reconciler.planning.onboarding import onboarding_of
from reconciler.planning.outcomes import Outcome, Status
from reconciler.planning.plans import Action, Plan, Unmanaged
from reconciler.planning.projection import project
from reconciler.planning.pruning import live_keys
from reconciler.planning.reports import (
    LiveRead,
    Mode,
    PassReport,
    PassStatus,
    ReportItem,
    access_items,
    failed_items,
    pass_items,
    worst,
)

__all__ = ["Controller", "LoadedRevision"]

log = structlog.get_logger("reconciler.controller")

MAX_PROBLEMS_IN_REASON = 10
"""Problems of a rejected revision quoted in its report item (the rest are counted)."""

DEFAULT_GUARD_WINDOW_SECONDS = 24 * 3600.0
"""The deletion guard's sliding window when none is given (the settings' default too)."""

ALLOW_DELETIONS_SETTING = "allow_deletions_revision (RECONCILER_ALLOW_DELETIONS_REVISION)"

DEFAULT_COMPLETE_READ_EVERY = 12
"""One live-state read in this many is complete (the setting ``complete_read_every``)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedRevision:
    """A revision's documents, validated file by file: ``revision`` is the commit SHA."""

    revision: str
    documents: Documents


def _problems_reason(problems: tuple[Problem, ...]) -> str:
    """ "N problems in the desired state:", then each problem on its own line (at most
    ``MAX_PROBLEMS_IN_REASON``, then "and N more")."""
    quoted = [str(problem) for problem in problems[:MAX_PROBLEMS_IN_REASON]]
    if len(problems) > MAX_PROBLEMS_IN_REASON:
        quoted.append(f"and {len(problems) - MAX_PROBLEMS_IN_REASON} more")
    return "\n".join([f"{count(len(problems), 'problem')} in the desired state:", *quoted])


def _deleted_keys(plan: Plan | None) -> frozenset[str]:
    """The keys of the objects ``plan`` deletes (none for no plan)."""
    return frozenset(operation.key for operation in plan.deletions()) if plan else frozenset()


def _planned(loaded: LoadedRevision, live: LiveState) -> tuple[DesiredState, Plan] | str:
    """The desired state and plan of ``loaded`` against ``live``, or why it cannot be planned.

    A revision that does not resolve (unknown account, user, group) gives its problems; any
    other exception (a bug met by odd input) gives its type and message, logged with its
    traceback: a revision that cannot be planned is refused, and never stops the pass from
    healing the last applied revision.
    """
    try:
        return plan_revision(loaded.documents, live, revision=loaded.revision)
    except InvalidRevisionError as exc:
        return _problems_reason(exc.problems)
    except Exception as exc:
        log.error(
            "plan.crashed",
            revision=loaded.revision,
            error=repr(exc),
            traceback=traceback.format_exc(),
        )
        return f"it could not be planned ({type(exc).__name__}: {exc})"


@dataclass(slots=True, kw_only=True)
class _Fetched:
    """What the fetch of a tick gave: a checkout (and its revision), or why not."""

    revision: str | None = None
    checkout: Checkout | None = None
    error: SourceError | None = None

    @property
    def unverified(self) -> bool:
        """Whether the revision was refused for its signature (a refusal, not an outage)."""
        return isinstance(self.error, UnverifiedRevisionError)


def _plan_notes(*plans: Plan | None) -> list[str]:
    """The notes of the pass's plans (expired access, skipped accounts...), in order."""
    return [note for plan in plans if plan is not None for note in plan.notes]


def _unmanaged(work: _PassWork) -> tuple[Unmanaged, ...]:
    """The live objects beside the revision in force (its plan's ``unmanaged``): the plan of
    the changes, else of the drift; none when the pass planned nothing."""
    plan = work.changes if work.changes is not None else work.drift
    return plan.unmanaged if plan is not None else ()


@dataclass(slots=True)
class _PassWork:
    """What one pass has found so far; turned into a ``PassReport`` at its end."""

    statuses: list[PassStatus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[ReportItem] = field(default_factory=list)
    error: str | None = None
    phase: str | None = None
    revision: str | None = None
    changes: Plan | None = None
    drift: Plan | None = None
    outcome: Outcome | None = None
    account_names: dict[str, str] = field(default_factory=dict)
    live_read: bool = False
    read: LiveRead | None = None
    """How live state was read (``None``: it was not)."""
    lock_problem: str | None = None
    guard_lifted: bool = False
    refused: list[tuple[str | None, str, str]] = field(default_factory=list)
    """The revisions refused, as ``(revision, phase, reason)`` (the status page lists them)."""
    base_problem: str | None = None
    """Why the state shared with the writer lock cannot be read (new revisions are refused)."""
    appeared: frozenset[str] = frozenset()
    """Keys of live objects that appeared since this controller's previous read of AWS (none
    on its first read)."""
    undeclared: frozenset[str] = frozenset()
    """Keys of live objects made by hand: they appeared since the previous read and the
    revision in force does not declare them. Deleting them is healing, not counted by the
    deletion guard nor its window. Only what this controller saw appear counts: after a restart,
    or with a stale base (a restored state file), nothing is taken for hand-made, so access
    applied by an earlier revision is never deleted past the guard as if it were."""

    def fail(self, *, phase: str, message: str, status: PassStatus = PassStatus.ERROR) -> None:
        """A pass-level error: the first one sets ``error`` and ``phase``."""
        self.statuses.append(status)
        if self.error is None:
            self.error, self.phase = message, phase
        else:
            self.notes.append(f"{phase}: {message}")
        self.failures.append(
            ReportItem(
                action=phase,
                kind="pass",
                key=f"pass/{phase}",
                description=f"the {phase} phase failed",
                status=Status.FAILED.value,
                reason=message,
            )
        )

    def reject(self, *, revision: str | None, reason: str, phase: str) -> None:
        """The target revision is refused whole (invalid, unverified, or guard)."""
        self.statuses.append(PassStatus.INVALID)
        self.refused.append((revision, phase, reason))
        shown = revision or "unknown"
        message = f"revision {shown} refused: {reason}"
        if self.error is None:
            self.error, self.phase = message, phase
        self.failures.append(
            ReportItem(
                action="refuse",
                kind="revision",
                key=f"revision/{shown}",
                description=f"revision {shown} refused ({phase})",
                status=Status.FAILED.value,
                reason=reason,
            )
        )


class Controller:
    """Reconciles Identity Center with a Git repository, pass after pass, until stopped.

    ``source`` fetches the newest revision, and one commit by SHA (``fetch_at``: to read the
    last applied revision again after a restart). ``aws`` are the clients (their
    call counter gives each report's ``api_calls``). ``state_file`` keeps the revisions across
    restarts. ``lock`` (optional) is taken before any write; ``notifier`` (optional) gets every
    report. ``suspend`` pauses writes, and so does the existence of ``suspend_file``, checked at
    every pass. ``allow_rewind_revision`` (a full commit SHA) is the one revision that may be
    applied although it does not descend from the last applied revision. ``stop`` is the event
    that ends the loop (a new one by default); setting it also makes an apply in progress stop
    starting operations. ``lock_margin_seconds`` is the safety margin of the write fence: a
    write is made only while the lock stays ours at least that much longer (default:
    ``WRITE_ATTEMPT_SECONDS``, one HTTP attempt's connect and read timeouts). ``clock`` gives
    monotonic seconds.

    Deletion guard: ``guard_limits`` are the settings' limits (the strictest of them, the
    target's and the last applied revision's ``reconciler.json`` apply);
    ``guard_window_seconds`` is the sliding window over which deletions add up;
    ``allow_deletions_revision`` (a full SHA) lifts the guard while that revision is the target.
    ``now`` gives the UTC time deletions are recorded and judged at.

    Reading: one read in ``complete_read_every`` (a count of reads, at least 1; 1: every read)
    is complete, per permission set; the others are hybrid, given the previous read (see
    ``_read``).
    """

    def __init__(
        self,
        *,
        source: Source,
        aws: AwsClients,
        state_file: StateFile,
        schedule: Schedule,
        mode: Mode = Mode.HEAL,
        instance_arn: str | None = None,
        complete_read_every: int = DEFAULT_COMPLETE_READ_EVERY,
        apply_settings: ApplySettings | None = None,
        lock: WriterLock | None = None,
        lock_margin_seconds: float = WRITE_ATTEMPT_SECONDS,
        notifier: Notifier | None = None,
        metrics: ControllerMetrics | None = None,
        suspend: bool = False,
        suspend_file: Path | None = None,
        allow_rewind_revision: str | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard_limits: Sequence[GuardLimit] = (),
        guard_window_seconds: float = DEFAULT_GUARD_WINDOW_SECONDS,
        allow_deletions_revision: str | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self.aws = aws
        self.state_file = state_file
        self.schedule = schedule
        self.mode = mode
        self.instance_arn = instance_arn
        if complete_read_every < 1:
            raise ValueError(f"complete_read_every must be at least 1, not {complete_read_every}")
        self.complete_read_every = complete_read_every
        self.apply_settings = apply_settings or ApplySettings()
        self.lock = lock
        self.lock_margin_seconds = lock_margin_seconds
        self.notifier = notifier
        self._suspend = suspend
        self._suspend_file = suspend_file
        self._allow_rewind_revision = allow_rewind_revision
        self.stop_event = stop if stop is not None else threading.Event()
        self._clock = clock
        self.guard_limits = tuple(guard_limits)
        self.guard_window_seconds = guard_window_seconds
        self.allow_deletions_revision = allow_deletions_revision
        self._now = now or _utc_now
        self.metrics = metrics or ControllerMetrics(clock=clock, suspended=self.suspended)
        self._state_problem: str | None = None
        """Why the state file cannot be read: new revisions are refused until it is fixed, or
        the state shared with the writer lock stands in for it."""
        try:
            self._state = state_file.load()
        except StateError as exc:
            self._state = ControllerState()
            self._state_problem = str(exc)
            log.error("state.unreadable", error=str(exc))
        self._applied: LoadedRevision | None = None
        self._seen: frozenset[str] | None = None  # keys of the live objects at the last read
        self._previous: LiveState | None = None
        """The last live state read, as long as this controller has not written since: what
        the next hybrid read builds on (``_read``)."""
        self._hybrid_reads = 0
        """Hybrid reads since the last complete one."""
        self._ready = threading.Event()
        self._one_pass = threading.Lock()
        self.triggers = Triggers()
        """Early ticks asked from outside the loop (push webhooks, ``reconciler sync``)."""
        self._records = PassRecords()
        self._live: tuple[LiveState, datetime] | None = None
        self._access_state: tuple[LiveState, datetime] | None = None
        self._lock_holder: str | None = None
        if self._state.last_applied_revision is not None:
            self.metrics.revision.info({"revision": self._state.last_applied_revision})

    # --- observable state -----------------------------------------------------------------

    @property
    def state(self) -> ControllerState:
        """The last applied and last attempted revisions."""
        return self._state

    @property
    def records(self) -> PassRecords:
        """The last passes' reports and the revisions refused lately (in memory)."""
        return self._records

    @property
    def live(self) -> tuple[LiveState, datetime] | None:
        """The live state the last pass read, with when (UTC); ``None`` before any read."""
        return self._live

    @property
    def access_state(self) -> tuple[LiveState, datetime] | None:
        """What the access report shows: the live state the last pass read, with when (UTC),
        and the operations that pass applied since, as AWS applies them
        (``planning.projection.project``; only those that SUCCEEDED); ``None`` before any read.
        Without it, access granted or removed by a pass would show only after the next read."""
        return self._access_state

    @property
    def lock_holder(self) -> str | None:
        """Who held the writer lock when a pass last tried to take it (this controller's
        name when it got it); ``None`` without a lock or before the first try."""
        return self._lock_holder

    @property
    def ready(self) -> bool:
        """True once a pass has read live state from AWS (``/readyz``)."""
        return self._ready.is_set()

    def suspended(self) -> bool:
        """Whether writes are paused: the ``suspend`` setting, or ``suspend_file`` exists."""
        return self._suspend or (self._suspend_file is not None and self._suspend_file.exists())

    def stop(self) -> None:
        """Ask the loop to end after the operation in flight (safe from a signal handler)."""
        self.stop_event.set()
        self.triggers.wake()

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Tick until ``stop``; returns after the pass in progress ends. Never raises for a
        failing pass (every failure is in its report)."""
        log.info("controller.started", mode=self.mode.value, suspended=self.suspended())
        while not self.stop_event.is_set():
            try:
                report = self.tick(force=self.schedule.pass_due(self._clock()))
            except Exception as exc:  # a bug outside a pass must not end the loop either
                log.error("tick.crashed", error=repr(exc), traceback=traceback.format_exc())
                self.schedule.record_pass(failed=True, now=self._clock())
            else:
                if report is not None:
                    failed = report.status in (
                        PassStatus.ERROR,
                        PassStatus.FAILED,
                        PassStatus.ABANDONED,
                    )
                    self.schedule.record_pass(failed=failed, now=self._clock())
            self.triggers.wait(self.schedule.wait_seconds(self._clock()), stop=self.stop_event)
        log.info("controller.stopped", **self._revisions())

    def run_once(self) -> PassReport:
        """One full pass, whatever the schedule says."""
        report = self.tick(force=True)
        if report is None:  # pragma: no cover - a forced tick always makes a pass
            raise RuntimeError("a forced tick made no pass")
        return report

    def tick(self, *, force: bool) -> PassReport | None:
        """Fetch; run a pass if ``force``, a pass was asked for (``triggers``) or the fetched
        revision is new. Returns its report, or ``None`` when no pass was due."""
        with self._one_pass:
            requested = self.triggers.begin_tick()
            try:
                report = self._tick(force=force or requested.force)
            except BaseException:
                self.triggers.renew(requested)
                raise
            self.triggers.end_tick(requested, report)
            return report

    def _tick(self, *, force: bool) -> PassReport | None:
        """The tick itself (``tick`` holds ``_one_pass`` and numbers it)."""
        started_at = datetime.now(UTC)
        started = self._clock()
        calls_before = self.aws.calls.snapshot()
        fetched = self._fetch()
        is_new = fetched.revision != self._state.last_attempted_revision
        if fetched.error is not None and not fetched.unverified and not force:
            log.warning("source.fetch_failed", error=str(fetched.error))
            self.metrics.fetch_errors.inc()
            return None
        if not force and not is_new:
            return None
        pass_id = uuid.uuid4().hex[:12]
        with structlog.contextvars.bound_contextvars(pass_id=pass_id):
            return self._pass(
                fetched,
                pass_id=pass_id,
                started=started,
                started_at=started_at,
                calls_before=calls_before,
            )

    # --- one pass -------------------------------------------------------------------------

    def _fetch(self) -> _Fetched:
        try:
            checkout = self.source.fetch()
        except UnverifiedRevisionError as exc:
            return _Fetched(revision=exc.revision, error=exc)
        except SourceError as exc:
            return _Fetched(error=exc)
        return _Fetched(revision=checkout.revision, checkout=checkout)

    def _pass(
        self,
        fetched: _Fetched,
        *,
        pass_id: str,
        started: float,
        started_at: datetime,
        calls_before: dict[str, int],
    ) -> PassReport:
        work = _PassWork(revision=fetched.revision)
        suspended = self.suspended()
        holding_lock = False
        try:
            may_write = self.mode is Mode.HEAL and not suspended
            known = fetched.revision is not None or self._state.last_applied_revision is not None
            if may_write and known and self.lock is not None:
                holding_lock = self._take_lock(work)
                if holding_lock:  # before the history check: the lock knows the newest base
                    self._adopt_shared_state(work)
            target = self._target(fetched, work)
            applied = self._applied_revision(target, work)
            live = self._read(work, (target, applied)) if (target or applied) else None
            if live is not None:
                in_force = self._plan(target, applied, live, work)
                self._apply(in_force, live, work, may_write=may_write, holding_lock=holding_lock)
        except Exception as exc:  # the loop must survive anything a pass meets
            log.error("pass.crashed", error=repr(exc), traceback=traceback.format_exc())
            work.fail(phase="internal", message=f"{type(exc).__name__}: {exc}")
        finally:
            if holding_lock and self.lock is not None:
                self._share_state(work)
                self._release_lock(work)
        if fetched.revision is not None and fetched.revision != self._state.last_attempted_revision:
            self._state = replace(
                self._state, last_attempted_revision=fetched.revision, last_attempted_at=started_at
            )
        self._save_state(work)
        report = self._report(
            work,
            pass_id=pass_id,
            started=started,
            started_at=started_at,
            calls_before=calls_before,
            suspended=suspended,
        )
        self._records = self._records.add(report, work.refused)
        self._publish(report, work)
        return report

    def _target(self, fetched: _Fetched, work: _PassWork) -> LoadedRevision | None:
        """The fetched revision, loaded; ``None`` when rejected or not fetched."""
        if fetched.error is not None:
            if isinstance(fetched.error, UnverifiedRevisionError):
                reason = f"{fetched.error.detail} [{fetched.error.reason}]"
                work.reject(revision=fetched.revision, reason=reason, phase="verify")
            else:
                work.fail(phase="fetch", message=str(fetched.error))
                if self._state.last_applied_revision is not None:
                    work.notes.append(
                        "the repository could not be read: enforcing the last applied revision "
                        f"{self._state.last_applied_revision}"
                    )
            return None
        if fetched.revision is None or fetched.checkout is None:  # pragma: no cover - Checkout
            return None
        if fetched.checkout.uncommitted:
            work.reject(
                revision=fetched.revision,
                reason=f"the work tree {fetched.checkout.repository} has uncommitted changes under "
                "the desired-state folder (edited, untracked or ignored files): the controller "
                "applies committed revisions only. Commit them, or give a ref (--ref main) to "
                "follow committed revisions whatever the work tree holds",
                phase="verify",
            )
            return None
        if self._applied is not None and self._applied.revision == fetched.revision:
            return self._applied
        unknown = self._state_problem or work.base_problem
        if unknown is not None:
            work.reject(
                revision=fetched.revision,
                reason=f"the last applied revision is unknown: {unknown}. New revisions are "
                "applied only once it is known (forward-only revisions and the deletion guard's "
                "window depend on it): repair that state, or remove it to start afresh",
                phase="history",
            )
            return None
        refusal = self._history_refusal(fetched.revision, work)
        if refusal is not None:
            work.reject(revision=fetched.revision, reason=refusal, phase="history")
            return None
        try:
            documents = load(revision_of(fetched.checkout))
        except InvalidRevisionError as exc:
            work.reject(
                revision=fetched.revision, reason=_problems_reason(exc.problems), phase="load"
            )
            return None
        return LoadedRevision(revision=fetched.revision, documents=documents)

    def _history_refusal(self, revision: str, work: _PassWork) -> str | None:
        """Why ``revision`` may not follow the last applied revision (``None``: it may).

        Forward-only: a revision is applied only if it descends from the last applied one (or
        is it). A rewind (the branch moved back to an ancestor: a force push or a reset), a
        rewritten or unrelated history, and a last applied commit that the repository no longer
        holds are refused, whoever signed the commit: any commit that ever existed could be
        replayed otherwise. ``allow_rewind_revision`` lets its one revision through, with a
        warning and a note. A history that cannot be checked (Git failing) is refused too.
        """
        base = self._state.last_applied_revision
        if base is None or revision == base:
            return None
        try:
            relation = self.source.relation(revision, base)
        except SourceError as exc:
            return (
                f"its history could not be checked against the last applied revision {base} "
                f"({exc}), and only a revision descending from it is applied"
            )
        if relation.is_forward:
            return None
        why = {
            RevisionRelation.ANCESTOR: f"it is older than the last applied revision {base}: "
            "the branch was moved back (a force push or a reset), which would restore access "
            "revoked since",
            RevisionRelation.DIVERGED: f"it does not descend from the last applied revision "
            f"{base}: the history was rewritten (a force push) or belongs to another repository",
        }.get(
            relation,
            f"the last applied revision {base} is not in the repository any more (a force push "
            "removed it), so this revision cannot be shown to descend from it",
        )
        if revision == self._allow_rewind_revision:
            log.warning("history.rewind_allowed", revision=revision, last_applied=base, why=why)
            work.notes.append(
                f"revision {revision} accepted although {why}: allowed by allow_rewind_revision"
            )
            return None
        log.warning("history.refused", revision=revision, last_applied=base, why=why)
        return (
            f"{why}. Only revisions that descend from the last applied one are applied; to roll "
            "back, revert in a new commit, or allow this revision once with "
            f"RECONCILER_ALLOW_REWIND_REVISION={revision}"
        )

    def _applied_revision(
        self, target: LoadedRevision | None, work: _PassWork
    ) -> LoadedRevision | None:
        """The last applied revision's documents: kept in memory, else checked out by SHA."""
        sha = self._state.last_applied_revision
        if sha is None:
            return None
        if self._applied is not None and self._applied.revision == sha:
            return self._applied
        if target is not None and target.revision == sha:
            self._applied = target
            return target
        try:
            documents = load(revision_of(self.source.fetch_at(sha)))
        except (SourceError, InvalidRevisionError) as exc:
            work.notes.append(
                f"the last applied revision {sha} could not be read again ({exc}): "
                "drift is not checked against it"
            )
            log.warning("applied_revision.unreadable", revision=sha, error=str(exc))
            return None
        self._applied = LoadedRevision(revision=sha, documents=documents)
        return self._applied

    def _take_lock(self, work: _PassWork) -> bool:
        """Take the writer lock; when not taken, ``work.lock_problem`` says why."""
        lock = self.lock
        if lock is None:  # pragma: no cover - checked by the caller
            return False
        try:
            acquired = lock.acquire()
        except Exception as exc:  # a lock backend failing must not stop the loop
            work.lock_problem = f"the writer lock is unavailable: {exc}"
            log.warning("lock.failed", error=str(exc))
            return False
        self._lock_holder = lock.holder
        if not acquired:
            work.lock_problem = f"the writer lock is held by {lock.holder or 'another writer'}"
            log.info("lock.held_elsewhere", holder=lock.holder)
        return acquired

    def _release_lock(self, work: _PassWork) -> None:
        if self.lock is None:  # pragma: no cover - checked by the caller
            return
        try:
            self.lock.release()
        except Exception as exc:  # the lease expires by itself anyway
            work.notes.append(f"the writer lock could not be released: {exc}")
            log.warning("lock.release_failed", error=str(exc))

    def _read(
        self, work: _PassWork, revisions: tuple[LoadedRevision | None, ...]
    ) -> LiveState | None:
        """Read live state, including what the targets (OUs, tags) of ``revisions`` need;
        ``work.read`` says how.

        The read is complete (per permission set) when there is no previous read to build on
        (the first after start, and the first after this controller wrote: see below), when
        ``complete_read_every - 1`` hybrid reads followed the last complete one, and when the
        instance is not the previous read's (the reader then reads per set by itself). Else it
        is hybrid: ``read_live_state(assignments_by="hybrid", previous=<the last read>)``, the
        same state in far fewer calls (692 instead of 1,865 on the benchmark's organization).

        Why ``previous`` must have been read after this controller's last write. The hybrid
        read finds an assignment of a principal deleted from the identity store when
        ``previous`` knew the principal's id (its id is read per principal, and every (set,
        account) where ``previous`` saw its assignments is read whole), or when no live
        principal holds an assignment in the same (set, account). It misses one whose principal
        ``previous`` never knew, sharing its (set, account) with a live principal's assignment:
        a principal created after ``previous`` was read and deleted before this read. The
        controller itself makes such principals: a pass applying a revision creates users and
        groups with their assignments, and if someone deletes such a user by hand before the
        next pass (the classic orphan), a ``previous`` read before those writes never knew its
        id, so its assignments where a group also holds the set (in the example repository,
        jane.doe beside Auditors on ReadOnlyAccess in prod) would go unseen until the next
        complete read. The apply's
        outcome names what was created, not the ids AWS gave them nor the ARNs of new
        permission sets (and a write whose answer was lost may have happened), so it cannot
        stand in for a read. Hence a pass that starts writing forgets its read (before the
        first write, so that a pass failing mid-apply forgets it too) and the next read is
        complete. ``previous`` may itself be hybrid: what it missed lies in the same blind spot,
        which the next complete read closes.

        What others write between two reads (a person, another replica holding the writer lock)
        stays the hybrid read's one blind spot, closed by the next complete read: at most
        ``complete_read_every - 1`` passes later (about that many ``interval_seconds`` when no
        commit comes). Another replica's own writes are followed by its own complete read,
        which reports what they left. A hybrid read failing with a permanent error is followed
        by a complete read, so that an answer only the hybrid way meets cannot fail every pass.
        An orphaned assignment first seen by that complete read counts as appeared since the
        previous read (``_PassWork.appeared``), as any hand change; it belongs to a deleted
        principal and grants no one access.
        """
        log.info("pass.phase", phase="read")
        reads = [target_reads_of(loaded.documents) for loaded in revisions if loaded is not None]
        targets = TargetReads(
            organization=any(read.organization for read in reads),
            units=any(read.units for read in reads),
            account_tags=any(read.account_tags for read in reads),
            access_control_attributes=any(read.access_control_attributes for read in reads),
        )
        previous = self._previous if self._hybrid_reads + 1 < self.complete_read_every else None
        try:
            live = read_live_state(
                self.aws,
                instance_arn=self.instance_arn,
                targets=targets,
                assignments_by="hybrid",
                previous=previous,
            )
        except AwsError as exc:
            work.fail(phase="read", message=str(exc))
            if previous is not None and isinstance(exc, PermanentAwsError):
                # An answer the hybrid way alone meets (AWS does not document how
                # ListAccountAssignmentsForPrincipal answers for a deleted principal's id) must
                # not fail every pass: the next read is complete. A temporary error (throttling)
                # is retried the cheaper way.
                self._previous = None
            return None
        hybrid = previous is not None and previous.instance_arn == live.instance_arn
        work.read = LiveRead.HYBRID if hybrid else LiveRead.COMPLETE
        self._hybrid_reads = self._hybrid_reads + 1 if hybrid else 0
        self._previous = live
        self._ready.set()
        self._live = self._access_state = (live, self._now())
        work.live_read = True
        seen = live_keys(live)
        if self._seen is not None:
            work.appeared = seen - self._seen
        self._seen = seen
        work.account_names = {account.id: account.name for account in live.accounts.values()}
        return live

    def _plan(
        self,
        target: LoadedRevision | None,
        applied: LoadedRevision | None,
        live: LiveState,
        work: _PassWork,
    ) -> LoadedRevision | None:
        """Plan the changes (revision in force) and the drift; returns the revision in force."""
        log.info("pass.phase", phase="plan")
        in_force: LoadedRevision | None = None
        allowed = self.allow_deletions_revision
        if allowed is not None and allowed != work.revision:
            work.notes.append(
                f"{ALLOW_DELETIONS_SETTING} names {allowed}, not the target revision "
                f"{work.revision or 'unknown'}: ignored, the deletion guard applies"
            )
        healing: tuple[DesiredState, Plan] | None = None  # the last applied revision's plan
        if applied is not None and (target is None or target.revision != applied.revision):
            planned = _planned(applied, live)
            if isinstance(planned, str):
                work.notes.append(
                    f"the last applied revision {applied.revision} no longer resolves against "
                    f"live state ({planned}): drift is not checked"
                )
            else:
                healing = planned
                work.drift = planned[1]
        if target is not None:
            planned = _planned(target, live)
            if isinstance(planned, str):
                work.reject(revision=target.revision, reason=planned, phase="load")
            else:
                desired, changes = planned
                same = applied is not None and applied.revision == target.revision
                # What the revision in force would delete too was made by hand since: removing
                # it takes away access no revision granted, so the guard leaves it out.
                work.undeclared = _deleted_keys(changes if same else work.drift) & work.appeared
                refusal = self._guard(
                    changes, desired, live, applied=applied, work=work, undeclared=work.undeclared
                )
                if refusal:
                    work.reject(
                        revision=target.revision,
                        reason="the deletion guard refuses its plan: "
                        + "; ".join(refusal)
                        + f". If these deletions are intended, set {ALLOW_DELETIONS_SETTING} "
                        f"to {target.revision} for this revision only",
                        phase="guard",
                    )
                else:
                    in_force, work.changes = target, changes
                    if same:
                        work.drift = changes
        if in_force is None and applied is not None and healing is not None:
            # The target is rejected or missing: heal to the last applied revision. What appeared
            # by hand since the previous read is not counted; anything else is (a base that is
            # stale, say a restored state file, must not delete applied access unguarded).
            applied_desired, drift = healing
            work.undeclared = _deleted_keys(drift) & work.appeared
            refusal = self._guard(
                drift, applied_desired, live, applied=None, work=None, undeclared=work.undeclared
            )
            if refusal:
                work.fail(
                    phase="guard",
                    message="the deletion guard refuses healing the last applied revision: "
                    + "; ".join(refusal),
                    status=PassStatus.INVALID,
                )
            else:
                in_force, work.changes = applied, drift
        return in_force

    def _window(self) -> DeletionWindow:
        """The deletions recorded within the window, as of now."""
        return DeletionWindow(
            seconds=self.guard_window_seconds, now=self._now(), deletions=self._state.deletions
        )

    def _guard(
        self,
        plan: Plan,
        desired: DesiredState,
        live: LiveState,
        *,
        applied: LoadedRevision | None,
        work: _PassWork | None,
        undeclared: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Why the deletion guard refuses ``plan`` of ``desired`` (empty: it passes).

        ``work`` is given for the target's plan only: then ``allow_deletions_revision`` naming
        the target lifts the guard (a warning and a note). The limits are the settings', the
        plan's revision's and, when it is another revision, ``applied``'s.
        """
        lifted = plan.revision is not None and plan.revision == self.allow_deletions_revision
        if work is not None and lifted:
            deletions = len(plan.deletions())
            work.guard_lifted = True
            work.notes.append(
                f"the deletion guard is lifted for revision {plan.revision} by "
                f"{ALLOW_DELETIONS_SETTING}: {count(deletions, 'deletion')} allowed without its "
                "limits"
            )
            log.warning(
                "guard.lifted",
                revision=plan.revision,
                deletions=deletions,
                setting="allow_deletions_revision",
            )
            return []
        limits = list(self.guard_limits)
        if applied is not None and applied.revision != plan.revision:
            limits.append(
                GuardLimit.of(
                    applied.documents.config.deletion_guard,
                    source=f"reconciler.json of the last applied revision {applied.revision[:12]}",
                )
            )
        return deletion_guard_violations(
            plan, desired, live, limits=limits, window=self._window(), undeclared=undeclared
        )

    def _record_deletions(
        self, outcome: Outcome, *, revision: str, allowed: bool, undeclared: frozenset[str]
    ) -> None:
        """Add the deletions of ``outcome`` that succeeded to the state, by kind, and forget
        those older than the window. Deletions of ``undeclared`` objects (hand-made, healed)
        are not recorded: the guard does not count them."""
        deleted = Counter(
            result.operation.kind
            for result in outcome.results
            if result.operation.action is Action.DELETE
            and result.status is Status.SUCCEEDED
            and result.operation.key not in undeclared
        )
        now = self._now()
        records = [
            record
            for record in self._window().deletions
            if (now - record.at).total_seconds() < self.guard_window_seconds
        ]
        records += [
            RecordedDeletion(kind=kind, count=number, revision=revision, at=now, allowed=allowed)
            for kind, number in sorted(deleted.items())
        ]
        self._state = replace(self._state, deletions=tuple(records))

    def _apply(
        self,
        in_force: LoadedRevision | None,
        live: LiveState,
        work: _PassWork,
        *,
        may_write: bool,
        holding_lock: bool,
    ) -> None:
        changes = work.changes
        if in_force is None or changes is None:
            return
        if changes.failed_by_unmanaged:  # the repository is meant to be the whole truth
            work.statuses.append(PassStatus.DRIFTED)
            work.notes.append(
                f'"unmanaged": "fail" in reconciler.json: '
                f"{count(len(changes.unmanaged), 'unmanaged object')} beside the revision in "
                "force leave Identity Center not converged"
            )
        if changes.is_empty:
            work.statuses.append(PassStatus.IN_SYNC)
            self._mark_applied(in_force)
            return
        if not may_write:
            why = "writes are suspended" if self.mode is Mode.HEAL else "detect mode"
            work.notes.append(f"not applied: {why}")
            self._not_applied(work)
            return
        if self.lock is not None and not holding_lock:
            work.fail(phase="lock", message=f"not applied: {work.lock_problem}")
            return
        if self.stop_event.is_set():
            work.notes.append("not applied: the controller is stopping")
            self._not_applied(work)
            return
        log.info("pass.phase", phase="apply", operations=len(changes.operations))
        # Live state changes from here on, by ids this read never saw: the next read is
        # complete (``_read`` says why).
        self._previous = None
        lock = self.lock if holding_lock else None
        outcome = apply_plan(
            self.aws,
            changes,
            live,
            settings=self.apply_settings,
            stop=self.stop_event,
            fence=self._fence(lock) if lock is not None else None,
        )
        work.outcome = outcome
        applied = [r.operation for r in outcome.results if r.status is Status.SUCCEEDED]
        if applied and self._live is not None and self._live[0] is live:
            self._access_state = (replace(live, state=project(live.state, applied)), self._live[1])
        self._record_deletions(
            outcome,
            revision=in_force.revision,
            allowed=work.guard_lifted,
            undeclared=work.undeclared,
        )
        counts = outcome.counts()
        if outcome.lock_lost is not None:
            # Another controller may be applying now: nothing of this revision is recorded.
            work.fail(
                phase="lock",
                message=f"abandoned: {outcome.lock_lost}; "
                f"{count(counts[Status.SKIPPED.value], 'operation')} not attempted, revision "
                f"{in_force.revision} not recorded as applied",
                status=PassStatus.ABANDONED,
            )
            return
        if counts[Status.FAILED.value]:
            work.statuses.append(PassStatus.FAILED)
        elif any(result.reason == STOPPED_REASON for result in outcome.results):
            work.statuses.append(PassStatus.PENDING)
            work.notes.append(
                f"stopped: {count(counts[Status.SKIPPED.value], 'operation')} not attempted, "
                "left for the next start"
            )
        else:
            work.statuses.append(PassStatus.APPLIED)
        self._mark_applied(in_force)

    def _fence(self, lock: WriterLock) -> Callable[[], None]:
        """The write fence of an apply: ``lock.fence`` with this controller's margin."""
        margin = self.lock_margin_seconds

        def fence() -> None:
            lock.fence(margin)

        return fence

    def _not_applied(self, work: _PassWork) -> None:
        drifted = work.drift is not None and not work.drift.is_empty
        work.statuses.append(PassStatus.DRIFTED if drifted else PassStatus.PENDING)

    def _mark_applied(self, revision: LoadedRevision) -> None:
        """``revision`` is in force: in memory and in the state (saved at the pass's end, and
        shared with the lock while it is held)."""
        self._applied = revision
        if revision.revision != self._state.last_applied_revision:
            self._state = replace(
                self._state, last_applied_revision=revision.revision, last_applied_at=self._now()
            )

    def _adopt_shared_state(self, work: _PassWork) -> None:
        """Merge the state shared through the lock into this controller's own: the deletion
        guard's window is the union of both, and so are the Slack messages posted, and the last
        applied revision is the shared one when it is newer (another replica applied since, or
        this one's state file is new or lost), so that forward-only revisions and the window
        hold across replicas and restarts.

        The shared revision is kept unless it is an ancestor of ours (ours is newer: the shared
        state catches up at the end of this pass). A shared revision that cannot be related to
        ours (a rewritten history, Git failing) is taken as it is: the history check then
        refuses whatever does not descend from it.
        """
        lock = self.lock
        text = lock.shared_state if lock is not None else None
        if not text:
            return
        try:
            shared = decode_state(text, where="the state shared with the writer lock")
        except StateError as exc:
            work.base_problem = str(exc)
            log.error("state.shared_unreadable", error=str(exc))
            return
        if self._state_problem is not None and shared.last_applied_revision is not None:
            work.notes.append(
                f"{self._state_problem}: the state shared with the writer lock stands in for it"
            )
            self._state_problem = None
        deletions = sorted(
            set(self._state.deletions) | set(shared.deletions), key=lambda record: record.at
        )
        posted = newest_posted((*self._state.slack_posted, *shared.slack_posted))
        self._state = replace(self._state, deletions=tuple(deletions), slack_posted=posted)
        recorded = shared.last_applied_revision
        local = self._state.last_applied_revision
        if recorded is None or recorded == local:
            return
        if local is not None:
            try:
                relation = self.source.relation(recorded, local)
            except SourceError as exc:
                log.warning("history.unrelatable", recorded=recorded, local=local, error=str(exc))
            else:
                if relation is RevisionRelation.ANCESTOR:
                    return
        log.info("history.base_from_lock", recorded=recorded, local=local)
        work.notes.append(
            f"the last applied revision is {recorded}, as recorded with the writer lock by the "
            f"controller that applied it (this controller's state said {local or 'none'})"
        )
        self._state = replace(
            self._state, last_applied_revision=recorded, last_applied_at=shared.last_applied_at
        )
        self._applied = None

    def _share_state(self, work: _PassWork) -> None:
        """Record this controller's state with the lock it holds, when it changed (one write),
        so that whoever takes the lock next starts from it. Never raises: a failure is a note
        (the state file still has it)."""
        lock = self.lock
        if lock is None:  # pragma: no cover - checked by the caller
            return
        if work.base_problem is not None or self._state_problem is not None:
            return  # nothing trustworthy to share; what is there stays for a person to look at
        text = encode_state(
            replace(self._state, last_attempted_revision=None, last_attempted_at=None)
        )
        if text == lock.shared_state:
            return
        try:
            lock.record_shared_state(text)
        except Exception as exc:
            work.notes.append(f"the state could not be shared with the writer lock: {exc}")
            log.warning("lock.share_failed", error=str(exc))

    def _save_state(self, work: _PassWork) -> None:
        if self._state_problem is not None:  # keep the file as it is, for a person to look at
            work.notes.append(
                f"the state file {self.state_file.path} is left as it is: {self._state_problem}"
            )
            return
        try:
            self.state_file.save(self._state)
        except OSError as exc:
            work.notes.append(f"the state file {self.state_file.path} could not be written: {exc}")
            log.error("state.unwritable", path=str(self.state_file.path), error=str(exc))

    def _revisions(self) -> dict[str, str | None]:
        return {
            "last_applied_revision": self._state.last_applied_revision,
            "last_attempted_revision": self._state.last_attempted_revision,
        }

    # --- the report -----------------------------------------------------------------------

    def _report(
        self,
        work: _PassWork,
        *,
        pass_id: str,
        started: float,
        started_at: datetime,
        calls_before: dict[str, int],
        suspended: bool,
    ) -> PassReport:
        changes, drift = pass_items(
            work.changes, work.drift, account_names=work.account_names, outcome=work.outcome
        )
        return PassReport(
            pass_id=pass_id,
            started_at=started_at,
            seconds=self._clock() - started,
            mode=self.mode,
            status=worst(work.statuses),
            revision=work.revision,
            applied_revision=self._state.last_applied_revision,
            changes=changes,
            drift=drift,
            failures=(*work.failures, *failed_items((*changes, *drift))),
            notes=tuple(dict.fromkeys([*work.notes, *_plan_notes(work.changes, work.drift)])),
            api_calls=self.aws.calls.since(calls_before),
            error=work.error,
            phase=work.phase,
            suspended=suspended,
            unmanaged=_unmanaged(work),
            access=access_items(work.changes, account_names=work.account_names),
            onboarding=onboarding_of(work.changes, work.outcome),
            read=work.read,
        )

    def _publish(self, report: PassReport, work: _PassWork) -> None:
        """Log, count and notify one report; none of it may raise."""
        self.metrics.observe(report, outcome=work.outcome)
        if work.live_read:
            self.metrics.observe_drift(Counter(item.kind for item in report.drift))
            self.metrics.observe_unmanaged(Counter(item.kind.value for item in report.unmanaged))
        event = log.warning if report.status.severity > PassStatus.PENDING.severity else log.info
        event(
            "pass.finished",
            status=report.status.value,
            revision=report.revision,
            applied_revision=report.applied_revision,
            mode=report.mode.value,
            suspended=report.suspended,
            changes=len(report.changes),
            drift=len(report.drift),
            failures=len(report.failures),
            error=report.error,
            phase=report.phase,
            notes=list(report.notes),
            api_calls=sum(report.api_calls.values()),
            read=report.read.value if report.read is not None else None,
            seconds=round(report.seconds, 3),
        )
        if self.notifier is None:
            return
        memory = self.notifier if isinstance(self.notifier, RemembersPosts) else None
        try:
            if memory is not None:
                memory.remember(
                    {
                        posted.fingerprint: posted.at.timestamp()
                        for posted in self._state.slack_posted
                    }
                )
            delivered = self.notifier.notify(report)
        except Exception as exc:  # Slack being down must never stop the loop
            log.warning("notify.failed", error=repr(exc))
            delivered = False
        self.metrics.observe_notification(delivered=delivered)
        if memory is not None:
            self._keep_posted(memory)

    def _keep_posted(self, memory: RemembersPosts) -> None:
        """Keep the notifier's dedup memory in the state, and save the state file when it
        changed (the pass's own save came before the notification), so that a controller
        started again does not post an identical drift or failure within the window. Shared
        with the writer lock at the next pass that holds it. Never raises."""
        try:
            posted = newest_posted(
                PostedMessage(fingerprint=fingerprint, at=datetime.fromtimestamp(at, UTC))
                for fingerprint, at in memory.posted().items()
            )
        except Exception as exc:  # a notifier's bug must not stop the loop
            log.warning("notify.memory_failed", error=repr(exc))
            return
        if posted == self._state.slack_posted:
            return
        self._state = replace(self._state, slack_posted=posted)
        if self._state_problem is not None:
            return  # the file is left as it is, for a person to look at
        try:
            self.state_file.save(self._state)
        except OSError as exc:
            log.error("state.unwritable", path=str(self.state_file.path), error=str(exc))
