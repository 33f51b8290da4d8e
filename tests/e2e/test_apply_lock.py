"""``apply`` takes the controller's writer lock: a laptop or CI ``apply`` never writes beside a
running controller (or another ``apply``), whichever lock the controller uses (a lock file on
one host, a DynamoDB lease shared by every host)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.clients import make_clients
from reconciler.adapters.locking import DynamoDbLease, FileLock, WriterLock
from reconciler.controller.settings import load_settings
from reconciler.controller.wiring import make_lock
from reconciler.engine import Revision, reconcile
from reconciler.errors import WriterLockLostError
from reconciler.sandbox import Sandbox
from tests.e2e.test_cli import run_cli

pytestmark = pytest.mark.usefixtures("aws_environment")


@pytest.fixture(params=["file", "dynamodb"])
def lock_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The ``RECONCILER_*`` variables of a controller's writer lock: a lock file, or a DynamoDB
    lease in the sandbox."""
    if request.param == "file":
        return {"RECONCILER_LOCK": "file", "RECONCILER_LOCK_FILE": str(tmp_path / "writer.lock")}
    DynamoDbLease(table="locks", lock_name="setup", holder_id="setup").ensure_table()
    return {"RECONCILER_LOCK": "dynamodb", "RECONCILER_LOCK_TABLE": "locks"}


def _lock(settings: dict[str, str], repository: Path, holder: str) -> WriterLock:
    """The lock those settings name, as a controller of ``repository`` would take it."""
    if settings["RECONCILER_LOCK"] == "file":
        return FileLock(path=Path(settings["RECONCILER_LOCK_FILE"]), holder_id=holder)
    # The lease a controller of the repository takes (named after the instance, else the
    # default name): the CLI must take the same one.
    controller = load_settings(
        overrides={"repository": str(repository), "lock": "dynamodb", "lock_table": "locks"}
    )
    made = make_lock(controller.model_copy(update={"lock_holder": holder}))
    assert made is not None
    return made


@pytest.fixture
def controller_holding(lock_settings: dict[str, str], access_repo: Path) -> Iterator[WriterLock]:
    lock = _lock(lock_settings, access_repo, "controller-on-another-host")
    assert lock.acquire()
    yield lock
    lock.release()


def _identity_center_writes(sandbox: Sandbox) -> int:
    """Writes to Identity Center (the lock's own DynamoDB writes left out)."""
    return sum(1 for call in sandbox.recorder.write_calls() if call.service != "dynamodb")


def _apply(repository: Path, settings: dict[str, str], *extra: str) -> Any:
    return run_cli(
        "apply", "--repo", str(repository), "--format", "json", *extra,
        env={**os.environ, **settings},
    )  # fmt: skip


def test_apply_refuses_while_a_controller_holds_the_writer_lock(
    access_repo: Path, lock_settings: dict[str, str], controller_holding: WriterLock,
    sandbox: Sandbox,
) -> None:  # fmt: skip
    writes_before = _identity_center_writes(sandbox)

    result = _apply(access_repo, lock_settings)

    assert result.returncode == 1, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "lock"
    assert "controller-on-another-host" in error["message"]
    assert "Nothing was applied" in error["message"]
    assert _identity_center_writes(sandbox) == writes_before


def test_apply_takes_the_writer_lock_and_gives_it_back(
    access_repo: Path, lock_settings: dict[str, str], sandbox: Sandbox
) -> None:
    result = _apply(access_repo, lock_settings)

    assert result.returncode == 0, result.stdout + result.stderr
    assert _identity_center_writes(sandbox)
    after = _lock(lock_settings, access_repo, "the-controller-after")
    assert after.acquire(), "apply left the writer lock held"
    after.release()


def test_a_saved_plan_is_not_applied_while_a_controller_holds_the_writer_lock(
    access_repo: Path, lock_settings: dict[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    saved = tmp_path / "reviewed.plan.json"
    planned = run_cli("plan", "--repo", str(access_repo), "--out", str(saved))
    assert planned.returncode == 2, planned.stdout + planned.stderr
    holder = _lock(lock_settings, access_repo, "controller-on-another-host")
    assert holder.acquire()
    try:
        writes_before = _identity_center_writes(sandbox)
        result = _apply(access_repo, lock_settings, str(saved))
    finally:
        holder.release()

    assert result.returncode == 1, result.stdout + result.stderr
    assert json.loads(result.stdout)["error"]["kind"] == "lock"
    assert _identity_center_writes(sandbox) == writes_before


def test_an_apply_whose_lock_is_lost_stops_writing(access_repo: Path, sandbox: Sandbox) -> None:
    """The fence of the lock ``apply`` holds is checked before every write: once it says the
    lock is gone (the lease taken over while this process was paused), nothing more is sent."""
    checks = 0

    def fence() -> None:
        nonlocal checks
        checks += 1
        if checks > 1:
            raise WriterLockLostError("the lease was taken over", holder="another-controller")

    result = reconcile(
        revision=Revision(revision=None, folder=access_repo / "desired-state"),
        aws=make_clients(),
        apply=True,
        allow_uncommitted=True,
        fence=fence,
    )

    assert result.outcome is not None
    assert result.outcome.lock_lost
    assert len(result.plan.operations) > 2
    assert _identity_center_writes(sandbox) <= 1
