"""Controllers built from settings use the writer lock the settings name."""

from __future__ import annotations

from pathlib import Path

from reconciler.adapters.locking import DynamoDbLease, FileLock
from reconciler.planning.reports import PassStatus
from tests.controller.conftest import ControllerFactory

TABLE = "reconciler-locks"


def test_a_dynamodb_lease_held_elsewhere_keeps_the_controller_from_writing(
    make_controller: ControllerFactory, aws_environment: dict[str, str]
) -> None:
    other = DynamoDbLease(table=TABLE, lock_name="identity-center", holder_id="ctl-b")
    other.ensure_table()
    other.acquire()
    controller = make_controller(
        lock="dynamodb", lock_table=TABLE, lock_name="identity-center", lock_holder="ctl-a"
    )

    blocked = controller.run_once()
    other.release()
    applied = controller.run_once()

    assert isinstance(controller.lock, DynamoDbLease)
    assert blocked.status is PassStatus.ERROR
    assert blocked.phase == "lock"
    assert "ctl-b" in (blocked.error or "")
    assert applied.status is PassStatus.APPLIED
    assert not controller.lock.held  # released after the pass


def test_a_file_lock_defaults_to_a_file_next_to_the_state_file(
    make_controller: ControllerFactory, tmp_path: Path
) -> None:
    other = FileLock(path=tmp_path / "state" / "state.lock", holder_id="ctl-b")
    other.acquire()
    controller = make_controller(lock="file", lock_holder="ctl-a")

    report = controller.run_once()
    other.release()

    assert report.phase == "lock"
    assert "ctl-b" in (report.error or "")
