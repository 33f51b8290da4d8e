"""Every message says what is wrong, where, and what to do next: the CLI run as a new user
runs it, making each mistake once. Checks the exact guidance (variable names, suggestions) and
the exit code. Every address is on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.controller.test_command import run as run_controller
from tests.e2e.test_cli import run_cli
from tests.support import commit_all

pytestmark = pytest.mark.usefixtures("aws_environment")

OFFLINE_HINT = (
    "validate reads AWS to check accounts, users and groups; to check the files alone, run "
    "`reconciler validate --offline`"
)


def without_aws(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The environment with no AWS configuration at all (no instance metadata either: nothing
    leaves the machine), plus ``variables``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(
        HOME=str(tmp_path / "home"),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        **variables,
    )
    return environment


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_validate_without_credentials_names_the_variables_and_offline(
    access_repo: Path, tmp_path: Path
) -> None:
    environment = without_aws(tmp_path, AWS_REGION="us-east-1")

    result = run_cli("validate", "--repo", str(access_repo), env=environment)

    assert result.returncode == 1
    text = output(result)
    assert "Unable to locate credentials" in text
    assert "set AWS_PROFILE to a profile with credentials" in text
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in text
    assert OFFLINE_HINT in text
    assert "Traceback" not in text


def test_a_stopped_sandbox_names_aws_endpoint_url_and_sandbox_serve(
    access_repo: Path, tmp_path: Path
) -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        environment = without_aws(
            tmp_path,
            AWS_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        )

        result = run_cli(
            "validate", "--repo", str(access_repo), "--format", "json", env=environment
        )

    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "aws"
    assert "EndpointConnectionError" in error["message"]
    assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in error["advice"][0]
    assert f"`reconciler sandbox serve --port {port}`" in error["advice"][0]
    assert error["advice"][1] == OFFLINE_HINT


def test_validate_without_a_region_suggests_offline(access_repo: Path, tmp_path: Path) -> None:
    result = run_cli("validate", "--repo", str(access_repo), env=without_aws(tmp_path))

    assert result.returncode == 1
    assert "set AWS_REGION" in output(result)
    assert OFFLINE_HINT in output(result)


def test_plan_does_not_suggest_validate_offline(access_repo: Path, tmp_path: Path) -> None:
    result = run_cli("plan", "--repo", str(access_repo), env=without_aws(tmp_path))

    assert result.returncode == 1
    assert "set AWS_REGION" in output(result)
    assert "--offline" not in output(result)


def test_an_unknown_profile_names_aws_profile_and_how_to_list_profiles(
    access_repo: Path, tmp_path: Path
) -> None:
    environment = without_aws(tmp_path, AWS_REGION="us-east-1", AWS_PROFILE="nope")

    result = run_cli("plan", "--repo", str(access_repo), env=environment)

    assert result.returncode == 1
    assert "The config profile (nope) could not be found" in output(result)
    assert "AWS_PROFILE (or the profile asked for) must name a profile" in output(result)
    assert "`aws configure list-profiles`" in output(result)


def test_an_unknown_profile_is_named_whatever_other_configuration_botocore_reads_first(
    access_repo: Path, tmp_path: Path
) -> None:
    """botocore reads the profile lazily: with AWS_DATA_PATH set (read from the profile too)
    the missing profile is met at another step, and must be the same clear error."""
    models = tmp_path / "models"
    models.mkdir()
    environment = without_aws(
        tmp_path, AWS_REGION="us-east-1", AWS_PROFILE="nope", AWS_DATA_PATH=str(models)
    )

    result = run_cli("plan", "--repo", str(access_repo), env=environment)

    assert result.returncode == 1
    assert "Traceback" not in output(result)
    assert "The config profile (nope) could not be found" in output(result)
    assert "`aws configure list-profiles`" in output(result)


def test_an_account_typo_suggests_the_account_and_lists_the_names(access_repo: Path) -> None:
    assignments = access_repo / "desired-state" / "assignments.json"
    assignments.write_text(assignments.read_text().replace('"staging"', '"stagin"', 1))
    commit_all(access_repo, "A typo in an account name")

    result = run_cli("validate", "--repo", str(access_repo))

    assert result.returncode == 1
    assert (
        "no account of this organization is named 'stagin'; did you mean 'staging'? "
        "The account names are: 'management', 'prod', 'staging' [unknown_account]"
    ) in output(result)


def test_a_group_typo_suggests_the_group(access_repo: Path) -> None:
    assignments = access_repo / "desired-state" / "assignments.json"
    assignments.write_text(assignments.read_text().replace('"Auditors"', '"Auditor"', 1))
    commit_all(access_repo, "A typo in a group name")

    result = run_cli("plan", "--repo", str(access_repo))

    assert result.returncode == 1
    assert "group 'Auditor' is neither declared" in output(result)
    assert "did you mean 'Auditors'?" in output(result)


def test_an_unknown_export_kind_lists_the_valid_kinds(tmp_path: Path) -> None:
    result = run_cli("export", "--out", str(tmp_path / "out"), "--kinds", "users,assignment")

    assert result.returncode == 1
    assert (
        "--kinds: unknown kind 'assignment'; did you mean 'assignments'? The kinds are: "
        "'access_control_attributes', 'assignments', 'groups', 'permission_sets', 'users'"
    ) in output(result)


@pytest.mark.parametrize("kinds", ["", " , "], ids=["empty", "blanks"])
def test_an_empty_export_kinds_is_a_usage_error_and_writes_nothing(
    tmp_path: Path, kinds: str
) -> None:
    out = tmp_path / "out"

    result = run_cli("export", "--out", str(out), "--kinds", kinds)

    assert result.returncode == 1
    assert (
        "--kinds: no kind given: name one or more of users, groups, permission_sets, "
        "assignments, access_control_attributes, or leave --kinds out"
    ) in output(result)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("ref", [None, "main"], ids=["work-tree", "commit"])
def test_a_missing_path_lists_the_folders_that_exist(access_repo: Path, ref: str | None) -> None:
    (access_repo / "docs").mkdir()
    (access_repo / "docs" / "README.md").write_text("access\n")
    commit_all(access_repo, "A second folder")
    pinned = ("--ref", ref) if ref else ()

    result = run_cli(
        "validate", "--offline", "--repo", str(access_repo), "--path", "desired_state", *pinned
    )

    assert result.returncode == 1
    assert "did you mean 'desired-state'? The folders are: 'desired-state', 'docs'" in output(
        result
    )


def test_a_refused_revision_prints_each_problem_once_on_its_own_line(
    access_repo: Path, tmp_path: Path
) -> None:
    users = access_repo / "desired-state" / "users.json"
    users.write_text(users.read_text().replace('"jane.doe"', '"Administrator"'))
    admin = access_repo / "desired-state" / "permission-sets" / "AdministratorAccess.json"
    admin.write_text(admin.read_text().replace('"PT1H"', '"PT13H"'))
    commit_all(access_repo, "Two problems")

    result = run_controller("--once", "--repo", str(access_repo), tmp_path=tmp_path)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "refused: 2 problems in the desired state:" in result.stdout
    for rule in ("[reserved_user_name]", "[session_duration_range]"):
        assert result.stdout.count(rule) == 1, result.stdout
        (line,) = (line for line in lines if rule in line)
        assert line.startswith("  users.json: ") or line.startswith("  permission-sets/")
