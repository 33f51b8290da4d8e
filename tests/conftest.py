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
from typing import Any

import pytest
import structlog

from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from reconciler.sandbox.server import SHAPE_CHECK_VARIABLE, shape_violations_seen
from tests import cli_zygote
from tests.support import commit_all, git
from tests.worker_reports import hand_over_or_gather, keep_worker_report

pytest_plugins = ["tests.iam_policy_session", "tests.loopback_session"]
"""The IAM policy check over the whole session, and the guard keeping every connection on
loopback (their own hooks, see the modules)."""

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


@pytest.fixture(autouse=True, scope="session")
def _source_cache_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Git sources fetched without an explicit cache folder (CLI subprocesses, the controller)
    are cached under this session's (this worker's) temporary folder, not the user's
    ``~/.cache``: a run leaves nothing behind and shares no folder with another run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(autouse=True, scope="session")
def _cli_helper_stopped() -> Iterator[None]:
    """Stop this process's ``python -m reconciler`` helper (:mod:`tests.cli_zygote`, started
    by the first CLI command run through it) when the session ends."""
    yield
    cli_zygote.ZYGOTE.close()


FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)
"""Asynchronous operations stay IN_PROGRESS for 50 ms: AWS-like behaviour, quick tests."""


def pytest_configure(config: pytest.Config) -> None:
    """Every sandbox of the session checks every JSON response against botocore's output
    shape (``Sandbox``'s default follows this variable; subprocesses inherit it)."""
    os.environ[SHAPE_CHECK_VARIABLE] = "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a pytest-xdist worker, tests marked ``slow`` go first (otherwise in collection
    order): they start at once instead of running alone at the end of a parallel run. A serial
    run keeps the collection order."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


SHAPE_VIOLATIONS_KEY = "sandbox_shape_violations"
"""Key under which a pytest-xdist worker hands its violations (as text) to the controller
(``tests.worker_reports``)."""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when any sandbox answered a response that breaks botocore's output
    shape, even if the test that met it passed (a client retried the HTTP 500, say).

    Under pytest-xdist each worker runs its own sandboxes: a worker hands its violations to the
    controller, and the controller judges the whole run, its own sandboxes (none, usually)
    included (``tests.worker_reports``)."""
    seen = [str(violation) for violation in shape_violations_seen()]
    violations = hand_over_or_gather(session.config, SHAPE_VIOLATIONS_KEY, seen)
    if violations:
        sys.stderr.write(
            f"\n{len(violations)} sandbox responses broke botocore's output shape:\n"
            + "".join(f"  {v}\n" for v in violations[:20])
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: keep the violations a finished worker reported."""
    keep_worker_report(node, SHAPE_VIOLATIONS_KEY)


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


@pytest.fixture(scope="session")
def example_repository_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Git repository holding the example desired state, made once per session (per
    pytest-xdist worker); never change it: :func:`access_repo` hands out copies."""
    repository = tmp_path_factory.mktemp("template") / "access"
    repository.mkdir()
    git(repository, "init", "-q", "-b", "main")
    shutil.copytree(EXAMPLE, repository / "desired-state")
    commit_all(repository, "Example desired state")
    return repository


@pytest.fixture
def access_repo(tmp_path: Path, example_repository_template: Path) -> Path:
    """A Git repository holding a copy of the example desired state at ``desired-state/``
    (one commit on ``main``; a copy of the session's template, the test's own to change)."""
    repository = tmp_path / "access"
    shutil.copytree(example_repository_template, repository, symlinks=True)
    return repository
