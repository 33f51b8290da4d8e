"""Plan comments: every part carries the hidden marker and fits GitHub's comment limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from markdown_it import MarkdownIt

from reconciler.model.state import AssignmentKey, PermissionSet, PrincipalType
from reconciler.planning.plans import (
    AttributeChange,
    CreateAssignment,
    DeleteAssignment,
    DeleteUser,
    Operation,
    Plan,
    ProvisionPermissionSet,
    UpdatePermissionSet,
)
from reconciler.planning.rendering import PLAN_COMMENT_MARKER, plan_markdown

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _deletions(count: int) -> Plan:
    operations = tuple(DeleteUser(user_name=f"user-{index:05d}") for index in range(count))
    return Plan(revision=REVISION, operations=operations)


def test_an_empty_plan_starts_with_the_marker() -> None:
    (part,) = plan_markdown(Plan(revision=REVISION, operations=()))

    assert part.splitlines()[0] == PLAN_COMMENT_MARKER


def test_every_part_of_a_long_plan_starts_with_the_marker() -> None:
    parts = plan_markdown(_deletions(400), limit=4000)

    assert len(parts) > 1
    assert all(part.splitlines()[0] == PLAN_COMMENT_MARKER for part in parts)


def test_every_part_with_its_marker_fits_the_limit() -> None:
    parts = plan_markdown(_deletions(400), limit=4000)

    assert max(len(part) for part in parts) <= 4000


def test_the_marker_appears_once_per_part() -> None:
    parts = plan_markdown(_deletions(400), limit=4000)

    assert "".join(parts).count(PLAN_COMMENT_MARKER) == len(parts)


# --- every operation is shown once, whatever the split -----------------------------------


def _assignment(index: int) -> AssignmentKey:
    return AssignmentKey(
        f"{100000000000 + index % 7:012d}", "Reader", PrincipalType.USER, f"u{index:05d}"
    )


def _update(index: int) -> UpdatePermissionSet:
    old = PermissionSet(name=f"Set{index:05d}", description="old")
    new = PermissionSet(name=f"Set{index:05d}", description=f"new description {index}")
    return UpdatePermissionSet(
        permission_set=new,
        live=old,
        diff=(AttributeChange(attribute="description", old="old", new=new.description),),
    )


PLANS: dict[str, Callable[[int], Operation]] = {
    "create": lambda i: CreateAssignment(assignment=_assignment(i)),
    "update": _update,
    "delete": lambda i: DeleteAssignment(assignment=_assignment(i)),
    "provision": lambda i: ProvisionPermissionSet(
        name=f"Set{i:05d}", accounts=frozenset({"111111111111"})
    ),
}


@pytest.mark.parametrize("action", sorted(PLANS))
def test_every_operation_row_appears_in_exactly_one_part(action: str) -> None:
    plan = Plan(revision=REVISION, operations=tuple(PLANS[action](i) for i in range(400)))

    parts = plan_markdown(plan, limit=4000)

    assert len(parts) >= 5  # several part boundaries
    for op in plan.operations:
        row = f"`{op.key}` |\n"
        assert [part.count(row) for part in parts].count(1) == 1, op.key
        assert sum(part.count(row) for part in parts) == 1, op.key


def test_every_diff_appears_in_exactly_one_part() -> None:
    plan = Plan(revision=REVISION, operations=tuple(_update(i) for i in range(400)))

    parts = plan_markdown(plan, limit=4000)

    for op in plan.operations:
        diff = f"description: old → {op.permission_set.description}\n"
        assert sum(part.count(diff) for part in parts) == 1, op.key


def test_every_part_of_a_split_table_has_the_table_head() -> None:
    plan = Plan(revision=REVISION, operations=tuple(PLANS["delete"](i) for i in range(400)))

    parts = plan_markdown(plan, limit=4000)

    table_parts = [part for part in parts if "| - |" in part]
    assert len(table_parts) >= 5
    assert all("| | change | key |\n|---|---|---|\n" in part for part in table_parts)


def test_a_block_longer_than_a_part_is_cut_with_a_note_never_silently() -> None:
    huge = "x" * 10000
    old = PermissionSet(name="Big", description="old")
    update = UpdatePermissionSet(
        permission_set=PermissionSet(name="Big", description=huge),
        live=old,
        diff=(AttributeChange(attribute="description", old="old", new=huge),),
    )

    parts = plan_markdown(Plan(revision=REVISION, operations=(update,)), limit=4000)

    assert max(len(part) for part in parts) <= 4000
    assert any("cut to fit" in part for part in parts)


# --- values from a pull request cannot write Markdown or HTML of their own -----------------


def _rendered(parts: list[str]) -> str:
    return MarkdownIt("commonmark").render("".join(parts))


def test_a_description_cannot_close_the_diff_block_and_hide_what_follows() -> None:
    """A reviewer must see every change: ```` ``` ```` then ``<!--`` in a description would
    otherwise end the code block and open an HTML comment hiding the rest of the plan."""
    hostile = "Developers\n```\n<!--"
    old = PermissionSet(name="DeveloperAccess", description="Developers")
    disguise = UpdatePermissionSet(
        permission_set=PermissionSet(name="DeveloperAccess", description=hostile),
        live=old,
        diff=(AttributeChange(attribute="description", old="Developers", new=hostile),),
    )
    admin = UpdatePermissionSet(
        permission_set=PermissionSet(name="ReadOnlyAccess", description="read"),
        live=PermissionSet(name="ReadOnlyAccess", description="read"),
        diff=(AttributeChange(attribute="inline_policy", old="{}", new='{"Action": "*"}'),),
    )

    html = _rendered(plan_markdown(Plan(revision=REVISION, operations=(disguise, admin))))

    assert html.count("<!--") == 1  # the marker only: the description's is shown as text
    assert "&lt;!--" in html
    assert "inline_policy" in html
    assert "update permission set ReadOnlyAccess" in html


def test_a_backtick_in_a_key_cannot_close_its_code_span() -> None:
    user = DeleteUser(user_name="eve`<img src=x onerror=alert(1)>`")

    html = _rendered(plan_markdown(Plan(revision=REVISION, operations=(user,))))

    assert "<img" not in html
    assert "&lt;img" in html
