"""The final status of asynchronous sso-admin requests, learnt with few calls and never guessed.

CreateAccountAssignment, DeleteAccountAssignment and ProvisionPermissionSet answer IN_PROGRESS
with a ``RequestId``; the request then ends SUCCEEDED or FAILED (botocore has no waiter for
them). What the API offers to learn how (IAM Identity Center API reference):

- ``Describe...Status`` (DescribeAccountAssignmentCreationStatus, ...DeletionStatus,
  DescribePermissionSetProvisioningStatus): one request by id, with ``Status`` and, when it
  FAILED, ``FailureReason``. One call per request.
- ``List...Status`` (ListAccountAssignmentCreationStatus, ...DeletionStatus,
  ListPermissionSetProvisioningStatus): every request of the instance, pages of up to 100,
  filtered by ``Filter.Status`` only (``OperationStatusFilter``: IN_PROGRESS, FAILED or
  SUCCEEDED). Each item (``AccountAssignmentOperationStatusMetadata``) has ``Status``,
  ``RequestId`` and ``CreatedDate``: no ``FailureReason``, no target.

What the API does not document, and what we therefore assume (each assumption is a setting or
is checked; the sandbox reproduces both uncertainties: ``SandboxSettings.status_list_lag_seconds``
and ``status_retention_seconds``):

1. **Lag.** Nothing says a request is listed as soon as it is accepted, or that a status change
   shows in the lists at once (they may be an eventually consistent index). Assumed: a list
   shows each request with a status it had at some moment of the last ``lag`` seconds
   (``ApplySettings.status_list_lag_seconds``), and lists a request once it is ``lag`` old.
2. **Retention.** Nothing says how long a request stays listed or describable. Assumed only that
   requests age out oldest first (by creation), from the lists and from Describe alike; no
   duration is assumed.
3. Statuses are final: a request that left IN_PROGRESS never returns to it.

How the status of a request is learnt (``RequestWatch``), in ``"lists"`` mode (the default):

- **Ended.** Waiters share one IN_PROGRESS poller: one List...Status call filtered on
  IN_PROGRESS (every page) answers for every request in flight. It is made when the most
  recently accepted request has waited ``interval`` seconds (a burst of writes is answered by
  one poll after its last write), or the oldest has waited four intervals, and never twice
  within ``interval``. A request absent from that list frees its place among the outstanding
  requests (AWS allows 15 per instance): if the list lagged, the next write may meet AWS's
  ThrottlingException, which botocore retries; nothing is concluded from it yet.
- **Qualified absence.** An absence counts toward the final status only from a read that began
  ``lag`` seconds after the request was accepted, or after the request had been seen listed
  IN_PROGRESS: by assumption 1 the list then shows the request with a status it had in the
  last ``lag`` seconds, and it is not IN_PROGRESS, so the request had ended before the read.
  A request listed IN_PROGRESS after an absence loses it (the list had lagged).
- **Settled by lists.** For the requests with a qualified absence read at time ``I``, one
  List...Status call filtered on FAILED (every page), begun at or after ``I + lag``: by
  assumption 1 it shows each of them with a status it had after ``I``, a final one (3), so a
  request absent from it did not fail. Those listed FAILED are described, one call each, for
  AWS's ``FailureReason``. The others are SUCCEEDED only if two canaries agree: the oldest and
  the youngest of them are described; the oldest still being describable after the FAILED list
  was read proves none of the younger ones had aged out of it (assumption 2), and the youngest
  (the one most likely to be late in the lists) being SUCCEEDED checks the lag assumption. If
  a canary disagrees (FAILED, IN_PROGRESS or not found), the lists are not trusted for this
  batch: every request is described, and ``lag`` doubles for the rest of the apply
  (``status_lists_disagreed`` is logged).
- **Settled by Describe.** When describing is cheaper (no more requests than the FAILED list
  has pages plus the two canaries) the requests are described one by one; so are, at the end
  of a run, the last few requests (at most ``tail_describe``) whose absence is not yet ``lag``
  old, rather than waiting for it.
- **Aged out.** A Describe answered ResourceNotFoundException means AWS forgot the request: the
  operation is FAILED with ``AGED_OUT_REASON`` (its effect is unknown; the next pass reads the
  live state and plans again), never SUCCEEDED.

So a request is reported SUCCEEDED only on AWS's Describe or on the lists read under the
assumptions above (checked by the canaries), and FAILED always with AWS's ``FailureReason``
(or ``AGED_OUT_REASON``). Calls per request, many in flight: the write, about one IN_PROGRESS
list call per ``assignment_concurrency`` requests, and per settled batch one FAILED list read
(its pages), two canaries and one Describe per failure; instead of one Describe each.

In ``"describe"`` mode a request absent from the IN_PROGRESS list is described at once, as
before: one Describe per request, never a list filtered on FAILED.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from reconciler.adapters.aws.clients import AwsClients
from reconciler.adapters.aws.errors import NOT_FOUND, pages
from reconciler.errors import AwsError

log = structlog.get_logger()

IN_PROGRESS = "IN_PROGRESS"
FAILED = "FAILED"
SUCCEEDED = "SUCCEEDED"
RequestStatus = Literal["lists", "describe"]
"""How ``RequestWatch`` learns the final status of requests (see the module docstring)."""
AGED_OUT_REASON = (
    "AWS no longer knows request {request_id} (it aged out before its status was read): "
    "whether it took effect is unknown; the next pass reads the live state and plans again"
)
"""Reason of an operation whose request Describe no longer finds."""


class RequestFailedError(Exception):
    """An asynchronous request ended FAILED (or timed out); ``reason`` is AWS's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Tracked:
    """What the watch knows of one request (monotonic seconds)."""

    accepted: float
    deadline: float
    seen: bool = False  # listed IN_PROGRESS by some read
    absent: bool = False  # missing from the latest IN_PROGRESS read that could list it
    qualified_at: float | None = None  # start of a read whose absence counts (see docstring)


