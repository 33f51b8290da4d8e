"""The lines shown under an operation: attributes of creates, readable diffs of updates."""

from __future__ import annotations

import pytest

from reconciler.model.state import Group, User
from reconciler.planning.details import detail_lines, human_duration, statement_changes
from reconciler.planning.plans import AttributeChange, CreateGroup, CreateUser, UpdateGroup


@pytest.mark.parametrize(
    ("duration", "words"),
    [("PT1H", "1 hour"), ("PT4H", "4 hours"), ("PT1H30M", "1 hour 30 minutes"), ("P1D", "P1D")],
)
def test_a_session_duration_is_put_in_words(duration: str, words: str) -> None:
    assert human_duration(duration) == words


def test_a_created_user_lists_its_attributes() -> None:
    user = User(user_name="ada", display_name="Ada L", given_name="Ada", family_name="L")

    assert detail_lines(CreateUser(user=user)) == (
        "display_name: Ada L",
        "given_name: Ada",
        "family_name: L",
    )


def test_a_created_group_lists_its_description() -> None:
    group = Group(name="Ops", description="On call")

    assert detail_lines(CreateGroup(group=group)) == ("description: On call",)


def test_a_long_description_change_shows_old_and_new_on_lines_of_their_own() -> None:
    old, new = "a" * 70, "b" * 70
    change = AttributeChange(attribute="description", old=old, new=new)

    lines = detail_lines(UpdateGroup(group=Group(name="Ops"), diff=(change,)))

    assert lines == ("description:", f"  - {old}", f"  + {new}")


def test_a_multi_line_description_change_is_a_line_diff() -> None:
    old = "first\nsecond\nthird"
    new = "first\nSECOND\nthird"
    change = AttributeChange(attribute="description", old=old, new=new)

    lines = detail_lines(UpdateGroup(group=Group(name="Ops"), diff=(change,)))

    assert "  -second" in lines
    assert "  +SECOND" in lines
    assert "   first" in lines


def test_statements_without_a_sid_are_added_or_removed_whole() -> None:
    old = {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
    new = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}

    assert statement_changes(old, new) == {
        "added": ["(no Sid)"],
        "removed": ["(no Sid)"],
        "changed": [],
    }
