"""Messages that say what is wrong, where and what to do next, for mistakes met away from the
files' keys: an unknown account or OU id, an invalid controller setting, a configuration file
or a repository that is not there (issue 11, the final review)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.adapters.source import GitSource
from reconciler.controller.settings import SettingsError, load_settings
from reconciler.errors import InvalidRevisionError, SourceError
from reconciler.model.loading import check_documents, load_documents
from reconciler.model.resolving import LiveDirectory, resolve
from reconciler.model.state import Account, Organization, OrganizationalUnit

PROD = Account(id="111111111111", name="prod")
ORGANIZATION = Organization(
    root_id="r-abcd",
    units={
        "r-abcd": OrganizationalUnit(id="r-abcd", name="Root"),
        "ou-abcd-11111111": OrganizationalUnit(
            id="ou-abcd-11111111", name="Workloads", parent_id="r-abcd"
        ),
    },
    account_parents={PROD.id: "ou-abcd-11111111"},
)


def _message(**target: object) -> str:
    files = {
        "reconciler.json": b"{}",
        "users.json": b'{"users": []}',
        "groups.json": json.dumps({"groups": [{"name": "Ops"}]}).encode(),
        "permission-sets/ReadOnly.json": json.dumps(
            {"name": "ReadOnly", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}
        ).encode(),
        "assignments.json": json.dumps(
            {"assignments": [{"permission_set": "ReadOnly", "groups": ["Ops"], **target}]}
        ).encode(),
    }
    directory = LiveDirectory(
        accounts=(PROD,),
        user_names=frozenset(),
        group_names=frozenset(),
        organization=ORGANIZATION,
        account_tags={PROD.id: {}},
    )
    with pytest.raises(InvalidRevisionError) as raised:
        resolve(load_documents(files), directory)
    (problem,) = raised.value.problems
    return problem.message


def test_an_unknown_account_id_says_where_to_check_it_and_suggests_the_close_one() -> None:
    assert _message(accounts=["111111111112"]) == (
        "account id 111111111112 is not an account of this organization: check it against "
        "`aws organizations list-accounts`, or name the account by its name; did you mean "
        "'111111111111'?"
    )


def test_an_unknown_organizational_unit_id_says_to_check_it_or_name_it_by_path() -> None:
    assert _message(organizational_units=[{"id": "ou-abcd-11111112"}]) == (
        "organizational unit ou-abcd-11111112 is not in this organization: check the id, or "
        "name the unit by its path from the root ('Root/<OU>/<OU>'); did you mean "
        "'ou-abcd-11111111'?"
    )


@pytest.fixture
def _no_reconciler_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("RECONCILER_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("_no_reconciler_environment")
def test_an_invalid_setting_names_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECONCILER_JITTER", "3")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value).startswith(
        "invalid settings: jitter (set by a `reconciler run` flag, RECONCILER_JITTER or the "
        "configuration file): "
    )


@pytest.mark.usefixtures("_no_reconciler_environment")
def test_an_unknown_key_of_the_configuration_file_suggests_the_option(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.toml"
    config.write_text("jittr = 0.1\n")

    with pytest.raises(SettingsError) as raised:
        load_settings(config_file=config)

    assert str(raised.value) == (
        f"invalid settings: jittr: unknown option of the configuration file {config}; did you "
        "mean 'jitter'? (docs/controller.md lists the options)"
    )


@pytest.mark.usefixtures("_no_reconciler_environment")
def test_a_missing_configuration_file_names_where_it_was_given(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(config_file=tmp_path / "absent.toml")

    assert str(raised.value) == (
        f"configuration file {tmp_path / 'absent.toml'} does not exist (named by --config or "
        "RECONCILER_CONFIG_FILE): give the path of a TOML file, or neither"
    )


def test_a_missing_repository_says_what_to_give(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    with pytest.raises(SourceError) as raised:
        GitSource(repository=str(missing), ref=None, subpath="desired-state").fetch()

    assert str(raised.value).endswith(
        "not found: no such directory; give --repo a folder of a work tree, a bare repository "
        "or a URL"
    )


@pytest.mark.parametrize(
    ("file", "hint"),
    [
        ("assignment.json", "; did you mean 'assignments.json'?"),
        (
            "permission-sets/admin/Admin.json",
            "; a permission-set file goes directly in permission-sets/, not in a folder below it",
        ),
    ],
)
def test_a_file_that_is_not_a_desired_state_file_says_what_was_meant(file: str, hint: str) -> None:
    files = {
        "reconciler.json": b"{}",
        "users.json": b'{"users": []}',
        "groups.json": b'{"groups": []}',
        "assignments.json": b'{"assignments": []}',
        file: b"{}",
    }

    _, problems = check_documents(files)

    (problem,) = problems
    assert (problem.file, problem.rule) == (file, "unknown_file")
    assert problem.message == (
        "not a desired-state file; expected reconciler.json, users.json, groups.json, "
        "assignments.json, access-control-attributes.json, permission-sets/<Name>.json or files "
        f"directly in users/, groups/, assignments/{hint}"
    )