class RequestWatch:
    """Learns the final status of one kind of asynchronous request (see the module docstring).

    ``list_method``/``list_key``: the List...Status call and its items' key;
    ``describe(request_id)`` returns the Describe...Status call's status object (raising
    ``AwsError``); ``interval``: least pause between IN_PROGRESS polls; ``lag``: how late the
    lists may be (doubled when a canary disagrees); ``tail_describe``: at most this many last
    requests of a run are described rather than waited for. Durations in seconds. Thread-safe:
    waiters share the polls; ``settle`` is called by one thread at a time.
    """

    def __init__(
        self,
        *,
        clients: AwsClients,
        instance_arn: str,
        list_method: str,
        list_key: str,
        describe: Callable[[str], Mapping[str, Any]],
        interval: float,
        lag: float = 0.5,
        mode: RequestStatus = "lists",
        tail_describe: int = 15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._instance_arn = instance_arn
        self._list_method = list_method
        self._list_key = list_key
        self._describe_call = describe
        self._interval = interval
        self.lag = lag
        self.mode = mode
        self.tail_describe = tail_describe
        self._clock = clock
        self._cond = threading.Condition()
        self._tracked: dict[str, _Tracked] = {}
        self._waiting: set[str] = set()
        self._polling = False
        self._last_poll = -float("inf")
        self._failed_pages = 1

    # --- waiting for requests to leave IN_PROGRESS ---------------------------------------------

    def wait_ended(self, request_id: str, *, deadline: float) -> Mapping[str, Any] | None:
        """Wait until ``request_id`` (just accepted) is no longer listed IN_PROGRESS.

        Returns its final status in ``"describe"`` mode (``Status``, ``FailureReason``), None in
        ``"lists"`` mode (learn it with ``settle``). Raises ``RequestFailedError`` when
        ``deadline`` (monotonic seconds) passes first.
        """
        now = self._clock()
        with self._cond:
            self._tracked[request_id] = _Tracked(accepted=now, deadline=deadline)
            self._waiting.add(request_id)
        try:
            while True:
                self._wait_absent(request_id, deadline=deadline)
                if self.mode == "lists":
                    return None
                status = self._describe_call(request_id)
                if status.get("Status") != IN_PROGRESS:
                    with self._cond:
                        self._tracked.pop(request_id, None)
                    return status
                with self._cond:  # the list lagged behind: keep waiting
                    tracked = self._tracked[request_id]
                    tracked.absent, tracked.seen = False, True
        except BaseException:
            with self._cond:
                self._waiting.discard(request_id)
                self._tracked.pop(request_id, None)
            raise
        finally:
            with self._cond:
                self._waiting.discard(request_id)

    def _poll_due(self, now: float) -> bool:
        if self._polling or not self._waiting or now < self._last_poll + self._interval:
            return False
        accepted = [self._tracked[r].accepted for r in self._waiting]
        return now >= max(accepted) + self._interval or now >= min(accepted) + 4 * self._interval

    def _wait_absent(self, request_id: str, *, deadline: float) -> None:
        while True:
            with self._cond:
                while True:
                    if self._tracked[request_id].absent:
                        return
                    now = self._clock()
                    if now >= deadline:
                        raise RequestFailedError(
                            f"timed out: request {request_id} still IN_PROGRESS after the "
                            "polling deadline"
                        )
                    if self._poll_due(now):
                        self._polling = True
                        break
                    self._cond.wait(timeout=max(0.005, min(self._interval / 4, deadline - now)))
            self._poll()

    def _poll(self) -> None:
        """One IN_PROGRESS read (every page); marks the tracked requests listed or absent."""
        started = self._clock()
        listed = self._listed(IN_PROGRESS)
        with self._cond:
            self._polling = False
            self._last_poll = started
            if listed is not None:
                for request_id, tracked in self._tracked.items():
                    if request_id in listed:
                        tracked.seen, tracked.absent, tracked.qualified_at = True, False, None
                    elif tracked.accepted <= started:
                        tracked.absent = True
                        if tracked.qualified_at is None and (
                            tracked.seen or started >= tracked.accepted + self.lag
                        ):
                            tracked.qualified_at = started
            self._cond.notify_all()

    def _listed(self, status: str) -> set[str] | None:
        """Request ids listed with ``status`` (every page), or None when the call failed."""
        try:
            listed = list(
                pages(
                    self._clients.sso_admin,
                    self._list_method,
                    InstanceArn=self._instance_arn,
                    Filter={"Status": status},
                )
            )
        except AwsError as exc:
            log.warning("status_poll_failed", operation=exc.operation, error=str(exc))
            return None
        if status == FAILED:
            self._failed_pages = max(1, len(listed))
        return {item["RequestId"] for page in listed for item in page.get(self._list_key, [])}

    # --- settling final statuses ---------------------------------------------------------------

    def ready(self, request_ids: Iterable[str]) -> int:
        """How many of ``request_ids`` ``settle`` could settle now without waiting."""
        now = self._clock()
        with self._cond:
            return sum(
                1
                for r in request_ids
                if (t := self._tracked.get(r)) is not None
                and t.qualified_at is not None
                and now >= t.qualified_at + self.lag
            )

    def settle(
        self, request_ids: Collection[str], *, wait: bool
    ) -> dict[str, Mapping[str, Any] | RequestFailedError]:
        """The final status of each of ``request_ids`` (requests ``wait_ended`` returned for),
        or the ``RequestFailedError`` of one whose deadline passed.

        With ``wait`` every request is settled, waiting (and polling) as long as needed; without
        it only those ready now are, and the others are left out of the answer.
        """
        results: dict[str, Mapping[str, Any] | RequestFailedError] = {}
        remaining = set(request_ids)
        while remaining:
            now = self._clock()
            with self._cond:
                for request_id in sorted(remaining):
                    tracked = self._tracked[request_id]
                    if now >= tracked.deadline:
                        results[request_id] = RequestFailedError(
                            f"timed out: the final status of request {request_id} was not "
                            "learnt before the polling deadline"
                        )
                        remaining.discard(request_id)
                ready = [
                    r
                    for r in remaining
                    if (q := self._tracked[r].qualified_at) is not None and now >= q + self.lag
                ]
            if wait and len(remaining) <= self._failed_pages + 2:
                # Describing is the cheapest here, and Describe is never late: no lag to wait.
                settled = self._describe_each(sorted(remaining))
                ready = sorted(remaining)
            elif wait and len(ready) < len(remaining):
                young = sorted(remaining - set(ready))
                if ready and len(young) <= self.tail_describe:
                    # The end of a run: rather than wait ``lag`` more for the few requests that
                    # ended last, describe them (Describe is never late) beside the lists.
                    settled = self._settle_ready(ready)
                    settled.update(self._describe_each(young))
                    ready = [*ready, *young]
                else:
                    settled = {}  # settle them together: one FAILED list read for all
                    ready = []
            else:
                settled = self._settle_ready(ready) if ready else {}
            results.update(settled)
            remaining -= settled.keys()
            if not wait:
                break
            if ready and not settled:  # AWS did not answer: try again after a pause
                time.sleep(self._interval)
            elif remaining:
                self._advance_toward(remaining)
        with self._cond:
            for request_id in results:
                self._tracked.pop(request_id, None)
        return results

    def _advance_toward(self, remaining: Collection[str]) -> None:
        """Sleep until the next step for ``remaining`` is possible, then poll if it needs one."""
        now = self._clock()
        with self._cond:
            steps: list[float] = []
            needs_poll = False
            for request_id in remaining:
                tracked = self._tracked[request_id]
                if tracked.qualified_at is not None:
                    steps.append(tracked.qualified_at + self.lag)
                else:
                    needs_poll = True
                    steps.append(
                        max(
                            self._last_poll + self._interval,
                            tracked.accepted + (0.0 if tracked.seen else self.lag),
                        )
                    )
            until = min([*steps, *(self._tracked[r].deadline for r in remaining)])
        if until > now:
            time.sleep(min(until - now, max(self._interval, 0.005)))
            return
        if needs_poll:
            with self._cond:
                while self._polling:
                    self._cond.wait(timeout=self._interval)
                self._polling = True
            self._poll()

    def _settle_ready(self, ready: list[str]) -> dict[str, Mapping[str, Any] | RequestFailedError]:
        """Final statuses of requests with a qualified absence at least ``lag`` old."""
        if len(ready) <= self._failed_pages + 2:
            return self._describe_each(ready)
        failed = self._listed(FAILED)
        if failed is None:
            return {}
        results = self._describe_each([r for r in ready if r in failed])
        others = sorted(
            (r for r in ready if r not in failed), key=lambda r: self._tracked[r].accepted
        )
        if len(others) <= 2:
            results.update(self._describe_each(others))
            return results
        canaries = self._describe_each([others[0], others[-1]])
        results.update(canaries)
        if (
            all(
                not isinstance(status, RequestFailedError) and status.get("Status") == SUCCEEDED
                for status in canaries.values()
            )
            and len(canaries) == 2
        ):
            for request_id in others[1:-1]:
                results[request_id] = {"Status": SUCCEEDED, "RequestId": request_id}
            return results
        aged_out = any(
            not isinstance(status, RequestFailedError)
            and str(status.get("FailureReason", "")).startswith("AWS no longer knows")
            for status in canaries.values()
        )
        if not aged_out:  # the lists were later than assumed: assume more from now on
            self.lag *= 2
        log.warning(
            "status_lists_disagreed",
            operation=self._list_method,
            canaries={r: _status_word(s) for r, s in canaries.items()},
            aged_out=aged_out,
            lag_seconds=self.lag,
        )
        results.update(self._describe_each(others[1:-1]))
        return results

    def _describe_or_error(self, request_id: str) -> Mapping[str, Any] | AwsError:
        try:
            return self._describe_call(request_id)
        except AwsError as exc:
            return exc

    def _describe_each(
        self, request_ids: Iterable[str]
    ) -> dict[str, Mapping[str, Any] | RequestFailedError]:
        """Describe each request; IN_PROGRESS ones (the lists lagged) lose their absence and are
        left out, like those whose Describe failed for another reason than not found."""
        results: dict[str, Mapping[str, Any] | RequestFailedError] = {}
        wanted = list(request_ids)
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(wanted)))) as pool:
            answers = list(pool.map(self._describe_or_error, wanted))
        for request_id, answer in zip(wanted, answers, strict=True):
            try:
                if isinstance(answer, AwsError):
                    raise answer
                status = answer
            except AwsError as exc:
                if exc.code == NOT_FOUND:
                    results[request_id] = {
                        "Status": FAILED,
                        "RequestId": request_id,
                        "FailureReason": AGED_OUT_REASON.format(request_id=request_id),
                    }
                else:
                    log.warning("status_describe_failed", operation=exc.operation, error=str(exc))
                continue
            if status.get("Status") == IN_PROGRESS:
                with self._cond:
                    tracked = self._tracked[request_id]
                    tracked.seen, tracked.absent, tracked.qualified_at = True, False, None
                continue
            results[request_id] = status
        return results


def _status_word(status: Mapping[str, Any] | RequestFailedError) -> str:
    if isinstance(status, RequestFailedError):
        return "timed out"
    return str(status.get("Status"))
