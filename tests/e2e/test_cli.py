"""The ``reconciler`` command as a user runs it: a subprocess, against the sandbox, on a real
Git repository. Checks exit codes and the JSON documents on stdout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import Sandbox
from reconciler.sandbox.console import ConsoleActions
from tests import cli_zygote
from tests.support import commit_all, git

pytestmark = pytest.mark.usefixtures("aws_environment")


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    real_process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m reconciler ARGS`` with the current (sandbox-pointed) environment, in
    ``cwd`` (default: the test's own working directory).

    The result is that of a real process; the process is forked from a helper that imported
    the package once (:mod:`tests.cli_zygote`), unless ``real_process`` (or the helper cannot
    reproduce ``env``: then it is a real process too)."""
    environment = env if env is not None else dict(os.environ)
    if cwd is not None:  # `python -m reconciler` must still find this tree's package
        top = str(Path(__file__).resolve().parents[2])
        environment["PYTHONPATH"] = os.pathsep.join(
            part for part in (environment.get("PYTHONPATH", ""), top) if part
        )
    return cli_zygote.run(args, env=environment, cwd=cwd, timeout=120, real_process=real_process)


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli(*args, "--format", "json")
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:  # pragma: no cover - shown on failure
        pytest.fail(f"stdout is not JSON:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result.returncode, document


def keys(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(change["action"], change["key"]) for change in document["changes"]}


def test_plan_on_the_example_lists_every_change_and_exits_2(access_repo: Path) -> None:
    code, document = run_json("plan", "--repo", str(access_repo))

    assert code == 2
    assert document["revision"] == git(access_repo, "rev-parse", "HEAD")
    assert ("create", "permission-set/AdministratorAccess") in keys(document)
    assert ("create", "membership/AdminAccess/jane.doe") in keys(document)
    group_assignments = {
        change["key"]
        for change in document["changes"]
        if change["key"].startswith("assignment/")
        and change["key"].endswith("/AdministratorAccess/GROUP/AdminAccess")
    }
    assert len(group_assignments) == 2  # prod and staging
    assert document["summary"]["create"] == len(document["changes"])


def test_apply_converges_and_the_next_plan_is_empty(access_repo: Path) -> None:
    code, applied = run_json("apply", "--repo", str(access_repo))
    assert code == 0, applied
    assert applied["outcome"]["failed"] == 0
    assert all(change["status"] == "succeeded" for change in applied["changes"])

    code, again = run_json("plan", "--repo", str(access_repo))
    assert code == 0
    assert again["changes"] == []


def test_a_second_apply_makes_no_write_call(access_repo: Path, sandbox: Sandbox) -> None:
    # Real `python -m reconciler` processes: the entry point itself, against the sandbox.
    assert run_cli("apply", "--repo", str(access_repo), real_process=True).returncode == 0
    writes_after_first = len(sandbox.recorder.write_calls())

    second = run_cli("apply", "--repo", str(access_repo), real_process=True)

    assert second.returncode == 0
    assert len(sandbox.recorder.write_calls()) == writes_after_first


def test_a_hand_change_is_reported_as_drift_and_healed(
    access_repo: Path, aws_environment: dict[str, str]
) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    console = ConsoleActions(aws_environment)
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    console.attach_managed_policy(
        permission_set="AdministratorAccess",
        policy_arn="arn:aws:iam::aws:policy/job-function/Billing",
    )

    code, drift = run_json("plan", "--repo", str(access_repo))
    assert code == 2
    assert ("create", "membership/AdminAccess/jane.doe") in keys(drift)
    update = next(
        change
        for change in drift["changes"]
        if change["key"] == "permission-set/AdministratorAccess" and change["action"] == "update"
    )
    assert update["diff"][0]["removed"] == ["arn:aws:iam::aws:policy/job-function/Billing"]

    code, healed = run_json("apply", "--repo", str(access_repo))
    assert code == 0, healed
    code, after = run_json("plan", "--repo", str(access_repo))
    assert (code, after["changes"]) == (0, [])


def test_logs_go_to_stderr_and_never_into_the_json_document(access_repo: Path) -> None:
    result = run_cli(
        "plan", "--repo", str(access_repo), "--format", "json", "-v", real_process=True
    )

    json.loads(result.stdout)  # the whole of stdout is one JSON document
    log_lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert log_lines, "the pass logs its phases"
    assert all(json.loads(line)["event"] for line in log_lines)  # JSON logs off a terminal


def test_text_plan_is_readable_without_a_terminal(access_repo: Path) -> None:
    result = run_cli("plan", "--repo", str(access_repo))

    assert result.returncode == 2
    assert "assign AdministratorAccess for group AdminAccess in prod" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when stdout is not a terminal


def test_markdown_plan_has_counts_and_a_table(access_repo: Path) -> None:
    result = run_cli("plan", "--repo", str(access_repo), "--format", "markdown")

    assert result.returncode == 2
    assert "| create | update | delete | provision |" in result.stdout
    assert "`permission-set/AdministratorAccess`" in result.stdout


def test_validate_offline_needs_no_aws(access_repo: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}

    result = run_cli("validate", "--offline", "--repo", str(access_repo), env=environment)

    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_validate_against_live_state_accepts_the_example(access_repo: Path) -> None:
    code, document = run_json("validate", "--repo", str(access_repo))

    assert code == 0
    assert document["valid"] is True
    assert document["checked_against_live_state"] is True


def test_validate_offline_reports_deep_nesting_as_a_problem_without_traceback(
    access_repo: Path,
) -> None:
    (access_repo / "desired-state" / "groups.json").write_bytes(b"[" * 1000 + b"]" * 1000)
    (access_repo / "desired-state" / "users.json").write_text('{"users": [NaN]}')
    commit_all(access_repo, "1,000 nested arrays and a NaN")

    result = run_cli("validate", "--offline", "--repo", str(access_repo))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "groups.json:1:33: $:" in output
    assert "[json_depth]" in output
    assert "users.json: $.users[0]:" in output
    assert "[json_number]" in output
    assert "Traceback" not in output


def test_an_unreachable_repository_is_an_error_not_a_crash(tmp_path: Path) -> None:
    code, document = run_json("plan", "--repo", str(tmp_path / "missing"))

    assert code == 1
    assert document["error"]["kind"] == "source"


def test_uncommitted_edits_are_planned_with_a_note_and_not_applied(
    access_repo: Path, sandbox: Sandbox
) -> None:
    users = access_repo / "desired-state" / "users.json"
    users.write_text(users.read_text().replace("Sam Lee", "Samuel Lee"))

    code, planned = run_json("plan", "--repo", str(access_repo))
    assert code == 2
    assert any("uncommitted changes" in note for note in planned["notes"])

    refused = run_cli("apply", "--repo", str(access_repo))
    assert refused.returncode == 1
    assert "uncommitted changes" in refused.stdout
    assert sandbox.recorder.write_calls() == []

    allowed = run_cli("apply", "--repo", str(access_repo), "--allow-uncommitted")
    assert allowed.returncode == 0, allowed.stderr


def test_no_aws_region_is_a_clear_configuration_error(access_repo: Path) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"AWS_REGION", "AWS_DEFAULT_REGION"}
    }

    result = run_cli("plan", "--repo", str(access_repo), "--format", "json", env=environment)

    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["kind"] == "configuration"
    assert "Traceback" not in result.stderr


def test_apply_json_counts_every_call_of_the_pass_reads_included(
    access_repo: Path, sandbox: Sandbox
) -> None:
    recorded_before = len(sandbox.recorder.calls)

    code, applied = run_json("apply", "--repo", str(access_repo))

    assert code == 0, applied
    recorded = len(sandbox.recorder.calls) - recorded_before
    phases = applied["api_calls_by_phase"]
    assert applied["api_calls_total"] == recorded
    assert sum(applied["api_calls"].values()) == recorded
    assert sum(phases["read"].values()) + sum(phases["apply"].values()) == recorded
    assert phases["read"]["ListInstances"] >= 1
    assert "CreateAccountAssignment" in phases["apply"]
    assert "CreateAccountAssignment" not in phases["read"]
