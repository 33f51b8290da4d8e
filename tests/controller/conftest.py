"""Fixtures of the controller tests: a sandbox without rate limits, clients that fail fast,
the example repository, and a factory of controllers with short intervals.

Passes run in the test's thread (``tick``, ``run_once``) or in a loop thread with intervals of
a fraction of a second; nothing waits for a real drift interval.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.adapters.locking import DynamoDbLease
from reconciler.controller.loop import Controller
from reconciler.controller.settings import load_settings
from reconciler.controller.wiring import build_controller
from reconciler.model.state import Membership
from reconciler.planning.reports import PassReport
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.console import ConsoleActions
from reconciler.sandbox.faults import FaultConfig
from tests.support import commit_all

FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)
NO_LIMITS = RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0)

QUICK: dict[str, Any] = {
    "ref": "main",
    "apply_poll_interval_seconds": 0.02,
    "interval_seconds": 0.3,
    "poll_interval_seconds": 0.05,
    "retry_interval_seconds": 0.05,
    "jitter": 0.0,
    "listen": "off",
}
"""Settings that make a loop tick every 50 ms and run a full pass every 300 ms."""


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The sandbox of the shared fixtures, without request-rate limits (quicker passes)."""
    with Sandbox(FAST, faults=FaultConfig.parse("none"), shape_check=True) as running:
        yield running


@pytest.fixture
def aws(aws_environment: dict[str, str]) -> AwsClients:
    """Clients pointed at the sandbox, without client-side rate limits."""
    return make_clients(rates=NO_LIMITS)


@pytest.fixture
def impatient_aws(aws_environment: dict[str, str]) -> AwsClients:
    """Clients that try each call once (no botocore retry): an AWS error shows at once."""
    session = boto3.Session()
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=5)
    return AwsClients(
        sso_admin=session.client("sso-admin", config=config),
        identitystore=session.client("identitystore", config=config),
        organizations=session.client("organizations", config=config),
        sts=session.client("sts", config=config),
    )


@pytest.fixture
def console(aws_environment: dict[str, str]) -> ConsoleActions:
    """Hand changes, as someone in the AWS console would make them."""
    return ConsoleActions(aws_environment)


ControllerFactory = Callable[..., Controller]


@pytest.fixture
def make_controller(access_repo: Path, tmp_path: Path, aws: AwsClients) -> ControllerFactory:
    """``make_controller(**settings)``: a controller on the example repository (branch main),
    with its own cache and state file under ``tmp_path`` and quick intervals (``QUICK``);
    ``now`` is the wall clock of the deletion guard's window (default: the system's).
    Controllers made by one test share the state file, like restarts of one deployment."""

    def make(
        *,
        clients: AwsClients | None = None,
        now: Callable[[], datetime] | None = None,
        **overrides: Any,
    ) -> Controller:
        settings = load_settings(
            overrides={
                "repository": str(access_repo),
                "cache_dir": tmp_path / "cache",
                "state_file": tmp_path / "state" / "state.json",
                **QUICK,
                **overrides,
            }
        )
        return build_controller(settings, aws=clients or aws, now=now)

    return make


def edit_json(repository: Path, file: str, change: Callable[[Any], None], message: str) -> str:
    """Load ``desired-state/<file>``, let ``change`` edit it, write and commit; returns the SHA."""
    path = repository / "desired-state" / file
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))
    return commit_all(repository, message)


def add_member(repository: Path, *, group: str, user: str) -> str:
    """Commit ``user`` as a new member of ``group``; returns the SHA."""

    def change(document: Any) -> None:
        for entry in document["groups"]:
            if entry["name"] == group:
                entry["members"].append(user)

    return edit_json(repository, "groups.json", change, f"Add {user} to {group}")


def break_revision(repository: Path) -> str:
    """Commit a users.json that is not JSON; returns the SHA."""
    (repository / "desired-state" / "users.json").write_text('{"users": [')
    return commit_all(repository, "A broken users.json")


def memberships(aws: AwsClients) -> set[Membership]:
    """The group memberships in the identity store now."""
    return set(read_live_state(aws).state.memberships)


def write_calls(sandbox: Sandbox) -> list[str]:
    """Names of the write operations the sandbox received so far, in order."""
    return [call.operation for call in sandbox.recorder.write_calls()]


class Reports:
    """A notifier double: keeps every report it is given (thread-safe)."""

    def __init__(self) -> None:
        self._reports: list[PassReport] = []
        self._lock = threading.RLock()  # predicates of wait_for may read ``all``
        self.arrived = threading.Condition(self._lock)

    def notify(self, report: PassReport) -> bool:
        with self._lock:
            self._reports.append(report)
            self.arrived.notify_all()
        return True

    @property
    def all(self) -> list[PassReport]:
        with self._lock:
            return list(self._reports)

    def wait_for(
        self, predicate: Callable[[PassReport], bool], *, timeout: float = 15.0
    ) -> PassReport:
        """The first report (old or new) satisfying ``predicate``; fails after ``timeout``."""
        with self._lock:
            found: list[PassReport] = []

            def match() -> bool:
                found[:] = [r for r in self._reports if predicate(r)]
                return bool(found)

            if not self.arrived.wait_for(match, timeout=timeout):
                raise AssertionError(
                    f"no matching report in {timeout} s; got "
                    f"{[(r.status.value, r.phase) for r in self._reports]}"
                )
            return found[0]


@pytest.fixture
def running() -> Iterator[Callable[[Controller], threading.Thread]]:
    """``running(controller)`` starts ``controller.run()`` in a thread; stopped at teardown."""
    started: list[tuple[Controller, threading.Thread]] = []

    def start(controller: Controller) -> threading.Thread:
        thread = threading.Thread(target=controller.run, name="controller-loop", daemon=True)
        thread.start()
        started.append((controller, thread))
        return thread

    yield start
    for controller, thread in started:
        controller.stop()
        thread.join(timeout=30)


@pytest.fixture(params=["file", "dynamodb"])
def shared_lock(
    request: pytest.FixtureRequest, tmp_path: Path, aws_environment: dict[str, str]
) -> dict[str, Any]:
    """Settings of a writer lock shared by every controller of the test (a lock file, or a
    DynamoDB lease in the sandbox), each controller keeping a state file of its own."""
    if request.param == "file":
        return {"lock": "file", "lock_file": tmp_path / "shared.lock"}
    DynamoDbLease(table="locks", lock_name="setup", holder_id="setup").ensure_table()
    return {"lock": "dynamodb", "lock_table": "locks"}
