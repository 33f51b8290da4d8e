"""Passes of the controller against the sandbox and a real Git repository, one at a time
(``tick``, ``run_once``): new commits, invalid commits, drift, modes, suspension, the lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import reconciler.controller.loop
import reconciler.engine
from reconciler.adapters.aws.clients import AwsClients
from reconciler.controller.loop import Controller
from reconciler.controller.settings import load_settings
from reconciler.model.state import Membership
from reconciler.planning.reports import Mode, PassReport, PassStatus, report_json, report_text
from reconciler.planning.slack_messages import pass_message
from reconciler.sandbox import Sandbox
from reconciler.sandbox.console import ConsoleActions
from reconciler.sandbox.faults import FaultConfig
from tests.controller.conftest import (
    ControllerFactory,
    Reports,
    add_member,
    break_revision,
    edit_json,
    memberships,
    write_calls,
)
from tests.support import commit_all, git

JANE_ADMIN = Membership(group="AdminAccess", user="jane.doe")
SAM_ADMIN = Membership(group="AdminAccess", user="sam.lee")


def head(repository: Path) -> str:
    return git(repository, "rev-parse", "HEAD")


def test_a_new_commit_is_applied_once(
    make_controller: ControllerFactory, access_repo: Path, sandbox: Sandbox, aws: AwsClients
) -> None:
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    revision = add_member(access_repo, group="AdminAccess", user="sam.lee")
    writes_before = len(write_calls(sandbox))

    report = controller.tick(force=False)
    again = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.APPLIED
    assert report.revision == revision
    assert [(item.action, item.key, item.status) for item in report.changes] == [
        ("create", "membership/AdminAccess/sam.lee", "succeeded")
    ]
    assert again is None  # the same revision is not reconciled again before the interval
    assert write_calls(sandbox)[writes_before:] == ["CreateGroupMembership"]
    assert SAM_ADMIN in memberships(aws)
    assert controller.state.last_applied_revision == revision


def test_a_pass_on_a_converged_revision_makes_no_write(
    make_controller: ControllerFactory, sandbox: Sandbox
) -> None:
    controller = make_controller()
    controller.run_once()
    writes_before = len(write_calls(sandbox))

    report = controller.run_once()

    assert report.status is PassStatus.IN_SYNC
    assert report.changes == ()
    assert report.drift == ()
    assert len(write_calls(sandbox)) == writes_before


def test_an_invalid_commit_is_rejected_and_the_last_good_revision_is_healed_against(
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    aws: AwsClients,
) -> None:
    controller = make_controller()
    controller.run_once()
    good = head(access_repo)
    bad = break_revision(access_repo)
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.INVALID
    assert report.revision == bad
    assert report.applied_revision == good
    assert report.error is not None
    assert bad in report.error
    assert "users.json" in report.error
    refused = [item for item in report.failures if item.kind == "revision"]
    assert [item.key for item in refused] == [f"revision/{bad}"]
    assert [(item.key, item.status) for item in report.drift] == [
        ("membership/AdminAccess/jane.doe", "succeeded")
    ]
    assert report.changes == ()  # the healed drift is listed once, as drift
    assert JANE_ADMIN in memberships(aws)
    assert controller.state.last_applied_revision == good
    assert controller.state.last_attempted_revision == bad


def _nested_arrays(repository: Path) -> str:
    (repository / "desired-state" / "users.json").write_bytes(b"[" * 1000 + b"]" * 1000)
    return commit_all(repository, "1,000 nested arrays")


def _nan_in_inline_policy(repository: Path) -> str:
    path = repository / "desired-state" / "permission-sets" / "ReadOnlyAccess.json"
    document = json.loads(path.read_text())
    document["inline_policy"] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    text = json.dumps(document).replace('"Resource": "*"', '"Resource": "*", "Sid": NaN')
    path.write_text(text)
    return commit_all(repository, "NaN in an inline policy")


@pytest.mark.parametrize(
    "case",
    [
        (_nested_arrays, "users.json", "json_depth"),
        (_nan_in_inline_policy, "permission-sets/ReadOnlyAccess.json", "json_number"),
    ],
    ids=["nested-arrays", "nan"],
)
def test_input_that_used_to_crash_loading_is_rejected_and_drift_is_still_healed(
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    aws: AwsClients,
    case: tuple[Callable[[Path], str], str, str],
) -> None:
    commit_bad, file, rule = case
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    good = head(access_repo)
    bad = commit_bad(access_repo)

    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    first = controller.tick(force=False)
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    later = controller.run_once()  # the next interval's pass, on the same rejected revision

    for report in (first, later):
        assert report is not None
        assert report.status is PassStatus.INVALID, report.error
        assert report.revision == bad
        assert report.applied_revision == good
        assert report.error is not None
        assert file in report.error
        assert rule in report.error
        assert [(item.key, item.status) for item in report.drift] == [
            ("membership/AdminAccess/jane.doe", "succeeded")
        ]
    assert JANE_ADMIN in memberships(aws)
    assert controller.state.last_applied_revision == good


@pytest.mark.parametrize("stage", ["check_documents", "plan_revision"])
def test_an_unexpected_error_on_a_new_revision_rejects_it_and_drift_is_still_healed(  # noqa: PLR0917
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    aws: AwsClients,
    monkeypatch: pytest.MonkeyPatch,
    stage: str,
) -> None:
    """Whatever bug a new revision's files meet while loading or planning, the revision is
    refused and the last good one is still healed (no ``error internal`` pass after pass)."""
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    good = head(access_repo)
    bad = add_member(access_repo, group="AdminAccess", user="sam.lee")
    module = reconciler.engine if stage == "check_documents" else reconciler.controller.loop
    real = getattr(module, stage)

    def broken(*args: Any, **kwargs: Any) -> Any:
        revision = kwargs.get("revision")
        if stage == "check_documents" or revision == bad:
            raise RecursionError("maximum recursion depth exceeded")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, stage, broken)
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.INVALID, report.error
    assert report.revision == bad
    assert report.error is not None
    assert "RecursionError" in report.error
    assert report.phase == "load"
    assert [(item.key, item.status) for item in report.drift] == [
        ("membership/AdminAccess/jane.doe", "succeeded")
    ]
    assert JANE_ADMIN in memberships(aws)
    assert SAM_ADMIN not in memberships(aws)
    assert controller.state.last_applied_revision == good


def test_a_rejected_revision_is_not_tried_again_until_a_new_commit(
    make_controller: ControllerFactory, access_repo: Path
) -> None:
    controller = make_controller()
    controller.run_once()
    break_revision(access_repo)
    first = controller.tick(force=False)

    again = controller.tick(force=False)

    assert first is not None
    assert first.status is PassStatus.INVALID
    assert again is None


def test_a_fixed_revision_after_a_rejected_one_is_applied(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    controller = make_controller()
    controller.run_once()
    break_revision(access_repo)
    controller.tick(force=False)
    git(access_repo, "checkout", "-q", "HEAD~1", "--", "desired-state/users.json")
    fixed = add_member(access_repo, group="AdminAccess", user="sam.lee")

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.APPLIED
    assert controller.state.last_applied_revision == fixed
    assert SAM_ADMIN in memberships(aws)


def test_a_restart_keeps_enforcing_the_last_good_revision(
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    aws: AwsClients,
) -> None:
    make_controller().run_once()
    good = head(access_repo)
    break_revision(access_repo)
    make_controller().run_once()  # rejects the broken revision, then "crashes"
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    restarted = make_controller()
    report = restarted.run_once()

    assert restarted.state.last_applied_revision == good
    assert report.status is PassStatus.INVALID
    assert [item.key for item in report.drift] == ["membership/AdminAccess/jane.doe"]
    assert JANE_ADMIN in memberships(aws)


def test_a_revision_refused_by_the_deletion_guard_is_rejected_whole(
    make_controller: ControllerFactory, access_repo: Path, sandbox: Sandbox
) -> None:
    controller = make_controller()
    controller.run_once()
    good = head(access_repo)

    def no_deletions(document: dict[str, object]) -> None:
        document["deletion_guard"] = {"max_deletions": 0, "max_fraction": 1.0}

    edit_json(access_repo, "reconciler.json", no_deletions, "Allow no deletion")
    git(access_repo, "rm", "-q", "desired-state/permission-sets/DeveloperAccess.json")

    def drop_developer_access(document: dict[str, list[dict[str, object]]]) -> None:
        document["assignments"] = [
            entry
            for entry in document["assignments"]
            if entry["permission_set"] != "DeveloperAccess"
        ]

    refused = edit_json(access_repo, "assignments.json", drop_developer_access, "Drop a set")
    writes_before = len(write_calls(sandbox))

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.INVALID
    assert report.phase == "guard"
    assert report.error is not None
    assert "deletion guard" in report.error
    assert controller.state.last_applied_revision == good
    assert controller.state.last_attempted_revision == refused
    assert len(write_calls(sandbox)) == writes_before


def test_detect_mode_reports_drift_and_writes_nothing(
    make_controller: ControllerFactory,
    console: ConsoleActions,
    sandbox: Sandbox,
    aws: AwsClients,
) -> None:
    make_controller().run_once()
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    writes_before = len(write_calls(sandbox))

    report = make_controller(mode="detect").run_once()

    assert report.status is PassStatus.DRIFTED
    assert report.mode is Mode.DETECT
    assert [(item.action, item.key) for item in report.drift] == [
        ("create", "membership/AdminAccess/jane.doe")
    ]
    assert all(item.status is None for item in report.changes)  # planned, not applied
    assert len(write_calls(sandbox)) == writes_before
    assert JANE_ADMIN not in memberships(aws)


def test_heal_mode_heals_drift(
    make_controller: ControllerFactory, console: ConsoleActions, aws: AwsClients
) -> None:
    controller = make_controller()
    controller.run_once()
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    console.attach_managed_policy(
        permission_set="AdministratorAccess",
        policy_arn="arn:aws:iam::aws:policy/job-function/Billing",
    )

    report = controller.run_once()

    assert report.status is PassStatus.APPLIED
    assert {item.key for item in report.drift} >= {
        "membership/AdminAccess/jane.doe",
        "permission-set/AdministratorAccess",
    }
    assert all(item.status == "succeeded" for item in report.drift)
    assert JANE_ADMIN in memberships(aws)
    assert controller.run_once().status is PassStatus.IN_SYNC


def test_drift_without_a_new_commit_is_listed_once_as_drift(
    make_controller: ControllerFactory, console: ConsoleActions
) -> None:
    make_controller().run_once()
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    report = make_controller(mode="detect").run_once()

    assert [item.key for item in report.drift] == ["membership/AdminAccess/jane.doe"]
    assert report.changes == ()


def test_a_new_commit_lists_its_changes_and_the_drift_it_heals_each_once(
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    aws: AwsClients,
) -> None:
    controller = make_controller()
    controller.run_once()
    add_member(access_repo, group="AdminAccess", user="sam.lee")
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.APPLIED
    assert [(item.key, item.status) for item in report.changes] == [
        ("membership/AdminAccess/sam.lee", "succeeded")
    ]
    assert [(item.key, item.status) for item in report.drift] == [
        ("membership/AdminAccess/jane.doe", "succeeded")
    ]
    assert {JANE_ADMIN, SAM_ADMIN} <= memberships(aws)


def test_drift_carries_the_attribute_detail_of_the_plan(
    make_controller: ControllerFactory, console: ConsoleActions
) -> None:
    make_controller().run_once()
    console.attach_managed_policy(
        permission_set="DeveloperAccess", policy_arn="arn:aws:iam::aws:policy/IAMFullAccess"
    )

    report = make_controller(mode="detect").run_once()

    (update,) = [item for item in report.drift if item.action == "update"]
    assert update.key == "permission-set/DeveloperAccess"
    assert update.detail == ("managed_policies: -arn:aws:iam::aws:policy/IAMFullAccess",)


def _slack_text(report: PassReport) -> str:
    message = pass_message(report)
    return json.dumps(message["blocks"], ensure_ascii=False)


@pytest.mark.parametrize(
    "render",
    [report_text, lambda report: json.dumps(report_json(report)), _slack_text],
    ids=["text", "json", "slack"],
)
def test_the_drift_report_shows_the_attribute_detail_in_every_format(
    make_controller: ControllerFactory,
    console: ConsoleActions,
    render: Callable[[PassReport], str],
) -> None:
    make_controller().run_once()
    console.attach_managed_policy(
        permission_set="DeveloperAccess", policy_arn="arn:aws:iam::aws:policy/IAMFullAccess"
    )

    report = make_controller(mode="detect").run_once()

    assert "update permission set DeveloperAccess" in render(report)
    assert "managed_policies: -arn:aws:iam::aws:policy/IAMFullAccess" in render(report)


@pytest.fixture(params=["flag", "file", "environment"])
def suspended(
    request: pytest.FixtureRequest,
    make_controller: ControllerFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], Controller]:
    """Makes a controller whose writes are suspended by the flag, the file, or the
    environment."""

    def make() -> Controller:
        if request.param == "flag":
            return make_controller(suspend=True)
        if request.param == "file":
            (tmp_path / "suspended").touch()
            return make_controller(suspend_file=tmp_path / "suspended")
        monkeypatch.setenv("RECONCILER_SUSPEND", "true")
        return make_controller()

    return make


def test_suspension_reports_drift_and_makes_no_write_call(
    make_controller: ControllerFactory,
    console: ConsoleActions,
    sandbox: Sandbox,
    suspended: Callable[[], Controller],
) -> None:
    make_controller().run_once()
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    writes_before = len(write_calls(sandbox))

    report = suspended().run_once()

    assert report.suspended
    assert report.status is PassStatus.DRIFTED
    assert [item.key for item in report.drift] == ["membership/AdminAccess/jane.doe"]
    assert any("suspended" in note for note in report.notes)
    assert len(write_calls(sandbox)) == writes_before


def test_removing_the_suspend_file_resumes_writes(
    make_controller: ControllerFactory, console: ConsoleActions, tmp_path: Path, aws: AwsClients
) -> None:
    suspend_file = tmp_path / "suspended"
    controller = make_controller(suspend_file=suspend_file)
    controller.run_once()
    suspend_file.touch()
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    assert controller.run_once().status is PassStatus.DRIFTED

    suspend_file.unlink()
    report = controller.run_once()

    assert report.status is PassStatus.APPLIED
    assert not report.suspended
    assert JANE_ADMIN in memberships(aws)


def test_an_unreachable_repository_is_reported_and_the_last_good_revision_still_healed(
    make_controller: ControllerFactory,
    access_repo: Path,
    console: ConsoleActions,
    aws: AwsClients,
) -> None:
    controller = make_controller()
    controller.run_once()
    access_repo.rename(access_repo.with_name("moved-away"))
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    report = controller.run_once()

    assert report.status is PassStatus.ERROR
    assert report.phase == "fetch"
    assert report.revision is None
    assert [(item.key, item.status) for item in report.drift] == [
        ("membership/AdminAccess/jane.doe", "succeeded")
    ]
    assert JANE_ADMIN in memberships(aws)


def test_an_aws_error_is_reported_as_a_failed_read(
    make_controller: ControllerFactory, sandbox: Sandbox, impatient_aws: AwsClients
) -> None:
    controller = make_controller(clients=impatient_aws)
    sandbox.configure_faults(FaultConfig.parse("none,http500=1.0"))

    report = controller.run_once()

    assert report.status is PassStatus.ERROR
    assert report.phase == "read"
    assert report.error is not None
    assert "500" in report.error or "InternalServer" in report.error or "Error" in report.error
    assert not controller.ready


class HeldElsewhere:
    """A writer lock another controller holds."""

    holder = "other-host:4242"

    def __init__(self) -> None:
        self.attempts = 0

    def acquire(self) -> bool:
        self.attempts += 1
        return False

    def release(self) -> None:  # pragma: no cover - never held
        raise AssertionError("released a lock never held")


def test_a_lock_held_elsewhere_blocks_writes_and_names_the_holder(
    make_controller: ControllerFactory, console: ConsoleActions, sandbox: Sandbox
) -> None:
    make_controller().run_once()
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")
    controller = make_controller()
    controller.lock = lock = HeldElsewhere()
    writes_before = len(write_calls(sandbox))

    report = controller.run_once()

    assert lock.attempts == 1
    assert report.status is PassStatus.ERROR
    assert report.phase == "lock"
    assert report.error is not None
    assert "other-host:4242" in report.error
    assert [item.key for item in report.drift] == ["membership/AdminAccess/jane.doe"]
    assert len(write_calls(sandbox)) == writes_before


class RecordingLock:
    """A free writer lock that notes when it is held, to compare with the sandbox's writes."""

    holder = "this-test"

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self.held: list[tuple[int, int]] = []
        self._acquired_at: int | None = None

    def acquire(self) -> bool:
        self._acquired_at = len(self._sandbox.calls)
        return True

    def release(self) -> None:
        assert self._acquired_at is not None
        self.held.append((self._acquired_at, len(self._sandbox.calls)))
        self._acquired_at = None

    generation = 1
    shared_state: str | None = None

    def fence(self, margin_seconds: float) -> None:
        assert self._acquired_at is not None  # writes only while held

    def record_shared_state(self, text: str) -> None:
        assert self._acquired_at is not None  # recorded only while held
        self.shared_state = text

    def check(self) -> None:
        pass


