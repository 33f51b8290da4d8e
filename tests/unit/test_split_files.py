"""Files per team: ``users/``, ``groups/`` and ``assignments/`` folders of many files, beside or
instead of ``users.json``, ``groups.json`` and ``assignments.json``; and an assignment's
``reason``."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model import loading
from reconciler.model.documents import REASON_MAX
from reconciler.model.loading import check_documents, load_documents
from reconciler.model.resolving import DesiredState, LiveDirectory, resolve
from reconciler.model.state import AssignmentKey, IdentityCenterState, LiveState, PrincipalType
from reconciler.planning.diffing import plan
from reconciler.planning.plans import CreateAssignment
from reconciler.planning.rendering import plan_json, plan_markdown, plan_text
from tests.unit.states import ACCOUNTS, INSTANCE_ARN, PROD, STAGING, permission_set

READ_ONLY = {"name": "ReadOnly", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}
DIRECTORY = LiveDirectory(accounts=(PROD, STAGING), user_names=frozenset(), group_names=frozenset())


def _user(user_name: str) -> dict[str, str]:
    return {
        "user_name": user_name,
        "display_name": user_name.title(),
        "given_name": "Given",
        "family_name": "Family",
    }


def _encode(files: dict[str, Any]) -> dict[str, bytes]:
    return {name: json.dumps(content).encode() for name, content in files.items()}


def _folder(**files: Any) -> dict[str, bytes]:
    """A revision: ``reconciler.json`` and the ReadOnly set, plus ``files`` (``/`` written
    ``__`` in the keyword: ``users__web`` is ``users/web.json``)."""
    named = {(name.replace("__", "/") + ".json"): content for name, content in files.items()}
    return _encode({"reconciler.json": {}, "permission-sets/ReadOnly.json": READ_ONLY, **named})


def _problems(files: dict[str, bytes]) -> tuple[Problem, ...]:
    with pytest.raises(InvalidRevisionError) as raised:
        load_documents(files)
    return raised.value.problems


def _assignment(**fields: Any) -> dict[str, Any]:
    return {"permission_set": "ReadOnly", "accounts": ["prod"], **fields}


# -- loading ------------------------------------------------------------------------------------


def test_folders_alone_declare_users_groups_and_assignments() -> None:
    documents = load_documents(
        _folder(
            users__web={"users": [_user("ann")]},
            groups__web={"groups": [{"name": "Web", "members": ["ann"]}]},
            assignments__web={"assignments": [_assignment(groups=["Web"])]},
        )
    )

    assert [item.value.user_name for item in documents.users] == ["ann"]
    assert [(item.file, item.path) for item in documents.assignments] == [
        ("assignments/web.json", "$.assignments[0]")
    ]


def test_single_file_and_folder_coexist_single_file_first() -> None:
    documents = load_documents(
        _folder(
            users={"users": [_user("zed")]},
            users__b={"users": [_user("bob")]},
            users__a={"users": [_user("ann")]},
            groups={"groups": []},
            assignments={"assignments": []},
        )
    )

    assert [(item.value.user_name, item.file) for item in documents.users] == [
        ("zed", "users.json"),
        ("ann", "users/a.json"),
        ("bob", "users/b.json"),
    ]


@pytest.mark.parametrize(
    ("first", "second"), [("users", "users__web"), ("users__data", "users__web")]
)
def test_a_user_declared_in_two_files_names_both_files_and_the_user(
    first: str, second: str
) -> None:
    files = _folder(
        groups={"groups": []},
        assignments={"assignments": []},
        **{first: {"users": [_user("ann")]}, second: {"users": [_user("bob"), _user("Ann")]}},
    )

    (problem,) = _problems(files)

    assert (problem.file, problem.path, problem.rule) == (
        "users/web.json",
        "$.users[1].user_name",
        "duplicate_user",
    )
    assert "'ann'" in problem.message
    assert f"{first.replace('__', '/')}.json at $.users[0]" in problem.message


def test_a_group_declared_in_two_files_names_both_files() -> None:
    files = _folder(
        users={"users": []},
        groups__data={"groups": [{"name": "Ops"}]},
        groups__web={"groups": [{"name": "Ops"}]},
        assignments={"assignments": []},
    )

    (problem,) = _problems(files)

    assert (problem.file, problem.rule) == ("groups/web.json", "duplicate_group")
    assert "'Ops'" in problem.message
    assert "groups/data.json at $.groups[0]" in problem.message


def test_an_invalid_entry_is_reported_in_its_own_file() -> None:
    files = _folder(
        users={"users": []},
        groups={"groups": []},
        assignments={"assignments": []},
        assignments__web={"assignments": [_assignment(groups=["Web"], acounts=["x"])]},
    )

    (problem,) = _problems(files)

    assert (problem.file, problem.path, problem.rule) == (
        "assignments/web.json",
        "$.assignments[0].acounts",
        "extra_forbidden",
    )


def test_an_undeclared_permission_set_is_reported_in_the_assignment_file() -> None:
    files = _folder(
        users={"users": []},
        groups={"groups": []},
        assignments__web={"assignments": [{**_assignment(groups=["Web"]), "permission_set": "X"}]},
    )

    (problem,) = _problems(files)

    assert (problem.file, problem.rule) == ("assignments/web.json", "unknown_permission_set")


def test_a_file_in_a_folder_below_a_split_folder_is_unknown_and_says_where_it_goes() -> None:
    files = _folder(
        users={"users": []},
        groups={"groups": []},
        assignments={"assignments": []},
        assignments__team__web={"assignments": []},
    )

    (problem,) = _problems(files)

    assert (problem.file, problem.rule) == ("assignments/team/web.json", "unknown_file")
    assert "goes directly in assignments/" in problem.message


def test_a_required_kind_with_neither_file_nor_folder_is_missing() -> None:
    files = _folder(groups={"groups": []}, assignments__web={"assignments": []})

    (problem,) = _problems(files)

    assert (problem.file, problem.rule) == ("users.json", "missing_file")
    assert "users/" in problem.message


def test_a_folder_over_the_file_bound_is_refused_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading, "MAX_FILES_PER_FOLDER", 3)
    teams = {f"users__team{number}": {"users": [_user(f"u{number}")]} for number in range(4)}
    files = _folder(groups={"groups": []}, assignments={"assignments": []}, **teams)

    documents, problems = check_documents(files)

    assert [(problem.file, problem.rule) for problem in problems] == [("users/", "too_many_files")]
    assert documents.users == ()
    assert documents.invalid_names["user"] is None  # references to users are not checked


def test_the_file_bound_is_a_thousand_files_per_folder() -> None:
    assert loading.MAX_FILES_PER_FOLDER == 1_000


def test_external_identities_refuse_user_and_group_folders() -> None:
    files = _folder(
        reconciler={"identities": "external"},
        users__web={"users": []},
        groups__web={"groups": []},
        assignments={"assignments": []},
    )

    problems = _problems(files)

    assert [(problem.file, problem.rule) for problem in problems] == [
        ("groups/web.json", "external_identities"),
        ("users/web.json", "external_identities"),
    ]


# -- the same state, split or not ---------------------------------------------------------------

_NAMES = st.lists(
    st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), min_size=1, max_size=6, unique=True
)


@st.composite
def _revisions(draw: st.DrawFn) -> tuple[dict[str, list[Any]], dict[str, bytes]]:
    """A generated desired state as single files, and the same entries split arbitrarily
    between each single file and files of its folder (each entry to one file)."""
    users = [_user(name) for name in draw(_NAMES)]
    user_names = [user["user_name"] for user in users]
    groups = [
        {"name": f"G{name}", "members": draw(st.lists(st.sampled_from(user_names), unique=True))}
        for name in draw(_NAMES)
    ]
    principal = st.one_of(
        st.builds(lambda name: {"users": [name]}, st.sampled_from(user_names)),
        st.builds(lambda group: {"groups": [group["name"]]}, st.sampled_from(groups)),
    )
    assignments = draw(
        st.lists(
            st.builds(
                lambda who, accounts, reason: {
                    "permission_set": "ReadOnly",
                    "accounts": accounts,
                    **who,
                    **({"reason": reason} if reason else {}),
                },
                principal,
                st.lists(st.sampled_from(["prod", "staging"]), min_size=1, unique=True),
                st.sampled_from([None, "JIRA-1", "JIRA-2"]),
            ),
            max_size=8,
        )
    )
    single = {"users": users, "groups": groups, "assignments": assignments}
    split: dict[str, dict[str, list[Any]]] = {}
    for key, entries in single.items():
        for entry in entries:
            file = draw(st.sampled_from([f"{key}.json", f"{key}/a.json", f"{key}/team-b.json"]))
            split.setdefault(file, {key: []})[key].append(entry)
        if not any(file.startswith(key) for file in split):
            split[f"{key}.json"] = {key: []}
    return single, {
        **_folder(),
        **{file: json.dumps(content).encode() for file, content in split.items()},
    }


def _resolved(files: dict[str, bytes]) -> DesiredState:
    return resolve(load_documents(files), DIRECTORY)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_revisions())
def test_split_files_load_as_the_same_state_as_single_files(
    revision: tuple[dict[str, list[Any]], dict[str, bytes]],
) -> None:
    single, split = revision
    whole = _resolved(_folder(**{key: {key: entries} for key, entries in single.items()}))

    parts = _resolved(split)

    assert parts.state == whole.state
    assert parts.reasons == whole.reasons
    assert parts.rules.keys() == whole.rules.keys()
    live = LiveState(
        state=IdentityCenterState(permission_sets={"ReadOnly": permission_set("ReadOnly")}),
        instance_arn=INSTANCE_ARN,
        identity_store_id="d-1",
        accounts=ACCOUNTS,
    )
    assert plan(parts, live, revision=None) == plan(whole, live, revision=None)


def test_the_rule_of_a_created_assignment_names_its_file_and_entry() -> None:
    files = _folder(
        users={"users": [_user("ann")]},
        groups={"groups": []},
        assignments={"assignments": [_assignment(users=["ann"], accounts=["staging"])]},
        assignments__web={"assignments": [_assignment(users=["ann"])]},
    )

    rules = _resolved(files).rules

    ann = {"permission_set": "ReadOnly", "principal_type": PrincipalType.USER}
    assert rules == {
        AssignmentKey(account_id=PROD.id, principal_name="ann", **ann): (
            "assignments/web.json $.assignments[0]: account prod"
        ),
        AssignmentKey(account_id=STAGING.id, principal_name="ann", **ann): (
            "assignments.json $.assignments[0]: account staging"
        ),
    }


# -- reason -------------------------------------------------------------------------------------


def _with_reason(*reasons: str) -> dict[str, bytes]:
    return _folder(
        users={"users": [_user("ann")]},
        groups={"groups": []},
        assignments={"assignments": [_assignment(users=["ann"], reason=text) for text in reasons]},
    )


def test_a_reason_is_kept_for_every_assignment_its_entry_declares() -> None:
    (reason,) = _resolved(_with_reason("JIRA-123: launch")).reasons.values()

    assert reason == "JIRA-123: launch"


def test_different_reasons_for_one_assignment_are_all_kept() -> None:
    (reason,) = _resolved(_with_reason("JIRA-1", "JIRA-2", "JIRA-1")).reasons.values()

    assert reason == "JIRA-1; JIRA-2"


@pytest.mark.parametrize(
    ("reason", "rule"),
    [
        ("x" * (REASON_MAX + 1), "reason_length"),
        ("two\nlines", "reason_text"),
        ("  ", "reason_text"),
    ],
)
def test_a_reason_is_one_bounded_line(reason: str, rule: str) -> None:
    (problem,) = _problems(_with_reason(reason))

    assert (problem.file, problem.path, problem.rule) == (
        "assignments.json",
        "$.assignments[0].reason",
        rule,
    )


def test_changing_only_the_reason_changes_nothing_in_aws() -> None:
    before = _resolved(_with_reason("JIRA-1"))
    after = _resolved(_with_reason("JIRA-2 renewed"))
    live = LiveState(
        state=before.state, instance_arn=INSTANCE_ARN, identity_store_id="d-1", accounts=ACCOUNTS
    )

    assert plan(after, live, revision=None).is_empty


def _created_plan() -> Any:
    desired = _resolved(_with_reason("JIRA-123: launch"))
    live = LiveState(
        state=IdentityCenterState(
            users=desired.state.users, permission_sets=desired.state.permission_sets
        ),
        instance_arn=INSTANCE_ARN,
        identity_store_id="d-1",
        accounts=ACCOUNTS,
    )
    created = plan(desired, live, revision=None)
    assert [type(operation) for operation in created.operations] == [CreateAssignment]
    return created


def test_plan_json_carries_the_reason_of_a_created_assignment() -> None:
    (change,) = plan_json(_created_plan())["changes"]

    assert change["assignment_reason"] == "JIRA-123: launch"
    assert "reason: JIRA-123: launch" in change["detail"]


def test_plan_text_shows_the_reason_under_the_created_assignment() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(plan_text(_created_plan()), highlight=False)

    assert "      reason: JIRA-123: launch" in console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def test_plan_markdown_shows_the_reason_in_the_change_cell() -> None:
    markdown = "\n".join(plan_markdown(_created_plan()))

    assert "<sub>reason: JIRA-123: launch</sub>" in markdown
