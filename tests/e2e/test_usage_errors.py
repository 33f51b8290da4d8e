"""A command line argparse refuses exits 1, never 2: ``plan`` and ``run --once`` exit 2 for
"changes", so a typo in CI must not read as a plan with changes. Subprocess runs of the CLI;
argparse refuses before anything is read, so no sandbox is needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

USAGE_ERRORS = [
    pytest.param(["plan", "--formt", "json"], "reconciler plan", id="plan-unknown-option"),
    pytest.param(["plan", "--format", "yaml"], "reconciler plan", id="plan-bad-choice"),
    pytest.param(["apply", "--allow-deletion"], "reconciler apply", id="apply-abbreviated-option"),
    pytest.param(["validate", "--offline", "extra"], "reconciler validate", id="validate-extra"),
    pytest.param(["export"], "reconciler export", id="export-missing-out"),
    pytest.param(
        ["export", "--identities", "scim", "--out", "x"], "reconciler export", id="choice"
    ),
    pytest.param(["run", "--once", "--jitter", "abc"], "reconciler run", id="run-bad-float"),
    pytest.param(["run", "--mode", "fix"], "reconciler run", id="run-bad-choice"),
    pytest.param(["sandbox", "serve", "--port", "x"], "reconciler sandbox serve", id="bad-int"),
    pytest.param(
        ["sandbox", "serve", "--port", "99999"], "reconciler sandbox serve", id="port-too-big"
    ),
    pytest.param(["sandbox", "serve", "--port=-1"], "reconciler sandbox serve", id="port-negative"),
    pytest.param(["sandbox"], "reconciler sandbox", id="sandbox-no-subcommand"),
    pytest.param(["schema", "--out"], "reconciler schema", id="schema-missing-value"),
    pytest.param(["plna"], "reconciler", id="unknown-command"),
    pytest.param([], "reconciler", id="no-command"),
    pytest.param(["--log-level", "loud", "plan"], "reconciler", id="global-bad-choice"),
]


@pytest.mark.parametrize(("arguments", "prog"), USAGE_ERRORS)
def test_a_usage_error_exits_1_with_argparse_message_and_a_hint(
    arguments: list[str], prog: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", *arguments],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    assert f"{prog}: error: " in result.stderr
    assert f"hint: '{prog} --help'" in result.stderr
    assert result.stdout == ""


def test_help_still_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0
    assert "--format" in result.stdout


def test_version_prints_the_installed_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0
    assert result.stdout.startswith("reconciler ")
    assert result.stdout.split()[1][0].isdigit()


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: os.PathLike[str]) -> None:
    """``reconciler schema --out DIR | head -1``: the pipe closes after one line."""
    with subprocess.Popen(
        [sys.executable, "-m", "reconciler", "schema", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # the reader leaves
        errors = process.stderr.read()
        process.wait(timeout=60)

    assert first.strip().endswith(".schema.json")
    assert "Traceback" not in errors