def test_every_write_happens_while_the_writer_lock_is_held(
    make_controller: ControllerFactory, sandbox: Sandbox
) -> None:
    controller = make_controller()
    controller.lock = lock = RecordingLock(sandbox)

    controller.run_once()

    calls = sandbox.calls
    writes = [index for index, call in enumerate(calls) if call.is_write]
    assert writes
    assert len(lock.held) == 1
    start, end = lock.held[0]
    assert all(start <= index < end for index in writes)


def test_a_detect_mode_pass_does_not_take_the_writer_lock(
    make_controller: ControllerFactory,
) -> None:
    controller = make_controller(mode="detect")
    controller.lock = lock = HeldElsewhere()

    report = controller.run_once()

    assert lock.attempts == 0
    assert report.status is PassStatus.PENDING


def test_a_failing_notifier_does_not_fail_the_pass(make_controller: ControllerFactory) -> None:
    class Broken:
        def notify(self, report: object) -> bool:
            raise ConnectionError("Slack is down")

    controller = make_controller()
    controller.notifier = Broken()

    report = controller.run_once()

    assert report.status is PassStatus.APPLIED


def test_the_notifier_gets_every_report(make_controller: ControllerFactory) -> None:
    controller = make_controller()
    controller.notifier = reports = Reports()

    first = controller.run_once()
    second = controller.run_once()

    assert reports.all == [first, second]


