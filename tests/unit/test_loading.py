"""Loading one revision of the desired-state folder: every rule, and how problems are reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model import loading
from reconciler.model.documents import DEFAULT_PROTECTED_PERMISSION_SETS
from reconciler.model.loading import (
    MAX_JSON_DEPTH,
    Documents,
    json_path,
    load_documents,
    parse_json,
)
from reconciler.model.state import MANAGED_TAG_KEY

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
PS_FILE = "permission-sets/ReadOnly.json"


REQUIRED = {
    "reconciler.json": {},
    "users.json": {"users": []},
    "groups.json": {"groups": []},
    "assignments.json": {"assignments": []},
}
"""Every required file, declaring nothing: the folder ``_encode`` completes."""


def _encode(files: dict[str, Any]) -> dict[str, bytes]:
    """The folder of ``files``, with each required file they do not give written out empty
    (``None`` leaves a file out)."""
    complete = {**REQUIRED, **files}
    return {
        name: content if isinstance(content, bytes) else json.dumps(content).encode()
        for name, content in complete.items()
        if content is not None
    }


def _load(files: dict[str, Any]) -> Documents:
    return load_documents(_encode(files))


def _problems(files: dict[str, Any]) -> tuple[Problem, ...]:
    with pytest.raises(InvalidRevisionError) as raised:
        _load(files)
    return raised.value.problems


def _only_problem(files: dict[str, Any]) -> Problem:
    problems = _problems(files)
    assert len(problems) == 1, [str(problem) for problem in problems]
    return problems[0]


def _permission_set(**fields: Any) -> dict[str, Any]:
    return {"name": "ReadOnly", "managed_policies": [READ_ONLY], **fields}


def _user(**fields: Any) -> dict[str, Any]:
    return {
        "user_name": "jane.doe",
        "display_name": "Jane Doe",
        "given_name": "Jane",
        "family_name": "Doe",
        "email": "jane.doe@example.com",
        **fields,
    }


def _inline_policy(statements: int, *, padding: str = "") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"S{index}",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::bucket-number-{index:05d}/*{padding}"],
            }
            for index in range(statements)
        ],
    }


def _policy_arns(count: int) -> list[str]:
    return [f"arn:aws:iam::aws:policy/Policy{index}" for index in range(count)]


# (file, document, JSON path, rule): each breaks exactly one rule of documents.py.
PERMISSION_SET_RULES = [
    pytest.param(_permission_set(name="A" * 33), "$.name", "max_length", id="name-33-chars"),
    pytest.param(_permission_set(name="Read Only"), "$.name", "permission_set_name", id="space"),
    pytest.param(_permission_set(name="Lesezugriff-ä"), "$.name", "permission_set_name", id="ä"),
    pytest.param(_permission_set(name="Read/Only"), "$.name", "permission_set_name", id="slash"),
    pytest.param(_permission_set(name=""), "$.name", "string_too_short", id="empty-name"),
    pytest.param(
        _permission_set(description="Read-only 🔒"), "$.description", "description", id="emoji"
    ),
    pytest.param(
        _permission_set(description="x" * 701), "$.description", "max_length", id="desc-701"
    ),
    pytest.param(_permission_set(description=""), "$.description", "string_too_short", id="d0"),
    pytest.param(
        _permission_set(session_duration="1h"),
        "$.session_duration",
        "iso8601_duration",
        id="session-1h",
    ),
    pytest.param(
        _permission_set(session_duration="P1D"),
        "$.session_duration",
        "iso8601_duration",
        id="session-days",
    ),
    pytest.param(
        _permission_set(session_duration="PT13H"),
        "$.session_duration",
        "session_duration_range",
        id="session-13h",
    ),
    pytest.param(
        _permission_set(session_duration="PT59M"),
        "$.session_duration",
        "session_duration_range",
        id="session-59m",
    ),
    pytest.param(
        _permission_set(session_duration="PT12H1S"),
        "$.session_duration",
        "session_duration_range",
        id="session-12h1s",
    ),
    pytest.param(
        _permission_set(relay_state="https://x/<script>"),
        "$.relay_state",
        "relay_state",
        id="relay-state-chars",
    ),
    pytest.param(
        _permission_set(relay_state="a" * 241), "$.relay_state", "max_length", id="relay-241"
    ),
    pytest.param(_permission_set(relay_state=""), "$.relay_state", "string_too_short", id="rs0"),
    pytest.param(
        _permission_set(managed_policies=["arn:aws:iam::111122223333:policy/TeamBoundary"]),
        "$.managed_policies[0]",
        "customer_policy_as_managed",
        id="customer-arn",
    ),
    pytest.param(
        _permission_set(managed_policies=[READ_ONLY, "ReadOnlyAccess"]),
        "$.managed_policies[1]",
        "managed_policy_arn",
        id="not-an-arn",
    ),
    pytest.param(
        _permission_set(managed_policies=["arn:aws:iam::aws:policy/" + "p/" * 1020 + "X"]),
        "$.managed_policies[0]",
        "max_length",
        id="arn-too-long",
    ),
    pytest.param(
        _permission_set(customer_managed_policies=[{"name": "Team Boundary"}]),
        "$.customer_managed_policies[0].name",
        "policy_name",
        id="policy-name-space",
    ),
    pytest.param(
        _permission_set(customer_managed_policies=[{"name": "P" * 129}]),
        "$.customer_managed_policies[0].name",
        "max_length",
        id="policy-name-129",
    ),
    pytest.param(
        _permission_set(customer_managed_policies=[{"name": "P", "path": "team"}]),
        "$.customer_managed_policies[0].path",
        "policy_path",
        id="policy-path-no-slash",
    ),
    pytest.param(
        _permission_set(customer_managed_policies=[{"name": "P", "path": "/" + "a/" * 256}]),
        "$.customer_managed_policies[0].path",
        "max_length",
        id="policy-path-513",
    ),
    pytest.param(
        _permission_set(customer_managed_policies=[{"path": "/"}]),
        "$.customer_managed_policies[0].name",
        "missing",
        id="policy-name-missing",
    ),
    pytest.param(
        _permission_set(inline_policy=_inline_policy(200)),
        "$.inline_policy",
        "inline_policy_size",
        id="inline-non-whitespace",
    ),
    pytest.param(
        _permission_set(inline_policy=_inline_policy(40, padding=" " * 800)),
        "$.inline_policy",
        "inline_policy_size",
        id="inline-characters",
    ),
    pytest.param(
        _permission_set(inline_policy={"Version": "2012-10-17"}),
        "$.inline_policy",
        "inline_policy_statement",
        id="inline-no-statement",
    ),
    pytest.param(
        _permission_set(inline_policy={"Statement": [{"Sid": "Lock🔒"}]}),
        "$.inline_policy",
        "inline_policy_characters",
        id="inline-emoji",
    ),
    pytest.param(
        _permission_set(inline_policy=["not", "an", "object"]),
        "$.inline_policy",
        "dict_type",
        id="inline-not-object",
    ),
    pytest.param(
        _permission_set(
            permissions_boundary={
                "managed_policy_arn": READ_ONLY,
                "customer_managed_policy": {"name": "Boundary"},
            }
        ),
        "$.permissions_boundary",
        "boundary_one_of",
        id="boundary-both",
    ),
    pytest.param(
        _permission_set(permissions_boundary={}),
        "$.permissions_boundary",
        "boundary_one_of",
        id="boundary-neither",
    ),
    pytest.param(
        _permission_set(
            permissions_boundary={"managed_policy_arn": "arn:aws:iam::111122223333:policy/B"}
        ),
        "$.permissions_boundary.managed_policy_arn",
        "customer_policy_as_managed",
        id="boundary-customer-arn",
    ),
    pytest.param(
        _permission_set(tags={f"k{index}": "v" for index in range(51)}),
        "$.tags",
        "too_many_tags",
        id="51-tags",
    ),
    pytest.param(_permission_set(tags={"aws:team": "x"}), "$.tags", "tag_reserved", id="aws:"),
    pytest.param(_permission_set(tags={"AWS:team": "x"}), "$.tags", "tag_reserved", id="AWS:"),
    pytest.param(
        _permission_set(tags={MANAGED_TAG_KEY: "me"}), "$.tags", "tag_reserved", id="managed-by"
    ),
    pytest.param(_permission_set(tags={"team!": "x"}), "$.tags", "tag", id="tag-key-chars"),
    pytest.param(_permission_set(tags={"": "x"}), "$.tags", "tag", id="tag-key-empty"),
    pytest.param(_permission_set(tags={"k" * 129: "x"}), "$.tags", "tag", id="tag-key-129"),
    pytest.param(_permission_set(tags={"team": "a&b"}), "$.tags", "tag", id="tag-value-chars"),
    pytest.param(_permission_set(tags={"team": "v" * 257}), "$.tags", "tag", id="tag-value-257"),
    pytest.param(
        _permission_set(
            managed_policies=_policy_arns(20),
            customer_managed_policies=[{"name": n} for n in "ABCDEF"],
        ),
        "$",
        "too_many_policies",
        id="26-policies",
    ),
    pytest.param({"managed_policies": [READ_ONLY]}, "$.name", "missing", id="name-missing"),
    pytest.param(
        _permission_set(managed_policys=[READ_ONLY]),
        "$.managed_policys",
        "extra_forbidden",
        id="misspelt-key",
    ),
    pytest.param(
        _permission_set(session_duration=3600),
        "$.session_duration",
        "string_type",
        id="session-as-seconds",
    ),
]


@pytest.mark.parametrize(("document", "path", "rule"), PERMISSION_SET_RULES)
def test_permission_set_rule_is_reported_with_file_path_and_rule(
    document: dict[str, Any], path: str, rule: str
) -> None:
    problem = _only_problem({PS_FILE: document})
    assert (problem.file, problem.path, problem.rule) == (PS_FILE, path, rule)
    assert problem.message


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_permission_set(name="A" * 32), id="name-32-chars"),
        pytest.param(_permission_set(name="a+b=c,d.e@f_g-h"), id="name-all-symbols"),
        pytest.param(_permission_set(description="x" * 700), id="desc-700"),
        pytest.param(_permission_set(description="Accès en lecture\tseule\n"), id="latin-1"),
        pytest.param(_permission_set(session_duration="PT1H"), id="PT1H"),
        pytest.param(_permission_set(session_duration="PT12H"), id="PT12H"),
        pytest.param(_permission_set(session_duration="PT1H30M"), id="PT1H30M"),
        pytest.param(_permission_set(session_duration="PT60M"), id="PT60M"),
        pytest.param(_permission_set(relay_state="a" * 240), id="relay-240"),
        pytest.param(
            _permission_set(relay_state="https://console.aws.amazon.com/s3/home?region=eu-west-1#"),
            id="relay-url",
        ),
        pytest.param(
            _permission_set(
                managed_policies=["arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"]
            ),
            id="arn-job-function-path",
        ),
        pytest.param(
            _permission_set(
                managed_policies=["arn:aws:iam::aws:policy/service-role/AWSConfigRole"]
            ),
            id="arn-service-role-path",
        ),
        pytest.param(
            _permission_set(managed_policies=["arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess"]),
            id="arn-partition",
        ),
        pytest.param(
            _permission_set(customer_managed_policies=[{"name": "P", "path": "/team/a/"}]),
            id="customer-path",
        ),
        pytest.param(_permission_set(inline_policy=_inline_policy(60)), id="inline-fits"),
        pytest.param(
            _permission_set(inline_policy={"Statement": {"Sid": "Accès", "Effect": "Allow"}}),
            id="inline-latin-1",
        ),
        pytest.param(
            _permission_set(permissions_boundary={"customer_managed_policy": {"name": "B"}}),
            id="boundary-customer",
        ),
        pytest.param(_permission_set(tags={f"k{index}": "" for index in range(50)}), id="50-tags"),
        pytest.param(_permission_set(tags={"Équipe": "données/ops"}), id="unicode-tag"),
        pytest.param(_permission_set(managed_policies=_policy_arns(25)), id="25-policies"),
        pytest.param({"$schema": "../schema/permission-set.json", **_permission_set()}, id="$s"),
    ],
)
def test_valid_permission_set_is_accepted(document: dict[str, Any]) -> None:
    documents = _load({PS_FILE: document})
    assert len(documents.permission_sets) == 1


def test_inline_policy_of_exactly_10240_non_whitespace_characters_is_accepted() -> None:
    policy = {"Statement": [{"Sid": ""}]}
    base = len(json.dumps(policy, separators=(",", ":")))
    policy["Statement"][0]["Sid"] = "x" * (10240 - base)
    documents = _load({PS_FILE: _permission_set(inline_policy=policy)})
    assert documents.permission_sets[0].value.inline_policy == policy


def test_inline_policy_of_10241_non_whitespace_characters_is_refused() -> None:
    policy = {"Statement": [{"Sid": ""}]}
    base = len(json.dumps(policy, separators=(",", ":")))
    policy["Statement"][0]["Sid"] = "x" * (10241 - base)
    problem = _only_problem({PS_FILE: _permission_set(inline_policy=policy)})
    assert problem.rule == "inline_policy_size"
    assert "10241" in problem.message
    assert "10240" in problem.message


def test_whitespace_around_inline_policy_json_does_not_count_towards_its_size() -> None:
    policy = _inline_policy(70)
    pretty = json.dumps({**_permission_set(), "inline_policy": policy}, indent=8).encode()
    assert len(pretty) > 10240 * 2
    documents = load_documents(_encode({PS_FILE: pretty}))
    assert documents.permission_sets[0].value.inline_policy == policy


def test_customer_arn_in_managed_policies_names_the_customer_managed_reference_to_use() -> None:
    problem = _only_problem(
        {PS_FILE: _permission_set(managed_policies=["arn:aws:iam::111122223333:policy/t/B"])}
    )
    assert '{"name": "B", "path": "/t/"}' in problem.message
    assert "'arn:aws:iam::111122223333:policy/t/B'" in problem.message


@pytest.mark.parametrize(
    ("document", "path", "rule"),
    [
        pytest.param(_user(user_name="Administrator"), "user_name", "reserved_user_name", id="a"),
        pytest.param(
            _user(user_name="AWSAdministrators"), "user_name", "reserved_user_name", id="aws"
        ),
        pytest.param(
            _user(user_name="administrator"), "user_name", "reserved_user_name", id="lower"
        ),
        pytest.param(_user(user_name="jane doe"), "user_name", "user_name", id="space"),
        pytest.param(_user(user_name="jane\tdoe"), "user_name", "user_name", id="tab"),
        pytest.param(_user(user_name="jane\u3000doe"), "user_name", "user_name", id="ideographic"),
        pytest.param(_user(user_name="j" * 129), "user_name", "max_length", id="129-chars"),
        pytest.param(_user(user_name=""), "user_name", "string_too_short", id="empty"),
        pytest.param(_user(email="jane.example.com"), "email", "email", id="email-no-at"),
        pytest.param(_user(email="jane@localhost"), "email", "email", id="email-no-dot"),
        pytest.param(_user(display_name=""), "display_name", "string_too_short", id="display"),
        pytest.param(_user(given_name="Ja\x00ne"), "given_name", "control_character", id="nul"),
        pytest.param(_user(family_name="D" * 1025), "family_name", "max_length", id="1025"),
        pytest.param(
            {k: v for k, v in _user().items() if k != "given_name"},
            "given_name",
            "missing",
            id="missing",
        ),
        pytest.param(_user(mail="jane@example.com"), "mail", "extra_forbidden", id="misspelt"),
    ],
)
def test_user_rule_is_reported_with_file_path_and_rule(
    document: dict[str, Any], path: str, rule: str
) -> None:
    problem = _only_problem({"users.json": {"users": [_user(user_name="ok"), document]}})
    assert (problem.file, problem.path, problem.rule) == ("users.json", f"$.users[1].{path}", rule)


def test_reserved_user_name_message_says_aws_reserves_it() -> None:
    problem = _only_problem({"users.json": {"users": [_user(user_name="Administrator")]}})
    assert "'Administrator'" in problem.message
    assert "reserved" in problem.message


@pytest.mark.parametrize(
    "user_name", ["jane.doe", "jane+ops@example.com", "Jérôme", "李雷", "j" * 128, "o'brien"]
)
def test_valid_user_name_is_accepted(user_name: str) -> None:
    documents = _load({"users.json": {"users": [_user(user_name=user_name)]}})
    assert documents.users[0].value.user_name == user_name


def test_user_without_email_is_accepted() -> None:
    document = {k: v for k, v in _user().items() if k != "email"}
    assert _load({"users.json": {"users": [document]}}).users[0].value.email is None


def test_user_declared_twice_is_reported_at_the_second_declaration() -> None:
    problem = _only_problem({"users.json": {"users": [_user(), _user(display_name="Other")]}})
    assert (problem.path, problem.rule) == ("$.users[1].user_name", "duplicate_user")


def test_a_name_declared_again_in_another_case_is_named_as_written_and_as_first_written() -> None:
    problem = _only_problem(
        {"users.json": {"users": [_user(user_name="jane.doe"), _user(user_name="Jane.Doe")]}}
    )

    assert problem.message.startswith(
        "user 'Jane.Doe' is already declared as 'jane.doe' in users.json at $.users[0]"
    )
    assert "$.users[0]" in problem.message


@pytest.mark.parametrize(
    ("document", "path", "rule"),
    [
        pytest.param({"name": ""}, "$.groups[0].name", "string_too_short", id="empty-name"),
        pytest.param(
            {"name": "Ops", "members": ["jane doe"]},
            "$.groups[0].members[0]",
            "user_name",
            id="member-whitespace",
        ),
        pytest.param(
            {"name": "Ops", "description": ""},
            "$.groups[0].description",
            "string_too_short",
            id="empty-description",
        ),
        pytest.param({"name": "Ops", "owner": "x"}, "$.groups[0].owner", "extra_forbidden", id="x"),
        pytest.param({"members": []}, "$.groups[0].name", "missing", id="no-name"),
    ],
)
def test_group_rule_is_reported_with_file_path_and_rule(
    document: dict[str, Any], path: str, rule: str
) -> None:
    problem = _only_problem({"groups.json": {"groups": [document]}})
    assert (problem.file, problem.path, problem.rule) == ("groups.json", path, rule)


def test_group_declared_twice_is_reported_at_the_second_declaration() -> None:
    problem = _only_problem({"groups.json": {"groups": [{"name": "Ops"}, {"name": "Ops"}]}})
    assert (problem.path, problem.rule) == ("$.groups[1].name", "duplicate_group")


def test_group_names_may_hold_spaces_and_unicode() -> None:
    documents = _load({"groups.json": {"groups": [{"name": "Équipe Données"}]}})
    assert documents.groups[0].value.name == "Équipe Données"


def _assignment(**fields: Any) -> dict[str, Any]:
    return {"permission_set": "ReadOnly", "groups": ["Ops"], "accounts": ["prod"], **fields}


@pytest.mark.parametrize(
    ("document", "path", "rule"),
    [
        pytest.param(_assignment(groups=[]), "$.assignments[0]", "no_principal", id="no-principal"),
        pytest.param(_assignment(accounts=[]), "$.assignments[0]", "no_target", id="no-accounts"),
        pytest.param(
            _assignment(accounts=["a" * 129]),
            "$.assignments[0].accounts[0]",
            "string_too_long",
            id="account-129",
        ),
        pytest.param(
            _assignment(permission_set="NoSuchSet"),
            "$.assignments[0].permission_set",
            "unknown_permission_set",
            id="unknown-set",
        ),
        pytest.param(
            _assignment(permission_set="Read Only"),
            "$.assignments[0].permission_set",
            "permission_set_name",
            id="set-name-space",
        ),
        pytest.param(
            _assignment(users=["jane doe"]),
            "$.assignments[0].users[0]",
            "user_name",
            id="user-whitespace",
        ),
        pytest.param(
            _assignment(account=["prod"]), "$.assignments[0].account", "extra_forbidden", id="x"
        ),
    ],
)
def test_assignment_rule_is_reported_with_file_path_and_rule(
    document: dict[str, Any], path: str, rule: str
) -> None:
    problem = _only_problem(
        {PS_FILE: _permission_set(), "assignments.json": {"assignments": [document]}}
    )
    assert (problem.file, problem.path, problem.rule) == ("assignments.json", path, rule)


def test_account_names_up_to_128_characters_are_accepted() -> None:
    documents = _load(
        {
            PS_FILE: _permission_set(),
            "assignments.json": {"assignments": [_assignment(accounts=["a" * 128])]},
        }
    )
    assert list(documents.assignments[0].value.accounts) == ["a" * 128]


def test_assignment_naming_an_invalid_permission_set_file_is_not_reported_twice() -> None:
    problem = _only_problem(
        {
            PS_FILE: _permission_set(session_duration="PT13H"),
            "assignments.json": {"assignments": [_assignment()]},
        }
    )
    assert (problem.file, problem.rule) == (PS_FILE, "session_duration_range")


@pytest.mark.parametrize(
    ("document", "path", "rule"),
    [
        pytest.param({"prune": {"users": "maybe"}}, "$.prune.users", "bool_type", id="bool"),
        pytest.param({"prune": {"users": "yes"}}, "$.prune.users", "bool_type", id="bool-yes"),
        pytest.param({"prune": {"groups": 1}}, "$.prune.groups", "bool_type", id="bool-number"),
        pytest.param({"prune": {"userz": True}}, "$.prune.userz", "extra_forbidden", id="key"),
        pytest.param(
            {"deletion_guard": {"max_deletions": -1}},
            "$.deletion_guard.max_deletions",
            "greater_than_equal",
            id="negative",
        ),
        pytest.param(
            {"deletion_guard": {"max_fraction": 1.5}},
            "$.deletion_guard.max_fraction",
            "less_than_equal",
            id="fraction",
        ),
        pytest.param(
            {"deletion_guard": {"max_fraction": True}},
            "$.deletion_guard.max_fraction",
            "float_type",
            id="fraction-true",
        ),
        pytest.param(
            {"deletion_guard": {"max_deletions": "20"}},
            "$.deletion_guard.max_deletions",
            "int_type",
            id="deletions-string",
        ),
        pytest.param(
            {"deletion_guard": {"max_deletions": 20.0}},
            "$.deletion_guard.max_deletions",
            "int_type",
            id="deletions-float",
        ),
        pytest.param(
            {"deletion_guard": {"max_deletions": 1e308}},
            "$.deletion_guard.max_deletions",
            "int_type",
            id="deletions-huge",
        ),
        pytest.param(
            {"protected": {"groups": "AWS*"}}, "$.protected.groups", "list_type", id="not-a-list"
        ),
        pytest.param({"dry_run": True}, "$.dry_run", "extra_forbidden", id="unknown-top-level"),
    ],
)
def test_reconciler_file_rule_is_reported_with_file_path_and_rule(
    document: dict[str, Any], path: str, rule: str
) -> None:
    problem = _only_problem({"reconciler.json": document})
    assert (problem.file, problem.path, problem.rule) == ("reconciler.json", path, rule)


def test_empty_reconciler_file_gives_the_safe_defaults() -> None:
    config = _load({}).config
    assert not config.prune.users
    assert not config.prune.groups
    assert config.prune.permission_sets
    assert set(DEFAULT_PROTECTED_PERMISSION_SETS) <= set(config.protected.permission_sets)
    assert config.deletion_guard.max_deletions == 20


def test_empty_required_files_are_an_empty_desired_state() -> None:
    documents = _load({})
    assert (documents.users, documents.groups, documents.permission_sets) == ((), (), ())
    assert documents.assignments == ()


@pytest.mark.parametrize("file", sorted(REQUIRED))
def test_a_missing_required_file_is_a_problem_naming_it(file: str) -> None:
    problem = _only_problem({file: None})

    assert (problem.file, problem.path, problem.rule) == (file, "$", "missing_file")


def test_a_missing_assignments_file_says_to_write_an_empty_list() -> None:
    problem = _only_problem({"assignments.json": None})

    assert '{"assignments": []}' in problem.message


def test_an_empty_folder_gives_one_problem_per_missing_file() -> None:
    with pytest.raises(InvalidRevisionError) as raised:
        load_documents({})

    assert [(problem.file, problem.rule) for problem in raised.value.problems] == [
        (file, "missing_file") for file in sorted(REQUIRED)
    ]


def test_with_external_identities_only_users_and_groups_files_may_be_missing() -> None:
    documents = _load(
        {
            "reconciler.json": {"identities": "external"},
            "users.json": None,
            "groups.json": None,
        }
    )

    assert documents.config.identities == "external"


@pytest.mark.parametrize(
    ("file", "document"),
    [
        ("reconciler.json", {}),
        ("users.json", {"users": []}),
        ("groups.json", {"groups": []}),
        ("assignments.json", {"assignments": []}),
        (PS_FILE, _permission_set()),
    ],
)
def test_schema_key_is_allowed_in_every_file(file: str, document: dict[str, Any]) -> None:
    _load({file: {"$schema": "https://example.com/schema.json", **document}})


@pytest.mark.parametrize(
    "file",
    [
        "policies.json",
        "permission-sets/team/ReadOnly.json",
        "users/team/jane.json",
        "Users.json",
    ],
)
def test_unknown_json_file_is_reported_once(file: str) -> None:
    problem = _only_problem({file: _permission_set()})
    assert (problem.file, problem.path, problem.rule) == (file, "$", "unknown_file")


def test_files_that_are_not_json_are_ignored() -> None:
    documents = _load({"README.md": b"# Access\n", "permission-sets/.gitkeep": b""})
    assert documents.permission_sets == ()


def test_duplicate_json_key_is_refused() -> None:
    problem = _only_problem({"users.json": b'{"users": [], "users": [{"user_name": "x"}]}'})
    assert (problem.file, problem.path, problem.rule) == ("users.json", "$", "duplicate_key")
    assert "'users'" in problem.message


def test_duplicate_json_key_in_a_nested_object_is_refused() -> None:
    content = b'{"name": "ReadOnly", "tags": {"team": "a", "team": "b"}}'
    assert _only_problem({PS_FILE: content}).rule == "duplicate_key"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param('{"users": [{"display_name": "Zoë"}]}'.encode("latin-1"), id="latin-1"),
        pytest.param('{"users": []}'.encode("utf-16"), id="utf-16"),
        pytest.param(b'{"users": []}\xff', id="stray-byte"),
    ],
)
def test_file_that_is_not_utf8_is_refused(content: bytes) -> None:
    problem = _only_problem({"users.json": content})
    assert (problem.file, problem.path, problem.rule) == ("users.json", "$", "encoding")


def test_utf8_byte_order_mark_is_accepted() -> None:
    documents = load_documents(_encode({"users.json": b'\xef\xbb\xbf{"users": []}'}))
    assert documents.users == ()


@pytest.mark.parametrize(
    ("content", "line", "column"),
    [
        pytest.param('{\n  "groups": [\n    {"name": "Ops",}\n  ]\n}', 3, 20, id="trailing-comma"),
        pytest.param('{\n  "groups": [\n    {"name": "Ops"},\n  ]\n}', 4, 3, id="trailing-in-list"),
        pytest.param(
            '{\n  "groups": [\n    {"name": "Ops"}\n    {"name": "Dev"}\n', 4, 5, id="comma"
        ),
        pytest.param('{\n  "groups": [\n', 3, 1, id="unclosed"),
        pytest.param("{\n  'groups': []\n}", 2, 3, id="single-quotes"),
        pytest.param('{\n  "groups": [] // comment\n}', 2, 16, id="comment"),
        pytest.param("", 1, 1, id="empty-file"),
    ],
)
def test_json_syntax_error_gives_line_and_column(content: str, line: int, column: int) -> None:
    problem = _only_problem({"groups.json": content.encode()})
    assert (problem.file, problem.rule) == ("groups.json", "json_syntax")
    assert (problem.line, problem.column) == (line, column)
    assert f"groups.json:{line}:{column}" in str(problem)


def test_trailing_comma_message_says_what_is_wrong() -> None:
    problem = _only_problem({"groups.json": b'{"groups": [{"name": "Ops",}]}'})
    assert "trailing comma" in problem.message


def test_file_of_the_wrong_shape_is_refused() -> None:
    problem = _only_problem({"users.json": [_user()]})
    assert (problem.file, problem.path, problem.rule) == ("users.json", "$", "model_type")


def test_every_problem_of_a_file_is_reported() -> None:
    problems = _problems(
        {PS_FILE: _permission_set(name="Read Only", session_duration="1h", relay_state="")}
    )
    assert {problem.path for problem in problems} == {
        "$.name",
        "$.session_duration",
        "$.relay_state",
    }


def test_every_broken_file_of_a_revision_is_reported_together() -> None:
    problems = _problems(
        {
            "reconciler.json": b'{"prune": {"users": true,}}',
            "users.json": {"users": [_user(user_name="Administrator")]},
            "groups.json": b"\xff",
            "permission-sets/Admin.json": _permission_set(name="Admin", session_duration="PT13H"),
            "permission-sets/Dev.json": _permission_set(name="Dev", description="🔒"),
            "assignments.json": {"assignments": [_assignment(permission_set="NoSuchSet")]},
            "notes.json": {},
        }
    )
    assert {(problem.file, problem.rule) for problem in problems} == {
        ("reconciler.json", "json_syntax"),
        ("users.json", "reserved_user_name"),
        ("groups.json", "encoding"),
        ("permission-sets/Admin.json", "session_duration_range"),
        ("permission-sets/Dev.json", "description"),
        ("assignments.json", "unknown_permission_set"),
        ("notes.json", "unknown_file"),
    }


def test_invalid_revision_error_counts_its_problems() -> None:
    with pytest.raises(InvalidRevisionError, match="2 problems"):
        _load({PS_FILE: _permission_set(name="Read Only", session_duration="1h")})


def test_permission_set_declared_in_two_files_is_refused() -> None:
    problem = _only_problem(
        {
            "permission-sets/ReadOnly.json": _permission_set(),
            "permission-sets/ReadOnly-copy.json": _permission_set(),
        }
    )
    assert (problem.path, problem.rule) == ("$.name", "duplicate_permission_set")
    both = {PS_FILE, "permission-sets/ReadOnly-copy.json"}
    assert problem.file in both
    assert (both - {problem.file}).pop() in problem.message


def test_file_named_unlike_its_permission_set_is_a_warning() -> None:
    documents = _load({"permission-sets/Readonly.json": _permission_set()})
    assert [(w.file, w.path, w.rule) for w in documents.warnings] == [
        ("permission-sets/Readonly.json", "$.name", "file_name")
    ]


def test_more_policies_than_the_default_iam_quota_is_a_warning() -> None:
    documents = _load(
        {
            PS_FILE: _permission_set(
                managed_policies=_policy_arns(10), customer_managed_policies=[{"name": "Team"}]
            )
        }
    )
    assert [(w.file, w.rule) for w in documents.warnings] == [
        (PS_FILE, "policies_above_default_quota")
    ]


def test_ten_policies_give_no_warning() -> None:
    documents = _load({PS_FILE: _permission_set(managed_policies=_policy_arns(10))})
    assert documents.warnings == ()


def test_declared_objects_are_located_in_their_files() -> None:
    documents = _load(
        {
            "users.json": {"users": [_user(user_name="a"), _user(user_name="b")]},
            PS_FILE: _permission_set(),
            "assignments.json": {"assignments": [_assignment()]},
        }
    )
    assert [(u.file, u.path) for u in documents.users] == [
        ("users.json", "$.users[0]"),
        ("users.json", "$.users[1]"),
    ]
    assert [(p.file, p.path) for p in documents.permission_sets] == [(PS_FILE, "$")]
    assert [(a.file, a.path) for a in documents.assignments] == [
        ("assignments.json", "$.assignments[0]")
    ]


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ((), "$"),
        (("users", 0, "email"), "$.users[0].email"),
        (("tags", "cost-center"), "$.tags.cost-center"),
        (("tags", "a b"), '$.tags["a b"]'),
        (("$schema",), '$["$schema"]'),
    ],
)
def test_json_path_renders_pydantic_locations(location: tuple[str | int, ...], path: str) -> None:
    assert json_path(location) == path


def test_problem_reads_as_file_path_message_and_rule() -> None:
    problem = Problem(file="users.json", path="$.users[0]", rule="r", message="m")
    assert str(problem) == "users.json: $.users[0]: m [r]"


# --- Input that used to crash loading: every kind is a problem naming the file ----------------

NESTED_1000 = b"[" * 1000 + b"]" * 1000


def test_deeply_nested_file_is_a_json_depth_problem_naming_the_file_and_limit() -> None:
    problem = _only_problem({"users.json": NESTED_1000})
    assert (problem.file, problem.rule) == ("users.json", "json_depth")
    assert "nested 1000 deep" in problem.message
    assert f"at most {MAX_JSON_DEPTH} levels" in problem.message
    assert (problem.line, problem.column) == (1, MAX_JSON_DEPTH + 1)


def test_nesting_up_to_the_limit_parses_and_one_more_level_does_not() -> None:
    at_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    beyond = b"[" + at_limit + b"]"
    assert parse_json("f.json", at_limit)[1] == []
    assert [problem.rule for problem in parse_json("f.json", beyond)[1]] == ["json_depth"]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    description = '[{"\\"' * 20
    documents = _load({PS_FILE: _permission_set(description=description)})
    assert documents.permission_sets[0].value.description == description


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_standard_number_in_inline_policy_is_a_json_number_problem_at_its_path(
    number: str,
) -> None:
    text = (
        '{"name": "ReadOnly", "inline_policy": {"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": '
        f'{{"NumericLessThan": {{"s3:max-keys": {number}}}}}}}]}}}}'
    )
    problem = _only_problem({PS_FILE: text.encode()})
    assert (problem.file, problem.rule) == (PS_FILE, "json_number")
    assert problem.path == '$.inline_policy.Statement[0].Condition.NumericLessThan["s3:max-keys"]'


def test_integer_longer_than_python_converts_is_a_json_number_problem() -> None:
    problem = _only_problem({"users.json": b'{"users": [' + b"7" * 5000 + b"]}"})
    assert (problem.file, problem.path, problem.rule) == ("users.json", "$.users[0]", "json_number")


def test_session_duration_with_thousands_of_digits_is_an_iso8601_duration_problem() -> None:
    problem = _only_problem({PS_FILE: _permission_set(session_duration="PT" + "9" * 5000 + "H")})
    assert (problem.path, problem.rule) == ("$.session_duration", "iso8601_duration")


def test_lone_surrogate_is_a_json_string_problem_at_its_path() -> None:
    text = (
        b'{"assignments": [{"permission_set": "ReadOnly", "groups": ["g"], '
        b'"accounts": ["\\ud800"]}]}'
    )
    problem = _only_problem({PS_FILE: _permission_set(), "assignments.json": text})
    assert (problem.file, problem.path, problem.rule) == (
        "assignments.json",
        "$.assignments[0].accounts[0]",
        "json_string",
    )


@pytest.mark.parametrize(
    "character", ["\x00", "\x1b", "\x07", "\x7f", "\x9b"], ids=["nul", "esc", "bel", "del", "csi"]
)
def test_control_character_in_any_string_is_a_control_character_problem(character: str) -> None:
    assignment = _assignment(accounts=[f"prod{character}[2J"])
    problem = _only_problem(
        {PS_FILE: _permission_set(), "assignments.json": {"assignments": [assignment]}}
    )
    assert (problem.path, problem.rule) == ("$.assignments[0].accounts[0]", "control_character")
    assert character not in problem.message


def test_control_character_in_a_key_is_a_control_character_problem() -> None:
    assignment = _assignment(account_tags={"env\x1b": "prod"})
    problem = _only_problem(
        {PS_FILE: _permission_set(), "assignments.json": {"assignments": [assignment]}}
    )
    assert (problem.path, problem.rule) == (
        '$.assignments[0].account_tags["env\\u001b"]',
        "control_character",
    )


def test_tab_and_newlines_stay_allowed_where_aws_allows_them() -> None:
    documents = _load({PS_FILE: _permission_set(description="line one\r\n\tline two")})
    assert documents.permission_sets[0].value.description == "line one\r\n\tline two"


def test_number_and_string_problems_are_capped_per_file() -> None:
    text = b'{"users": [' + b",".join([b"NaN"] * 1000) + b"]}"
    problems = _problems({"users.json": text})
    assert 0 < len(problems) <= 100


def test_an_exception_no_rule_foresaw_is_a_problem_naming_the_file_and_others_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the depth limit, the parser itself meets RecursionError: the catch-all's case.
    monkeypatch.setattr(loading, "MAX_JSON_DEPTH", 10**9, raising=False)
    problems = _problems({"users.json": NESTED_1000, "groups.json": {"groups": [{"name": ""}]}})
    by_file = {problem.file: problem for problem in problems}
    assert by_file["users.json"].rule == "unreadable"
    assert "RecursionError" in by_file["users.json"].message
    assert by_file["groups.json"].path == "$.groups[0].name"


def test_a_megabyte_policy_arn_is_refused_by_its_length_before_any_pattern() -> None:
    # The ARN patterns backtrack quadratically on a string that almost matches: 400 KB took
    # 5 s, the 5 MB a file may hold would take many minutes of a pass.
    arn = "arn:aws:iam::aws:policy" + "/a" * 500_000 + "!"
    problem = _only_problem({PS_FILE: _permission_set(managed_policies=[arn])})
    assert (problem.path, problem.rule) == ("$.managed_policies[0]", "max_length")


def test_a_protected_name_pattern_longer_than_any_name_is_refused() -> None:
    config = {"protected": {"groups": ["*a" * 600]}}
    problem = _only_problem({"reconciler.json": config})
    assert (problem.path, problem.rule) == ("$.protected.groups[0]", "string_too_long")


def test_the_file_name_warning_quotes_the_whole_file_name() -> None:
    documents = _load({"permission-sets/Readonly.json": _permission_set()})
    (warning,) = documents.warnings
    assert "permission-sets/Readonly.json" in warning.message
    assert "'Readonly'.json" not in warning.message
    assert "name the file ReadOnly.json" in warning.message


def test_an_assignment_naming_a_set_by_its_misnamed_file_is_told_the_name_inside() -> None:
    problem = _only_problem(
        {
            "permission-sets/Readonly.json": _permission_set(),
            "groups.json": {"groups": [{"name": "Auditors"}]},
            "assignments.json": {
                "assignments": [
                    {"permission_set": "Readonly", "groups": ["Auditors"], "accounts": ["prod"]}
                ]
            },
        }
    )
    assert (problem.file, problem.path, problem.rule) == (
        "assignments.json",
        "$.assignments[0].permission_set",
        "unknown_permission_set",
    )
    assert "permission-sets/Readonly.json declares the set 'ReadOnly'" in problem.message
    assert "rename the set to 'Readonly'" in problem.message
    assert "rename the file to ReadOnly.json" in problem.message


def test_names_declared_twice_are_found_among_the_valid_entries_of_a_file_with_invalid_ones() -> (
    None
):
    problems = _problems(
        {
            "users.json": {
                "users": [
                    _user(user_name="jane"),
                    _user(user_name="sam", email="not an address"),
                    _user(user_name="Jane"),
                ]
            }
        }
    )
    assert {(problem.path, problem.rule) for problem in problems} == {
        ("$.users[1].email", "email"),
        ("$.users[2].user_name", "duplicate_user"),
    }


def test_assignments_to_undeclared_sets_are_found_beside_an_invalid_assignment() -> None:
    problems = _problems(
        {
            "groups.json": {"groups": [{"name": "Auditors"}]},
            "assignments.json": {
                "assignments": [
                    {"permission_set": "Missing", "groups": ["Auditors"], "accounts": ["prod"]},
                    {"permission_set": "Missing", "groups": ["Auditors"]},
                ]
            },
        }
    )
    assert {(problem.path, problem.rule) for problem in problems} == {
        ("$.assignments[0].permission_set", "unknown_permission_set"),
        ("$.assignments[1]", "no_target"),
    }


def test_check_documents_returns_what_validated_with_the_problems() -> None:
    documents, problems = loading.check_documents(
        _encode(
            {
                "users.json": {
                    "users": [
                        _user(user_name="jane"),
                        _user(user_name="sam", email="nope"),
                    ]
                }
            }
        )
    )
    assert [problem.rule for problem in problems] == ["email"]
    assert [(item.value.user_name, item.path) for item in documents.users] == [
        ("jane", "$.users[0]")
    ]
    assert documents.invalid_names["user"] == frozenset({"sam"})
