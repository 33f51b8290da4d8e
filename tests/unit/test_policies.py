"""IAM policy documents compare as documents: spelling differences are no change, meaning is."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reconciler.model.policies import canonical_policy, parse_policy_text, policy_document

BASE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadLogs",
            "Effect": "Allow",
            "Action": ["logs:GetLogEvents", "logs:DescribeLogGroups"],
            "Resource": "*",
        },
        {
            "Sid": "DenyDelete",
            "Effect": "Deny",
            "Action": "s3:DeleteBucket",
            "Resource": ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
            "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-west-2"]}},
        },
    ],
}


def _with_statement(index: int, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document["Statement"][index].update(changes)
    return document


def _equal(left: Any, right: Any) -> bool:
    return policy_document(left) == policy_document(right)


def test_reordered_keys_are_equal() -> None:
    reordered = {
        "Statement": [
            {key: statement[key] for key in reversed(list(statement))}
            for statement in BASE["Statement"]
        ],
        "Version": "2012-10-17",
    }
    assert _equal(BASE, reordered)


def test_whitespace_is_not_a_difference() -> None:
    pretty = json.dumps(BASE, indent=4)
    compact = json.dumps(BASE, separators=(",", ":"))
    assert parse_policy_text(pretty) == parse_policy_text(compact)


def test_policy_as_aws_returns_it_equals_the_policy_as_written() -> None:
    returned = json.dumps(BASE, ensure_ascii=True, sort_keys=True, indent=1)
    assert parse_policy_text(returned) == policy_document(BASE)


def test_escaped_unicode_equals_the_character_itself() -> None:
    written = {"Statement": [{"Sid": "Accès", "Effect": "Allow"}]}
    assert parse_policy_text('{"Statement": [{"Sid": "Acc\\u00e8s", "Effect": "Allow"}]}') == (
        policy_document(written)
    )


def test_single_statement_object_equals_a_list_of_one() -> None:
    statement = BASE["Statement"][0]
    assert _equal({**BASE, "Statement": statement}, {**BASE, "Statement": [statement]})


def test_action_string_equals_a_list_of_one() -> None:
    assert _equal(
        _with_statement(1, Action="s3:DeleteBucket"), _with_statement(1, Action=["s3:DeleteBucket"])
    )


def test_resource_string_equals_a_list_of_one() -> None:
    assert _equal(_with_statement(0, Resource="*"), _with_statement(0, Resource=["*"]))


def test_reordered_action_list_is_equal() -> None:
    assert _equal(
        _with_statement(0, Action=["logs:GetLogEvents", "logs:DescribeLogGroups"]),
        _with_statement(0, Action=["logs:DescribeLogGroups", "logs:GetLogEvents"]),
    )


def test_repeated_action_is_equal_to_one() -> None:
    assert _equal(
        _with_statement(1, Action=["s3:DeleteBucket", "s3:DeleteBucket"]),
        _with_statement(1, Action="s3:DeleteBucket"),
    )


def test_reordered_statements_are_equal() -> None:
    assert _equal(BASE, {**BASE, "Statement": list(reversed(BASE["Statement"]))})


def test_reordered_condition_values_are_equal() -> None:
    condition = {"StringEquals": {"aws:RequestedRegion": ["eu-west-2", "eu-west-1"]}}
    assert _equal(BASE, _with_statement(1, Condition=condition))


def test_condition_value_string_equals_a_list_of_one() -> None:
    assert _equal(
        _with_statement(1, Condition={"Bool": {"aws:SecureTransport": "false"}}),
        _with_statement(1, Condition={"Bool": {"aws:SecureTransport": ["false"]}}),
    )


def test_principal_value_string_equals_a_list_of_one() -> None:
    assert _equal(
        _with_statement(0, Principal={"AWS": "arn:aws:iam::111122223333:root"}),
        _with_statement(0, Principal={"AWS": ["arn:aws:iam::111122223333:root"]}),
    )


@pytest.mark.parametrize(
    ("index", "change"),
    [
        pytest.param(0, {"Action": ["logs:GetLogEvents"]}, id="action-removed"),
        pytest.param(0, {"Action": ["logs:GetLogEvents", "logs:PutLogEvents"]}, id="action-swap"),
        pytest.param(1, {"Action": "s3:DeleteObject"}, id="other-action"),
        pytest.param(0, {"Resource": "arn:aws:logs:*:*:*"}, id="resource"),
        pytest.param(1, {"Resource": ["arn:aws:s3:::audit"]}, id="resource-removed"),
        pytest.param(1, {"Effect": "Allow"}, id="effect"),
        pytest.param(0, {"Sid": "Other"}, id="sid"),
        pytest.param(
            1,
            {"Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}},
            id="condition-value",
        ),
        pytest.param(
            1,
            {"Condition": {"StringLike": {"aws:RequestedRegion": ["eu-west-1", "eu-west-2"]}}},
            id="condition-operator",
        ),
    ],
)
def test_a_real_change_is_unequal(index: int, change: dict[str, Any]) -> None:
    assert not _equal(BASE, _with_statement(index, **change))


def test_not_action_is_not_action() -> None:
    statement = {"Effect": "Allow", "Resource": "*"}
    assert not _equal(
        {"Statement": [{**statement, "Action": "s3:*"}]},
        {"Statement": [{**statement, "NotAction": "s3:*"}]},
    )


def test_version_is_compared() -> None:
    assert not _equal({**BASE, "Version": "2008-10-17"}, BASE)


def test_an_added_statement_is_unequal() -> None:
    extra = {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
    assert not _equal(BASE, {**BASE, "Statement": [*BASE["Statement"], extra]})


def test_text_keeps_the_document_as_written() -> None:
    document = policy_document({"Version": "2012-10-17", "Statement": {"Effect": "Allow"}})
    assert document.text == '{"Version":"2012-10-17","Statement":{"Effect":"Allow"}}'


def test_canonical_form_is_compact_key_sorted_json() -> None:
    assert canonical_policy({"b": 1, "a": [2]}) == '{"a":[2],"b":1}'


def test_value_that_is_not_an_object_is_canonical_json() -> None:
    assert canonical_policy(["x", 1]) == '["x",1]'


def test_text_that_is_not_json_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        parse_policy_text("{not json")


# Generated policies, and every spelling of them that IAM reads the same way.

_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
_ACTIONS = st.builds(lambda service, name: f"{service}:{name}", _NAMES, _NAMES)
_RESOURCES = st.builds(lambda name: f"arn:aws:s3:::{name}", _NAMES) | st.just("*")


@st.composite
def _statements(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": draw(st.sampled_from(["Allow", "Deny"])),
        "Action": draw(st.lists(_ACTIONS, min_size=1, max_size=4, unique=True)),
        "Resource": draw(st.lists(_RESOURCES, min_size=1, max_size=3, unique=True)),
    }
    if draw(st.booleans()):
        statement["Sid"] = draw(_NAMES)
    if draw(st.booleans()):
        statement["Condition"] = {
            "StringEquals": {
                "aws:RequestedRegion": draw(st.lists(_NAMES, min_size=1, max_size=3, unique=True))
            }
        }
    return statement


_POLICIES = st.builds(
    lambda statements: {"Version": "2012-10-17", "Statement": statements},
    st.lists(_statements(), min_size=1, max_size=4, unique_by=json.dumps),
)


def _respell(value: Any, draw: Callable[[Any], Any], *, key: str | None = None) -> Any:
    """The same policy with keys and lists shuffled and single-element lists as strings."""
    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        return {name: _respell(value[name], draw, key=name) for name in keys}
    if isinstance(value, list):
        items = [_respell(item, draw) for item in draw(st.permutations(value))]
        single = len(items) == 1 and (key == "Statement" or isinstance(items[0], str))
        if single and draw(st.booleans()):
            return items[0]
        return items
    return value


@settings(max_examples=80, deadline=None)
@given(data=st.data(), policy=_POLICIES)
def test_every_respelling_of_a_policy_is_equal(data: st.DataObject, policy: dict[str, Any]) -> None:
    respelled = _respell(policy, data.draw)
    assert canonical_policy(respelled) == canonical_policy(policy)
    assert parse_policy_text(json.dumps(respelled, indent=2)) == policy_document(policy)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), policy=_POLICIES, action=_ACTIONS)
def test_a_new_action_in_any_statement_is_unequal(
    data: st.DataObject, policy: dict[str, Any], action: str
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(policy["Statement"]) - 1))
    changed = copy.deepcopy(policy)
    statement = changed["Statement"][index]
    assume(action not in statement["Action"])
    statement["Action"] = [*statement["Action"], action]
    assert canonical_policy(changed) != canonical_policy(policy)


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'])
def test_policy_text_with_nan_or_infinity_is_not_json(text: str) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        parse_policy_text(text)


def test_policy_document_holding_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        policy_document({"Statement": [{"Condition": {"x": {"y": float("nan")}}}]})
