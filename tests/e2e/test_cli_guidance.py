"""What a person sees from the CLI, run as a subprocess: quiet logs by default (on a terminal
too), logging options before or after the command, verdicts on stdout with the exit code, a
work tree found from any of its folders, every revision expression git accepts, and a demo
that says what it needs."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_cli import run_cli
from tests.support import commit_all, git

pytestmark = pytest.mark.usefixtures("aws_environment")


def run_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal, as a person sees it; returns the exit
    code, stdout and what the terminal showed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
        env=dict(os.environ),
    )
    os.close(terminal)
    shown = b""
    while True:  # read the terminal until the child closes it (EIO), so it never blocks
        ready, _, _ = select.select([controller], [], [], 120)
        if not ready:
            process.kill()
            pytest.fail("the CLI wrote nothing to the terminal for 120 s and did not exit")
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout, _ = process.communicate(timeout=120)
    return process.returncode, stdout, shown.decode(errors="replace")


def break_users(repository: Path) -> str:
    (repository / "desired-state" / "users.json").write_text('{"users": [NaN]}')
    return commit_all(repository, "A user that is not a JSON object")


# -- logs ------------------------------------------------------------------------------------


def test_plan_on_a_terminal_shows_no_log_line_by_default(access_repo: Path) -> None:
    code, stdout, terminal = run_on_a_terminal("plan", "--repo", str(access_repo))

    assert code == 2, terminal
    assert "assign AdministratorAccess for group AdminAccess in prod" in stdout
    assert terminal == ""


def test_one_v_logs_info_lines_and_no_debug_line(access_repo: Path) -> None:
    result = run_cli("plan", "--repo", str(access_repo), "--format", "json", "-v")

    assert result.returncode == 2, result.stderr
    levels = {json.loads(line)["level"] for line in result.stderr.splitlines() if line.strip()}
    assert "info" in levels
    assert "debug" not in levels


def test_log_level_after_the_command_works_as_before_it(access_repo: Path) -> None:
    after = run_cli("plan", "--repo", str(access_repo), "--format", "json", "--log-level", "info")
    before = run_cli("--log-level", "info", "plan", "--repo", str(access_repo), "--format", "json")

    assert (after.returncode, before.returncode) == (2, 2), after.stderr
    events = [json.loads(line)["event"] for line in after.stderr.splitlines() if line.strip()]
    assert "pass.started" in events
    assert events == [json.loads(line)["event"] for line in before.stderr.splitlines() if line]


# -- verdicts on stdout ----------------------------------------------------------------------


def test_validate_prints_its_problems_on_stdout_and_exits_1(access_repo: Path) -> None:
    revision = break_users(access_repo)

    result = run_cli("validate", "--offline", "--repo", str(access_repo))

    assert result.returncode == 1
    first, *problems = result.stdout.splitlines()
    assert re.fullmatch(
        rf"✗ invalid desired state at {revision}: \d+ problems? in the desired state; "
        r"fix (it|them) and run validate again\.",
        first,
    ), first
    assert any(line.startswith("  ✗ users.json: $.users[0]: ") for line in problems), problems
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("command", "outcome"), [("plan", "no plan was made"), ("apply", "nothing was applied")]
)
def test_an_invalid_revision_says_nothing_was_applied_only_when_apply_refuses_it(
    access_repo: Path, command: str, outcome: str
) -> None:
    revision = break_users(access_repo)

    result = run_cli(command, "--repo", str(access_repo))

    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"✗ invalid desired state at {revision}: "), result.stdout
    assert first.endswith(f" in the desired state; {outcome}."), first
    assert ("nothing was applied" in result.stdout) == (command == "apply")


def test_an_apply_refused_for_uncommitted_edits_says_so_on_stdout(access_repo: Path) -> None:
    users = access_repo / "desired-state" / "users.json"
    users.write_text(users.read_text().replace("Sam Lee", "Samuel Lee"))

    result = run_cli("apply", "--repo", str(access_repo))

    assert result.returncode == 1
    assert result.stdout.startswith("Error (refused): the desired-state folder ")
    assert "or pass --allow-uncommitted. Nothing was applied." in result.stdout
    assert result.stderr == ""


# -- the repository and the revision -----------------------------------------------------------


def test_plan_from_a_subfolder_of_the_work_tree_reads_the_top(access_repo: Path) -> None:
    subfolder = access_repo / "desired-state" / "permission-sets"

    result = run_cli("plan", "--format", "json", cwd=subfolder)

    assert result.returncode == 2, result.stdout + result.stderr
    assert json.loads(result.stdout)["revision"] == git(access_repo, "rev-parse", "HEAD")
    top = git(access_repo, "rev-parse", "--show-toplevel")
    assert result.stderr == (
        f"note: repository . is inside the work tree {top}: using {top} "
        "(--path desired-state is relative to it)\n"
    )


def test_a_folder_in_no_work_tree_says_what_to_give_instead(tmp_path: Path) -> None:
    result = run_cli("validate", "--offline", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == (
        f"Error (source): repository . ({tmp_path}) is not a Git repository nor inside one: run "
        "from a clone of the repository that holds the desired state, or give --repo a folder "
        "of a work tree, a bare repository or a URL\n"
    )


def test_ref_head_tilde_names_an_older_commit(access_repo: Path) -> None:
    first = git(access_repo, "rev-parse", "HEAD")
    users = access_repo / "desired-state" / "users.json"
    users.write_text(users.read_text().replace("Sam Lee", "Samuel Lee"))
    commit_all(access_repo, "Rename Sam")

    result = run_cli("plan", "--repo", str(access_repo), "--ref", "HEAD~1", "--format", "json")

    assert result.returncode == 2, result.stdout
    assert json.loads(result.stdout)["revision"] == first


def test_an_option_like_ref_is_still_refused(access_repo: Path) -> None:
    result = run_cli("plan", "--repo", str(access_repo), "--ref=--output=x", "--format", "json")

    assert result.returncode == 1
    assert json.loads(result.stdout)["error"] == {
        "kind": "source",
        "message": f"ref '--output=x' for repository {access_repo} is not a valid branch, tag "
        "or SHA",
    }


# -- the demo --------------------------------------------------------------------------------


def test_demo_outside_a_clone_says_what_it_needs_and_what_to_do(tmp_path: Path) -> None:
    result = run_cli("demo", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == (
        "Error (configuration): the demo needs a desired-state folder, and desired-state does "
        f"not exist (looked in {tmp_path / 'desired-state'}): run `reconciler demo` from the "
        "top of a clone of the identity-center-reconciler repository, whose desired-state/ is "
        "the example, or give --path FOLDER naming a desired-state folder\n"
    )


def test_validate_without_aws_suggests_offline(access_repo: Path) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"AWS_REGION", "AWS_DEFAULT_REGION"}
    }

    result = run_cli("validate", "--repo", str(access_repo), "--format", "json", env=environment)

    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "configuration"
    assert error["advice"][-1] == (
        "validate reads AWS to check accounts, users and groups; to check the files alone, run "
        "`reconciler validate --offline`"
    )
