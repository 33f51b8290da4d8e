"""The metrics a controller's passes leave in its registry."""

from __future__ import annotations

from pathlib import Path

from reconciler.sandbox.console import ConsoleActions
from tests.controller.conftest import ControllerFactory


def test_an_applied_pass_counts_its_result_changes_and_api_calls(
    make_controller: ControllerFactory,
) -> None:
    controller = make_controller()

    report = controller.run_once()

    value = controller.metrics.registry.get_sample_value
    assert value("reconciler_passes_total", {"result": "applied"}) == 1
    assert value("reconciler_passes_total", {"result": "error"}) == 0
    assert (
        value("reconciler_changes_applied_total", {"kind": "assignment", "action": "create"}) == 7
    )
    assert (
        value("reconciler_aws_api_calls_total", {"operation": "ListUsers"})
        == (report.api_calls["ListUsers"])
    )
    assert value("reconciler_reconcile_duration_seconds_count") == 1
    assert (
        value("reconciler_last_applied_revision_info", {"revision": report.applied_revision or ""})
        == 1
    )


def test_drift_found_in_detect_mode_sets_the_drift_gauge(
    make_controller: ControllerFactory, console: ConsoleActions
) -> None:
    make_controller().run_once()
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    controller = make_controller(mode="detect")

    controller.run_once()

    value = controller.metrics.registry.get_sample_value
    assert value("reconciler_drift_items", {"kind": "membership"}) == 1
    assert value("reconciler_drift_items", {"kind": "assignment"}) == 0
    assert value("reconciler_passes_total", {"result": "drifted"}) == 1


def test_the_suspended_gauge_follows_the_suspend_file(
    make_controller: ControllerFactory, tmp_path: Path
) -> None:
    suspend_file = tmp_path / "suspend"
    controller = make_controller(suspend_file=suspend_file)
    value = controller.metrics.registry.get_sample_value

    before = value("reconciler_suspended")
    suspend_file.touch()

    assert before == 0
    assert value("reconciler_suspended") == 1


def test_seconds_since_last_success_restarts_at_a_completed_pass(
    make_controller: ControllerFactory, access_repo: Path
) -> None:
    controller = make_controller()
    value = controller.metrics.registry.get_sample_value
    controller.run_once()
    after_success = value("reconciler_seconds_since_last_success")
    (access_repo / "desired-state").rename(access_repo / "elsewhere")
    # the folder is gone from the work tree only: commit it so the revision lacks it
    from tests.support import commit_all  # noqa: PLC0415

    commit_all(access_repo, "Move the desired state away")

    failed = controller.run_once()

    assert after_success is not None
    assert after_success < 1.0
    assert failed.status.value == "error"
    assert value("reconciler_pass_errors_total", {"phase": "fetch"}) == 1
    later = value("reconciler_seconds_since_last_success")
    assert later is not None
    assert later >= after_success
