"""Files per team through the CLI against the sandbox: the example desired state split into
team files validates and plans as the single files do, with rules naming the team files, and a
user declared in two files is refused naming both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import run_cli
from tests.support import commit_all

pytestmark = pytest.mark.usefixtures("aws_environment", "organization")


def _split(repository: Path) -> None:
    """Move every entry of users.json, groups.json and assignments.json into files of
    ``users/``, ``groups/`` and ``assignments/``, one entry a file, and commit."""
    folder = repository / "desired-state"
    for kind in ("users", "groups", "assignments"):
        single = folder / f"{kind}.json"
        entries = json.loads(single.read_text())[kind]
        single.unlink()
        (folder / kind).mkdir()
        for index, entry in enumerate(entries):
            (folder / kind / f"team-{index}.json").write_text(json.dumps({kind: [entry]}))
    commit_all(repository, "One file per team")


def _plan(repository: Path) -> dict[str, Any]:
    result = run_cli("plan", "--repo", str(repository), "--format", "json")
    assert result.returncode == 2, result.stdout + result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_split_files_plan_the_same_changes_with_rules_naming_the_team_files(
    access_repo: Path,
) -> None:
    whole = _plan(access_repo)
    _split(access_repo)

    split = _plan(access_repo)

    def without_rules(plan: dict[str, Any]) -> list[dict[str, Any]]:
        """The changes without the rule of created assignments (its file differs), in JSON and
        in the detail lines."""
        return [
            {
                key: value
                for key, value in change.items()
                if not (change["kind"] == "assignment" and key in ("rule", "detail"))
            }
            for change in plan["changes"]
        ]

    assert without_rules(split) == without_rules(whole)
    rules = {change["rule"].split(" ")[0] for change in split["changes"] if "rule" in change}
    assert rules == {
        "assignments/team-0.json",
        "assignments/team-1.json",
        "assignments/team-2.json",
    }
    assert split["onboarding"] == whole["onboarding"]


def test_validate_refuses_a_user_declared_in_two_team_files_naming_both(
    access_repo: Path,
) -> None:
    _split(access_repo)
    users = access_repo / "desired-state" / "users"
    (users / "team-9.json").write_text((users / "team-0.json").read_text())
    commit_all(access_repo, "The same user twice")

    result = run_cli("validate", "--repo", str(access_repo), "--format", "json")

    assert result.returncode == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert (problem["file"], problem["rule"]) == ("users/team-9.json", "duplicate_user")
    assert "users/team-0.json at $.users[0]" in problem["message"]
