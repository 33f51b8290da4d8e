"""Each command calls AWS as the role whose IAM policy it needs (``reconciler iam-policy``):
read-only commands as ``plan``, ``apply`` as ``apply``; the controller as ``plan`` in detect
mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.controller.settings import load_settings
from reconciler.controller.wiring import build_controller
from reconciler.sandbox import Sandbox
from tests.e2e.test_cli import run_cli

pytestmark = pytest.mark.usefixtures("aws_environment")


def _roles(sandbox: Sandbox) -> set[str | None]:
    return {call.role for call in sandbox.calls}


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "--repo", "{repo}"],
        ["plan", "--repo", "{repo}"],
        ["access"],
        ["export", "--out", "{tmp}/export"],
    ],
    ids=lambda command: command[0],
)
def test_a_read_only_command_calls_aws_only_as_the_plan_role(
    command: list[str], access_repo: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    arguments = [
        part.replace("{tmp}", str(tmp_path)).replace("{repo}", str(access_repo)) for part in command
    ]

    result = run_cli(*arguments)

    assert result.returncode in (0, 2), result.stderr
    assert _roles(sandbox) == {"plan"}


def test_apply_calls_aws_as_the_apply_role(access_repo: Path, sandbox: Sandbox) -> None:
    result = run_cli("apply", "--repo", str(access_repo))

    assert result.returncode == 0, result.stderr
    assert _roles(sandbox) == {"apply"}
    assert sandbox.recorder.write_calls()


@pytest.mark.parametrize(("mode", "role"), [("detect", "plan"), ("heal", "apply")])
def test_the_controller_calls_as_the_role_of_its_mode(
    mode: str, role: str, access_repo: Path, tmp_path: Path
) -> None:
    settings = load_settings(
        overrides={
            "repository": str(access_repo),
            "cache_dir": tmp_path / "cache",
            "state_file": tmp_path / "state.json",
            "mode": mode,
        }
    )

    controller = build_controller(settings)

    assert controller.aws.sso_admin.meta.config.user_agent_extra.endswith(f" role/{role}")
