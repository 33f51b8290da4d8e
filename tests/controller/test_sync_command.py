"""``reconciler sync`` as a user runs it (a subprocess) against a controller served on
127.0.0.1: a running loop (sandbox, real repository) for the reports, a bare ``Triggers``
(no loop) for the refusals, so that "no pass was asked for" is read right after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.controller.loop import Controller
from reconciler.controller.serving import OperationsServer
from reconciler.controller.triggers import Triggers
from reconciler.planning.reports import PassStatus
from tests.controller.conftest import ControllerFactory, Reports
from tests.controller.webhooks import TOKEN, serve

Start = Callable[[Controller], threading.Thread]
HOUR = 3600.0


def sync(
    url: str, *args: str, token: bytes | None = TOKEN, token_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("RECONCILER_SYNC")
    }
    if token is not None:
        environment["RECONCILER_SYNC_TOKEN"] = token.decode()
    if token_file is not None:
        environment["RECONCILER_SYNC_TOKEN_FILE"] = str(token_file)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "sync", "--controller", url, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def serving(controller: Controller) -> OperationsServer:
    return serve(controller.triggers, registry=controller.metrics.registry).start()


@pytest.fixture
def loop(
    make_controller: ControllerFactory, running: Start
) -> Iterator[tuple[Controller, Reports, OperationsServer]]:
    """A running loop (its first pass over; the next poll and drift pass an hour away), served."""
    controller = make_controller(interval_seconds=HOUR, poll_interval_seconds=HOUR)
    reports = Reports()
    controller.notifier = reports
    running(controller)
    reports.wait_for(lambda r: r.status is PassStatus.APPLIED)
    server = serving(controller)
    yield controller, reports, server
    server.stop()


@pytest.fixture
def idle() -> Iterator[tuple[Triggers, OperationsServer]]:
    """A controller endpoint with no loop behind it: no pass ever ends."""
    triggers = Triggers()
    with serve(triggers) as server:
        yield triggers, server


def test_sync_prints_the_report_of_the_pass_it_asked_for_and_exits_0(
    loop: tuple[Controller, Reports, OperationsServer],
) -> None:
    _, reports, server = loop
    before = len(reports.all)

    result = sync(server.url)

    assert result.returncode == 0, result.stderr
    assert len(reports.all) == before + 1
    newest = reports.all[-1]
    assert result.stdout.startswith(f"pass {newest.pass_id}: in_sync")
    assert (newest.revision or "")[:12] in result.stdout


def test_sync_prints_the_report_document_with_format_json(
    loop: tuple[Controller, Reports, OperationsServer], tmp_path: Path
) -> None:
    _, reports, server = loop
    token_file = tmp_path / "token"
    token_file.write_bytes(TOKEN + b"\n")  # as a mounted Secret often holds it

    result = sync(server.url, "--format", "json", token=None, token_file=token_file)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["pass_id"] == reports.all[-1].pass_id
    assert document["status"] == "in_sync"


def test_sync_exits_2_when_changes_are_left_in_detect_mode(
    make_controller: ControllerFactory, running: Start
) -> None:
    controller = make_controller(mode="detect", interval_seconds=HOUR, poll_interval_seconds=HOUR)
    reports = Reports()
    controller.notifier = reports
    running(controller)
    reports.wait_for(lambda r: r.status is PassStatus.PENDING)
    server = serving(controller)
    try:
        result = sync(server.url)
    finally:
        server.stop()

    assert result.returncode == 2, result.stderr
    assert ": pending" in result.stdout.splitlines()[0]


def test_sync_without_a_token_is_refused_before_asking(
    idle: tuple[Triggers, OperationsServer],
) -> None:
    triggers, server = idle

    result = sync(server.url, token=None)

    assert result.returncode == 1
    assert "no sync token" in result.stdout + result.stderr
    assert not triggers.pending
    assert triggers.ticks == 0


def test_sync_with_a_wrong_token_is_refused(idle: tuple[Triggers, OperationsServer]) -> None:
    triggers, server = idle

    result = sync(server.url, token=b"0000000000000000-not-the-token")

    assert result.returncode == 1
    assert "refused the sync request (401" in result.stdout + result.stderr
    assert not triggers.pending


def test_sync_gives_up_after_its_timeout(idle: tuple[Triggers, OperationsServer]) -> None:
    _, server = idle

    result = sync(server.url, "--timeout", "1", "--format", "json")

    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "sync"
    assert "no pass ended within 1 s" in error["message"]
