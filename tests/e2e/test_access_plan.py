"""The plan's effect on access, end to end: the ``reconciler`` command against the sandbox on
the example repository. The access a plan announces is the access live state gives after
apply, and adding a member shows the access the member inherits from the group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.clients import make_clients
from reconciler.engine import Revision, reconcile
from reconciler.planning.access import effective_access
from reconciler.sandbox import SeededOrganization
from reconciler.sandbox.console import ConsoleActions
from tests.e2e.test_cli import run_cli, run_json
from tests.support import commit_all

pytestmark = pytest.mark.usefixtures("aws_environment")


def _grants(document: dict[str, Any], side: str) -> set[tuple[str, str, str, str | None]]:
    return {
        (grant["user"], grant["account_id"], grant["permission_set"], grant["group"])
        for grant in document["access"][side]
    }


def _live_and_desired_grants(access_repo: Path) -> tuple[frozenset[Any], frozenset[Any]]:
    """The grants of live state and of the desired state, read by a plan-only pass."""
    result = reconcile(
        revision=Revision(revision=None, folder=access_repo / "desired-state"),
        aws=make_clients(),
        apply=False,
        allow_uncommitted=True,
    )
    return effective_access(result.live.state), effective_access(result.desired.state)


def test_the_access_a_plan_announces_is_the_access_read_live_after_apply(
    access_repo: Path,
) -> None:
    code, planned = run_json("plan", "--repo", str(access_repo))
    assert code == 2
    assert planned["access"]["lost"] == []

    code, applied = run_json("apply", "--repo", str(access_repo))
    assert code == 0, applied

    live_grants, desired_grants = _live_and_desired_grants(access_repo)
    assert live_grants == desired_grants
    assert _grants(planned, "gained") == {
        (grant.user, grant.account_id, grant.permission_set, grant.via) for grant in live_grants
    }


def test_adding_jane_to_admin_access_shows_she_gains_administrator_access_in_prod_and_staging(
    access_repo: Path, aws_environment: dict[str, str], organization: SeededOrganization
) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    ConsoleActions(aws_environment).remove_user_from_group(
        group="AdminAccess", user_name="jane.doe"
    )

    code, document = run_json("plan", "--repo", str(access_repo))
    text = run_cli("plan", "--repo", str(access_repo)).stdout

    assert code == 2
    prod, staging = organization.accounts["prod"], organization.accounts["staging"]
    assert document["access"] == {
        "gained": [
            {
                "user": "jane.doe",
                "account_id": account_id,
                "account_name": name,
                "permission_set": "AdministratorAccess",
                "via": "group",
                "group": "AdminAccess",
                "privileged": True,
            }
            for name, account_id in sorted(
                (("prod", prod), ("staging", staging)), key=lambda pair: pair[1]
            )
        ],
        "lost": [],
    }
    assert "Access: 2 gains (2 privileged), 0 losses" in text
    for name, account_id in (("prod", prod), ("staging", staging)):
        assert (
            f"+ jane.doe gains AdministratorAccess in {name} ({account_id}) via group "
            "AdminAccess ⚠ privileged"
        ) in text


def test_a_removed_assignment_shows_who_loses_access(access_repo: Path) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    assignments = access_repo / "desired-state" / "assignments.json"
    document = json.loads(assignments.read_text())
    document["assignments"] = [
        entry for entry in document["assignments"] if entry["permission_set"] != "DeveloperAccess"
    ]
    assignments.write_text(json.dumps(document))

    result = reconcile(
        revision=Revision(revision=None, folder=access_repo / "desired-state"),
        aws=make_clients(),
        apply=False,
        allow_uncommitted=True,
    )

    assert result.plan.access is not None
    assert {(g.user, g.permission_set, g.via) for g in result.plan.access.lost} == {
        ("jane.doe", "DeveloperAccess", "Developers"),
        ("sam.lee", "DeveloperAccess", "Developers"),
    }


def test_a_commit_emptying_the_privileged_list_still_has_its_own_gains_highlighted(
    access_repo: Path,
) -> None:
    """The commit that adds sam.lee to AdminAccess also sets ``privileged_permission_sets`` to
    []: its plan is judged by the patterns of the commit it builds on, like its deletion
    guard, so the reviewer still sees the privileged gain and why."""
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    folder = access_repo / "desired-state"
    config = json.loads((folder / "reconciler.json").read_text())
    (folder / "reconciler.json").write_text(
        json.dumps({**config, "privileged_permission_sets": []})
    )
    groups = json.loads((folder / "groups.json").read_text())
    for group in groups["groups"]:
        if group["name"] == "AdminAccess":
            group["members"].append("sam.lee")
    (folder / "groups.json").write_text(json.dumps(groups))
    commit_all(access_repo, "sam.lee joins AdminAccess; nothing is privileged any more")

    code, document = run_json("plan", "--repo", str(access_repo))

    assert code == 2
    assert document["access"]["gained"]
    assert all(grant["privileged"] for grant in document["access"]["gained"])
    assert any(
        "this revision drops *Admin*, *PowerUser* from privileged_permission_sets" in note
        for note in document["notes"]
    )
