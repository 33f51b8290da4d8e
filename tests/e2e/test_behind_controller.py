"""``plan`` and ``apply`` warn when the revision is older than what a controller last applied
(read from the controller's state file), since the controller itself refuses such a revision."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.controller.state import ControllerState, StateFile
from tests.e2e.test_cli import run_cli, run_json
from tests.support import commit_all, git

pytestmark = pytest.mark.usefixtures("aws_environment")


def _two_commits(repository: Path) -> tuple[str, str]:
    older = git(repository, "rev-parse", "HEAD")
    (repository / "NOTES.md").write_text("a later change\n")
    return older, commit_all(repository, "A later commit")


def test_plan_warns_when_the_revision_is_older_than_what_the_controller_applied(
    access_repo: Path, tmp_path: Path
) -> None:
    older, newer = _two_commits(access_repo)
    state = tmp_path / "state.json"
    StateFile(state).save(ControllerState(last_applied_revision=newer))
    git(access_repo, "reset", "-q", "--hard", older)

    result = run_cli("plan", "--repo", str(access_repo), "--state-file", str(state))
    code, document = run_json("plan", "--repo", str(access_repo), "--state-file", str(state))

    assert code == 2
    assert f"revision {older} is older than the revision {newer}" in result.stderr
    assert any(f"is older than the revision {newer}" in note for note in document["notes"])


def test_plan_says_nothing_when_the_revision_descends_from_what_the_controller_applied(
    access_repo: Path, tmp_path: Path
) -> None:
    older, _ = _two_commits(access_repo)
    state = tmp_path / "state.json"
    StateFile(state).save(ControllerState(last_applied_revision=older))

    result = run_cli("plan", "--repo", str(access_repo), "--state-file", str(state))

    assert result.returncode == 2
    assert "last applied" not in result.stderr
