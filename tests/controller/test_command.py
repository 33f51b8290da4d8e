"""``reconciler run`` as a user runs it: a subprocess against the sandbox on a real Git
repository. Exit codes of ``--once``, the report on stdout, the endpoint of the loop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from reconciler.sandbox.console import ConsoleActions
from tests import cli_zygote
from tests.controller.conftest import break_revision
from tests.controller.test_notify import fake_slack

pytestmark = pytest.mark.usefixtures("aws_environment")


def run(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m reconciler run ARGS`` with a state file and cache under ``tmp_path`` (and
    the variables of ``env``)."""
    environment = {**os.environ, "RECONCILER_CACHE_DIR": str(tmp_path / "cache"), **(env or {})}
    return cli_zygote.run(
        ["run", "--state-file", str(tmp_path / "state.json"), "--ref", "main", *args],
        env=environment,
        timeout=120,
    )


def test_run_once_exits_0_when_converged(access_repo: Path, tmp_path: Path) -> None:
    result = run("--once", "--format", "json", "--repo", str(access_repo), tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["status"] == "applied"
    assert report["applied_revision"] == report["revision"]
    assert all(item["status"] == "succeeded" for item in report["changes"])


def test_run_once_exits_1_when_the_revision_is_refused(access_repo: Path, tmp_path: Path) -> None:
    break_revision(access_repo)

    result = run("--once", "--repo", str(access_repo), tmp_path=tmp_path)

    assert result.returncode == 1
    assert "invalid" in result.stdout
    assert "users.json" in result.stdout


def test_run_once_exits_2_when_drift_is_only_detected(
    access_repo: Path, tmp_path: Path, aws_environment: dict[str, str]
) -> None:
    assert run("--once", "--repo", str(access_repo), tmp_path=tmp_path).returncode == 0
    ConsoleActions(aws_environment).remove_user_from_group(
        group="AdminAccess", user_name="jane.doe"
    )

    result = run("--once", "--mode", "detect", "--repo", str(access_repo), tmp_path=tmp_path)

    assert result.returncode == 2
    assert "drifted" in result.stdout
    assert "jane.doe" in result.stdout


def test_identical_drift_is_posted_to_slack_once_across_two_run_once_processes(
    access_repo: Path, tmp_path: Path, aws_environment: dict[str, str]
) -> None:
    assert run("--once", "--repo", str(access_repo), tmp_path=tmp_path).returncode == 0
    ConsoleActions(aws_environment).remove_user_from_group(
        group="AdminAccess", user_name="jane.doe"
    )
    with fake_slack() as slack:
        environment = {
            **dict.fromkeys(("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"), ""),
            "RECONCILER_SLACK_WEBHOOK_URL": slack.webhook_url,
        }

        first = run(
            "--once",
            "--mode",
            "detect",
            "--repo",
            str(access_repo),
            tmp_path=tmp_path,
            env=environment,
        )
        second = run(
            "--once",
            "--mode",
            "detect",
            "--repo",
            str(access_repo),
            tmp_path=tmp_path,
            env=environment,
        )

    assert (first.returncode, second.returncode) == (2, 2), second.stderr
    assert len(slack.received) == 1
    assert "jane.doe" in json.dumps(slack.received[0])


def test_invalid_settings_exit_1_naming_the_option(access_repo: Path, tmp_path: Path) -> None:
    result = run("--once", "--repo", str(access_repo), "--jitter", "3", tmp_path=tmp_path)

    assert result.returncode == 1
    assert "jitter" in result.stderr


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_run_serves_health_readiness_metrics_and_the_status_page_on_loopback(
    access_repo: Path, tmp_path: Path
) -> None:
    environment = {**os.environ, "RECONCILER_CACHE_DIR": str(tmp_path / "cache")}
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
            "127.0.0.1:0",
        ],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            match = re.search(r'"url": "(http://127\.0\.0\.1:\d+)"', line)
            url = match.group(1) if match else None
        assert url is not None, "the endpoint never said where it listens"
        status = 503
        while status != 200 and time.monotonic() < deadline:
            status, _ = get(f"{url}/readyz")
            time.sleep(0.05)
        health = get(f"{url}/healthz")
        metrics = get(f"{url}/metrics")
        missing = get(f"{url}/nothing")
        page = get(f"{url}/")
        status_document = get(f"{url}/api/status")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert status == 200
    assert health == (200, "ok\n")
    assert metrics[0] == 200
    assert "reconciler_passes_total" in metrics[1]
    assert "reconciler_aws_api_calls_total" in metrics[1]
    assert missing[0] == 404
    assert page[0] == 200
    assert "Last passes" in page[1]
    assert json.loads(status_document[1])["version"] == 1
    assert process.returncode == 0


# -- the writer lock at start ------------------------------------------------------------------

LOCK_TABLE = "reconciler-locks"


def test_run_once_fails_at_start_when_the_lease_table_does_not_exist(
    access_repo: Path, tmp_path: Path, aws_environment: dict[str, str]
) -> None:
    assert run("--once", "--repo", str(access_repo), tmp_path=tmp_path).returncode == 0

    result = run(
        "--once",
        "--repo",
        str(access_repo),
        "--lock",
        "dynamodb",
        "--lock-table",
        "no-such-table",
        tmp_path=tmp_path,
    )

    assert result.returncode == 1
    assert result.stdout == ""  # no pass ran
    assert "no-such-table" in result.stderr
    assert aws_environment["AWS_REGION"] in result.stderr
    assert "lock_name" in result.stderr
    assert "aws dynamodb create-table" in result.stderr


def test_run_fails_at_start_when_the_lease_table_does_not_exist(
    access_repo: Path, tmp_path: Path
) -> None:
    result = run(
        "--listen",
        "off",
        "--repo",
        str(access_repo),
        "--lock",
        "dynamodb",
        "--lock-table",
        "no-such-table",
        tmp_path=tmp_path,
    )

    assert result.returncode == 1
    assert "no-such-table" in result.stderr
    assert "lock_name" in result.stderr


def test_run_once_fails_at_start_when_the_lease_table_has_another_key(
    access_repo: Path, tmp_path: Path, aws_environment: dict[str, str]
) -> None:
    import boto3  # noqa: PLC0415 - only this test makes a table by hand

    boto3.client("dynamodb").create_table(
        TableName="wrong-key",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    result = run(
        "--once",
        "--repo",
        str(access_repo),
        "--lock",
        "dynamodb",
        "--lock-table",
        "wrong-key",
        tmp_path=tmp_path,
    )

    assert result.returncode == 1
    assert "wrong-key" in result.stderr
    assert "'lock_name'" in result.stderr


def test_run_once_fails_at_start_when_the_lock_is_held_by_another_controller(
    access_repo: Path, tmp_path: Path
) -> None:
    from reconciler.adapters.locking import DynamoDbLease  # noqa: PLC0415

    assert run("--once", "--repo", str(access_repo), tmp_path=tmp_path).returncode == 0
    other = DynamoDbLease(table=LOCK_TABLE, lock_name="identity-center", holder_id="ctl-b")
    other.ensure_table()
    assert other.acquire()
    try:
        result = run(
            "--once",
            "--repo",
            str(access_repo),
            "--lock",
            "dynamodb",
            "--lock-table",
            LOCK_TABLE,
            env={"RECONCILER_LOCK_NAME": "identity-center"},
            tmp_path=tmp_path,
        )
    finally:
        other.release()

    assert result.returncode == 1
    assert result.stdout == ""  # no pass ran: not "in_sync"
    assert "held by ctl-b" in result.stderr
