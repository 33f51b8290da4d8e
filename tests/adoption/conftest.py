"""Fixtures of the adoption tests: live state made by hand through plain boto3 clients in the
sandbox (the way the console or another tool would have made it), and helpers to commit a
desired-state folder and run the CLI in process."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest

from reconciler.cli import main
from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.faults import FaultConfig
from tests.support import HandMade, commit_all, git


class Console(HandMade):
    """Hand-made live state, with assignments by account name, completed at once."""

    def __init__(self, sandbox: Sandbox, organization: SeededOrganization) -> None:
        super().__init__(organization)
        self.sandbox = sandbox
        self.organizations = boto3.client("organizations")

    def assign(
        self, arn: str, account: str, principal_id: str, kind: Literal["USER", "GROUP"]
    ) -> None:
        self.sso.create_account_assignment(
            InstanceArn=self.org.instance_arn,
            TargetId=self.org.accounts[account],
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=arn,
            PrincipalType=kind,
            PrincipalId=principal_id,
        )
        self.sandbox.complete_operations()


@pytest.fixture
def console(
    sandbox: Sandbox, organization: SeededOrganization, aws_environment: dict[str, str]
) -> Console:
    """Seeding by hand, then reading: no sandbox rate limit, so that seeding does not leave the
    reconciler's first read throttled (rate limits have their own tests)."""
    sandbox.configure_faults(FaultConfig.parse("none"))
    return Console(sandbox, organization)


def new_repository(tmp_path: Path) -> Path:
    """An empty Git repository (branch ``main``) in ``tmp_path/access``."""
    repository = tmp_path / "access"
    repository.mkdir()
    git(repository, "init", "-q", "-b", "main")
    return repository


def with_required_files(files: Mapping[str, Any]) -> dict[str, Any]:
    """``files`` (relative path → JSON value), with every required file they do not give
    declaring nothing (``users.json`` and ``groups.json`` only with managed identities)."""
    config = files.get("reconciler.json", {})
    required: dict[str, Any] = {"reconciler.json": {}, "assignments.json": {"assignments": []}}
    if config.get("identities", "managed") == "managed":
        required |= {"users.json": {"users": []}, "groups.json": {"groups": []}}
    return {**required, **files}


def write_folder(repository: Path, files: Mapping[str, Any]) -> str:
    """Replace ``desired-state/`` with ``files`` (relative path → JSON value; required files
    not given are written empty) and commit."""
    folder = repository / "desired-state"
    if folder.exists():
        for path in sorted(folder.rglob("*.json"), reverse=True):
            path.unlink()
    for relative, document in with_required_files(files).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n")
    return commit_all(repository, "desired state")


def run_cli(*args: str) -> int:
    """``reconciler <args>`` in process (the environment points at the sandbox)."""
    return main(["--log-level", "error", *args])


def plan_json(repository: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON document of ``reconciler plan --format json`` on ``repository``."""
    capsys.readouterr()
    code = run_cli("plan", "--repo", str(repository), "--format", "json")
    return code, json.loads(capsys.readouterr().out)
