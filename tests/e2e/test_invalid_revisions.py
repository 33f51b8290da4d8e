"""Every invalid input users have tripped over, through the CLI: ``validate`` exits 1 naming
the file and the field, and ``plan`` and ``apply`` refuse the revision without one write call.

The inputs are the shared cases, copied into ``tests/cases/invalid/``; each is placed where it
belongs in a copy of the example desired state (a permission set under ``permission-sets/``,
users in ``users.json``...), so that the rest of the revision is valid.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.sandbox import Sandbox
from tests.e2e.test_cli import run_cli
from tests.support import commit_all

CASES = Path(__file__).resolve().parent.parent / "cases" / "invalid"

# case → (file the message must name, JSON path it must name, rule)
EXPECTED = {
    "ps-name-too-long.json": ("permission-sets/ps-name-too-long.json", "$.name", "max_length"),
    "ps-name-space.json": ("permission-sets/ps-name-space.json", "$.name", "permission_set_name"),
    "session-too-long.json": (
        "permission-sets/session-too-long.json",
        "$.session_duration",
        "session_duration_range",
    ),
    "session-not-iso.json": (
        "permission-sets/session-not-iso.json",
        "$.session_duration",
        "iso8601_duration",
    ),
    "description-emoji.json": (
        "permission-sets/description-emoji.json",
        "$.description",
        "description",
    ),
    "customer-arn-in-managed.json": (
        "permission-sets/customer-arn-in-managed.json",
        "$.managed_policies[0]",
        "customer_policy_as_managed",
    ),
    "inline-policy-too-big.json": (
        "permission-sets/inline-policy-too-big.json",
        "$.inline_policy",
        "inline_policy_size",
    ),
    "reserved-user-name.json": ("users.json", "$.users[0].user_name", "reserved_user_name"),
    "user-name-whitespace.json": ("users.json", "$.users[0].user_name", "user_name"),
    "unknown-member.json": ("groups.json", "$.groups[0].members[0]", "unknown_user"),
    "unknown-permission-set.json": (
        "assignments.json",
        "$.assignments[0].permission_set",
        "unknown_permission_set",
    ),
    "trailing-comma.json": ("groups.json", "$", "json_syntax"),
    "duplicate-permission-set": (
        "permission-sets/ReadOnly.json",
        "$.name",
        "duplicate_permission_set",
    ),
}


def place_case(case: Path, target: str, folder: Path) -> None:
    """Put ``case`` at ``target`` (a path in the desired-state ``folder``)."""
    if case.is_dir():
        for file in case.iterdir():
            shutil.copy(file, folder / "permission-sets" / file.name)
        return
    shutil.copy(case, folder / target)
    if target == "groups.json":
        # the example's assignments name the example's groups: keep them resolvable
        assignments = json.loads((folder / "assignments.json").read_text())
        for assignment in assignments["assignments"]:
            assignment["groups"] = []
            assignment["users"] = ["jane.doe"]
        (folder / "assignments.json").write_text(json.dumps(assignments))


@pytest.fixture(params=sorted(EXPECTED), ids=lambda name: name.removesuffix(".json"))
def broken_repo(request: pytest.FixtureRequest, access_repo: Path) -> tuple[Path, str]:
    place_case(CASES / request.param, EXPECTED[request.param][0], access_repo / "desired-state")
    commit_all(access_repo, f"break: {request.param}")
    return access_repo, request.param


@pytest.mark.usefixtures("aws_environment")
def test_invalid_revision_is_refused_naming_file_and_field(
    broken_repo: tuple[Path, str], sandbox: Sandbox
) -> None:
    repository, case = broken_repo
    file, path, rule = EXPECTED[case]

    validate = run_cli("validate", "--repo", str(repository), "--format", "json")
    assert validate.returncode == 1
    problems = json.loads(validate.stdout)["problems"]
    assert {"file": file, "path": path, "rule": rule} in [
        {"file": p["file"], "path": p["path"], "rule": p["rule"]} for p in problems
    ], problems
    if rule == "json_syntax":
        assert all("line" in p and "column" in p for p in problems if p["rule"] == rule)

    text = run_cli("validate", "--repo", str(repository))
    assert file in text.stderr
    assert path in text.stderr

    for command in ("plan", "apply"):
        refused = run_cli(command, "--repo", str(repository))
        assert refused.returncode == 1, refused.stdout
        assert "nothing was applied" in refused.stderr
    assert sandbox.recorder.write_calls() == []
