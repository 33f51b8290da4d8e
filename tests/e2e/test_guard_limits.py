"""A commit cannot raise its own deletion-guard limit: ``apply`` judges a revision by the
stricter of its own ``reconciler.json`` and its parent commit's (or, for uncommitted edits of a
local work tree, the commit they are made on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import Sandbox
from tests.e2e.test_cli import run_cli
from tests.support import commit_all, git

pytestmark = pytest.mark.usefixtures("aws_environment")


def _edit(repository: Path, file: str, change: Any) -> None:
    path = repository / "desired-state" / file
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def _limit(count: int) -> Any:
    def change(document: Any) -> None:
        document["deletion_guard"]["max_deletions"] = count

    return change


def _drop_read_only_access(document: Any) -> None:
    """Remove the ReadOnlyAccess entry: 4 assignments of 7 (Auditors and jane.doe, 2 accounts)."""
    document["assignments"] = [
        entry for entry in document["assignments"] if entry["permission_set"] != "ReadOnlyAccess"
    ]


@pytest.fixture
def applied_with_a_limit_of_two(access_repo: Path) -> Path:
    _edit(access_repo, "reconciler.json", _limit(2))
    commit_all(access_repo, "At most 2 deletions")
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    return access_repo


def test_a_commit_raising_its_own_limit_is_judged_by_its_parents(
    applied_with_a_limit_of_two: Path, sandbox: Sandbox
) -> None:
    repository = applied_with_a_limit_of_two
    _edit(repository, "reconciler.json", _limit(100))
    _edit(repository, "assignments.json", _drop_read_only_access)
    commit_all(repository, "Raise the limit and delete 4 assignments")
    writes_before = len(sandbox.recorder.write_calls())

    result = run_cli("apply", "--repo", str(repository))

    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "deletes 4 objects, more than the limit of 2" in output
    assert "parent commit" in output
    assert len(sandbox.recorder.write_calls()) == writes_before


def test_uncommitted_edits_raising_the_limit_are_judged_by_the_commit(
    applied_with_a_limit_of_two: Path, sandbox: Sandbox
) -> None:
    repository = applied_with_a_limit_of_two
    _edit(repository, "reconciler.json", _limit(100))
    _edit(repository, "assignments.json", _drop_read_only_access)
    writes_before = len(sandbox.recorder.write_calls())

    result = run_cli("apply", "--repo", str(repository), "--allow-uncommitted")

    assert result.returncode == 1
    assert "the commit the edits are made on" in result.stdout + result.stderr
    assert len(sandbox.recorder.write_calls()) == writes_before


def test_allow_deletions_lifts_the_parents_limit_too(applied_with_a_limit_of_two: Path) -> None:
    repository = applied_with_a_limit_of_two
    _edit(repository, "reconciler.json", _limit(5))
    _edit(repository, "assignments.json", _drop_read_only_access)
    commit_all(repository, "Delete 4 assignments, raising the limit to 5")

    refused = run_cli("apply", "--repo", str(repository))
    allowed = run_cli("apply", "--repo", str(repository), "--allow-deletions")

    assert refused.returncode == 1
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_a_merge_bringing_in_a_side_branchs_raised_limit_is_judged_by_every_parent(
    applied_with_a_limit_of_two: Path, sandbox: Sandbox
) -> None:
    repository = applied_with_a_limit_of_two
    main = git(repository, "rev-parse", "HEAD")
    git(repository, "checkout", "-q", "-b", "side")
    _edit(repository, "reconciler.json", _limit(100))
    side = commit_all(repository, "Raise the limit on a side branch")
    git(repository, "checkout", "-q", "main")
    _edit(repository, "assignments.json", _drop_read_only_access)
    _edit(repository, "reconciler.json", _limit(100))
    git(repository, "add", "-A")
    merged_tree = git(repository, "write-tree")
    merge = git(repository, "commit-tree", merged_tree, "-p", side, "-p", main, "-m", "Merge main")
    git(repository, "update-ref", "refs/heads/main", merge)
    git(repository, "reset", "-q", "--hard", merge)
    writes_before = len(sandbox.recorder.write_calls())

    result = run_cli("apply", "--repo", str(repository))

    assert result.returncode == 1
    assert "deletes 4 objects, more than the limit of 2" in result.stdout + result.stderr
    assert len(sandbox.recorder.write_calls()) == writes_before


TEAMS = [f"Team{index:02d}" for index in range(21)]


def _add_teams(document: Any) -> None:
    document["groups"] += [{"name": name, "members": []} for name in TEAMS]


def _assign_teams(document: Any) -> None:
    document["assignments"].append(
        {"permission_set": "ReadOnlyAccess", "groups": TEAMS, "accounts": ["prod"]}
    )


def _raise_limits(document: Any) -> None:
    document["deletion_guard"] = {"max_deletions": 1000, "max_fraction": 1.0}


def test_a_root_commit_is_judged_by_the_default_limits_too(access_repo: Path) -> None:
    """A history rewritten to one commit has no parent whose limits could apply: the default
    deletion_guard does, so the commit cannot raise its own limit either."""
    _edit(access_repo, "groups.json", _add_teams)
    _edit(access_repo, "assignments.json", _assign_teams)
    commit_all(access_repo, "21 teams with ReadOnlyAccess in prod")
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    git(access_repo, "checkout", "-q", "--orphan", "rewritten")
    _edit(access_repo, "reconciler.json", _raise_limits)
    _edit(access_repo, "assignments.json", lambda document: document["assignments"].pop())
    commit_all(access_repo, "One commit raising the limits and deleting 21 assignments")

    result = run_cli("apply", "--repo", str(access_repo), "--ref", "rewritten")

    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "more than the limit of 20" in output
    assert "the default deletion_guard (the commit has no parent)" in output
