"""How the controller reads live state: complete (per permission set) on start, after its own
writes and once every ``complete_read_every`` reads, hybrid (per principal, given the previous
read) otherwise; hand changes are still found by the next hybrid pass.

Against the sandbox and the example repository (jane.doe shares ReadOnlyAccess in prod and
staging with the Auditors group: an assignment of hers outlives her in a (set, account) that
also holds a live principal's assignment, which only the per-principal reading can miss).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from reconciler.adapters.aws.clients import AwsClients
from reconciler.controller.loop import Controller
from reconciler.controller.settings import SettingsError, load_settings
from reconciler.controller.status import (
    ControllerFacts,
    RepositoryView,
    collect_status,
    status_json,
)
from reconciler.controller.status_page import status_html
from reconciler.model.state import LiveState
from reconciler.planning.reports import LiveRead, Mode, PassReport, PassStatus, report_json
from reconciler.sandbox.console import ConsoleActions
from tests.controller.conftest import ControllerFactory

COMPLETE, HYBRID = LiveRead.COMPLETE, LiveRead.HYBRID


def _live(controller: Controller) -> LiveState:
    assert controller.live is not None
    return controller.live[0]


def _converged(
    make_controller: ControllerFactory, *, suspend_file: Path | None = None
) -> Controller:
    """A controller that applied the example (a complete read, then writes) and read it back
    once (complete again: it wrote): the next read is hybrid. With ``suspend_file``, writes
    are suspended from then on (drift is reported, not healed)."""
    controller = make_controller(suspend_file=suspend_file)
    assert controller.run_once().status is PassStatus.APPLIED
    assert controller.run_once().status is PassStatus.IN_SYNC
    if suspend_file is not None:
        suspend_file.touch()
    return controller


def _drift(report: PassReport) -> list[tuple[str, str]]:
    return [(item.action, item.key) for item in report.drift]


def _delete_user(console: ConsoleActions, user_id: str) -> None:
    console.identitystore.delete_user(IdentityStoreId=console.identity_store_id, UserId=user_id)


def _orphans(account_ids: list[str], user_id: str) -> list[tuple[str, str]]:
    """The deletions of jane.doe's ReadOnlyAccess assignments once she is deleted by hand."""
    name = f"<deleted user {user_id}>"
    return [
        ("delete", f"assignment/{account}/ReadOnlyAccess/USER/{name}") for account in account_ids
    ]


def _accounts(live: LiveState, *names: str) -> list[str]:
    """The ids of the accounts called ``names`` (jane.doe has ReadOnlyAccess in prod and
    staging)."""
    return sorted(account.id for account in live.accounts.values() if account.name in names)


def test_one_read_in_complete_read_every_is_complete(make_controller: ControllerFactory) -> None:
    controller = make_controller(complete_read_every=3)

    reads = [controller.run_once().read for _ in range(7)]

    # start (and it applies the example), after its writes, then one in three
    assert reads == [COMPLETE, COMPLETE, HYBRID, HYBRID, COMPLETE, HYBRID, HYBRID]


def test_every_read_is_complete_when_complete_read_every_is_1(
    make_controller: ControllerFactory,
) -> None:
    controller = make_controller(complete_read_every=1)

    reads = [controller.run_once().read for _ in range(4)]

    assert reads == [COMPLETE] * 4


def test_a_restarted_controller_reads_complete_first(make_controller: ControllerFactory) -> None:
    _converged(make_controller).run_once()

    assert make_controller().run_once().read is COMPLETE


def test_a_user_deleted_by_hand_leaves_assignments_the_next_hybrid_pass_reports(
    make_controller: ControllerFactory, console: ConsoleActions, tmp_path: Path
) -> None:
    controller = _converged(make_controller, suspend_file=tmp_path / "suspend")
    live = _live(controller)
    jane = live.user_ids["jane.doe"]
    _delete_user(console, jane)

    report = controller.run_once()

    assert report.read is HYBRID
    assert report.status is PassStatus.DRIFTED
    assert set(_orphans(_accounts(live, "prod", "staging"), jane)) <= set(_drift(report))


def test_a_user_the_controller_created_and_someone_deleted_is_found_by_the_next_pass(
    make_controller: ControllerFactory, console: ConsoleActions
) -> None:
    """The read before the apply that created jane.doe never knew her id: the pass after it
    must not build on that read, or her orphaned assignments beside Auditors' go unseen."""
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED  # creates jane.doe and her access
    accounts = _accounts(_live(controller), "prod", "staging")
    jane = console.identitystore.get_user_id(
        IdentityStoreId=console.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "jane.doe"}
        },
    )["UserId"]
    _delete_user(console, jane)

    report = controller.run_once()

    assert set(_orphans(accounts, jane)) <= set(_drift(report))


