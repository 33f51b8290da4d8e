"""The rule behind each created assignment, in plan text and JSON."""

from __future__ import annotations

import io

from rich.console import Console

from reconciler.planning.plans import CreateAssignment, Plan
from reconciler.planning.rendering import plan_json, plan_text
from tests.unit.states import to_group

RULE = "$.assignments[0]: OU Root/Workloads (recursive)"
PLAN = Plan(
    revision=None, operations=(CreateAssignment(assignment=to_group("Ops", "Admin"), rule=RULE),)
)


def test_plan_json_carries_the_rule_of_a_created_assignment() -> None:
    (change,) = plan_json(PLAN)["changes"]

    assert change["rule"] == RULE


def test_plan_text_shows_the_rule_under_the_created_assignment() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(plan_text(PLAN), highlight=False)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]

    # rich markup: "[" is escaped so that the JSON path is printed as written
    assert lines[-1].strip() == f"rule: {RULE}"


def test_assignment_without_a_known_rule_has_no_rule_key() -> None:
    bare = Plan(revision=None, operations=(CreateAssignment(assignment=to_group("Ops", "Admin")),))

    (change,) = plan_json(bare)["changes"]

    assert "rule" not in change
