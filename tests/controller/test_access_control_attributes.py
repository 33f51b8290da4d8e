"""Attributes for access control (ABAC) through controller passes against the sandbox: applied
from ``access-control-attributes.json``, a hand change found as drift and healed, and a live
configuration left alone while the file is absent."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.planning.reports import PassStatus
from reconciler.sandbox import Sandbox
from reconciler.sandbox.console import ConsoleActions
from tests.controller.conftest import ControllerFactory, write_calls
from tests.support import commit_all

COST_CENTER = "${path:enterprise.costCenter}"
DEPARTMENT = "${path:enterprise.department}"
KEY = "access-control-attributes"
ABAC_WRITES = {
    "CreateInstanceAccessControlAttributeConfiguration",
    "UpdateInstanceAccessControlAttributeConfiguration",
    "DeleteInstanceAccessControlAttributeConfiguration",
}


def declare(repository: Path, attributes: dict[str, str]) -> str:
    """Commit ``access-control-attributes.json`` declaring ``attributes``; returns the SHA."""
    document = {
        "access_control_attributes": [
            {"key": key, "source": source} for key, source in attributes.items()
        ]
    }
    path = repository / "desired-state" / "access-control-attributes.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return commit_all(repository, "Declare the attributes for access control")


def test_declared_attributes_are_applied_then_in_sync(
    make_controller: ControllerFactory, access_repo: Path, console: ConsoleActions
) -> None:
    declare(access_repo, {"CostCenter": COST_CENTER})
    controller = make_controller()

    report = controller.run_once()
    again = controller.run_once()

    assert report.status is PassStatus.APPLIED
    assert ("create", KEY, "succeeded") in [
        (item.action, item.key, item.status) for item in report.changes
    ]
    assert console.access_control_attributes() == {"CostCenter": COST_CENTER}
    assert again.status is PassStatus.IN_SYNC


def test_a_hand_change_is_reported_as_drift_with_the_attribute_detail(
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    sandbox: Sandbox,
) -> None:
    declare(access_repo, {"CostCenter": COST_CENTER})
    make_controller().run_once()
    console.set_access_control_attributes({"CostCenter": DEPARTMENT})
    writes_before = len(write_calls(sandbox))

    report = make_controller(mode="detect").run_once()

    assert report.status is PassStatus.DRIFTED
    (item,) = report.drift
    assert (item.action, item.key) == ("update", KEY)
    assert f"CostCenter: {DEPARTMENT} → {COST_CENTER}" in item.detail
    assert len(write_calls(sandbox)) == writes_before
    assert console.access_control_attributes() == {"CostCenter": DEPARTMENT}


def test_a_hand_change_is_healed_by_the_next_pass(
    make_controller: ControllerFactory, access_repo: Path, console: ConsoleActions
) -> None:
    declare(access_repo, {"CostCenter": COST_CENTER})
    controller = make_controller()
    controller.run_once()
    console.disable_access_control_attributes()

    report = controller.run_once()

    assert report.status is PassStatus.APPLIED
    assert [(item.action, item.key, item.status) for item in report.drift] == [
        ("create", KEY, "succeeded")
    ]
    assert console.access_control_attributes() == {"CostCenter": COST_CENTER}
    assert controller.run_once().status is PassStatus.IN_SYNC


def test_without_the_file_a_live_configuration_is_left_alone(
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    sandbox: Sandbox,
) -> None:
    (access_repo / "desired-state" / "access-control-attributes.json").unlink(missing_ok=True)
    commit_all(access_repo, "Leave the attributes for access control unmanaged")
    console.set_access_control_attributes({"Team": DEPARTMENT})
    writes_before = len(write_calls(sandbox))

    report = make_controller().run_once()

    assert report.status is PassStatus.APPLIED  # the example's own changes
    assert KEY not in {item.key for item in (*report.changes, *report.drift)}
    assert not ABAC_WRITES & set(write_calls(sandbox)[writes_before:])
    assert console.access_control_attributes() == {"Team": DEPARTMENT}


def test_a_configuration_made_in_the_console_is_adopted_and_updated(
    make_controller: ControllerFactory, access_repo: Path, console: ConsoleActions
) -> None:
    """One configuration per instance: a declared file brings the existing one to what it
    says (Update), instead of failing on Create's ConflictException."""
    console.set_access_control_attributes({"Team": DEPARTMENT})
    declare(access_repo, {"CostCenter": COST_CENTER})

    report = make_controller().run_once()

    assert report.status is PassStatus.APPLIED
    assert ("update", KEY, "succeeded") in [
        (item.action, item.key, item.status) for item in report.changes
    ]
    assert console.access_control_attributes() == {"CostCenter": COST_CENTER}


def test_an_emptied_file_is_held_by_the_deletion_guard(
    make_controller: ControllerFactory, access_repo: Path, console: ConsoleActions
) -> None:
    declare(access_repo, {"CostCenter": COST_CENTER})
    controller = make_controller()
    controller.run_once()
    declare(access_repo, {})

    report = controller.run_once()

    assert report.status is PassStatus.INVALID
    assert report.error is not None
    assert "deletion guard" in report.error
    assert console.access_control_attributes() == {"CostCenter": COST_CENTER}
