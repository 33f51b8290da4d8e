"""The controller's Prometheus metrics, in a registry of its own (prometheus-client).

==============================================  =========  ====================================
metric                                          type       labels / meaning
==============================================  =========  ====================================
``reconciler_reconcile_duration_seconds``       histogram  wall time of each pass
``reconciler_passes_total``                     counter    ``result``: a ``PassStatus`` value
``reconciler_pass_errors_total``                counter    ``phase`` where a pass failed
                                                           (fetch, verify, load, read, guard, lock,
                                                           internal); lock also counts applies
                                                           abandoned because the lock was lost
``reconciler_source_fetch_errors_total``        counter    fetches that failed between passes
``reconciler_changes_applied_total``            counter    ``kind``, ``action``: operations
                                                           applied successfully
``reconciler_changes_failed_total``             counter    ``kind``, ``action``: operations that
                                                           failed
``reconciler_drift_items``                      gauge      ``kind``: drift found by the last
                                                           pass that read AWS
``reconciler_unmanaged_objects``                gauge      ``kind``: live objects beside the
                                                           revision in force, left alone
                                                           (drift the reconciler cannot heal),
                                                           as found by the last pass that read
                                                           AWS
``reconciler_last_applied_revision_info``       info       ``revision``: the revision in force
``reconciler_seconds_since_last_success``       gauge      seconds since the last completed
                                                           pass (since start when none yet)
``reconciler_aws_api_calls_total``              counter    ``operation``: AWS API calls
``reconciler_live_reads_total``                 counter    ``read``: live-state reads by way
                                                           (complete, hybrid; ``LiveRead``)
``reconciler_suspended``                        gauge      1 while writes are suspended
``reconciler_notifications_total``              counter    ``result``: posted, not_posted (nothing
                                                           worth posting, a duplicate, or Slack
                                                           failing: ``slack.post_failed`` logs)
==============================================  =========  ====================================

"Completed" follows ``PassStatus.completed``: in sync, applied, drifted or pending (not
``abandoned``: an apply stopped because the writer lock was lost).
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from reconciler.planning.outcomes import Outcome, Status
from reconciler.planning.plans import Kind
from reconciler.planning.reports import LiveRead, PassReport, PassStatus

__all__ = ["ControllerMetrics"]

_DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class ControllerMetrics:
    """Metrics of one controller, registered in ``registry`` (a new one by default).

    ``clock`` gives monotonic seconds; ``suspended`` is asked at every scrape.
    """

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        suspended: Callable[[], bool] = lambda: False,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self._started = clock()
        self._last_success: float | None = None
        reg = self.registry
        self.duration = Histogram(
            "reconciler_reconcile_duration_seconds",
            "Wall time of a reconcile pass, in seconds.",
            buckets=_DURATION_BUCKETS,
            registry=reg,
        )
        self.passes = Counter(
            "reconciler_passes", "Reconcile passes, by result.", ["result"], registry=reg
        )
        for status in PassStatus:
            self.passes.labels(result=status.value)
        self.errors = Counter(
            "reconciler_pass_errors",
            "Passes that met a pass-level error, by the phase it happened in.",
            ["phase"],
            registry=reg,
        )
        self.fetch_errors = Counter(
            "reconciler_source_fetch_errors",
            "Fetches of the repository that failed between passes (failures during a pass are "
            'in reconciler_pass_errors_total{phase="fetch"}).',
            registry=reg,
        )
        self.applied = Counter(
            "reconciler_changes_applied",
            "Operations applied successfully, by kind and action.",
            ["kind", "action"],
            registry=reg,
        )
        self.failed = Counter(
            "reconciler_changes_failed",
            "Operations that failed, by kind and action.",
            ["kind", "action"],
            registry=reg,
        )
        self.drift = Gauge(
            "reconciler_drift_items",
            "Differences between live state and the last applied revision, by kind, as found "
            "by the last pass that read AWS.",
            ["kind"],
            registry=reg,
        )
        for kind in Kind:
            self.drift.labels(kind=kind.value).set(0)
        self.unmanaged = Gauge(
            "reconciler_unmanaged_objects",
            "Live objects the revision in force neither declares nor may delete, by kind, as "
            "found by the last pass that read AWS: drift the reconciler leaves alone.",
            ["kind"],
            registry=reg,
        )
        for kind in Kind:
            self.unmanaged.labels(kind=kind.value).set(0)
        self.revision = Info(
            "reconciler_last_applied_revision",
            "The revision in force: the last one applied.",
            registry=reg,
        )
        self.since_success = Gauge(
            "reconciler_seconds_since_last_success",
            "Seconds since the last completed pass (since the controller started, when none).",
            registry=reg,
        )
        self.since_success.set_function(self._seconds_since_success)
        self.api_calls = Counter(
            "reconciler_aws_api_calls",
            "AWS API calls made by passes, by operation.",
            ["operation"],
            registry=reg,
        )
        self.live_reads = Counter(
            "reconciler_live_reads",
            "Reads of live state by passes, by way: complete (per permission set) or hybrid "
            "(per principal, given the previous read).",
            ["read"],
            registry=reg,
        )
        for way in LiveRead:
            self.live_reads.labels(read=way.value)
        self.suspended = Gauge(
            "reconciler_suspended", "1 while writes are suspended, else 0.", registry=reg
        )
        self.suspended.set_function(lambda: 1.0 if suspended() else 0.0)
        self.notifications = Counter(
            "reconciler_notifications",
            "Slack notifications, by result (posted, not_posted).",
            ["result"],
            registry=reg,
        )

    def _seconds_since_success(self) -> float:
        return self._clock() - (
            self._last_success if self._last_success is not None else self._started
        )

    def observe(self, report: PassReport, *, outcome: Outcome | None) -> None:
        """Count one pass: its result, duration, errors, applied changes, drift, API calls,
        the way it read live state."""
        self.duration.observe(report.seconds)
        self.passes.labels(result=report.status.value).inc()
        if report.phase is not None:
            self.errors.labels(phase=report.phase).inc()
        if outcome is not None:
            for result in outcome.results:
                labels = {
                    "kind": result.operation.kind.value,
                    "action": result.operation.action.value,
                }
                if result.status is Status.SUCCEEDED:
                    self.applied.labels(**labels).inc()
                elif result.status is Status.FAILED:
                    self.failed.labels(**labels).inc()
        if report.status.completed:
            self._last_success = self._clock()
        if report.read is not None:
            self.live_reads.labels(read=report.read.value).inc()
        for operation, count in report.api_calls.items():
            self.api_calls.labels(operation=operation).inc(count)
        if report.applied_revision is not None:
            self.revision.info({"revision": report.applied_revision})

    def observe_drift(self, drift_kinds: Tally[str]) -> None:
        """Set the drift gauge from counts by kind (kinds absent count 0)."""
        for kind in Kind:
            self.drift.labels(kind=kind.value).set(drift_kinds.get(kind.value, 0))

    def observe_unmanaged(self, unmanaged_kinds: Tally[str]) -> None:
        """Set the unmanaged gauge from counts by kind (kinds absent count 0)."""
        for kind in Kind:
            self.unmanaged.labels(kind=kind.value).set(unmanaged_kinds.get(kind.value, 0))

    def observe_notification(self, *, delivered: bool) -> None:
        """Count one report given to the notifier: ``delivered`` when it was posted."""
        self.notifications.labels(result="posted" if delivered else "not_posted").inc()