def test_the_controller_is_ready_after_its_first_read_of_aws(
    make_controller: ControllerFactory,
) -> None:
    controller = make_controller(mode="detect")
    assert not controller.ready

    controller.run_once()

    assert controller.ready


def test_the_state_file_keeps_both_revisions(
    make_controller: ControllerFactory, access_repo: Path, tmp_path: Path
) -> None:
    controller = make_controller()
    controller.run_once()
    good = head(access_repo)
    bad = break_revision(access_repo)
    controller.tick(force=False)

    saved = json.loads((tmp_path / "state" / "state.json").read_text())

    assert saved["last_applied_revision"] == good
    assert saved["last_attempted_revision"] == bad


def test_settings_from_the_environment_reach_the_controller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILER_MODE", "detect")
    monkeypatch.setenv("RECONCILER_INTERVAL_SECONDS", "42")

    settings = load_settings()

    assert settings.mode is Mode.DETECT
    assert settings.interval_seconds == 42.0


def test_passes_run_one_at_a_time(make_controller: ControllerFactory) -> None:
    controller = make_controller()
    inside = threading.Semaphore(1)
    overlaps: list[bool] = []
    original = controller._pass

    def guarded(*args: object, **kwargs: object) -> object:
        overlaps.append(not inside.acquire(blocking=False))
        try:
            return original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            inside.release()

    controller._pass = guarded  # type: ignore[method-assign]
    threads = [threading.Thread(target=controller.run_once) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert overlaps == [False, False, False]
