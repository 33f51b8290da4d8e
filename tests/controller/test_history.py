"""Forward-only revisions: the controller applies a revision only if it descends from the last
applied one. A force push back to an older commit, a rewritten history, or a last applied commit
the repository no longer holds is refused like an invalid revision, and the last applied
revision stays in force, unless ``allow_rewind_revision`` names the revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.clients import AwsClients
from reconciler.controller.state import ControllerState, StateFile
from reconciler.model.state import Membership
from reconciler.planning.reports import PassReport, PassStatus
from reconciler.sandbox import Sandbox
from reconciler.sandbox.console import ConsoleActions
from tests.controller.conftest import ControllerFactory, add_member, memberships, write_calls
from tests.support import commit_all, git

SAM_ADMIN = Membership(group="AdminAccess", user="sam.lee")
JANE_ADMIN = Membership(group="AdminAccess", user="jane.doe")


def _grant_then_revoke(
    make_controller: ControllerFactory, access_repo: Path
) -> tuple[str, str, str]:
    """Apply the example (C0), a commit granting sam.lee AdminAccess (C1), and one revoking it
    (C2), each by its own controller pass; returns (C0, C1, C2)."""
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    base = git(access_repo, "rev-parse", "HEAD")
    grant = add_member(access_repo, group="AdminAccess", user="sam.lee")
    assert controller.run_once().status is PassStatus.APPLIED
    git(access_repo, "revert", "--no-edit", "HEAD")
    revoke = git(access_repo, "rev-parse", "HEAD")
    assert controller.run_once().status is PassStatus.APPLIED
    assert controller.state.last_applied_revision == revoke
    return base, grant, revoke


def _history_refusal(report: PassReport) -> str:
    assert report.status is PassStatus.INVALID
    assert report.phase == "history"
    refused = [item for item in report.failures if item.kind == "revision"]
    assert [item.key for item in refused] == [f"revision/{report.revision}"]
    assert refused[0].reason is not None
    return refused[0].reason


def test_a_force_push_back_to_an_older_commit_is_refused_and_revoked_access_stays_revoked(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients, sandbox: Sandbox
) -> None:
    _, grant, revoke = _grant_then_revoke(make_controller, access_repo)
    git(access_repo, "reset", "-q", "--hard", grant)  # what a force push does to the branch
    writes_before = len(write_calls(sandbox))

    report = make_controller().run_once()

    reason = _history_refusal(report)
    assert report.revision == grant
    assert report.applied_revision == revoke
    assert "older than the last applied revision" in reason
    assert f"RECONCILER_ALLOW_REWIND_REVISION={grant}" in reason
    assert SAM_ADMIN not in memberships(aws)
    assert write_calls(sandbox)[writes_before:] == []
    state = StateFile(make_controller().state_file.path).load()
    assert state.last_applied_revision == revoke
    assert state.last_attempted_revision == grant


def test_a_refused_rewind_still_heals_drift_against_the_last_applied_revision(
    make_controller: ControllerFactory,
    access_repo: Path,
    aws: AwsClients,
    console: ConsoleActions,
) -> None:
    _, grant, _ = _grant_then_revoke(make_controller, access_repo)
    git(access_repo, "reset", "-q", "--hard", grant)
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    report = make_controller().run_once()

    assert report.phase == "history"
    assert [item.key for item in report.drift] == ["membership/AdminAccess/jane.doe"]
    assert JANE_ADMIN in memberships(aws)
    assert SAM_ADMIN not in memberships(aws)


def test_a_rewritten_history_is_refused(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    base, _, revoke = _grant_then_revoke(make_controller, access_repo)
    git(access_repo, "reset", "-q", "--hard", base)
    (access_repo / "NOTES.md").write_text("a forked history\n")  # not the grant commit again
    commit_all(access_repo, "Fork")
    forked = add_member(access_repo, group="AdminAccess", user="sam.lee")

    report = make_controller().run_once()

    reason = _history_refusal(report)
    assert report.revision == forked
    assert "does not descend from the last applied revision" in reason
    assert report.applied_revision == revoke
    assert SAM_ADMIN not in memberships(aws)


def test_a_new_commit_on_top_of_a_rewind_is_refused_too(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    _, grant, _ = _grant_then_revoke(make_controller, access_repo)
    git(access_repo, "reset", "-q", "--hard", grant)
    (access_repo / "NOTES.md").write_text("an unrelated change\n")
    on_top = commit_all(access_repo, "A commit on the rewound branch")

    report = make_controller().run_once()

    assert report.revision == on_top
    assert "does not descend" in _history_refusal(report)
    assert SAM_ADMIN not in memberships(aws)


def test_a_last_applied_commit_missing_from_the_repository_refuses_the_revision(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    controller = make_controller()
    controller.run_once()
    vanished = "0123456789abcdef0123456789abcdef01234567"
    StateFile(controller.state_file.path).save(
        ControllerState(last_applied_revision=vanished, last_attempted_revision=vanished)
    )
    add_member(access_repo, group="AdminAccess", user="sam.lee")

    report = make_controller().run_once()

    assert "is not in the repository any more" in _history_refusal(report)
    assert SAM_ADMIN not in memberships(aws)


def test_allow_rewind_revision_lets_that_one_revision_through_with_a_note(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    _, grant, _ = _grant_then_revoke(make_controller, access_repo)
    git(access_repo, "reset", "-q", "--hard", grant)

    report = make_controller(allow_rewind_revision=grant).run_once()

    assert report.status is PassStatus.APPLIED
    assert report.applied_revision == grant
    assert any("allowed by allow_rewind_revision" in note for note in report.notes)
    assert SAM_ADMIN in memberships(aws)


def test_allow_rewind_revision_naming_another_revision_lifts_nothing(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    base, grant, revoke = _grant_then_revoke(make_controller, access_repo)
    git(access_repo, "reset", "-q", "--hard", grant)

    report = make_controller(allow_rewind_revision=base).run_once()

    _history_refusal(report)
    assert report.applied_revision == revoke
    assert SAM_ADMIN not in memberships(aws)


def test_descendants_of_the_last_applied_revision_are_applied(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients
) -> None:
    controller = make_controller()
    controller.run_once()
    add_member(access_repo, group="AdminAccess", user="sam.lee")
    git(access_repo, "commit", "-q", "--allow-empty", "-m", "An empty commit on top")

    report = controller.run_once()

    assert report.status is PassStatus.APPLIED
    assert SAM_ADMIN in memberships(aws)


def test_a_replica_with_an_older_state_file_takes_the_base_recorded_with_the_lock(
    make_controller: ControllerFactory,
    access_repo: Path,
    aws: AwsClients,
    tmp_path: Path,
    shared_lock: dict[str, Any],
) -> None:
    def replica(name: str) -> Any:
        return make_controller(
            state_file=tmp_path / f"{name}.json", lock_holder=name, **shared_lock
        )

    assert replica("b").run_once().status is PassStatus.APPLIED  # b applied the example, once
    a = replica("a")
    grant = add_member(access_repo, group="AdminAccess", user="sam.lee")
    assert a.run_once().status is PassStatus.APPLIED
    git(access_repo, "revert", "--no-edit", "HEAD")
    revoke = git(access_repo, "rev-parse", "HEAD")
    assert a.run_once().status is PassStatus.APPLIED
    git(access_repo, "reset", "-q", "--hard", grant)  # b's own state still says the example

    report = replica("b").run_once()

    assert "older than the last applied revision" in _history_refusal(report)
    assert report.applied_revision == revoke
    assert any("recorded with the writer lock" in note for note in report.notes)
    assert SAM_ADMIN not in memberships(aws)


def test_a_controller_whose_state_file_was_lost_takes_the_base_recorded_with_the_lock(
    make_controller: ControllerFactory,
    access_repo: Path,
    aws: AwsClients,
    tmp_path: Path,
    shared_lock: dict[str, Any],
) -> None:
    _, grant, _ = _grant_then_revoke(
        lambda **options: make_controller(**shared_lock, **options), access_repo
    )
    git(access_repo, "reset", "-q", "--hard", grant)

    report = make_controller(state_file=tmp_path / "new" / "state.json", **shared_lock).run_once()

    assert "older than the last applied revision" in _history_refusal(report)
    assert SAM_ADMIN not in memberships(aws)


@pytest.mark.parametrize("junk", ["junk{", '{"version": 2, "last_applied_revision": "9552179"}'])
def test_a_state_file_that_cannot_be_read_refuses_new_revisions_and_is_kept(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients, junk: str
) -> None:
    """Taken for a first start, a damaged state file would let a rewind through."""
    controller = make_controller()
    _, grant, _ = _grant_then_revoke(lambda **options: controller, access_repo)
    git(access_repo, "reset", "-q", "--hard", grant)
    controller.state_file.path.write_text(junk)

    report = make_controller().run_once()

    assert "the last applied revision is unknown" in _history_refusal(report)
    assert "the state file" in (report.error or "")
    assert SAM_ADMIN not in memberships(aws)
    assert controller.state_file.path.read_text() == junk  # kept for a person to look at


def test_a_shared_state_that_cannot_be_read_refuses_new_revisions(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients, tmp_path: Path
) -> None:
    lock_file = tmp_path / "shared.lock"
    lock: dict[str, Any] = {"lock": "file", "lock_file": lock_file}
    _, grant, _ = _grant_then_revoke(
        lambda **options: make_controller(**lock, **options), access_repo
    )
    git(access_repo, "reset", "-q", "--hard", grant)
    lines = lock_file.read_text().splitlines()
    lock_file.write_text(f"{lines[0]}\n{lines[1]}\ngarbage{{\n")

    report = make_controller(state_file=tmp_path / "new.json", **lock).run_once()

    assert "the state shared with the writer lock is not JSON" in _history_refusal(report)
    assert SAM_ADMIN not in memberships(aws)
    assert lock_file.read_text().splitlines()[2] == "garbage{"


def test_a_damaged_state_file_gives_way_to_the_state_shared_with_the_lock(
    make_controller: ControllerFactory, access_repo: Path, aws: AwsClients, tmp_path: Path
) -> None:
    lock: dict[str, Any] = {"lock": "file", "lock_file": tmp_path / "shared.lock"}
    _, grant, revoke = _grant_then_revoke(
        lambda **options: make_controller(**lock, **options), access_repo
    )
    git(access_repo, "reset", "-q", "--hard", grant)
    damaged = tmp_path / "damaged.json"
    damaged.write_text("junk{")

    report = make_controller(state_file=damaged, **lock).run_once()

    assert "older than the last applied revision" in _history_refusal(report)
    assert any("stands in for it" in note for note in report.notes)
    assert report.applied_revision == revoke
