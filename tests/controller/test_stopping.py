"""Stopping safely: once stop is asked, no operation starts, those in flight are polled to their
end, and the controller process exits 0 on SIGTERM leaving no request IN_PROGRESS unwatched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.adapters.aws.applying import STOPPED_REASON, ApplySettings, apply_plan
from reconciler.adapters.aws.clients import AwsClients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.adapters.source import GitSource
from reconciler.engine import checkout, load, plan_revision
from reconciler.planning.outcomes import Status
from reconciler.planning.plans import CreateAssignment
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig, RecordedCall

SLOW_ASSIGNMENTS = SandboxSettings(assignment_delay_seconds=1.5, provisioning_delay_seconds=0.05)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """Account assignment requests stay IN_PROGRESS for 1.5 s: long enough to stop mid-apply."""
    with Sandbox(SLOW_ASSIGNMENTS, faults=FaultConfig.parse("none")) as running:
        yield running


def unfinished_requests(sandbox: Sandbox) -> list[str]:
    """Request ids of asynchronous operations still IN_PROGRESS, without advancing time: a
    request no client polled after its delay stays so."""
    center = sandbox.identity_center
    with center.lock:
        return [op.request_id for op in center.operations.values() if op.status == "IN_PROGRESS"]


def wait_for_call(sandbox: Sandbox, operation: str, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(call.operation == operation for call in sandbox.calls):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {operation} call within {timeout} s")
        time.sleep(0.01)


def test_stopping_an_apply_finishes_requests_in_flight_and_starts_no_other(
    sandbox: Sandbox,
    access_repo: Path,
    aws: AwsClients,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    revision = checkout(GitSource(repository=str(access_repo), cache_dir=tmp_path / "cache"))
    live = read_live_state(aws)
    _, plan = plan_revision(load(revision), live, revision=revision.revision)
    stop = threading.Event()
    record = sandbox.recorder.record

    def record_and_stop_at_the_first_creation(call: RecordedCall) -> None:
        """The sandbox records a call before its client sees the answer: the stop is asked
        while the first creation is in flight, however slow the machine."""
        record(call)
        if call.operation == "CreateAccountAssignment":
            stop.set()

    monkeypatch.setattr(sandbox.recorder, "record", record_and_stop_at_the_first_creation)

    outcome = apply_plan(
        aws,
        plan,
        live,
        settings=ApplySettings(assignment_concurrency=2, poll_interval_seconds=0.02),
        stop=stop,
    )

    assignments = [r for r in outcome.results if isinstance(r.operation, CreateAssignment)]
    started = [r for r in assignments if r.status is Status.SUCCEEDED]
    skipped = [r for r in assignments if r.status is Status.SKIPPED]
    assert 1 <= len(started) <= 2
    assert len(started) + len(skipped) == len(assignments) == 7
    assert all(r.reason == STOPPED_REASON for r in skipped)
    created = [c for c in sandbox.calls if c.operation == "CreateAccountAssignment"]
    assert len(created) == len(started)
    assert unfinished_requests(sandbox) == []


def test_sigterm_mid_apply_leaves_no_request_unpolled_and_exits_0(
    sandbox: Sandbox, access_repo: Path, aws_environment: dict[str, str], tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "RECONCILER_CACHE_DIR": str(tmp_path / "cache"),
        "RECONCILER_APPLY_POLL_INTERVAL_SECONDS": "0.05",
        "RECONCILER_APPLY_ASSIGNMENT_CONCURRENCY": "2",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "--log-format",
            "json",
            "run",
            "--repo",
            str(access_repo),
            "--ref",
            "main",
            "--state-file",
            str(tmp_path / "state.json"),
            "--listen",
            "off",
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_call(sandbox, "CreateAccountAssignment")
        assert unfinished_requests(sandbox)  # the SIGTERM lands while requests are in flight
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, stderr[-3000:]
    assert time.monotonic() - signalled >= 0.5  # it waited for the requests in flight
    assert unfinished_requests(sandbox) == []
    created = [c for c in sandbox.calls if c.operation == "CreateAccountAssignment"]
    assert 1 <= len(created) <= 2  # nothing started after the signal
    assert "controller.stopping" in stderr
    assert STOPPED_REASON in stderr
