"""Invalid input users have tripped over: the revision is refused whole, and the problem names
the file, the JSON path and the rule.

Each shared case (``tests/cases/invalid/``, copied from the team's case list) is put at its
natural place in an otherwise valid folder, so that it is the only problem. Each stands for its
kind: the variants below break the same rule in the other ways users do. "Nothing applied" is
shown here by the exception (loading or resolving raises before any plan exists); the
end-to-end tests show that the CLI makes no write call.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model.loading import load_documents
from tests.cases.folders import (
    INVALID,
    READ_ONLY_ARN,
    base_folder,
    directory,
    encode,
    resolve_folder,
    user,
)

PS = "permission-sets"


def _case(name: str) -> bytes:
    return (INVALID / name).read_bytes()


def _permission_set_file(content: bytes) -> str:
    """Where a permission-set case belongs: ``permission-sets/<its name>.json``."""
    return f"{PS}/{json.loads(content)['name']}.json"


def _problems(files: dict[str, bytes]) -> tuple[Problem, ...]:
    with pytest.raises(InvalidRevisionError) as raised:
        resolve_folder(files)
    return raised.value.problems


def _refused_for(files: dict[str, bytes], *, file: str, path: str, rule: str) -> Problem:
    """Assert the revision is refused for exactly this one problem; return it."""
    problems = _problems(files)
    assert [(p.file, p.path, p.rule) for p in problems] == [(file, path, rule)], [
        str(p) for p in problems
    ]
    problem = problems[0]
    assert file in str(problem)
    assert path in str(problem)
    assert rule in str(problem)
    return problem


def _with(**changes: bytes) -> dict[str, bytes]:
    files = base_folder()
    files.update({name.replace("__", "/"): content for name, content in changes.items()})
    return files


def _with_permission_set(content: bytes) -> tuple[dict[str, bytes], str]:
    file = _permission_set_file(content)
    files = base_folder()
    files[file] = content
    return files, file


def _permission_set(**fields: Any) -> bytes:
    return encode({"name": "Case", "session_duration": "PT1H", "managed_policies": [], **fields})


def test_base_folder_is_valid() -> None:
    desired = resolve_folder(base_folder())
    assert len(desired.state.assignments) == 1
    assert desired.warnings == ()


# Every shared case, at its natural place.

PERMISSION_SET_CASES = [
    ("ps-name-too-long.json", "$.name", "max_length"),
    ("ps-name-space.json", "$.name", "permission_set_name"),
    ("session-too-long.json", "$.session_duration", "session_duration_range"),
    ("session-not-iso.json", "$.session_duration", "iso8601_duration"),
    ("description-emoji.json", "$.description", "description"),
    ("customer-arn-in-managed.json", "$.managed_policies[0]", "customer_policy_as_managed"),
    ("inline-policy-too-big.json", "$.inline_policy", "inline_policy_size"),
]


@pytest.mark.parametrize(("case", "path", "rule"), PERMISSION_SET_CASES)
def test_shared_permission_set_case_is_refused(case: str, path: str, rule: str) -> None:
    files, file = _with_permission_set(_case(case))
    _refused_for(files, file=file, path=path, rule=rule)


@pytest.mark.parametrize(
    ("case", "file", "path", "rule"),
    [
        ("reserved-user-name.json", "users.json", "$.users[0].user_name", "reserved_user_name"),
        ("user-name-whitespace.json", "users.json", "$.users[0].user_name", "user_name"),
        ("unknown-member.json", "groups.json", "$.groups[0].members[0]", "unknown_user"),
        (
            "unknown-permission-set.json",
            "assignments.json",
            "$.assignments[0].permission_set",
            "unknown_permission_set",
        ),
        ("trailing-comma.json", "groups.json", "$", "json_syntax"),
    ],
)
def test_shared_case_is_refused(case: str, file: str, path: str, rule: str) -> None:
    files = base_folder()
    files[file] = _case(case)
    if case == "user-name-whitespace.json":
        # The group's member keeps naming the user as it was meant to be written.
        files["groups.json"] = encode({"groups": [{"name": "AdminAccess", "members": []}]})
    _refused_for(files, file=file, path=path, rule=rule)


def test_trailing_comma_case_gives_line_and_column() -> None:
    files = _with(**{"groups.json": _case("trailing-comma.json")})
    problem = _problems(files)[0]
    assert (problem.line, problem.column) == (3, 53)
    assert str(problem).startswith("groups.json:3:53: ")
    assert "trailing comma" in problem.message


def test_unknown_member_case_is_valid_once_the_user_exists_live() -> None:
    files = _with(**{"groups.json": _case("unknown-member.json")})
    desired = resolve_folder(files, directory(user_names=["no.such.user"]))
    assert {m.user for m in desired.state.memberships} == {"no.such.user"}


def test_unknown_member_case_passes_loading_and_is_refused_by_resolving() -> None:
    files = _with(**{"groups.json": _case("unknown-member.json")})
    load_documents(files)
    with pytest.raises(InvalidRevisionError):
        resolve_folder(files)


def test_shared_duplicate_permission_set_case_is_refused() -> None:
    files = base_folder()
    del files[f"{PS}/ReadOnly.json"]
    for path in sorted((INVALID / "duplicate-permission-set").iterdir()):
        files[f"{PS}/{path.name}"] = path.read_bytes()
    problems = _problems(files)
    assert [(p.path, p.rule) for p in problems] == [("$.name", "duplicate_permission_set")]
    both = {f"{PS}/ReadOnly.json", f"{PS}/ReadOnly-copy.json"}
    assert problems[0].file in both
    assert (both - {problems[0].file}).pop() in problems[0].message


def test_every_shared_case_broken_at_once_is_reported_together() -> None:
    files = base_folder()
    for case, _, _ in PERMISSION_SET_CASES:
        content = _case(case)
        files[_permission_set_file(content)] = content
    files["users.json"] = _case("reserved-user-name.json")
    files["assignments.json"] = _case("unknown-permission-set.json")
    problems = _problems(files)
    expected = {
        (_permission_set_file(_case(case)), path, rule) for case, path, rule in PERMISSION_SET_CASES
    }
    expected |= {
        ("users.json", "$.users[0].user_name", "reserved_user_name"),
        ("assignments.json", "$.assignments[0].permission_set", "unknown_permission_set"),
    }
    assert {(p.file, p.path, p.rule) for p in problems} == expected


# Each case stands for its kind.


@pytest.mark.parametrize(("length", "valid"), [(31, True), (32, True), (33, False), (64, False)])
def test_permission_set_name_length_limit_is_32(length: int, valid: bool) -> None:
    name = "N" * length
    files, file = _with_permission_set(_permission_set(name=name))
    if valid:
        assert name in resolve_folder(files).state.permission_sets
    else:
        _refused_for(files, file=file, path="$.name", rule="max_length")


@pytest.mark.parametrize(
    "name",
    [
        "Read Only",
        "Read\tOnly",
        "Read/Only",
        "Read:Only",
        "Read*",
        "Read#Only",
        "Read(Only)",
        "Lesezugriff-Ä",
        "Admin\u00a0Access",
        "Admin🔒",
    ],
)
def test_permission_set_name_with_a_character_aws_forbids_is_refused(name: str) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(name=name)})
    _refused_for(files, file=f"{PS}/Case.json", path="$.name", rule="permission_set_name")


@pytest.mark.parametrize(
    "name", ["Read+Only", "Read=Only", "a,b", "Read.Only", "ops@team", "R_O-1"]
)
def test_permission_set_name_with_the_symbols_aws_allows_is_accepted(name: str) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(name=name)})
    assert name in resolve_folder(files).state.permission_sets


@pytest.mark.parametrize(
    ("duration", "rule"),
    [
        ("PT13H", "session_duration_range"),
        ("PT12H1M", "session_duration_range"),
        ("PT12H0M1S", "session_duration_range"),
        ("PT24H", "session_duration_range"),
        ("PT780M", "session_duration_range"),
        ("PT59M", "session_duration_range"),
        ("PT3599S", "session_duration_range"),
        ("PT0H", "session_duration_range"),
        ("1h", "iso8601_duration"),
        ("3600", "iso8601_duration"),
        ("PT1.5H", "iso8601_duration"),
        ("P1D", "iso8601_duration"),
        ("P0DT4H", "iso8601_duration"),
        ("01:00:00", "iso8601_duration"),
        ("pt1h", "iso8601_duration"),
        ("PT", "iso8601_duration"),
        ("", "iso8601_duration"),
    ],
)
def test_session_duration_outside_pt1h_to_pt12h_or_not_iso_is_refused(
    duration: str, rule: str
) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(session_duration=duration)})
    _refused_for(files, file=f"{PS}/Case.json", path="$.session_duration", rule=rule)


@pytest.mark.parametrize(
    ("duration", "canonical"),
    [
        ("PT1H", "PT1H"),
        ("PT12H", "PT12H"),
        ("PT60M", "PT1H"),
        ("PT720M", "PT12H"),
        ("PT1H30M", "PT1H30M"),
    ],
)
def test_session_duration_within_pt1h_to_pt12h_is_accepted(duration: str, canonical: str) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(session_duration=duration)})
    assert resolve_folder(files).state.permission_sets["Case"].session_duration == canonical


@pytest.mark.parametrize(
    "description",
    [
        "Read-only access 🔒",
        "Nur Lesezugriff – Produktion",  # en dash, outside Latin-1
        "Costs in €",
        "“quoted”",
        "读取权限",
        "zero\u200bwidth",
    ],
)
def test_description_outside_latin1_is_refused(description: str) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(description=description)})
    _refused_for(files, file=f"{PS}/Case.json", path="$.description", rule="description")


def test_description_with_a_control_character_is_refused_as_one() -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(description="bell\x07")})
    _refused_for(files, file=f"{PS}/Case.json", path="$.description", rule="control_character")


@pytest.mark.parametrize(("length", "valid"), [(700, True), (701, False)])
def test_description_length_limit_is_700(length: int, valid: bool) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(description="é" * length)})
    if valid:
        resolve_folder(files)
    else:
        _refused_for(files, file=f"{PS}/Case.json", path="$.description", rule="max_length")


@pytest.mark.parametrize(
    ("arn", "name", "path"),
    [
        ("arn:aws:iam::111122223333:policy/TeamBoundary", "TeamBoundary", "/"),
        ("arn:aws:iam::111122223333:policy/platform/Dev", "Dev", "/platform/"),
        ("arn:aws-us-gov:iam::111122223333:policy/a/b/Ops", "Ops", "/a/b/"),
    ],
)
def test_customer_policy_arn_listed_as_managed_is_refused_naming_the_reference_to_use(
    arn: str, name: str, path: str
) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(managed_policies=[READ_ONLY_ARN, arn])})
    problem = _refused_for(
        files,
        file=f"{PS}/Case.json",
        path="$.managed_policies[1]",
        rule="customer_policy_as_managed",
    )
    assert json.dumps({"name": name, "path": path}) in problem.message


def _policy_of_size(non_whitespace: int) -> dict[str, Any]:
    policy: dict[str, Any] = {"Version": "2012-10-17", "Statement": [{"Sid": ""}]}
    base = len(json.dumps(policy, separators=(",", ":")))
    policy["Statement"][0]["Sid"] = "x" * (non_whitespace - base)
    return policy


@pytest.mark.parametrize(("size", "valid"), [(10240, True), (10241, False)])
def test_inline_policy_limit_is_10240_non_whitespace_characters(size: int, valid: bool) -> None:
    files = _with(**{f"{PS}__Case.json": _permission_set(inline_policy=_policy_of_size(size))})
    if valid:
        assert resolve_folder(files).state.permission_sets["Case"].inline_policy is not None
    else:
        _refused_for(
            files, file=f"{PS}/Case.json", path="$.inline_policy", rule="inline_policy_size"
        )


def test_indentation_of_an_inline_policy_does_not_count_towards_its_limit() -> None:
    content = json.dumps(
        {"name": "Case", "inline_policy": _policy_of_size(10240)}, indent=12
    ).encode()
    files = _with(**{f"{PS}__Case.json": content})
    assert "Case" in resolve_folder(files).state.permission_sets


@pytest.mark.parametrize("user_name", ["Administrator", "AWSAdministrators", "ADMINISTRATOR"])
def test_user_name_reserved_by_aws_is_refused(user_name: str) -> None:
    files = _with(**{"users.json": encode({"users": [user("jane.doe"), user(user_name)]})})
    _refused_for(files, file="users.json", path="$.users[1].user_name", rule="reserved_user_name")


@pytest.mark.parametrize(
    "user_name",
    ["jane doe", "jane\tdoe", "jane\ndoe", "jane\u00a0doe", "jane\u3000doe", " jane", "jane "],
)
def test_user_name_with_whitespace_is_refused(user_name: str) -> None:
    other = {**user("jane.roe"), "user_name": user_name}
    files = _with(**{"users.json": encode({"users": [user("jane.doe"), other]})})
    _refused_for(files, file="users.json", path="$.users[1].user_name", rule="user_name")


@pytest.mark.parametrize(
    ("file", "content", "path", "rule"),
    [
        pytest.param(
            "groups.json",
            {"groups": [{"name": "AdminAccess", "members": ["jane.doe", "no.such.user"]}]},
            "$.groups[0].members[1]",
            "unknown_user",
            id="member",
        ),
        pytest.param(
            "assignments.json",
            {
                "assignments": [
                    {"permission_set": "ReadOnly", "users": ["no.such.user"], "accounts": ["prod"]}
                ]
            },
            "$.assignments[0].users[0]",
            "unknown_user",
            id="assigned-user",
        ),
        pytest.param(
            "assignments.json",
            {
                "assignments": [
                    {"permission_set": "ReadOnly", "groups": ["NoSuchGroup"], "accounts": ["prod"]}
                ]
            },
            "$.assignments[0].groups[0]",
            "unknown_group",
            id="assigned-group",
        ),
        pytest.param(
            "assignments.json",
            {
                "assignments": [
                    {"permission_set": "ReadOnly", "groups": ["AdminAccess"], "accounts": ["nope"]}
                ]
            },
            "$.assignments[0].accounts[0]",
            "unknown_account",
            id="account",
        ),
    ],
)
def test_reference_to_something_neither_declared_nor_live_is_refused(
    file: str, content: dict[str, Any], path: str, rule: str
) -> None:
    _refused_for(_with(**{file: encode(content)}), file=file, path=path, rule=rule)


@pytest.mark.parametrize("name", ["NoSuchSet", "readonly", "ReadOnly ", "Read0nly"])
def test_assignment_naming_an_undeclared_permission_set_is_refused(name: str) -> None:
    content = {
        "assignments": [{"permission_set": name, "groups": ["AdminAccess"], "accounts": ["prod"]}]
    }
    rule = "permission_set_name" if name.endswith(" ") else "unknown_permission_set"
    _refused_for(
        _with(**{"assignments.json": encode(content)}),
        file="assignments.json",
        path="$.assignments[0].permission_set",
        rule=rule,
    )


SYNTAX_ERRORS = [
    pytest.param('{\n  "groups": [\n    {"name": "Ops",}\n  ]\n}\n', 3, 20, id="trailing-comma"),
    pytest.param('{\n  "groups": [\n    {"name": "Ops"},\n  ]\n}\n', 4, 3, id="trailing-in-list"),
    pytest.param(
        '{\n  "groups": [\n    {"name": "Ops"}\n    {"name": "B"}\n  ]\n}\n', 4, 5, id="comma"
    ),
    pytest.param('{\n  "groups": [\n    {"name": "Ops"}\n', 4, 1, id="unclosed"),
    pytest.param("{\n  'groups': []\n}\n", 2, 3, id="single-quotes"),
    pytest.param('{\n  "groups": []  # none yet\n}\n', 2, 17, id="comment"),
    pytest.param("{\n  groups: []\n}\n", 2, 3, id="bare-key"),
    pytest.param('{\n  "groups": [] }\n}\n', 3, 1, id="extra-brace"),
]


@pytest.mark.parametrize(("text", "line", "column"), SYNTAX_ERRORS)
@pytest.mark.parametrize("file", ["groups.json", "users.json", f"{PS}/ReadOnly.json"])
def test_json_syntax_error_in_any_file_gives_line_and_column(
    file: str, text: str, line: int, column: int
) -> None:
    files = base_folder()
    files[file] = text.encode()
    if file == f"{PS}/ReadOnly.json":
        files["assignments.json"] = encode({"assignments": []})
    problem = _refused_for(files, file=file, path="$", rule="json_syntax")
    assert (problem.line, problem.column) == (line, column)
    assert f"{file}:{line}:{column}" in str(problem)


@pytest.mark.parametrize(
    ("file", "content", "path", "rule"),
    [
        pytest.param(
            "users.json",
            {"users": [user("jane.doe"), user("jane.doe")]},
            "$.users[1].user_name",
            "duplicate_user",
            id="user",
        ),
        pytest.param(
            "groups.json",
            {"groups": [{"name": "AdminAccess"}, {"name": "AdminAccess"}]},
            "$.groups[1].name",
            "duplicate_group",
            id="group",
        ),
    ],
)
def test_name_declared_twice_is_refused(
    file: str, content: dict[str, Any], path: str, rule: str
) -> None:
    _refused_for(_with(**{file: encode(content)}), file=file, path=path, rule=rule)


def test_permission_set_declared_twice_under_other_file_names_is_refused() -> None:
    files = base_folder()
    files[f"{PS}/ReadOnlyAccess.json"] = files[f"{PS}/ReadOnly.json"]
    problems = _problems(files)
    assert [(p.file, p.path, p.rule) for p in problems] == [
        (f"{PS}/ReadOnlyAccess.json", "$.name", "duplicate_permission_set")
    ]
