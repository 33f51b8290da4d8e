"""Fixtures shared by the integration and end-to-end tests.

Everything runs against the sandbox on 127.0.0.1 and against real Git repositories made in
temporary folders. Nothing here reaches any other address.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from tests.support import commit_all, git

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "desired-state"

FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)
"""Asynchronous operations stay IN_PROGRESS for 50 ms: AWS-like behaviour, quick tests."""


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox with the example organization (accounts prod and staging)."""
    with Sandbox(FAST, shape_check=True) as running:
        yield running


@pytest.fixture
def organization(sandbox: Sandbox) -> SeededOrganization:
    """The example organization: accounts prod and staging, one Identity Center instance."""
    return sandbox.seed_example_organization()


@pytest.fixture
def aws_environment(
    sandbox: Sandbox, organization: SeededOrganization, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point AWS's standard configuration at the sandbox for this test; returns the variables."""
    environment = sandbox.client_environment()
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return environment


@pytest.fixture
def access_repo(tmp_path: Path) -> Path:
    """A Git repository holding a copy of the example desired state at ``desired-state/``."""
    repository = tmp_path / "access"
    repository.mkdir()
    git(repository, "init", "-q", "-b", "main")
    shutil.copytree(EXAMPLE, repository / "desired-state")
    commit_all(repository, "Example desired state")
    return repository