def test_an_assignment_made_by_hand_for_a_live_user_is_found_by_the_next_hybrid_pass(
    make_controller: ControllerFactory, console: ConsoleActions, tmp_path: Path
) -> None:
    controller = _converged(make_controller, suspend_file=tmp_path / "suspend")
    live = _live(controller)
    [prod] = _accounts(live, "prod")
    request = console.sso_admin.create_account_assignment(
        InstanceArn=console.instance_arn,
        TargetId=prod,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=live.permission_set_arns["DeveloperAccess"],
        PrincipalType="USER",
        PrincipalId=live.user_ids["sam.lee"],
    )["AccountAssignmentCreationStatus"]["RequestId"]
    _wait_for_creation(console, request)

    report = controller.run_once()

    assert report.read is HYBRID
    assert ("delete", f"assignment/{prod}/DeveloperAccess/USER/sam.lee") in _drift(report)


def _wait_for_creation(console: ConsoleActions, request_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = console.sso_admin.describe_account_assignment_creation_status(
            InstanceArn=console.instance_arn, AccountAssignmentCreationRequestId=request_id
        )["AccountAssignmentCreationStatus"]["Status"]
        if status != "IN_PROGRESS":
            assert status == "SUCCEEDED"
            return
        time.sleep(0.02)
    raise AssertionError(f"assignment request {request_id} still in progress after 30 s")


def test_the_read_after_a_pass_that_healed_drift_is_complete(
    make_controller: ControllerFactory, console: ConsoleActions
) -> None:
    controller = _converged(make_controller)
    _delete_user(console, _live(controller).user_ids["jane.doe"])
    healing = controller.run_once()

    reads = [controller.run_once().read for _ in range(2)]

    assert (healing.read, healing.status) == (HYBRID, PassStatus.APPLIED)
    assert reads == [COMPLETE, HYBRID]


def test_reads_stay_hybrid_while_the_controller_does_not_write(
    make_controller: ControllerFactory, console: ConsoleActions, tmp_path: Path
) -> None:
    controller = _converged(make_controller, suspend_file=tmp_path / "suspend")
    _delete_user(console, _live(controller).user_ids["sam.lee"])

    reports = [controller.run_once() for _ in range(2)]

    assert [(report.read, report.status) for report in reports] == [
        (HYBRID, PassStatus.DRIFTED),
        (HYBRID, PassStatus.DRIFTED),
    ]


def test_the_report_metrics_and_status_say_how_the_pass_read(
    make_controller: ControllerFactory,
) -> None:
    controller = _converged(make_controller)

    report = controller.run_once()

    assert report_json(report)["read"] == "hybrid"
    registry = controller.metrics.registry
    assert registry.get_sample_value("reconciler_live_reads_total", {"read": "hybrid"}) == 1
    assert registry.get_sample_value("reconciler_live_reads_total", {"read": "complete"}) == 2
    view = collect_status(
        state=controller.state,
        records=controller.records,
        controller=ControllerFacts(
            instance_arn=None,
            region=None,
            mode=Mode.HEAL,
            suspended=False,
            ready=True,
            lock="none",
            lock_holder=None,
        ),
        repository=RepositoryView(location="repo", ref="main", path="desired-state", web_url=None),
        live_read=True,
        now=datetime.now(UTC),
    )
    assert [entry["read"] for entry in status_json(view)["passes"]] == [
        "hybrid",
        "complete",
        "complete",
    ]
    assert "<small>hybrid read</small>" in status_html(view)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_complete_read_every_below_1_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_COMPLETE_READ_EVERY", value)

    with pytest.raises(SettingsError, match="complete_read_every"):
        load_settings()


def test_complete_read_every_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILER_COMPLETE_READ_EVERY", "1")

    assert load_settings().complete_read_every == 1


def test_a_hybrid_read_failing_for_good_is_followed_by_a_complete_read(
    make_controller: ControllerFactory, aws: AwsClients
) -> None:
    """AWS does not document how ListAccountAssignmentsForPrincipal answers for a deleted
    principal's id: an error only the hybrid way meets must not fail every pass."""
    controller = _converged(make_controller)

    def refuse(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": "refused for the test"}},
            "ListAccountAssignmentsForPrincipal",
        )

    aws.sso_admin.meta.events.register(
        "before-call.sso-admin.ListAccountAssignmentsForPrincipal", refuse
    )
    failed = controller.run_once()
    after = controller.run_once()

    assert (failed.status, failed.phase, failed.read) == (PassStatus.ERROR, "read", None)
    assert (after.status, after.read) == (PassStatus.IN_SYNC, COMPLETE)
