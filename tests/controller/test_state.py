"""The state file: both revisions survive a restart; a damaged file is an error, never taken
for a first start (that would let any revision, a rewind among them, be applied)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.controller.state import (
    MAX_POSTED_MESSAGES,
    ControllerState,
    PostedMessage,
    StateError,
    StateFile,
)
from reconciler.planning.guards import RecordedDeletion
from reconciler.planning.plans import Kind

APPLIED = "a" * 40
ATTEMPTED = "b" * 40


def test_saved_revisions_are_loaded_back(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "deep" / "state.json")

    state_file.save(
        ControllerState(last_applied_revision=APPLIED, last_attempted_revision=ATTEMPTED)
    )

    assert StateFile(state_file.path).load() == ControllerState(
        last_applied_revision=APPLIED, last_attempted_revision=ATTEMPTED
    )


def test_a_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    assert StateFile(tmp_path / "none.json").load() == ControllerState()


def test_a_damaged_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 1, "last_applied_')

    with pytest.raises(StateError, match=f"the state file {path} is not JSON"):
        StateFile(path).load()


@pytest.mark.parametrize("value", ["main; rm -rf /", "9552179", "A" * 40, 7])
def test_a_revision_that_is_not_a_full_lowercase_sha_is_an_error(
    tmp_path: Path, value: object
) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "last_applied_revision": value}))

    with pytest.raises(StateError, match="last_applied_revision is not a full commit SHA"):
        StateFile(path).load()


def test_saving_leaves_no_temporary_file(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")

    state_file.save(ControllerState(last_applied_revision=APPLIED))
    state_file.save(ControllerState(last_applied_revision=ATTEMPTED))

    assert [path.name for path in tmp_path.iterdir()] == ["state.json"]


DELETED = RecordedDeletion(
    kind=Kind.ASSIGNMENT,
    count=7,
    revision=APPLIED,
    at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
)


def test_recorded_deletions_are_loaded_back(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    allowed = RecordedDeletion(
        kind=Kind.PERMISSION_SET, count=1, revision=None, at=DELETED.at, allowed=True
    )
    state = ControllerState(last_applied_revision=APPLIED, deletions=(DELETED, allowed))

    state_file.save(state)

    assert json.loads(state_file.path.read_text())["version"] == 2
    assert StateFile(state_file.path).load() == state


def test_a_version_1_file_is_read_with_no_deletions(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "last_applied_revision": APPLIED,
                "last_attempted_revision": ATTEMPTED,
                "updated_at": "2026-11-30T12:00:00+00:00",
            }
        )
    )

    assert StateFile(path).load() == ControllerState(
        last_applied_revision=APPLIED, last_attempted_revision=ATTEMPTED
    )


def test_an_unreadable_deletion_entry_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    good = {"kind": "assignment", "count": 7, "revision": APPLIED, "at": DELETED.at.isoformat()}
    path.write_text(
        json.dumps(
            {
                "version": 2,
                "last_applied_revision": APPLIED,
                "deletions": [{"kind": "unicorn", "count": 1, "at": "yesterday"}, good],
            }
        )
    )

    with pytest.raises(StateError, match="deletion entry 0 cannot be read"):
        StateFile(path).load()


POSTED = PostedMessage(fingerprint="f" * 64, at=datetime(2026, 12, 1, 11, 0, tzinfo=UTC))


def test_posted_slack_messages_are_loaded_back(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    state = ControllerState(last_applied_revision=APPLIED, slack_posted=(POSTED,))

    state_file.save(state)

    assert StateFile(state_file.path).load() == state


def test_a_version_2_file_without_posted_messages_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 2, "last_applied_revision": APPLIED, "deletions": []}))

    assert StateFile(path).load() == ControllerState(last_applied_revision=APPLIED)


def test_only_the_newest_posted_messages_are_kept(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    many = tuple(
        PostedMessage(
            fingerprint=f"{index:064x}",
            at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=index),
        )
        for index in range(MAX_POSTED_MESSAGES + 10)
    )

    state_file.save(ControllerState(slack_posted=many))

    assert StateFile(state_file.path).load().slack_posted == many[-MAX_POSTED_MESSAGES:]


def test_a_posted_message_without_a_fingerprint_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    entry = {"fingerprint": "not hex", "at": "2026-12-01T11:00:00+00:00"}
    path.write_text(json.dumps({"version": 2, "slack_posted": [entry]}))

    with pytest.raises(StateError, match="slack_posted entry 0"):
        StateFile(path).load()


def test_the_times_of_the_revisions_are_loaded_back(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    applied_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    attempted_at = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    state = ControllerState(
        last_applied_revision=APPLIED,
        last_attempted_revision=ATTEMPTED,
        last_applied_at=applied_at,
        last_attempted_at=attempted_at,
    )

    state_file.save(state)

    assert StateFile(state_file.path).load() == state


def test_an_unreadable_time_is_read_as_unknown_and_the_rest_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps({"version": 2, "last_applied_revision": APPLIED, "last_applied_at": "yesterday"})
    )

    state = StateFile(path).load()

    assert state.last_applied_revision == APPLIED
    assert state.last_applied_at is None
