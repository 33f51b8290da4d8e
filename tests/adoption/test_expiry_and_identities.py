"""Pure units: time-bound access and external identities, through loading, resolving and
planning."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.errors import InvalidRevisionError
from reconciler.model.loading import load_documents
from reconciler.model.resolving import LiveDirectory, expiry_notes, resolve
from reconciler.model.state import Account
from reconciler.planning.diffing import plan
from reconciler.planning.plans import CreateAssignment
from tests.unit.states import live, permission_set, state, to_user

PROD = Account(id="111111111111", name="prod")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DIRECTORY = LiveDirectory(accounts=[PROD], user_names=frozenset({"ann"}), group_names=frozenset())
ADMIN = {"name": "Admin", "managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"]}


def _files(*assignments: dict[str, Any], **extra: Any) -> dict[str, bytes]:
    """A folder of ``assignments`` and the ``extra`` files; the required files not given are
    written empty (users.json and groups.json only with managed identities)."""
    config = extra.get("reconciler.json", {})
    documents: dict[str, Any] = {"reconciler.json": config}
    if config.get("identities", "managed") == "managed":
        documents |= {"users.json": {"users": []}, "groups.json": {"groups": []}}
    documents |= {
        "permission-sets/Admin.json": ADMIN,
        "assignments.json": {"assignments": list(assignments)},
        **extra,
    }
    return {name: json.dumps(value).encode() for name, value in documents.items()}


def _entry(expires_at: str | None = None, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"permission_set": "Admin", "users": ["ann"], "accounts": ["prod"]}
    if expires_at is not None:
        entry["expires_at"] = expires_at
    return {**entry, **fields}


def test_expiry_without_a_zone_is_refused() -> None:
    with pytest.raises(InvalidRevisionError) as caught:
        load_documents(_files(_entry("2026-12-31T18:00:00")))

    assert caught.value.problems[0].rule == "timezone_aware"


def test_assignment_before_its_expiry_is_desired() -> None:
    desired = resolve(
        load_documents(_files(_entry("2026-12-31T18:00:00+01:00"))), DIRECTORY, now=NOW
    )

    assert len(desired.state.assignments) == 1


def test_expired_assignment_is_not_desired_and_is_noted() -> None:
    documents = load_documents(_files(_entry((NOW - timedelta(seconds=1)).isoformat())))

    desired = resolve(documents, DIRECTORY, now=NOW)

    assert desired.state.assignments == frozenset()
    assert [warning.rule for warning in desired.warnings] == ["access_expired"]


def test_assignment_expiring_within_a_week_is_noted() -> None:
    documents = load_documents(_files(_entry((NOW + timedelta(days=2)).isoformat())))

    desired = resolve(documents, DIRECTORY, now=NOW)

    assert len(desired.state.assignments) == 1
    assert [warning.rule for warning in desired.warnings] == ["access_expiring_soon"]


def test_offline_expiry_notes_are_the_notes_of_resolution() -> None:
    documents = load_documents(_files(_entry("2026-05-31T23:59:59+00:00")))

    (note,) = expiry_notes(documents, now=NOW)

    assert (note.path, note.rule) == ("$.assignments[0].expires_at", "access_expired")
    assert resolve(documents, DIRECTORY, now=NOW).warnings == (note,)


def test_plan_removes_an_expired_assignment_still_in_the_file() -> None:
    documents = load_documents(_files(_entry("2026-05-01T00:00:00Z")))
    desired = resolve(documents, DIRECTORY, now=NOW)
    current = live(
        state(
            permission_sets=[permission_set("Admin", managed_policies=ADMIN["managed_policies"])],
            assignments=[to_user("ann", "Admin")],
        )
    )

    result = plan(desired, current, revision=None)

    assert [operation.key for operation in result.operations] == [
        "assignment/111111111111/Admin/USER/ann"
    ]
    assert any("access expired" in note for note in result.notes)


def test_created_assignment_names_the_entry_and_rule_that_asked_for_it() -> None:
    desired = resolve(load_documents(_files(_entry())), DIRECTORY, now=NOW)

    result = plan(desired, live(state()), revision=None)

    (create,) = [op for op in result.operations if isinstance(op, CreateAssignment)]
    assert create.rule == "assignments.json $.assignments[0]: account prod"


def test_external_identities_refuse_users_and_groups_files() -> None:
    files = _files(
        _entry(),
        **{"reconciler.json": {"identities": "external"}, "groups.json": {"groups": []}},
    )

    with pytest.raises(InvalidRevisionError) as caught:
        load_documents(files)

    (problem,) = caught.value.problems
    assert (problem.file, problem.rule) == ("groups.json", "external_identities")


def test_external_identities_refuse_pruning_users() -> None:
    files = _files(
        _entry(), **{"reconciler.json": {"identities": "external", "prune": {"users": True}}}
    )

    with pytest.raises(InvalidRevisionError) as caught:
        load_documents(files)

    assert caught.value.problems[0].rule == "external_identities_pruned"


def test_external_identities_report_an_absent_group_as_coming_from_the_idp() -> None:
    files = _files(
        _entry(users=[], groups=["Platform"]), **{"reconciler.json": {"identities": "external"}}
    )

    with pytest.raises(InvalidRevisionError) as caught:
        resolve(load_documents(files), DIRECTORY, now=NOW)

    (problem,) = caught.value.problems
    assert problem.rule == "unknown_group"
    assert "'Platform' does not exist in the identity store" in problem.message
    assert "identity provider" in problem.message
