"""Fenced writes: a controller that lost its writer lock (paused past its lease, taken over,
its lock file replaced) makes no further write, and its pass is abandoned, not applied.

Time is injected: both leases read one fake epoch clock and one fake local clock, so "A is
paused for 61 seconds" is A's apply blocked between two operations while the clocks move.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from reconciler.adapters.aws.applying import ApplySettings, progress_listener
from reconciler.adapters.aws.clients import user_agent
from reconciler.adapters.locking import DynamoDbLease, FileLock
from reconciler.controller.loop import Controller
from reconciler.errors import WriterLockLostError
from reconciler.planning.outcomes import Status
from reconciler.planning.reports import PassReport, PassStatus
from reconciler.sandbox import Sandbox
from tests.controller.conftest import ControllerFactory, edit_json

TABLE = "reconciler-locks"
LOCK_NAME = "identity-center"
ONE_AT_A_TIME = ApplySettings(
    assignment_concurrency=1,
    provisioning_concurrency=1,
    identity_concurrency=1,
    poll_interval_seconds=0.02,
)
"""Operations one after the other, in the pass's thread: a pause between two is exact."""


class Clock:
    """A fake clock, shared by every lease of a test (time passes for all of them)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Time:
    """The epoch and local clocks of the leases, moved together."""

    def __init__(self) -> None:
        self.epoch = Clock(1_700_000_000.0)
        self.local = Clock(5_000.0)

    def advance(self, seconds: float) -> None:
        self.epoch.now += seconds
        self.local.now += seconds


def _dynamodb(sandbox: Sandbox, *, as_lease: bool = False) -> Any:
    """A DynamoDB client of the sandbox; ``as_lease``: one that calls as the product's lease
    (its User-Agent names the role, so the session's IAM policy check counts its calls)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(user_agent_extra=user_agent("lease")) if as_lease else None,
    )


@pytest.fixture
def table(sandbox: Sandbox) -> str:
    DynamoDbLease(
        table=TABLE, lock_name="setup", holder_id="setup", client=_dynamodb(sandbox)
    ).ensure_table()
    return TABLE


@pytest.fixture
def clocks() -> Time:
    return Time()


@pytest.fixture
def leases(sandbox: Sandbox, table: str, clocks: Time) -> Iterator[Any]:
    """``lease(holder, **options)``: a 60-second lease on the shared fake clocks (renewed
    every 15 s of real time: never, within a test), released at teardown."""
    made: list[DynamoDbLease] = []

    def make(holder_id: str, **options: Any) -> DynamoDbLease:
        options = {"clock": clocks.epoch, "local_clock": clocks.local, **options}
        lease = DynamoDbLease(
            table=table,
            lock_name=LOCK_NAME,
            holder_id=holder_id,
            lease_seconds=options.pop("lease_seconds", 60),
            client=_dynamodb(sandbox, as_lease=True),
            **options,
        )
        made.append(lease)
        return lease

    make.clocks = clocks  # type: ignore[attr-defined]
    yield make
    for lease in made:
        lease.release()


def _aws_writes(sandbox: Sandbox) -> int:
    """Write calls the sandbox received for Identity Center (the lease's own excluded)."""
    return sum(1 for call in sandbox.recorder.write_calls() if call.service != "dynamodb")


def _add_members(repository: Path) -> str:
    """Commit five changes (three group descriptions, two memberships); returns the SHA."""

    def change(document: Any) -> None:
        groups = {entry["name"]: entry for entry in document["groups"]}
        for entry in groups.values():
            entry["description"] += " (reviewed)"
        groups["AdminAccess"]["members"].append("sam.lee")
        groups["Auditors"]["members"].append("jane.doe")

    return edit_json(repository, "groups.json", change, "Five changes to groups")


