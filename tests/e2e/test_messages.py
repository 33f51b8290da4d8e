"""Issue 11, what was left: suggestions for unknown permission sets and keys, ``validate`` and
``plan`` agreeing on an expiry in the past, every problem of a revision reported in one run by
``validate`` without AWS and by ``plan``/``apply``, and a JSON error document on stdout for
``export`` and ``run``. The CLI run as a subprocess, against the sandbox on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import Sandbox
from tests.controller.test_command import run as run_controller
from tests.e2e.test_cli import run_cli
from tests.support import commit_all

pytestmark = pytest.mark.usefixtures("aws_environment")

OFFLINE_HINT = (
    "validate reads AWS to check accounts, users and groups; to check the files alone, run "
    "`reconciler validate --offline`"
)


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:  # pragma: no cover - shown on failure
        pytest.fail(f"stdout is not JSON:\n{result.stdout}\nstderr:\n{result.stderr}")
    return document


def _problem(document: dict[str, Any], rule: str) -> dict[str, Any]:
    (problem,) = (item for item in document["problems"] if item["rule"] == rule)
    return problem


# -- suggestions -------------------------------------------------------------------------------


def test_a_permission_set_typo_suggests_the_declared_set(access_repo: Path) -> None:
    assignments = access_repo / "desired-state" / "assignments.json"
    assignments.write_text(assignments.read_text().replace('"ReadOnlyAccess"', '"ReadOnlyAcess"'))
    commit_all(access_repo, "A typo in a permission set name")

    result = run_cli("validate", "--offline", "--repo", str(access_repo), "--format", "json")

    assert result.returncode == 1
    problem = _problem(_json(result), "unknown_permission_set")
    assert problem["path"] == "$.assignments[1].permission_set"
    assert problem["message"] == (
        "permission set 'ReadOnlyAcess' is not declared in permission-sets/ (a set is declared "
        "by permission-sets/<Name>.json); did you mean 'ReadOnlyAccess'? The declared "
        "permission sets are: 'AdministratorAccess', 'DeveloperAccess', 'ReadOnlyAccess'"
    )


@pytest.mark.parametrize(
    ("file", "change", "path", "message"),
    [
        pytest.param(
            "reconciler.json",
            lambda document: document.update(protectd=document.pop("protected")),
            "$.protectd",
            # the keys listed start with these; reconciler.json gains keys now and then
            "unknown key 'protectd'; did you mean 'protected'? The allowed keys are: '$schema', "
            "'deletion_guard', ",
            id="reconciler-top",
        ),
        pytest.param(
            "reconciler.json",
            lambda document: document["deletion_guard"].update(
                max_deletion=document["deletion_guard"].pop("max_deletions")
            ),
            "$.deletion_guard.max_deletion",
            "unknown key 'max_deletion'; did you mean 'max_deletions'? The allowed keys are: "
            "'max_deletions', 'max_fraction'",
            id="reconciler-nested",
        ),
        pytest.param(
            "assignments.json",
            lambda document: document["assignments"][2].update(
                acounts=document["assignments"][2].pop("accounts")
            ),
            "$.assignments[2].acounts",
            "unknown key 'acounts'; did you mean 'accounts'? The allowed keys are: "
            "'account_tags', 'accounts', 'all_accounts', 'exclude_accounts', 'expires_at', "
            "'groups', 'organizational_units', 'permission_set', 'reason', 'users'",
            id="assignment-entry",
        ),
    ],
)
def test_an_unknown_key_suggests_the_closest_allowed_key(
    access_repo: Path, file: str, change: Any, path: str, message: str
) -> None:
    _edit(access_repo / "desired-state" / file, change)
    commit_all(access_repo, "A typo in a key")

    result = run_cli("validate", "--offline", "--repo", str(access_repo), "--format", "json")

    assert result.returncode == 1
    problem = _problem(_json(result), "extra_forbidden")
    assert (problem["file"], problem["path"]) == (file, path)
    assert problem["message"].startswith(message), problem["message"]


def test_a_missing_key_is_named(access_repo: Path) -> None:
    _edit(
        access_repo / "desired-state" / "users.json",
        lambda document: document["users"][0].pop("display_name"),
    )
    commit_all(access_repo, "A user without a display name")

    result = run_cli("validate", "--offline", "--repo", str(access_repo), "--format", "json")

    assert result.returncode == 1
    problem = _problem(_json(result), "missing")
    assert (problem["path"], problem["message"]) == (
        "$.users[0].display_name",
        "required key 'display_name' is missing",
    )


# -- an expiry in the past: validate and plan agree -----------------------------------------------


def test_validate_and_plan_agree_that_a_past_expiry_grants_nothing_and_is_a_warning(
    access_repo: Path,
) -> None:
    def expired_entry(document: dict[str, Any]) -> None:
        document["assignments"].append(
            {
                "permission_set": "AdministratorAccess",
                "users": ["sam.lee"],
                "accounts": ["prod"],
                "expires_at": "2020-01-01T00:00:00Z",
            }
        )

    _edit(access_repo / "desired-state" / "assignments.json", expired_entry)
    commit_all(access_repo, "Access that has expired")
    expected = (
        "assignments.json",
        "$.assignments[3].expires_at",
        "access_expired",
        "access expired at 2020-01-01T00:00:00+00:00: permission set AdministratorAccess for "
        "sam.lee is not granted (a pass removes it where it exists); delete the entry from the "
        "file, or give a later expiry",
    )

    for offline in (("--offline",), ()):
        validated = run_cli("validate", *offline, "--repo", str(access_repo), "--format", "json")
        document = _json(validated)
        assert (validated.returncode, document["valid"]) == (0, True), validated.stdout
        assert [
            (item["file"], item["path"], item["rule"], item["message"])
            for item in document["warnings"]
        ] == [expected]

    planned = run_cli("plan", "--repo", str(access_repo), "--format", "json")
    plan = _json(planned)
    assert planned.returncode == 2, planned.stdout
    assert expected[3] in " ".join(plan["notes"])
    assert not any(
        change["key"].endswith("/AdministratorAccess/USER/sam.lee") for change in plan["changes"]
    )


# -- every problem in one run --------------------------------------------------------------------


def _file_problem_and_unknown_account(repository: Path) -> None:
    """A user that is not valid (a file problem) and an account typo (found only against live
    state), in two files."""
    folder = repository / "desired-state"
    _edit(folder / "users.json", lambda document: document["users"][1].update(email="sam"))
    assignments = folder / "assignments.json"
    assignments.write_text(assignments.read_text().replace('"staging"', '"stagin"', 1))
    commit_all(repository, "Two problems, one of each stage")


@pytest.fixture
def stopped_endpoint() -> Iterator[dict[str, str]]:
    """The environment pointed at a loopback port where nothing listens."""
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        yield {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}


def test_validate_without_aws_reports_the_file_problems_and_the_aws_error_together(
    access_repo: Path, stopped_endpoint: dict[str, str]
) -> None:
    _file_problem_and_unknown_account(access_repo)

    result = run_cli(
        "validate", "--repo", str(access_repo), "--format", "json", env=stopped_endpoint
    )

    assert result.returncode == 1
    document = _json(result)
    assert document["valid"] is False
    assert document["checked_against_live_state"] is False
    assert {(item["path"], item["rule"]) for item in document["problems"]} == {
        ("$.users[1].email", "email")
    }
    error = document["error"]
    assert error["kind"] == "aws"
    assert "EndpointConnectionError" in error["message"]
    assert stopped_endpoint["AWS_ENDPOINT_URL"] in error["advice"][0]
    assert error["advice"][-1] == OFFLINE_HINT


def test_validate_without_aws_says_the_files_have_no_problems_and_what_was_not_checked(
    access_repo: Path, stopped_endpoint: dict[str, str]
) -> None:
    result = run_cli("validate", "--repo", str(access_repo), env=stopped_endpoint)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].endswith(
        " have no problems, but references to accounts, organizational units, users and groups "
        "were not checked: live state could not be read:"
    ), result.stdout
    assert lines[1].startswith("Error (aws): ")
    assert f"  → {OFFLINE_HINT}" in lines


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plan_and_apply_report_the_file_and_live_problems_together_and_apply_nothing(
    access_repo: Path, sandbox: Sandbox, command: str
) -> None:
    _file_problem_and_unknown_account(access_repo)

    result = run_cli(command, "--repo", str(access_repo), "--format", "json")

    assert result.returncode == 1
    document = _json(result)
    assert {(item["path"], item["rule"]) for item in document["problems"]} == {
        ("$.users[1].email", "email"),
        ("$.assignments[0].accounts[1]", "unknown_account"),
    }
    assert sandbox.recorder.write_calls() == []


def test_plan_without_aws_reports_the_file_problems_and_the_aws_error(
    access_repo: Path, stopped_endpoint: dict[str, str]
) -> None:
    _file_problem_and_unknown_account(access_repo)

    result = run_cli("plan", "--repo", str(access_repo), env=stopped_endpoint)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": 1 problem in the desired state; no plan was made."), lines
    assert lines[1].startswith("  ✗ users.json: $.users[1].email: ")
    assert "Error (aws): " in result.stdout
    assert "--offline" not in result.stdout


# -- JSON errors of export and run ----------------------------------------------------------------


def test_export_json_reports_an_unknown_kind_as_a_json_error(tmp_path: Path) -> None:
    result = run_cli(
        "export", "--out", str(tmp_path / "out"), "--kinds", "users,assignment", "--format", "json"
    )

    assert result.returncode == 1
    assert _json(result) == {
        "error": {
            "kind": "usage",
            "message": "--kinds: unknown kind 'assignment'; did you mean 'assignments'? The "
            "kinds are: 'access_control_attributes', 'assignments', 'groups', 'permission_sets', "
            "'users'",
        }
    }


def test_export_json_refuses_a_folder_holding_files_with_a_json_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "users.json").write_text("{}")

    result = run_cli("export", "--out", str(out), "--format", "json")

    assert result.returncode == 1
    assert _json(result) == {
        "error": {
            "kind": "refused",
            "message": f"{out} already holds 1 JSON file",
            "advice": ["export into an empty folder, or pass --force to overwrite them"],
        }
    }


def test_export_json_lists_the_files_written(tmp_path: Path) -> None:
    out = tmp_path / "out"

    result = run_cli("export", "--out", str(out), "--format", "json")

    assert result.returncode == 0, result.stdout + result.stderr
    document = _json(result)
    assert str(out / "reconciler.json") in document["files"]
    assert isinstance(document["notes"], list)


def test_run_json_reports_invalid_settings_as_a_json_error(
    access_repo: Path, tmp_path: Path
) -> None:
    result = run_controller(
        "--once", "--format", "json", "--repo", str(access_repo), "--jitter", "3", tmp_path=tmp_path
    )

    assert result.returncode == 1
    error = _json(result)["error"]
    assert error["kind"] == "configuration"
    assert "jitter" in error["message"]


def test_a_bad_faults_spec_names_the_option_once() -> None:
    result = run_cli("sandbox", "serve", "--port", "0", "--faults", "nope")

    assert result.returncode == 1
    assert result.stderr.startswith("error: --faults item 'nope' is not key=value; accepted keys: ")


def test_one_problem_is_it_not_them(access_repo: Path) -> None:
    assignments = access_repo / "desired-state" / "assignments.json"
    assignments.write_text(assignments.read_text().replace('"ReadOnlyAccess"', '"ReadOnlyAcess"'))
    revision = commit_all(access_repo, "One problem")

    result = run_cli("validate", "--offline", "--repo", str(access_repo))

    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"✗ invalid desired state at {revision}: 1 problem in the desired state; fix it and run "
        "validate again."
    )


def test_validate_of_uncommitted_edits_does_not_blame_the_commit(access_repo: Path) -> None:
    users = access_repo / "desired-state" / "users.json"
    head = subprocess.run(
        ["git", "-C", str(access_repo), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    valid = run_cli("validate", "--offline", "--repo", str(access_repo))
    assert f"at {head} is valid" in valid.stdout

    users.write_text(users.read_text().replace('"user_name"', '"username"', 1))
    text = run_cli("validate", "--offline", "--repo", str(access_repo))
    document = json.loads(
        run_cli("validate", "--offline", "--repo", str(access_repo), "--format", "json").stdout
    )

    assert text.returncode == 1
    assert f"invalid desired state at {head} plus uncommitted edits" in text.stdout
    assert (document["revision"], document["uncommitted"]) == (head, True)
