"""``validate`` reports every problem of a revision in one run (issue 11): a fault in one file
or one entry does not hide the checks across files, nor resolution against live state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import run_cli
from tests.support import commit_all

pytestmark = pytest.mark.usefixtures("aws_environment")


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def _four_faults(repository: Path) -> None:
    """A zone-less expiry, a past expiry, an unknown OU path and a duplicate user name."""
    folder = repository / "desired-state"

    def add_assignments(document: dict[str, Any]) -> None:
        document["assignments"] += [
            {
                "permission_set": "ReadOnlyAccess",
                "users": ["sam.lee"],
                "accounts": ["prod"],
                "expires_at": "2030-01-01T00:00:00",
            },
            {
                "permission_set": "ReadOnlyAccess",
                "groups": ["Developers"],
                "accounts": ["staging"],
                "expires_at": "2020-01-01T00:00:00Z",
            },
            {
                "permission_set": "DeveloperAccess",
                "groups": ["Developers"],
                "organizational_units": [{"path": "Root/NoSuchUnit"}],
            },
        ]

    def duplicate_user(document: dict[str, Any]) -> None:
        document["users"].append({**document["users"][0], "user_name": "Jane.Doe"})

    _edit(folder / "assignments.json", add_assignments)
    _edit(folder / "users.json", duplicate_user)
    commit_all(repository, "Four faults")


def _problems(*args: str) -> tuple[int, set[tuple[str, str, str]]]:
    result = run_cli("validate", *args, "--format", "json")
    document = json.loads(result.stdout)
    found = {(item["file"], item["path"], item["rule"]) for item in document["problems"]}
    return result.returncode, found


ZONE_LESS = ("assignments.json", "$.assignments[3].expires_at", "timezone_aware")
PAST = ("assignments.json", "$.assignments[4].expires_at", "expired")
UNKNOWN_OU = (
    "assignments.json",
    "$.assignments[5].organizational_units[0].path",
    "unknown_organizational_unit",
)
DUPLICATE_USER = ("users.json", "$.users[2].user_name", "duplicate_user")


def test_validate_reports_all_four_faults_of_a_revision_in_one_run(access_repo: Path) -> None:
    _four_faults(access_repo)

    code, problems = _problems("--repo", str(access_repo))

    assert code == 1
    assert problems == {ZONE_LESS, PAST, UNKNOWN_OU, DUPLICATE_USER}


def test_validate_offline_reports_the_file_only_faults_in_one_run(access_repo: Path) -> None:
    _four_faults(access_repo)

    code, problems = _problems("--offline", "--repo", str(access_repo))

    assert code == 1
    assert problems == {ZONE_LESS, PAST, DUPLICATE_USER}


def test_a_reference_to_an_invalid_user_entry_is_not_reported_as_unknown(
    access_repo: Path,
) -> None:
    folder = access_repo / "desired-state"

    def break_sam(document: dict[str, Any]) -> None:
        document["users"][1]["email"] = "not an address"

    def assign_sam(document: dict[str, Any]) -> None:
        document["assignments"][0]["users"] = ["sam.lee"]

    _edit(folder / "users.json", break_sam)
    _edit(folder / "assignments.json", assign_sam)
    commit_all(access_repo, "sam.lee's entry is invalid")

    code, problems = _problems("--repo", str(access_repo))

    assert code == 1
    assert {rule for _, _, rule in problems} == {"email"}
