"""Counts with their nouns, and suggestions for unknown names (``model.wording``)."""

from __future__ import annotations

import pytest

from reconciler.model.wording import count, noun, suggestion, suggestion_clause


@pytest.mark.parametrize(
    ("number", "singular", "expected"),
    [
        (0, "change", "0 changes"),
        (1, "change", "1 change"),
        (2, "change", "2 changes"),
        (1, "account assignment", "1 account assignment"),
        (3, "account assignment", "3 account assignments"),
        (2, "policy", "2 policies"),
        (2, "entry", "2 entries"),
    ],
)
def test_a_count_agrees_with_its_noun(number: int, singular: str, expected: str) -> None:
    assert count(number, singular) == expected


def test_an_irregular_plural_can_be_given() -> None:
    assert noun(1, "matches", "match") == "matches"
    assert noun(2, "matches", "match") == "match"
    assert noun(2, "is") == "are"


def test_a_close_name_is_suggested_and_the_few_names_listed() -> None:
    text = suggestion("stagin", ["staging", "prod"], kind="account name")

    assert text == "did you mean 'staging'? The account names are: 'prod', 'staging'"


def test_case_is_ignored_when_suggesting() -> None:
    assert suggestion("Staging", ["staging"], kind="account name").startswith(
        "did you mean 'staging'?"
    )


def test_many_names_are_not_listed() -> None:
    names = [f"account-{index:02}" for index in range(11)]

    assert suggestion("acount-03", names) == "did you mean 'account-03'?"


def test_nothing_close_still_lists_the_few_names() -> None:
    assert suggestion("zzz", ["prod"], kind="account name") == "the account name is: 'prod'"


def test_nothing_to_say_adds_nothing_to_the_message() -> None:
    assert suggestion_clause("zzz", [f"n{index}" for index in range(20)]) == ""
