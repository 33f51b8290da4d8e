"""Attributes for access control (ABAC) as code: the file, its validation, planning, the
deletion guard and what every rendering shows.

Limits from botocore's ``sso-admin`` model: ``AccessControlAttributeList`` max 50,
``AccessControlAttributeKey`` 1-128 of ``[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]+``,
``AccessControlAttributeValueSource`` 0-256 characters.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from reconciler.model.exporting import export_files
from reconciler.model.loading import ACCESS_CONTROL_ATTRIBUTES_FILE, check_documents
from reconciler.model.resolving import live_directory, resolve
from reconciler.model.state import IdentityCenterState
from reconciler.planning.diffing import plan
from reconciler.planning.guards import deletion_guard_violations
from reconciler.planning.plans import (
    AttributeChange,
    CreateAccessControlAttributes,
    DeleteAccessControlAttributes,
    Kind,
    UpdateAccessControlAttributes,
)
from reconciler.planning.projection import project
from reconciler.planning.rendering import plan_json, plan_markdown, plan_text
from reconciler.planning.saved_plans import fingerprints, operation_encoding
from tests.unit.states import desired, live, state

COST_CENTER = "${path:enterprise.costCenter}"
DEPARTMENT = "${path:enterprise.department}"
BASE_FILES = {
    "reconciler.json": b"{}",
    "users.json": b'{"users": []}',
    "groups.json": b'{"groups": []}',
    "assignments.json": b'{"assignments": []}',
}


def files_with(document: Any) -> dict[str, bytes]:
    return {**BASE_FILES, ACCESS_CONTROL_ATTRIBUTES_FILE: json.dumps(document).encode()}


def attributes_file(*pairs: tuple[str, str]) -> dict[str, bytes]:
    return files_with(
        {"access_control_attributes": [{"key": key, "source": source} for key, source in pairs]}
    )


def with_attributes(attributes: dict[str, str] | None) -> IdentityCenterState:
    return dataclasses.replace(state(), access_control_attributes=attributes)


def planned(want: dict[str, str] | None, have: dict[str, str] | None) -> list[Any]:
    return list(
        plan(desired(with_attributes(want)), live(with_attributes(have)), revision=None).operations
    )


# --- the file ------------------------------------------------------------------------------


def test_the_file_declares_attributes_by_key_and_source() -> None:
    documents, problems = check_documents(attributes_file(("CostCenter", COST_CENTER)))

    assert problems == ()
    desired_state = resolve(
        documents, live_directory(accounts={}, user_names=(), group_names=())
    ).state
    assert desired_state.access_control_attributes == {"CostCenter": COST_CENTER}


def test_without_the_file_the_attributes_are_not_declared() -> None:
    documents, problems = check_documents(BASE_FILES)

    assert problems == ()
    assert documents.access_control_attributes is None
    desired_state = resolve(
        documents, live_directory(accounts={}, user_names=(), group_names=())
    ).state
    assert desired_state.access_control_attributes is None


def test_an_empty_list_declares_no_attributes() -> None:
    documents, problems = check_documents(files_with({"access_control_attributes": []}))

    assert problems == ()
    assert documents.access_control_attributes == ()


@pytest.mark.parametrize(
    ("attribute", "path", "rule"),
    [
        pytest.param(
            {"key": "Cost Center!", "source": COST_CENTER},
            "$.access_control_attributes[0].key",
            "access_control_attribute_key",
            id="key-pattern",
        ),
        pytest.param(
            {"key": "K" * 129, "source": COST_CENTER},
            "$.access_control_attributes[0].key",
            "max_length",
            id="key-too-long",
        ),
        pytest.param(
            {"key": "", "source": COST_CENTER},
            "$.access_control_attributes[0].key",
            "string_too_short",
            id="key-empty",
        ),
        pytest.param(
            {"key": "Team", "source": "x" * 257},
            "$.access_control_attributes[0].source",
            "max_length",
            id="source-too-long",
        ),
        pytest.param(
            {"key": "Team", "source": "${path:name}#"},
            "$.access_control_attributes[0].source",
            "access_control_attribute_source",
            id="source-pattern",
        ),
        pytest.param(
            {"key": "Team", "source": [COST_CENTER]},
            "$.access_control_attributes[0].source",
            "string_type",
            id="source-list",
        ),
        pytest.param(
            {"key": "Team"},
            "$.access_control_attributes[0].source",
            "missing",
            id="source-missing",
        ),
    ],
)
def test_a_bad_attribute_is_a_problem_at_its_file_and_field(
    attribute: dict[str, Any], path: str, rule: str
) -> None:
    _, problems = check_documents(files_with({"access_control_attributes": [attribute]}))

    assert [(p.file, p.path, p.rule) for p in problems] == [
        (ACCESS_CONTROL_ATTRIBUTES_FILE, path, rule)
    ]


def test_more_than_fifty_attributes_is_a_problem() -> None:
    pairs = [(f"Key{index}", COST_CENTER) for index in range(51)]

    _, problems = check_documents(attributes_file(*pairs))

    assert [(p.file, p.path, p.rule) for p in problems] == [
        (
            ACCESS_CONTROL_ATTRIBUTES_FILE,
            "$.access_control_attributes",
            "too_many_access_control_attributes",
        )
    ]


def test_fifty_attributes_are_allowed() -> None:
    pairs = [(f"Key{index}", COST_CENTER) for index in range(50)]

    _, problems = check_documents(attributes_file(*pairs))

    assert problems == ()


def test_a_key_declared_twice_ignoring_case_names_both_places() -> None:
    _, problems = check_documents(
        attributes_file(("CostCenter", COST_CENTER), ("costcenter", DEPARTMENT))
    )

    (problem,) = problems
    assert (problem.file, problem.path, problem.rule) == (
        ACCESS_CONTROL_ATTRIBUTES_FILE,
        "$.access_control_attributes[1].key",
        "duplicate_access_control_attribute",
    )
    assert "$.access_control_attributes[0]" in problem.message


def test_a_file_without_the_list_is_a_problem_not_an_empty_configuration() -> None:
    _, problems = check_documents(files_with({}))

    assert [(p.path, p.rule) for p in problems] == [("$.access_control_attributes", "missing")]


# --- planning ------------------------------------------------------------------------------


def test_undeclared_attributes_leave_the_live_configuration_alone() -> None:
    assert planned(None, {"CostCenter": COST_CENTER}) == []


def test_declared_attributes_without_a_live_configuration_create_it() -> None:
    assert planned({"CostCenter": COST_CENTER}, None) == [
        CreateAccessControlAttributes(attributes={"CostCenter": COST_CENTER})
    ]


def test_the_same_attributes_plan_nothing() -> None:
    same = {"CostCenter": COST_CENTER, "Department": DEPARTMENT}

    assert planned(same, dict(reversed(list(same.items())))) == []


def test_changed_attributes_update_the_configuration_with_a_change_per_key() -> None:
    operations = planned(
        {"CostCenter": DEPARTMENT, "Team": "${path:enterprise.division}"},
        {"CostCenter": COST_CENTER, "Old": "${path:title}"},
    )

    assert operations == [
        UpdateAccessControlAttributes(
            attributes={"CostCenter": DEPARTMENT, "Team": "${path:enterprise.division}"},
            live={"CostCenter": COST_CENTER, "Old": "${path:title}"},
            diff=(
                AttributeChange(attribute="CostCenter", old=COST_CENTER, new=DEPARTMENT),
                AttributeChange(attribute="Old", old="${path:title}", new=None),
                AttributeChange(attribute="Team", old=None, new="${path:enterprise.division}"),
            ),
        )
    ]


def test_an_empty_list_deletes_a_live_configuration() -> None:
    assert planned({}, {"CostCenter": COST_CENTER}) == [
        DeleteAccessControlAttributes(live={"CostCenter": COST_CENTER})
    ]


def test_an_empty_list_without_a_live_configuration_plans_nothing() -> None:
    assert planned({}, None) == []


def test_deleting_the_configuration_is_refused_by_the_deletion_guard() -> None:
    """An emptied file looks like an empty list: deleting the whole configuration needs
    ``--allow-deletions``, like emptying any other kind."""
    wanted = desired(with_attributes({}))
    current = live(with_attributes({"CostCenter": COST_CENTER}))
    made = plan(wanted, current, revision=None)

    reasons = deletion_guard_violations(made, wanted, current)

    assert len(reasons) == 1
    assert "deletes all 1 managed access control attributes" in reasons[0]


def test_updating_the_configuration_is_not_a_deletion_for_the_guard() -> None:
    wanted = desired(with_attributes({"Team": DEPARTMENT}))
    current = live(with_attributes({"CostCenter": COST_CENTER}))
    made = plan(wanted, current, revision=None)

    assert deletion_guard_violations(made, wanted, current) == []


def test_the_projection_of_a_plan_holds_the_declared_attributes() -> None:
    current = with_attributes({"CostCenter": COST_CENTER})
    for want, expected in (({"Team": DEPARTMENT}, {"Team": DEPARTMENT}), ({}, None)):
        made = plan(desired(with_attributes(want)), live(current), revision=None)

        assert project(current, made.operations).access_control_attributes == expected


def test_a_saved_plan_fingerprints_the_live_configuration() -> None:
    current = live(with_attributes({"CostCenter": COST_CENTER}))
    changed = live(with_attributes({"CostCenter": DEPARTMENT}))
    made = plan(desired(with_attributes({"Team": DEPARTMENT})), current, revision=None)

    (operation,) = made.operations
    assert operation_encoding(operation)["kind"] == Kind.ACCESS_CONTROL_ATTRIBUTES.value
    assert fingerprints(made, current) != fingerprints(made, changed)
    assert fingerprints(made, current)["access-control-attributes"] is not None


# --- rendering -----------------------------------------------------------------------------


def _rendered(want: dict[str, str], have: dict[str, str] | None) -> tuple[str, str, Any]:
    made = plan(desired(with_attributes(want)), live(with_attributes(have)), revision=None)
    return plan_text(made), "".join(plan_markdown(made)), plan_json(made)


def test_a_created_configuration_shows_each_attribute() -> None:
    text, markdown, document = _rendered({"CostCenter": COST_CENTER}, None)

    assert "+ enable attributes for access control (1 attribute)" in text
    assert f"CostCenter: {COST_CENTER}" in text
    assert f"CostCenter: {COST_CENTER}" in markdown
    (change,) = document["changes"]
    assert change["kind"] == "access_control_attributes"
    assert change["key"] == "access-control-attributes"
    assert change["attributes"] == {"CostCenter": COST_CENTER}


def test_an_updated_configuration_shows_what_each_key_gains_or_loses() -> None:
    text, markdown, document = _rendered(
        {"CostCenter": DEPARTMENT, "Team": "${path:enterprise.division}"},
        {"CostCenter": COST_CENTER, "Old": "${path:title}"},
    )

    for shown in (text, markdown):
        assert f"CostCenter: {COST_CENTER} → {DEPARTMENT}" in shown
        assert "+ Team: ${path:enterprise.division}" in shown
        assert "- Old: ${path:title}" in shown
    (change,) = document["changes"]
    assert change["action"] == "update"
    assert {item["attribute"]: (item["old"], item["new"]) for item in change["diff"]} == {
        "CostCenter": (COST_CENTER, DEPARTMENT),
        "Old": ("${path:title}", None),
        "Team": (None, "${path:enterprise.division}"),
    }


def test_a_deleted_configuration_lists_the_attributes_it_removes() -> None:
    text, _, document = _rendered({}, {"CostCenter": COST_CENTER})

    assert "- disable attributes for access control (delete 1 attribute)" in text
    assert f"CostCenter: {COST_CENTER}" in text
    (change,) = document["changes"]
    assert (change["action"], change["attributes"]) == ("delete", {"CostCenter": COST_CENTER})


# --- export --------------------------------------------------------------------------------


def test_export_writes_the_live_attributes_as_a_file_that_plans_nothing() -> None:
    current = live(with_attributes({"Department": DEPARTMENT, "CostCenter": COST_CENTER}))

    export = export_files(current)

    documents, problems = check_documents(export.files)
    assert problems == ()
    assert json.loads(export.files[ACCESS_CONTROL_ATTRIBUTES_FILE]) == {
        "access_control_attributes": [
            {"key": "CostCenter", "source": COST_CENTER},
            {"key": "Department", "source": DEPARTMENT},
        ]
    }
    resolved = resolve(documents, live_directory(accounts={}, user_names=(), group_names=()))
    assert plan(resolved, current, revision=None).operations == ()


def test_export_writes_no_file_without_a_live_configuration() -> None:
    export = export_files(live(with_attributes(None)))

    assert ACCESS_CONTROL_ATTRIBUTES_FILE not in export.files
