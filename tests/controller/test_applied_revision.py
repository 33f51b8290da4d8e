"""Which revision a pass records as applied (state file ``last_applied_revision``, report
``applied_revision``) when it may not write: detect mode and suspension (flag or file).

A revision is recorded as applied only when the live state matches it: after its changes were
applied, or when its plan is empty. A pass that leaves changes pending (detect mode, suspended)
never records its target, in the state file or the report, before or after a restart; otherwise
a later heal-mode pass would take the unapplied revision as the one in force (drift healed
against it, rewinds judged against it) while AWS still holds the older one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.controller.loop import Controller
from reconciler.planning.reports import PassStatus
from reconciler.sandbox import Sandbox
from tests.controller.conftest import ControllerFactory, add_member, write_calls
from tests.support import commit_all, git


def saved_revisions(tmp_path: Path) -> tuple[str | None, str | None]:
    """(last applied, last attempted) revision in the controllers' state file."""
    saved = json.loads((tmp_path / "state" / "state.json").read_text())
    return saved["last_applied_revision"], saved["last_attempted_revision"]


@pytest.fixture(params=["detect", "suspend-flag", "suspend-file"])
def not_writing(
    request: pytest.FixtureRequest, make_controller: ControllerFactory, tmp_path: Path
) -> Callable[[], Controller]:
    """Makes a controller that may not write: detect mode, or writes suspended by the
    ``suspend`` setting or by a suspend file."""

    def make() -> Controller:
        if request.param == "detect":
            return make_controller(mode="detect")
        if request.param == "suspend-flag":
            return make_controller(suspend=True)
        (tmp_path / "suspended").touch()
        return make_controller(suspend_file=tmp_path / "suspended")

    return make


def test_a_pass_that_may_not_write_never_records_its_pending_revision_as_applied(
    make_controller: ControllerFactory,
    not_writing: Callable[[], Controller],
    access_repo: Path,
    tmp_path: Path,
    sandbox: Sandbox,
) -> None:
    make_controller().run_once()
    applied = git(access_repo, "rev-parse", "HEAD")
    pending = add_member(access_repo, group="AdminAccess", user="sam.lee")
    writes_before = len(write_calls(sandbox))

    first = not_writing().run_once()
    after_restart = not_writing().run_once()

    for report in (first, after_restart):
        assert report.status is PassStatus.PENDING
        assert report.revision == pending
        assert report.applied_revision == applied
    assert saved_revisions(tmp_path) == (applied, pending)
    assert len(write_calls(sandbox)) == writes_before


def test_a_first_pass_that_may_not_write_records_no_revision_as_applied(
    not_writing: Callable[[], Controller], access_repo: Path, tmp_path: Path
) -> None:
    target = git(access_repo, "rev-parse", "HEAD")

    report = not_writing().run_once()

    assert report.status is PassStatus.PENDING
    assert report.applied_revision is None
    assert saved_revisions(tmp_path) == (None, target)


def test_the_pending_revision_is_applied_by_the_next_heal_pass(
    make_controller: ControllerFactory,
    not_writing: Callable[[], Controller],
    access_repo: Path,
    tmp_path: Path,
) -> None:
    make_controller().run_once()
    pending = add_member(access_repo, group="AdminAccess", user="sam.lee")
    not_writing().run_once()

    report = make_controller().run_once()

    assert report.status is PassStatus.APPLIED
    assert [item.key for item in report.changes] == ["membership/AdminAccess/sam.lee"]
    assert report.applied_revision == pending
    assert saved_revisions(tmp_path) == (pending, pending)


def test_an_empty_plan_records_the_revision_as_applied_even_without_writes(
    make_controller: ControllerFactory,
    not_writing: Callable[[], Controller],
    access_repo: Path,
    tmp_path: Path,
) -> None:
    """The live state already matches a revision whose plan is empty: it is in force, with or
    without a write, so it is recorded (drift is then judged against what AWS holds)."""
    make_controller().run_once()
    (access_repo / "NOTES.md").write_text("nothing under desired-state changes\n")
    unchanged = commit_all(access_repo, "A commit outside the desired state")

    report = not_writing().run_once()

    assert report.status is PassStatus.IN_SYNC
    assert report.applied_revision == unchanged
    assert saved_revisions(tmp_path) == (unchanged, unchanged)