class PausedApply:
    """Runs ``controller.run_once()`` in a thread whose apply blocks after its first operation
    until :meth:`resume` (a process paused mid-apply)."""

    def __init__(self, controller: Controller) -> None:
        self.paused = threading.Event()
        self._resume = threading.Event()
        self.report: PassReport | None = None
        self._thread = threading.Thread(target=self._run, args=(controller,), daemon=True)

    def _run(self, controller: Controller) -> None:
        def pause(_: object) -> None:
            if not self.paused.is_set():
                self.paused.set()
                assert self._resume.wait(timeout=60)

        context = contextvars.copy_context()
        context.run(progress_listener.set, pause)
        self.report = context.run(controller.run_once)

    def start(self) -> PausedApply:
        self._thread.start()
        assert self.paused.wait(timeout=60), "the apply never reached its first operation"
        return self

    def resume(self) -> PassReport:
        self._resume.set()
        self._thread.join(timeout=60)
        assert self.report is not None
        return self.report


def _controller(make_controller: ControllerFactory, lease: DynamoDbLease, **options: Any) -> Any:
    controller = make_controller(**options)
    controller.lock = lease
    controller.lock_margin_seconds = 5.0
    controller.apply_settings = ONE_AT_A_TIME
    return controller


def test_a_controller_paused_past_its_lease_makes_no_write_after_it_and_abandons_its_pass(
    make_controller: ControllerFactory,
    leases: Any,
    sandbox: Sandbox,
    access_repo: Path,
    tmp_path: Path,
) -> None:
    a = _controller(make_controller, leases("ctl-a"), state_file=tmp_path / "a.json")
    first = a.run_once()
    assert first.status is PassStatus.APPLIED
    before = a.state.last_applied_revision
    revision = _add_members(access_repo)

    paused = PausedApply(a).start()  # A made one change, then stopped
    leases.clocks.advance(61)  # A's lease expires while it is paused
    b = _controller(make_controller, leases("ctl-b"), state_file=tmp_path / "b.json")
    taken_over = b.run_once()
    writes_before_a_resumes = _aws_writes(sandbox)
    report = paused.resume()

    assert taken_over.status is PassStatus.APPLIED
    assert _aws_writes(sandbox) == writes_before_a_resumes  # not one write from A
    assert report.status is PassStatus.ABANDONED
    assert report.phase == "lock"
    assert report.revision == revision
    assert report.applied_revision == before
    assert a.state.last_applied_revision == before
    skipped = [item for item in report.changes if item.status == Status.SKIPPED.value]
    assert len(skipped) == 4
    assert all("the writer lock was lost" in (item.reason or "") for item in skipped)
    assert a.metrics.passes.labels(result="abandoned")._value.get() == 1


def test_a_lease_that_lapses_within_the_margin_stops_writes_before_it_expires(
    make_controller: ControllerFactory,
    leases: Any,
    sandbox: Sandbox,
    access_repo: Path,
    tmp_path: Path,
) -> None:
    a = _controller(make_controller, leases("ctl-a"), state_file=tmp_path / "a.json")
    a.run_once()
    _add_members(access_repo)

    paused = PausedApply(a).start()
    leases.clocks.advance(56)  # 4 s left: within the 5-second margin, not expired yet
    writes_at_pause = _aws_writes(sandbox)
    report = paused.resume()

    assert _aws_writes(sandbox) == writes_at_pause
    assert report.status is PassStatus.ABANDONED
    assert "margin" in (report.error or "")


def test_the_skip_reason_names_the_controller_holding_the_lease_now(
    make_controller: ControllerFactory, leases: Any, clocks: Time, access_repo: Path, tmp_path: Path
) -> None:
    a = _controller(make_controller, leases("ctl-a"), state_file=tmp_path / "a.json")
    a.run_once()
    _add_members(access_repo)

    paused = PausedApply(a).start()
    clocks.advance(61)
    holder = leases("ctl-b")
    assert holder.acquire()
    report = paused.resume()

    assert report.status is PassStatus.ABANDONED
    skipped = [item for item in report.changes if item.status == Status.SKIPPED.value]
    assert skipped
    assert all("ctl-b" in (item.reason or "") for item in skipped)


