"""The controller, calling as a delegated administrator (IAM Identity Center user guide,
"Delegated administration"): a revision that assigns access in the management account is
rejected at plan time, naming the file, the entry and the account, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.planning.reports import PassStatus
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig
from tests.conftest import FAST
from tests.controller.conftest import ControllerFactory, write_calls
from tests.support import commit_all


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The controller tests' sandbox, its caller a delegated administrator."""
    settings = SandboxSettings(**{**FAST.model_dump(), "delegated_administrator": True})
    with Sandbox(settings, faults=FaultConfig.parse("none"), shape_check=True) as running:
        yield running


def test_a_revision_assigning_access_in_the_management_account_is_rejected_unwritten(
    make_controller: ControllerFactory, access_repo: Path, sandbox: Sandbox
) -> None:
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    path = access_repo / "desired-state" / "assignments.json"
    document = json.loads(path.read_text())
    document["assignments"][0]["accounts"].append("management")
    path.write_text(json.dumps(document, indent=2) + "\n")
    revision = commit_all(access_repo, "Access in the management account")
    writes_before = len(write_calls(sandbox))

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.INVALID
    assert report.revision == revision
    assert report.error is not None
    assert "assignments.json" in report.error
    assert f"management ({sandbox.management_account_id})" in report.error
    assert "delegated administrator" in report.error
    assert write_calls(sandbox)[writes_before:] == []
