"""Push webhooks and sync requests reaching a running loop (sandbox, real Git repository, real
HTTP on 127.0.0.1). The loop polls the repository once an hour and runs a drift pass once an
hour: whatever happens within a test's deadline was started by the request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.controller.loop import Controller
from reconciler.controller.serving import OperationsServer
from reconciler.planning.reports import PassStatus
from reconciler.sandbox import Sandbox
from tests.controller.conftest import ControllerFactory, Reports, add_member
from tests.controller.webhooks import (
    SECRET,
    TOKEN,
    call,
    github_headers,
    gitlab_headers,
    push_payload,
    serve,
)

Start = Callable[[Controller], threading.Thread]
HOUR = 3600.0


@pytest.fixture
def controller(make_controller: ControllerFactory) -> Controller:
    return make_controller(interval_seconds=HOUR, poll_interval_seconds=HOUR)


@pytest.fixture
def reports(controller: Controller) -> Reports:
    reports = Reports()
    controller.notifier = reports
    return reports


@pytest.fixture
def server(controller: Controller) -> Iterator[OperationsServer]:
    with serve(controller.triggers, registry=controller.metrics.registry) as running:
        yield running


@pytest.fixture
def started(
    controller: Controller, reports: Reports, server: OperationsServer, running: Start
) -> Controller:
    """The loop running, its first pass (due at start) over: the next one is an hour away."""
    running(controller)
    reports.wait_for(lambda r: r.status is PassStatus.APPLIED)
    return controller


def poll(condition: Callable[[], bool], *, what: str, deadline_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {deadline_seconds} s")
        time.sleep(0.02)


def test_a_signed_github_push_starts_a_pass_of_the_new_revision(
    started: Controller, reports: Reports, server: OperationsServer, access_repo: Path
) -> None:
    revision = add_member(access_repo, group="AdminAccess", user="sam.lee")
    body = push_payload(after=revision)

    status, _, _ = call(f"{server.url}/hooks/git", body=body, headers=github_headers(body))

    assert status == 202
    report = reports.wait_for(lambda r: r.revision == revision)  # not the hour's poll
    assert report.status is PassStatus.APPLIED


def test_a_gitlab_push_starts_a_pass_of_the_new_revision(
    started: Controller, reports: Reports, server: OperationsServer, access_repo: Path
) -> None:
    revision = add_member(access_repo, group="AdminAccess", user="sam.lee")

    status, _, _ = call(
        f"{server.url}/hooks/git", body=push_payload(after=revision), headers=gitlab_headers()
    )

    assert status == 202
    assert reports.wait_for(lambda r: r.revision == revision).status is PassStatus.APPLIED


def test_a_replayed_push_only_fetches_the_branch_as_it_is_now(
    started: Controller, reports: Reports, server: OperationsServer, access_repo: Path
) -> None:
    """A signed delivery captured earlier and sent again names an older revision: the
    controller fetches the branch, finds nothing new, and makes no pass."""
    old = started.state.last_applied_revision
    assert old is not None
    captured = push_payload(after=old)
    newer = add_member(access_repo, group="AdminAccess", user="sam.lee")
    body = push_payload(after=newer)
    call(f"{server.url}/hooks/git", body=body, headers=github_headers(body))
    reports.wait_for(lambda r: r.revision == newer)
    passes, ended = len(reports.all), started.triggers.ended

    status, _, _ = call(f"{server.url}/hooks/git", body=captured, headers=github_headers(captured))
    poll(lambda: started.triggers.ended > ended, what="the tick the replay asked for")

    assert status == 202
    assert len(reports.all) == passes  # fetched, nothing new: no pass
    assert started.state.last_applied_revision == newer


def test_a_sync_request_gets_the_report_of_a_pass_begun_after_it(
    started: Controller, reports: Reports, server: OperationsServer
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN.decode()}"}
    before = len(reports.all)

    status, requested, _ = call(f"{server.url}/api/sync", body=b"", headers=auth)
    answer: dict = {}

    def finished() -> bool:
        answer.update(call(f"{server.url}{requested['status_url']}", method="GET", headers=auth)[1])
        return answer["status"] == "finished"

    poll(finished, what="the pass sync asked for")

    assert status == 202
    assert len(reports.all) == before + 1  # a full pass although nothing was new
    assert answer["report"]["pass_id"] == reports.all[-1].pass_id
    assert answer["report"]["status"] == "in_sync"


def _events(log: Path, event: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found


def test_reconciler_run_takes_webhooks_with_the_secret_from_a_file(
    sandbox: Sandbox, access_repo: Path, aws_environment: dict[str, str], tmp_path: Path
) -> None:
    """The ``run`` command mounts the hooks with the configured secret (as a Kubernetes Secret
    file) and the branch it follows; the poll and the drift pass are an hour away."""
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_bytes(SECRET + b"\n")
    log = tmp_path / "controller.log"
    environment = {
        **os.environ,
        "RECONCILER_CACHE_DIR": str(tmp_path / "cache"),
        "RECONCILER_INTERVAL_SECONDS": str(HOUR),
        "RECONCILER_POLL_INTERVAL_SECONDS": str(HOUR),
        "RECONCILER_JITTER": "0",
        "RECONCILER_WEBHOOK_SECRET_FILE": str(secret_file),
    }
    arguments = ["--log-format", "json", "run", "--repo", str(access_repo), "--ref", "main"]
    arguments += ["--state-file", str(tmp_path / "state.json"), "--listen", "127.0.0.1:0"]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *arguments],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        poll(
            lambda: bool(_events(log, "pass.finished")), what="the first pass", deadline_seconds=60
        )
        url = str(_events(log, "operations.listening")[0]["url"])
        revision = add_member(access_repo, group="AdminAccess", user="sam.lee")
        body = push_payload(after=revision)

        status, _, _ = call(f"{url}/hooks/git", body=body, headers=github_headers(body))
        poll(
            lambda: any(e["revision"] == revision for e in _events(log, "pass.finished")),
            what="the pass of the pushed revision",
            deadline_seconds=60,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    assert status == 202
    assert SECRET.decode() not in log.read_text()
