"""The shortcuts that make planning 100,000 assignments fast (issue 13) give what the slow paths
give: parsing skips the walk for refused values only when the walk would find none; account
references resolved once are reused with the same answer; plan JSON written by orjson is the
text ``json.dumps(indent=2)`` writes; pausing the cyclic collector leaves it as it was."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.model import documents as docs
from reconciler.model import loading
from reconciler.model.collection import collection_paused
from reconciler.model.state import Account
from reconciler.model.targets import TargetDirectory, resolve_targets
from reconciler.planning.rendering import json_text

# --- parsing: the walk for refused values is skipped only when it would find nothing ---------

_TRICKY = '\x00\x01\x08\x09\x0a\x0b\x0c\x0d\x1f\x7f\x80\x9f\xa0\\"/bfu\u2028é😀\ud800\udfff'
_strings = st.text(alphabet=st.sampled_from(_TRICKY) | st.characters(max_codepoint=0x2FF))
_numbers = st.integers(-(10**30), 10**30) | st.floats(allow_nan=True, allow_infinity=True)
_values = st.recursive(
    st.none() | st.booleans() | _numbers | _strings,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_strings, children, max_size=4)
    ),
    max_leaves=12,
)


def _slow_parse(text: str) -> tuple[Any, list[Any]]:
    """``parse_json`` as it was before the shortcut: parse, then always walk the values."""
    data = json.loads(
        text,
        object_pairs_hook=loading._no_duplicate_keys,
        parse_constant=loading._constant,
        parse_float=loading._float,
        parse_int=loading._int,
    )
    problems = loading._value_problems("f.json", data)
    return (None, problems) if problems else (data, [])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_values, ascii_only=st.booleans())
def test_parsing_finds_the_same_refused_values_as_the_full_walk(
    value: Any, ascii_only: bool
) -> None:
    text = json.dumps({"v": value}, ensure_ascii=ascii_only)
    try:
        content = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate written as itself: not UTF-8, another rule
        content = json.dumps({"v": value}, ensure_ascii=True).encode()
        text = content.decode()
    expected_data, expected_problems = _slow_parse(text)
    data, problems = loading.parse_json("f.json", content)
    assert problems == expected_problems
    assert (data is None) == (expected_data is None)
    if data is not None:
        assert json.dumps(data, sort_keys=True) == json.dumps(expected_data, sort_keys=True)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('{"a": "x\\by"}', "control_character"),
        ('{"a": "x\\fy"}', "control_character"),
        ('{"a": "x\\u0001y"}', "control_character"),
        ('{"a": "x\\ud800y"}', "json_string"),
        ('{"a\\u007f": 1}', "control_character"),
        ('{"a": "x\x7fy"}', "control_character"),
        ('{"a": NaN}', "json_number"),
        ('{"a": 1e999}', "json_number"),
    ],
)
def test_a_refused_value_is_found_by_escape_or_as_written(text: str, rule: str) -> None:
    data, problems = loading.parse_json("f.json", text.encode())
    assert data is None
    assert [problem.rule for problem in problems] == [rule]


def test_a_key_repeated_in_one_object_is_named() -> None:
    _, problems = loading.parse_json("f.json", b'{"a": 1, "b": 2, "b": 3, "a": 4}')
    assert [(problem.rule, problem.message) for problem in problems] == [
        ("duplicate_key", "key 'b' appears twice in one object; keep one")
    ]


_depth_texts = st.builds(
    lambda deep, middle, tail: "[" * deep + middle + "]" * tail,
    st.integers(0, loading.MAX_JSON_DEPTH + 2),
    st.text(alphabet='[]{}"\\ a', max_size=60),
    st.integers(0, loading.MAX_JSON_DEPTH + 2),
)


@settings(max_examples=400, deadline=None)
@given(text=_depth_texts)
def test_the_depth_check_finds_what_the_scan_of_every_token_finds(text: str) -> None:
    assert loading._depth_problem("f.json", text) == loading._depth_scan("f.json", text)


def test_nesting_one_level_deeper_than_allowed_is_found() -> None:
    deepest = loading.MAX_JSON_DEPTH
    text = '{"a": ' + "[" * deepest + '"]"' + "]" * deepest + "}"
    problem = loading._depth_problem("f.json", text)
    assert problem is not None
    assert problem.rule == "json_depth"
    assert loading._depth_problem("f.json", text[6:-1]) is None


# --- targets: a reference resolved once is answered the same way every time ------------------

_ACCOUNTS = {
    account.id: account
    for account in (
        Account(id="100000000001", name="shared"),
        Account(id="100000000002", name="prod"),
        Account(id="100000000003", name="twin"),
        Account(id="100000000004", name="twin"),
        Account(id="100000000005", name="100000000002"),
    )
}
_references = st.sampled_from(
    [
        "shared",
        "prod",
        "twin",
        "100000000001",
        "100000000002",
        "100000000005",
        "100000000009",
        "nope",
        "prd",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.lists(_references, min_size=1, max_size=4), st.lists(_references, max_size=2)),
        min_size=1,
        max_size=6,
    )
)
def test_targets_resolved_with_one_directory_match_a_fresh_directory_each(
    entries: list[tuple[list[str], list[str]]],
) -> None:
    shared = TargetDirectory(accounts=_ACCOUNTS)
    for index, (accounts, excluded) in enumerate(entries):
        assignment = docs.Assignment(
            permission_set="Admin", groups=["Ops"], accounts=accounts, exclude_accounts=excluded
        )
        where = {"file": "assignments.json", "path": f"$.assignments[{index}]"}
        fresh = TargetDirectory(accounts=_ACCOUNTS)
        assert resolve_targets(assignment, shared, **where) == resolve_targets(
            assignment, fresh, **where
        )


# --- plan JSON: orjson writes the text json.dumps(indent=2) writes -------------------------

_json_strings = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
_documents = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _json_strings,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_json_strings, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(document=_documents)
def test_json_text_is_what_json_dumps_writes_with_indent(document: Any) -> None:
    assert json_text(document) == json.dumps(document, indent=2, ensure_ascii=False)


def test_json_text_refuses_what_orjson_cannot_write_so_the_caller_falls_back() -> None:
    with pytest.raises(TypeError):
        json_text({1: "a key that is not a string"})


# --- the cyclic collector is paused, then left as it was -----------------------------------


@collection_paused
def _collector_enabled(inner: bool = False) -> bool:
    return _collector_enabled() if inner else gc.isenabled()


@collection_paused
def _fail() -> None:
    raise ValueError("boom")


@pytest.fixture
def collector_enabled() -> Any:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_enabled")
def test_a_paused_call_runs_without_cyclic_collection_and_enables_it_again() -> None:
    assert _collector_enabled() is False
    assert _collector_enabled(inner=True) is False
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_a_paused_call_that_raises_enables_collection_again() -> None:
    with pytest.raises(ValueError, match="boom"):
        _fail()
    assert gc.isenabled()


def test_a_paused_call_leaves_a_disabled_collector_disabled() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        _collector_enabled()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_the_cli_writes_a_document_orjson_refuses_with_json_dumps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reconciler import cli  # noqa: PLC0415

    cli._print_large_json({"notes": [], 7: "an integer key"})
    assert (
        capsys.readouterr().out
        == json.dumps({"notes": [], 7: "an integer key"}, indent=2, ensure_ascii=False) + "\n"
    )


def test_the_cli_writes_a_plan_document_as_json_dumps_would(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reconciler import cli  # noqa: PLC0415

    document = {"revision": None, "changes": [{"user": "zoë", "via": None, "n": 3}], "ok": True}
    cli._print_large_json(document)
    assert capsys.readouterr().out == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
