"""The loop in a thread, with intervals of a fraction of a second: it reacts to commits, runs
drift passes on its interval, survives Git and AWS failures, and stops when asked."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.applying import apply_plan
from reconciler.adapters.aws.clients import AwsClients, make_clients
from reconciler.controller import loop
from reconciler.controller.loop import Controller
from reconciler.model.state import LiveState
from reconciler.planning.outcomes import Outcome
from reconciler.planning.plans import Plan
from reconciler.planning.reports import PassStatus
from reconciler.sandbox import Sandbox
from reconciler.sandbox.console import ConsoleActions
from reconciler.sandbox.faults import FaultConfig
from tests.controller.conftest import NO_LIMITS, ControllerFactory, Reports, add_member

Start = Callable[[Controller], threading.Thread]


def with_reports(controller: Controller) -> Reports:
    reports = Reports()
    controller.notifier = reports
    return reports


def test_a_new_commit_is_applied_without_waiting_for_the_interval(
    make_controller: ControllerFactory, access_repo: Path, running: Start
) -> None:
    controller = make_controller(interval_seconds=3600)
    reports = with_reports(controller)
    running(controller)
    reports.wait_for(lambda r: r.status is PassStatus.APPLIED)

    revision = add_member(access_repo, group="AdminAccess", user="sam.lee")

    report = reports.wait_for(lambda r: r.revision == revision)
    assert report.status is PassStatus.APPLIED  # within wait_for's 15 s, not the hour's interval
    assert len(reports.all) == 2  # no drift pass in between: the interval is an hour


def test_drift_is_healed_on_the_interval_without_a_new_commit(
    make_controller: ControllerFactory, console: ConsoleActions, running: Start
) -> None:
    controller = make_controller(interval_seconds=0.3)
    reports = with_reports(controller)
    running(controller)
    first = reports.wait_for(lambda r: r.status is PassStatus.APPLIED)

    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    healed = reports.wait_for(lambda r: r is not first and r.status is PassStatus.APPLIED)
    assert [item.key for item in healed.drift] == ["membership/AdminAccess/jane.doe"]
    assert healed.revision == first.revision


def test_the_loop_survives_an_unreachable_repository(
    make_controller: ControllerFactory, access_repo: Path, running: Start
) -> None:
    controller = make_controller(interval_seconds=0.2, retry_interval_seconds=0.05)
    reports = with_reports(controller)
    thread = running(controller)
    reports.wait_for(lambda r: r.status is PassStatus.APPLIED)
    moved = access_repo.with_name("moved-away")

    access_repo.rename(moved)
    failed = reports.wait_for(lambda r: r.status is PassStatus.ERROR)
    moved.rename(access_repo)
    count = len(reports.all)
    recovered = reports.wait_for(
        lambda r: r.status is PassStatus.IN_SYNC and reports.all.index(r) >= count
    )

    assert failed.phase == "fetch"
    assert failed.error is not None
    assert "not found" in failed.error or "unreachable" in failed.error
    assert recovered.revision is not None
    assert thread.is_alive()


def test_the_loop_survives_aws_errors(
    make_controller: ControllerFactory,
    sandbox: Sandbox,
    impatient_aws: AwsClients,
    running: Start,
) -> None:
    controller = make_controller(
        clients=impatient_aws, interval_seconds=0.2, retry_interval_seconds=0.05
    )
    reports = with_reports(controller)
    sandbox.configure_faults(FaultConfig.parse("none,http500=1.0"))
    thread = running(controller)

    failed = reports.wait_for(lambda r: r.status is PassStatus.ERROR)
    sandbox.configure_faults(FaultConfig.parse("none"))
    recovered = reports.wait_for(lambda r: r.status is PassStatus.APPLIED)

    assert failed.phase == "read"
    assert recovered.applied_revision is not None
    assert thread.is_alive()


def test_failed_passes_are_retried_with_growing_waits(
    make_controller: ControllerFactory, access_repo: Path, running: Start
) -> None:
    controller = make_controller(
        interval_seconds=30, retry_interval_seconds=0.1, poll_interval_seconds=30
    )
    reports = with_reports(controller)
    shutil.rmtree(access_repo)
    running(controller)

    reports.wait_for(lambda r: len(reports.all) >= 4)

    # From the end of one failed pass to the start of the next: the backoff, plus whatever
    # delay a busy machine adds (never less). The passes' own durations are left out.
    waits = [
        later.started_at.timestamp() - (earlier.started_at.timestamp() + earlier.seconds)
        for earlier, later in itertools.pairwise(reports.all[:4])
    ]
    assert all(report.status is PassStatus.ERROR for report in reports.all[:4])
    backoffs = (0.1, 0.2, 0.4)
    assert all(wait >= backoff - 0.01 for wait, backoff in zip(waits, backoffs, strict=True)), waits
    assert waits[0] < waits[2]  # grown: 0.1 s, then 0.4 s
    assert controller.schedule.failures >= 4


def test_stop_ends_the_loop(make_controller: ControllerFactory, running: Start) -> None:
    controller = make_controller(interval_seconds=3600, poll_interval_seconds=3600)
    reports = with_reports(controller)
    thread = running(controller)
    reports.wait_for(lambda r: True)

    controller.stop()
    thread.join(timeout=10)

    assert not thread.is_alive()


def test_two_controllers_racing_for_the_file_lock_never_apply_at_once(
    make_controller: ControllerFactory,
    access_repo: Path,
    tmp_path: Path,
    running: Start,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    windows: list[tuple[str, float, float]] = []
    lock = threading.Lock()

    def recorded(clients: AwsClients, plan: Plan, live: LiveState, **kwargs: Any) -> Outcome:
        name = "first" if clients is first.aws else "second"
        began = time.monotonic()
        outcome = apply_plan(clients, plan, live, **kwargs)
        with lock:
            windows.append((name, began, time.monotonic()))
        return outcome

    monkeypatch.setattr(loop, "apply_plan", recorded)
    shared = {"lock": "file", "lock_file": tmp_path / "writer.lock", "interval_seconds": 0.2}
    first = make_controller(lock_holder="first", state_file=tmp_path / "first.json", **shared)
    second = make_controller(
        clients=make_clients(rates=NO_LIMITS),
        lock_holder="second",
        state_file=tmp_path / "second.json",
        **shared,
    )
    first_reports, second_reports = with_reports(first), with_reports(second)
    running(first)
    running(second)
    first_reports.wait_for(lambda r: r.status is PassStatus.IN_SYNC)
    second_reports.wait_for(lambda r: r.status is PassStatus.IN_SYNC)

    revision = add_member(access_repo, group="AdminAccess", user="sam.lee")
    first_reports.wait_for(lambda r: r.revision == revision and r.status.converged)
    second_reports.wait_for(lambda r: r.revision == revision and r.status.converged)

    assert windows
    ordered = sorted(windows, key=lambda window: window[1])
    for (_, _, ended), (_, began, _) in itertools.pairwise(ordered):
        assert ended <= began  # one apply at a time
    busy = [r for r in first_reports.all + second_reports.all if r.phase == "lock"]
    assert all("held by" in (r.error or "") for r in busy)