# -- the fencing token -------------------------------------------------------------------------


def _generation_in_table(sandbox: Sandbox) -> int:
    item = _dynamodb(sandbox).get_item(
        TableName=TABLE, Key={"lock_name": {"S": LOCK_NAME}}, ConsistentRead=True
    )["Item"]
    return int(item["generation"]["N"])


def test_every_acquisition_takes_a_higher_generation(
    leases: Any, clocks: Time, sandbox: Sandbox
) -> None:
    first = leases("ctl-a")
    first.acquire()
    taken = first.generation
    clocks.advance(61)
    second = leases("ctl-b")
    second.acquire()
    overtaken = second.generation
    second.release()
    third = leases("ctl-c")
    third.acquire()

    assert taken is not None
    assert overtaken is not None
    assert third.generation is not None
    assert taken < overtaken < third.generation
    assert _generation_in_table(sandbox) == third.generation


def test_a_renewal_finding_a_higher_generation_stops_writes(leases: Any) -> None:
    # Two processes given one holder id: the second takes the lease once it looks expired
    # to its (skewed) clock, while the first one's own deadline has not passed.
    first = leases("ctl-a", lease_seconds=0.8, clock=time.time, local_clock=time.monotonic)
    assert first.acquire()
    skewed = leases("ctl-a", lease_seconds=0.8, clock=lambda: time.time() + 60)
    assert skewed.acquire()

    deadline = time.monotonic() + 10
    while first.held and time.monotonic() < deadline:
        time.sleep(0.02)

    assert first.held is False
    with pytest.raises(WriterLockLostError):
        first.fence(0.1)


def test_a_lease_paused_past_its_deadline_refuses_to_write_at_once(
    leases: Any, clocks: Time
) -> None:
    mine = leases("ctl-a")
    mine.acquire()
    mine.fence(5.0)  # held, 60 s left
    clocks.advance(61)

    with pytest.raises(WriterLockLostError, match="expired"):
        mine.fence(5.0)
    assert mine.held is False


# -- the file lock -----------------------------------------------------------------------------


def test_a_file_lock_replaced_under_its_holder_stops_writes(tmp_path: Path) -> None:
    path = tmp_path / "writer.lock"
    mine = FileLock(path=path, holder_id="ctl-a")
    assert mine.acquire()
    mine.fence(0)
    path.unlink()  # a careless cleanup; the next holder locks a new file
    other = FileLock(path=path, holder_id="ctl-b")
    assert other.acquire()

    with pytest.raises(WriterLockLostError, match="ctl-b"):
        mine.fence(0)
    assert mine.held is False
    other.release()


def test_a_file_locks_generation_grows_with_every_holder(tmp_path: Path) -> None:
    path = tmp_path / "writer.lock"
    generations = []
    for holder in ("ctl-a", "ctl-b", "ctl-a"):
        lock = FileLock(path=path, holder_id=holder)
        assert lock.acquire()
        generations.append(lock.generation)
        lock.release()

    assert generations == [1, 2, 3]


def test_a_controller_whose_lock_file_is_replaced_mid_apply_abandons_its_pass(
    make_controller: ControllerFactory, sandbox: Sandbox, access_repo: Path, tmp_path: Path
) -> None:
    path = tmp_path / "writer.lock"
    a = make_controller(lock="file", lock_file=path, lock_holder="ctl-a")
    a.apply_settings = ONE_AT_A_TIME
    a.run_once()
    before = a.state.last_applied_revision
    _add_members(access_repo)

    paused = PausedApply(a).start()
    path.unlink()
    other = FileLock(path=path, holder_id="ctl-b")
    assert other.acquire()
    writes_at_pause = _aws_writes(sandbox)
    report = paused.resume()
    other.release()

    assert _aws_writes(sandbox) == writes_at_pause
    assert report.status is PassStatus.ABANDONED
    assert a.state.last_applied_revision == before
