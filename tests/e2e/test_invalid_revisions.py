"""Every invalid input users have tripped over, through the CLI: ``validate`` exits 1 naming
the file and the field, and ``plan`` and ``apply`` refuse the revision without one write call.

The inputs are the shared cases, copied into ``tests/cases/invalid/``; each is placed where it
belongs in a copy of the example desired state (a permission set under ``permission-sets/``,
users in ``users.json``...), so that the rest of the revision is valid.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# Beyond the shared cases: more kinds of invalid input, each made by editing the example.
# case → (file, JSON path, rule) as above; MUTATIONS[case] makes the edit.
EXPECTED |= {
    "unknown-key-typo": ("users.json", "$.users[0].emial", "extra_forbidden"),
    "unknown-top-level-key": ("reconciler.json", "$.prunee", "extra_forbidden"),
    "duplicate-user": ("users.json", "$.users[2].user_name", "duplicate_user"),
    "unknown-account-name": ("assignments.json", "$.assignments[0].accounts[1]", "unknown_account"),
    "unknown-account-id": ("assignments.json", "$.assignments[0].accounts[1]", "unknown_account"),
    "ambiguous-account-name": (
        "assignments.json",
        "$.assignments[0].accounts[0]",
        "ambiguous_account",
    ),
    "boundary-with-both-kinds": (
        "permission-sets/DeveloperAccess.json",
        "$.permissions_boundary",
        "boundary_one_of",
    ),
    "tag-key-aws-prefix": ("permission-sets/AdministratorAccess.json", "$.tags", "tag_reserved"),
    "relay-state-too-long": (
        "permission-sets/ReadOnlyAccess.json",
        "$.relay_state",
        "max_length",
    ),
    "twenty-six-policies": ("permission-sets/AdministratorAccess.json", "$", "too_many_policies"),
}


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _typo(document: Any) -> None:
    document["users"][0]["emial"] = document["users"][0].pop("email")


def _top_level_typo(document: Any) -> None:
    document["prunee"] = document.pop("prune")


def _duplicate_user(document: Any) -> None:
    document["users"].append(dict(document["users"][0]))


def _first_assignment_in(account: str) -> Callable[[Any], None]:
    def change(document: Any) -> None:
        document["assignments"][0]["accounts"] = ["prod", account]

    return change


def _both_boundaries(document: Any) -> None:
    document["permissions_boundary"]["managed_policy_arn"] = (
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    )


def _aws_tag(document: Any) -> None:
    document["tags"]["aws:team"] = "platform"


def _long_relay_state(document: Any) -> None:
    document["relay_state"] = "https://console.aws.amazon.com/" + "a" * 220  # 251 characters


def _twenty_six_policies(document: Any) -> None:
    document["managed_policies"] = [f"arn:aws:iam::aws:policy/Policy{n:02d}" for n in range(26)]


MUTATIONS: dict[str, tuple[str, Callable[[Any], None]]] = {
    "unknown-key-typo": ("users.json", _typo),
    "unknown-top-level-key": ("reconciler.json", _top_level_typo),
    "duplicate-user": ("users.json", _duplicate_user),
    "unknown-account-name": ("assignments.json", _first_assignment_in("prdo")),
    "unknown-account-id": ("assignments.json", _first_assignment_in("999999999999")),
    "ambiguous-account-name": ("assignments.json", lambda document: None),
    "boundary-with-both-kinds": ("permission-sets/DeveloperAccess.json", _both_boundaries),
    "tag-key-aws-prefix": ("permission-sets/AdministratorAccess.json", _aws_tag),
    "relay-state-too-long": ("permission-sets/ReadOnlyAccess.json", _long_relay_state),
    "twenty-six-policies": ("permission-sets/AdministratorAccess.json", _twenty_six_policies),
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
def broken_repo(
    request: pytest.FixtureRequest, access_repo: Path, sandbox: Sandbox
) -> tuple[Path, str]:
    if request.param in MUTATIONS:
        target, change = MUTATIONS[request.param]
        _edit(access_repo / "desired-state" / target, change)
        if request.param == "ambiguous-account-name":
            sandbox.add_account(name="prod")  # a second account named prod
    else:
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
    assert file in text.stdout
    assert path in text.stdout

    for command, outcome in (("plan", "no plan was made"), ("apply", "nothing was applied")):
        refused = run_cli(command, "--repo", str(repository))
        assert refused.returncode == 1, refused.stdout
        assert outcome in refused.stdout
    assert sandbox.recorder.write_calls() == []


@pytest.mark.usefixtures("aws_environment")
def test_a_deleted_assignments_file_is_refused_naming_it_and_nothing_is_deleted(
    access_repo: Path, sandbox: Sandbox
) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    writes_before = len(sandbox.recorder.write_calls())
    (access_repo / "desired-state" / "assignments.json").unlink()
    commit_all(access_repo, "Lose assignments.json")

    refused = run_cli("apply", "--repo", str(access_repo), "--allow-deletions")

    assert refused.returncode == 1
    assert "assignments.json" in refused.stdout
    assert "missing_file" in refused.stdout
    assert len(sandbox.recorder.write_calls()) == writes_before


@pytest.mark.usefixtures("aws_environment")
def test_validate_of_an_empty_folder_gives_one_problem_per_missing_file(
    access_repo: Path,
) -> None:
    (access_repo / "empty").mkdir()
    (access_repo / "empty" / ".gitkeep").write_text("")
    commit_all(access_repo, "An empty folder")

    validate = run_cli(
        "validate", "--offline", "--repo", str(access_repo), "--path", "empty", "--format", "json"
    )

    assert validate.returncode == 1
    problems = json.loads(validate.stdout)["problems"]
    assert sorted((p["file"], p["rule"]) for p in problems) == [
        ("assignments.json", "missing_file"),
        ("groups.json", "missing_file"),
        ("reconciler.json", "missing_file"),
        ("users.json", "missing_file"),
    ]
