"""The controller's deletion guard against the sandbox: only managed objects count, deletions add
up over a window kept in the state file, a commit cannot raise its own limit, and one named
revision may be allowed past it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from reconciler.adapters.aws.clients import AwsClients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.model.state import MANAGED_TAG_KEY, MANAGED_TAG_VALUE
from reconciler.planning.reports import PassReport, PassStatus
from reconciler.planning.slack_messages import pass_message, worth_posting
from reconciler.sandbox import Sandbox
from reconciler.sandbox.console import ConsoleActions
from reconciler.sandbox.server import SeededOrganization
from tests.controller.conftest import ControllerFactory, edit_json
from tests.support import commit_all, git

TEAMS = [f"Team{index:02d}" for index in range(13)]
"""With the example's 7 assignments, 13 team assignments make 20 managed ones."""


class Clock:
    """A wall clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def head(repository: Path) -> str:
    return git(repository, "rev-parse", "HEAD")


def assignments(aws: AwsClients) -> int:
    return len(read_live_state(aws).state.assignments)


def empty_assignments(repository: Path) -> str:
    path = repository / "desired-state" / "assignments.json"
    path.write_text(json.dumps({"assignments": []}))
    return commit_all(repository, "Empty assignments.json")


def add_teams(repository: Path) -> str:
    """Commit 13 groups, each assigned ReadOnlyAccess in prod (20 managed assignments)."""

    def groups(document: Any) -> None:
        document["groups"] += [{"name": name, "members": []} for name in TEAMS]

    def assign(document: Any) -> None:
        document["assignments"].append(
            {"permission_set": "ReadOnlyAccess", "groups": TEAMS, "accounts": ["prod"]}
        )

    edit_json(repository, "groups.json", groups, "Teams")
    return edit_json(repository, "assignments.json", assign, "Assign the teams")


def drop_teams(repository: Path, names: list[str], **guard: float) -> str:
    """Commit the removal of the assignments of ``names``, with ``guard`` in reconciler.json."""
    if guard:

        def raise_limits(document: Any) -> None:
            document["deletion_guard"] = guard

        edit_json(repository, "reconciler.json", raise_limits, "Change the guard")

    def drop(document: Any) -> None:
        for entry in document["assignments"]:
            if any(name in TEAMS for name in entry.get("groups", [])):
                entry["groups"] = [name for name in entry["groups"] if name not in names]

    return edit_json(repository, "assignments.json", drop, f"Drop {', '.join(names)}")


@pytest.fixture
def control_tower_assignment(
    console: ConsoleActions, organization: SeededOrganization, sandbox: Sandbox
) -> None:
    """An AWSControlTowerAdmin set (tagged as if ours) assigned to a Control Tower group in prod:
    live, protected, outside any revision's scope."""
    group_id = console.identitystore.create_group(
        IdentityStoreId=console.identity_store_id, DisplayName="AWSControlTowerAdmins"
    )["GroupId"]
    arn = console.sso_admin.create_permission_set(
        InstanceArn=console.instance_arn,
        Name="AWSControlTowerAdmin",
        Tags=[{"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE}],
    )["PermissionSet"]["PermissionSetArn"]
    console.sso_admin.create_account_assignment(
        InstanceArn=console.instance_arn,
        TargetId=organization.accounts["prod"],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=arn,
        PrincipalType="GROUP",
        PrincipalId=group_id,
    )
    sandbox.complete_operations()


def refused_by_guard(report: PassReport | None) -> PassReport:
    assert report is not None
    assert (report.status, report.phase) == (PassStatus.INVALID, "guard"), report.error
    assert report.error is not None
    return report


# --- only managed objects count ---------------------------------------------------------------


@pytest.mark.usefixtures("control_tower_assignment")
def test_an_emptied_assignments_file_is_refused_with_a_protected_assignment_present(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    controller = make_controller()
    controller.run_once()
    good = head(access_repo)
    emptied = empty_assignments(access_repo)

    report = refused_by_guard(controller.tick(force=False))

    assert "deletes all 7 managed assignments and creates none" in report.error
    assert "1 live assignment left out of the count (outside the prune scope" in report.error
    assert f"RECONCILER_ALLOW_DELETIONS_REVISION) to {emptied}" in report.error
    assert assignments(aws) == 8
    assert controller.state.last_applied_revision == good


# --- the window -------------------------------------------------------------------------------


def test_deletions_spread_over_passes_are_refused_past_the_windows_limit(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    clock = Clock()
    controller = make_controller(now=clock)
    controller.run_once()
    add_teams(access_repo)
    assert controller.tick(force=False) is not None
    assert assignments(aws) == 20
    drop_teams(access_repo, TEAMS[:4], max_deletions=100, max_fraction=0.25)
    clock.advance(hours=1)
    first = controller.tick(force=False)  # 4 of 20: 20%
    assert first is not None
    assert first.status is PassStatus.APPLIED
    drop_teams(access_repo, TEAMS[4:8])
    clock.advance(hours=1)

    report = refused_by_guard(controller.tick(force=False))  # alone 4 of 16 (25%): 8 of 20

    assert "after 4 deleted in the last 24 hours (of 20 managed then): 40%" in report.error
    assert assignments(aws) == 16


def test_deletions_older_than_the_window_no_longer_count(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    clock = Clock()
    controller = make_controller(now=clock, deletion_guard_window_seconds="PT12H")
    controller.run_once()
    add_teams(access_repo)
    controller.tick(force=False)
    drop_teams(access_repo, TEAMS[:4], max_deletions=100, max_fraction=0.25)
    controller.tick(force=False)
    drop_teams(access_repo, TEAMS[4:8])
    clock.advance(hours=13)

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.APPLIED
    assert assignments(aws) == 12


def test_the_window_survives_a_restart(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    clock = Clock()
    controller = make_controller(now=clock)
    controller.run_once()
    add_teams(access_repo)
    controller.tick(force=False)
    drop_teams(access_repo, TEAMS[:4], max_deletions=100, max_fraction=0.25)
    controller.tick(force=False)
    drop_teams(access_repo, TEAMS[4:8])

    refused_by_guard(make_controller(now=clock).run_once())

    assert assignments(aws) == 16


# --- the limits in force ----------------------------------------------------------------------


def test_a_commit_raising_its_own_guard_limit_does_not_lift_it(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    controller = make_controller()
    controller.run_once()
    add_teams(access_repo)
    controller.tick(force=False)  # applied under the example's limits: 20 and 25%

    raised = drop_teams(access_repo, TEAMS[:10], max_deletions=1000, max_fraction=1.0)
    report = refused_by_guard(controller.tick(force=False))

    assert "deletes 10 of 20 managed assignments: 50%, more than 25%" in report.error
    assert "reconciler.json of the last applied revision" in report.error
    assert controller.state.last_applied_revision != raised
    assert assignments(aws) == 20


def test_the_controller_settings_cap_every_revision(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    controller = make_controller(deletion_guard_max_deletions=2)
    controller.run_once()
    add_teams(access_repo)
    controller.tick(force=False)
    drop_teams(access_repo, TEAMS[:3])

    report = refused_by_guard(controller.tick(force=False))

    assert "more than the limit of 2 (deletion_guard.max_deletions, the controller settings)" in (
        report.error
    )
    assert assignments(aws) == 20


# --- the audited override ---------------------------------------------------------------------


def test_the_override_lets_its_revision_delete_past_the_guard_with_a_warning_and_a_note(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    make_controller().run_once()
    emptied = empty_assignments(access_repo)
    controller = make_controller(allow_deletions_revision=emptied)

    with capture_logs() as logs:
        report = controller.run_once()

    assert report.status is PassStatus.APPLIED
    assert assignments(aws) == 0
    assert any(
        note.startswith(f"the deletion guard is lifted for revision {emptied}")
        for note in report.notes
    )
    assert worth_posting(report)
    assert "the deletion guard is lifted" in json.dumps(pass_message(report))
    (lifted,) = [event for event in logs if event["event"] == "guard.lifted"]
    assert (lifted["log_level"], lifted["revision"], lifted["deletions"]) == ("warning", emptied, 7)
    assert [(d.count, d.allowed) for d in controller.state.deletions] == [(7, True)]


def test_the_override_is_ignored_with_a_note_when_the_target_is_another_revision(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    make_controller().run_once()
    other = head(access_repo)
    emptied = empty_assignments(access_repo)
    controller = make_controller(allow_deletions_revision=other)

    report = refused_by_guard(controller.run_once())

    ignored = (
        f"allow_deletions_revision (RECONCILER_ALLOW_DELETIONS_REVISION) names {other}, "
        f"not the target revision {emptied}: ignored"
    )
    assert any(note.startswith(ignored) for note in report.notes)
    assert assignments(aws) == 7


# --- access granted by hand -------------------------------------------------------------------


def granted_by_hand(
    console: ConsoleActions, organization: SeededOrganization, sandbox: Sandbox
) -> int:
    """sam.lee given AdministratorAccess and ReadOnlyAccess in prod and staging by hand: four
    assignments of declared sets (in the prune scope) that no revision declares."""
    user_id = console.identitystore.get_user_id(
        IdentityStoreId=console.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "sam.lee"}
        },
    )["UserId"]
    count = 0
    for permission_set in ("AdministratorAccess", "ReadOnlyAccess"):
        arn = console.permission_set_arn(permission_set)
        for account in ("prod", "staging"):
            console.sso_admin.create_account_assignment(
                InstanceArn=console.instance_arn,
                TargetId=organization.accounts[account],
                TargetType="AWS_ACCOUNT",
                PermissionSetArn=arn,
                PrincipalType="USER",
                PrincipalId=user_id,
            )
            count += 1
    sandbox.complete_operations()
    return count


@pytest.fixture
def grant_by_hand(
    console: ConsoleActions, organization: SeededOrganization, sandbox: Sandbox
) -> Callable[[], int]:
    """``grant_by_hand()`` makes the four hand-made assignments of ``granted_by_hand``."""
    return lambda: granted_by_hand(console, organization, sandbox)


def test_access_granted_by_hand_is_healed_past_the_guard_and_not_counted_in_the_window(
    make_controller: ControllerFactory,
    aws: AwsClients,
    grant_by_hand: Callable[[], int],
) -> None:
    controller = make_controller()
    controller.run_once()
    added = grant_by_hand()
    assert assignments(aws) == 7 + added  # 4 of 11 managed: 36%, past the 25% of the guard

    report = controller.run_once()

    assert report.status is PassStatus.APPLIED, report.error
    assert assignments(aws) == 7
    assert controller.state.deletions == ()


def test_an_emptied_file_beside_access_granted_by_hand_counts_the_declared_access_only(
    make_controller: ControllerFactory,
    access_repo: Path,
    aws: AwsClients,
    grant_by_hand: Callable[[], int],
) -> None:
    controller = make_controller()
    controller.run_once()
    grant_by_hand()
    empty_assignments(access_repo)

    report = refused_by_guard(controller.tick(force=False))

    assert "deletes all 7 managed assignments and creates none" in report.error
    assert "4 live assignments left out of the count" in report.error
    assert [item.status for item in report.drift] == ["succeeded"] * 4  # healed meanwhile
    assert assignments(aws) == 7


def test_the_window_is_shared_through_the_writer_lock(
    make_controller: ControllerFactory,
    access_repo: Path,
    aws: AwsClients,
    tmp_path: Path,
    shared_lock: dict[str, Any],
) -> None:
    """A standby replica, or a controller whose state file was lost, takes the lock with the
    window of whoever held it before: deletions cannot be spread over replicas either."""
    clock = Clock()

    def replica(name: str) -> Any:
        return make_controller(
            now=clock, state_file=tmp_path / f"{name}.json", lock_holder=name, **shared_lock
        )

    a = replica("a")
    a.run_once()
    add_teams(access_repo)
    assert a.tick(force=False) is not None
    drop_teams(access_repo, TEAMS[:4], max_deletions=100, max_fraction=0.25)
    clock.advance(hours=1)
    assert a.tick(force=False).status is PassStatus.APPLIED  # 4 of 20: 20%
    drop_teams(access_repo, TEAMS[4:8])
    clock.advance(hours=1)

    report = refused_by_guard(replica("b").run_once())  # b's own state file: empty

    assert "after 4 deleted in the last 24 hours (of 20 managed then): 40%" in report.error
    assert assignments(aws) == 16


def test_a_stale_base_never_lets_applied_access_pass_for_hand_made(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients, tmp_path: Path
) -> None:
    """A state file restored from an old snapshot names an older revision as the last applied:
    the access added since (applied by a later revision) must not be taken for hand-made and
    deleted past the guard, neither by the target's plan nor by healing to that stale base."""
    state = tmp_path / "state" / "state.json"
    controller = make_controller(state_file=state)
    controller.run_once()

    def limit(document: Any) -> None:
        document["deletion_guard"]["max_deletions"] = 3

    edit_json(access_repo, "reconciler.json", limit, "At most 3 deletions")
    assert controller.tick(force=False) is not None
    snapshot = state.read_text()  # the state that will be restored, naming this revision
    add_teams(access_repo)  # 13 team assignments, applied
    assert controller.tick(force=False).status is PassStatus.APPLIED
    git(access_repo, "revert", "--no-edit", "HEAD")  # 13 deletions: past the limit of 3
    assert refused_by_guard(controller.tick(force=False))
    state.write_text(snapshot)  # restored after a crash: a fresh process, a stale base

    report = make_controller(state_file=state).run_once()

    assert report.status is PassStatus.INVALID, report.error
    assert assignments(aws) == 20
