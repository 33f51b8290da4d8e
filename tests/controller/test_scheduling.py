"""The schedule as plain arithmetic on a fake clock: intervals, backoff, jitter, polling."""

from __future__ import annotations

import random

import pytest

from reconciler.controller.scheduling import Schedule, ScheduleSettings

SETTINGS = ScheduleSettings(
    interval_seconds=300, poll_interval_seconds=60, retry_interval_seconds=10
)


def test_a_new_schedule_has_a_pass_due_at_once() -> None:
    assert Schedule(SETTINGS).pass_due(0.0)


def test_the_next_pass_is_due_one_interval_after_a_completed_pass() -> None:
    schedule = Schedule(SETTINGS)

    schedule.record_pass(failed=False, now=1000.0)

    assert not schedule.pass_due(1299.0)
    assert schedule.pass_due(1300.0)


def test_retries_back_off_exponentially_up_to_the_interval() -> None:
    schedule = Schedule(SETTINGS)
    now = 0.0
    waits = []
    for _ in range(7):
        due = schedule.record_pass(failed=True, now=now)
        waits.append(due - now)
        now = due

    assert waits == [10, 20, 40, 80, 160, 300, 300]


def test_a_completed_pass_resets_the_backoff() -> None:
    schedule = Schedule(SETTINGS)
    for now in (0.0, 10.0, 30.0):
        schedule.record_pass(failed=True, now=now)

    schedule.record_pass(failed=False, now=100.0)
    due = schedule.record_pass(failed=True, now=200.0)

    assert schedule.failures == 1
    assert due == 210.0


def test_between_passes_the_loop_wakes_to_fetch_every_poll_interval() -> None:
    schedule = Schedule(SETTINGS)
    schedule.record_pass(failed=False, now=0.0)

    assert schedule.wait_seconds(0.0) == 60.0
    assert schedule.wait_seconds(280.0) == 20.0  # the pass comes first
    assert schedule.wait_seconds(400.0) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_jitter_spreads_waits_within_its_fraction(seed: int) -> None:
    settings = ScheduleSettings(
        interval_seconds=100, poll_interval_seconds=100, retry_interval_seconds=1, jitter=0.2
    )
    schedule = Schedule(settings, rng=random.Random(seed))  # noqa: S311 - jitter, not secrets

    dues = [schedule.record_pass(failed=False, now=0.0) for _ in range(50)]

    assert all(80.0 <= due <= 120.0 for due in dues)
    assert len(set(dues)) > 1
