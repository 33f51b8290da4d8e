"""``export`` and the repository's own content: an assignment's ``reason`` (AWS keeps none) is
written back by ``export --force``, and files per team are named when export would duplicate
them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.model.exporting import export_files
from reconciler.model.loading import load_documents
from reconciler.model.state import IdentityCenterState, LiveState
from tests.adoption.conftest import Console, new_repository, plan_json, run_cli
from tests.support import commit_all
from tests.unit.states import ACCOUNTS, INSTANCE_ARN, PROD, STAGING, permission_set, to_group


@pytest.fixture
def assigned(console: Console) -> None:
    """Group Ops holds Admin in prod and staging, group Web in prod only."""
    admin = console.permission_set("Admin")
    ops, web = console.group("Ops"), console.group("Web")
    console.assign(admin, "prod", ops, "GROUP")
    console.assign(admin, "staging", ops, "GROUP")
    console.assign(admin, "prod", web, "GROUP")


def test_export_writes_given_reasons_on_their_own_entries() -> None:
    live = LiveState(
        state=IdentityCenterState(
            permission_sets={"Admin": permission_set("Admin")},
            assignments=frozenset({to_group("Ops", "Admin", PROD), to_group("Web", "Admin", PROD)}),
        ),
        instance_arn=INSTANCE_ARN,
        identity_store_id="d-1",
        accounts=ACCOUNTS,
    )

    export = export_files(
        live, kinds=["permission_sets", "assignments"], reasons={to_group("Ops", "Admin"): "T-1"}
    )

    entries = json.loads(export.files["assignments.json"])["assignments"]
    assert entries == [
        {"permission_set": "Admin", "groups": ["Ops"], "accounts": ["prod"], "reason": "T-1"},
        {"permission_set": "Admin", "groups": ["Web"], "accounts": ["prod"]},
    ]
    assert STAGING.id not in export.files["assignments.json"].decode()
    load_documents(export.files)  # valid


@pytest.mark.usefixtures("assigned")
def test_export_force_keeps_the_reasons_of_the_files_it_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = new_repository(tmp_path)
    folder = repository / "desired-state"
    assert run_cli("export", "--out", str(folder)) == 0
    path = folder / "assignments.json"
    document = json.loads(path.read_text())
    for entry in document["assignments"]:
        if entry["groups"] == ["Ops"]:
            entry["reason"] = "OPS-42: on-call"
    path.write_text(json.dumps(document))

    assert run_cli("export", "--out", str(folder), "--force") == 0

    entries = json.loads(path.read_text())["assignments"]
    assert {entry["groups"][0]: entry.get("reason") for entry in entries} == {
        "Ops": "OPS-42: on-call",
        "Web": None,
    }
    commit_all(repository, "Adopt")
    code, plan = plan_json(repository, capsys)
    assert (code, plan["changes"]) == (0, [])


@pytest.mark.usefixtures("assigned")
def test_export_force_over_files_per_team_says_they_would_be_declared_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "desired-state"
    assert run_cli("export", "--out", str(folder)) == 0
    (folder / "groups").mkdir()
    (folder / "groups.json").rename(folder / "groups" / "platform.json")
    capsys.readouterr()

    assert run_cli("export", "--out", str(folder), "--force") == 0

    assert "groups/ holds files per team that export does not replace" in (
        capsys.readouterr().err.replace("\n", " ")
    )
