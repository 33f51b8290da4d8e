"""What a pull request can put in the repository beyond JSON, through the CLI: the files come
from the commit's tree, so a symbolic link is a problem naming it and nothing outside the
repository is ever read or quoted; ignored files count as uncommitted edits; a repository of a
protocol other than file, https or ssh is a one-line error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.sandbox import Sandbox
from tests.e2e.test_cli import run_cli, run_json
from tests.support import commit_all

pytestmark = pytest.mark.usefixtures("aws_environment")

MARKER = "HOST-SECRET-c41d2e"


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A JSON file outside the repository whose key would be quoted if it were ever read."""
    path = tmp_path / "host" / "secret.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"users": [], MARKER: MARKER}))
    return path


@pytest.fixture
def linked_repo(access_repo: Path, host_file: Path) -> Path:
    """The example repository with ``desired-state/users.json`` committed as a symbolic link
    to ``host_file``."""
    users = access_repo / "desired-state" / "users.json"
    users.unlink()
    users.symlink_to(host_file)
    commit_all(access_repo, "Link users.json out of the repository")
    return access_repo


@pytest.mark.parametrize("command", [("validate", "--offline"), ("validate",), ("plan",)])
def test_a_committed_symlink_is_refused_naming_it_and_its_target_is_never_read(
    linked_repo: Path, command: tuple[str, ...]
) -> None:
    result = run_cli(*command, "--repo", str(linked_repo))

    assert result.returncode == 1, result.stderr
    assert "users.json: $: symlink" in result.stdout
    assert MARKER not in result.stdout + result.stderr


def test_a_committed_symlink_is_the_only_problem_reported(linked_repo: Path) -> None:
    code, document = run_json("validate", "--offline", "--repo", str(linked_repo))

    assert code == 1
    assert [(p["file"], p["rule"]) for p in document["problems"]] == [("users.json", "symlink")]
    assert MARKER not in json.dumps(document)


def test_an_ignored_file_is_an_uncommitted_edit_and_is_not_applied(
    access_repo: Path, sandbox: Sandbox
) -> None:
    exclude = access_repo / ".git" / "info" / "exclude"
    exclude.write_text("desired-state/permission-sets/Sneaky.json\n")
    sneaky = access_repo / "desired-state" / "permission-sets" / "Sneaky.json"
    sneaky.write_text(json.dumps({"name": "Sneaky", "managed_policies": []}))

    code, planned = run_json("plan", "--repo", str(access_repo))
    refused = run_cli("apply", "--repo", str(access_repo))

    assert code == 2
    assert any("uncommitted changes" in note for note in planned["notes"])
    assert refused.returncode == 1
    assert "uncommitted changes" in refused.stdout
    assert sandbox.recorder.write_calls() == []


def test_an_ext_repository_is_a_one_line_error_and_runs_nothing(tmp_path: Path) -> None:
    touched = tmp_path / "pwned"

    result = run_cli("validate", "--repo", f"ext::sh -c touch% {touched}")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
    assert "not allowed" in result.stdout
    assert not touched.exists()


def test_an_ext_repository_given_as_git_would_rewrite_it_runs_nothing(tmp_path: Path) -> None:
    touched = tmp_path / "pwned"
    config = tmp_path / "gitconfig"
    config.write_text(
        f'[url "ext::sh -c touch% {touched}% #"]\n\tinsteadOf = https://example.invalid/\n'
    )
    environment = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_ALLOW_PROTOCOL": "ext:file:https",
    }

    result = run_cli(
        "validate", "--offline", "--repo", "https://example.invalid/r.git", env=environment
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert not touched.exists()
