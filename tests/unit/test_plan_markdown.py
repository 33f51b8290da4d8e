"""Plan comments: every part carries the hidden marker and fits GitHub's comment limit."""

from __future__ import annotations

from reconciler.planning.plans import DeleteUser, Plan
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
