"""Attributes for access control (ABAC) through the command line against the sandbox: plan,
apply, export, and export's files planning nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reconciler.sandbox.console import ConsoleActions
from tests.e2e.test_cli import run_cli, run_json
from tests.support import commit_all

COST_CENTER = "${path:enterprise.costCenter}"
FILE = "access-control-attributes.json"


def declare(repository: Path, attributes: dict[str, str]) -> None:
    document = {
        "access_control_attributes": [
            {"key": key, "source": source} for key, source in attributes.items()
        ]
    }
    (repository / "desired-state" / FILE).write_text(json.dumps(document, indent=2) + "\n")
    commit_all(repository, "Declare the attributes for access control")


def test_plan_shows_the_attributes_and_apply_creates_them(
    access_repo: Path, aws_environment: dict[str, str]
) -> None:
    declare(access_repo, {"CostCenter": COST_CENTER})

    code, planned = run_json("plan", "--repo", str(access_repo))
    text = run_cli("plan", "--repo", str(access_repo)).stdout
    applied_code, applied = run_json("apply", "--repo", str(access_repo))
    again_code, again = run_json("plan", "--repo", str(access_repo))

    assert code == 2
    (change,) = [c for c in planned["changes"] if c["kind"] == "access_control_attributes"]
    assert change["attributes"] == {"CostCenter": COST_CENTER}
    assert f"CostCenter: {COST_CENTER}" in text
    assert applied_code == 0, applied
    assert ConsoleActions(aws_environment).access_control_attributes() == {
        "CostCenter": COST_CENTER
    }
    assert again_code == 0
    assert again["changes"] == []


def test_export_writes_the_attributes_and_its_files_plan_nothing(
    access_repo: Path, aws_environment: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    ConsoleActions(aws_environment).set_access_control_attributes({"CostCenter": COST_CENTER})
    out = tmp_path / "exported"

    result = run_cli("export", "--out", str(out))

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((out / FILE).read_text()) == {
        "access_control_attributes": [{"key": "CostCenter", "source": COST_CENTER}]
    }
    shutil.rmtree(access_repo / "desired-state")
    shutil.copytree(out, access_repo / "desired-state")
    commit_all(access_repo, "Adopt the exported state")
    code, planned = run_json("plan", "--repo", str(access_repo))
    assert code == 0, planned
    assert planned["changes"] == []


def test_export_without_the_kind_writes_no_attributes_file(
    access_repo: Path, aws_environment: dict[str, str], tmp_path: Path
) -> None:
    ConsoleActions(aws_environment).set_access_control_attributes({"CostCenter": COST_CENTER})
    out = tmp_path / "exported"

    result = run_cli(
        "export", "--out", str(out), "--kinds", "users,groups,permission_sets,assignments"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert not (out / FILE).exists()
