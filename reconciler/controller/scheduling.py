"""When the loop fetches and when it runs a full pass: intervals, jitter, retry backoff.

Pure arithmetic on monotonic seconds, so tests drive it with plain numbers:

- a full pass (read AWS, plan, heal or report) is due ``interval_seconds`` after the last
  completed one;
- between passes the repository is fetched every ``poll_interval_seconds``; a new commit
  starts a pass at once (the loop's decision, not the schedule's);
- after a failed pass the next one is due after ``retry_interval_seconds``, doubled after each
  further failure and capped at ``interval_seconds`` (exponential backoff); a pass that
  completes resets it;
- every wait is multiplied by a random factor in ``[1 - jitter, 1 + jitter]``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Schedule", "ScheduleSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSettings:
    """Durations in seconds (positive); ``jitter`` a fraction in ``[0, 1)``."""

    interval_seconds: float
    poll_interval_seconds: float
    retry_interval_seconds: float
    jitter: float = 0.0


class Schedule:
    """The next pass and the next fetch, from the results of the passes so far.

    ``rng`` draws the jitter (pass a seeded ``random.Random`` for reproducible tests). A new
    schedule has a pass due at once.
    """

    def __init__(self, settings: ScheduleSettings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()  # noqa: S311 -- jitter, not cryptography
        self._next_pass = float("-inf")
        self.failures = 0
        """Consecutive failed passes (0 after a completed one)."""

    def _jittered(self, seconds: float) -> float:
        spread = self.settings.jitter
        if spread <= 0:
            return seconds
        return seconds * self._rng.uniform(1.0 - spread, 1.0 + spread)

    def backoff_seconds(self, failures: int) -> float:
        """The wait before retrying after ``failures`` consecutive failures, without jitter."""
        if failures <= 0:
            return self.settings.interval_seconds
        retry = self.settings.retry_interval_seconds * 2.0 ** min(failures - 1, 62)
        return min(retry, self.settings.interval_seconds)

    def pass_due(self, now: float) -> bool:
        """Whether a full pass is due at ``now`` (drift interval or retry reached)."""
        return now >= self._next_pass

    def record_pass(self, *, failed: bool, now: float) -> float:
        """Note a pass that ended at ``now``; returns when the next pass is due."""
        self.failures = self.failures + 1 if failed else 0
        self._next_pass = now + self._jittered(self.backoff_seconds(self.failures))
        return self._next_pass

    def wait_seconds(self, now: float) -> float:
        """How long to wait after ``now`` before the next tick (a fetch, or a due pass)."""
        until_pass = max(0.0, self._next_pass - now)
        return min(until_pass, self._jittered(self.settings.poll_interval_seconds))
