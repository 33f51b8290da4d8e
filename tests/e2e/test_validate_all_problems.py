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
    """Exit code of ``validate --format json``, and its problems and warnings together."""
    result = run_cli("validate", *args, "--format", "json")
    document = json.loads(result.stdout)
    items = [*document["problems"], *document.get("warnings", [])]
    found = {(item["file"], item["path"], item["rule"]) for item in items}
    return result.returncode, found


ZONE_LESS = ("assignments.json", "$.assignments[3].expires_at", "timezone_aware")
PAST = ("assignments.json", "$.assignments[4].expires_at", "access_expired")
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


def test_a_set_named_after_a_file_that_declares_another_name_is_one_problem_naming_both(
    access_repo: Path,
) -> None:
    def rename_inside(document: dict[str, Any]) -> None:
        document["name"] = "developer-access"

    _edit(access_repo / "desired-state" / "permission-sets" / "DeveloperAccess.json", rename_inside)
    commit_all(access_repo, "The set inside DeveloperAccess.json is renamed")

    result = run_cli("validate", "--repo", str(access_repo), "--format", "json")

    assert result.returncode == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert (problem["file"], problem["path"], problem["rule"]) == (
        "assignments.json",
        "$.assignments[2].permission_set",
        "unknown_permission_set",
    )
    assert problem["message"] == (
        "permission set 'DeveloperAccess' is not declared: permission-sets/DeveloperAccess.json "
        "declares the set 'developer-access' ($.name); a set is known by its name, not its file "
        "name: rename the set to 'DeveloperAccess' in that file, or rename the file to "
        "developer-access.json and write 'developer-access' here"
    )


def test_an_email_differing_only_in_case_is_planned_as_an_update_with_a_note(
    access_repo: Path,
) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0

    def shout(document: dict[str, Any]) -> None:
        document["users"][0]["email"] = "Jane.Doe@Example.com"

    _edit(access_repo / "desired-state" / "users.json", shout)
    commit_all(access_repo, "Jane's address in her own spelling")

    result = run_cli("plan", "--repo", str(access_repo), "--format", "json")

    assert result.returncode == 2
    document = json.loads(result.stdout)
    (change,) = document["changes"]
    assert (change["action"], change["key"]) == ("update", "user/jane.doe")
    assert [(d["attribute"], d["old"], d["new"]) for d in change["diff"]] == [
        ("email", "jane.doe@example.com", "Jane.Doe@Example.com")
    ]
    assert (
        "user jane.doe: the email address differs from the live one only in letter case "
        "(jane.doe@example.com → Jane.Doe@Example.com); addresses are kept as written, so the "
        "file's spelling is applied"
    ) in document["notes"]
