"""Fixtures shared by the integration and end-to-end tests.

Everything runs against the sandbox on 127.0.0.1 and against real Git repositories made in
temporary folders. Nothing here reaches any other address.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from reconciler.sandbox.server import SHAPE_CHECK_VARIABLE, shape_violations_seen
from tests.support import commit_all, git

pytest_plugins = ["tests.iam_policy_session"]
"""The IAM policy check over the whole session (its own hooks, see the module)."""

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "desired-state"


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Undo ``configure_logging`` after each test: a CLI run in-process must not change what
    later tests see (log levels, handlers, warnings routed into logging)."""
    yield
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "reconciler":
            root.removeHandler(handler)
    logging.captureWarnings(False)


FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)
"""Asynchronous operations stay IN_PROGRESS for 50 ms: AWS-like behaviour, quick tests."""


def pytest_configure(config: pytest.Config) -> None:
    """Every sandbox of the session checks every JSON response against botocore's output
    shape (``Sandbox``'s default follows this variable; subprocesses inherit it)."""
    os.environ[SHAPE_CHECK_VARIABLE] = "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when any sandbox answered a response that breaks botocore's output
    shape, even if the test that met it passed (a client retried the HTTP 500, say)."""
    violations = shape_violations_seen()
    if violations:
        sys.stderr.write(
            f"\n{len(violations)} sandbox responses broke botocore's output shape:\n"
            + "".join(f"  {v}\n" for v in violations[:20])
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
