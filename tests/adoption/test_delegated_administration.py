"""Delegated administration and Regions, at plan time, against the sandbox.

AWS (IAM Identity Center user guide, "Delegated administration"): a delegated administrator
cannot create or delete account assignments in the management account, nor manage permission
sets provisioned there. The reconciler finds out who it calls as (STS GetCallerIdentity against
the instance's owner) and refuses such a revision before any write, naming the file, the entry
and the account; from the management account the same revision plans. An instance lives in one
Region: from another, the error names the Region the clients used and how to set it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.adapters.aws.clients import make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.engine import Revision, reconcile
from reconciler.errors import InvalidRevisionError, PermanentAwsError
from reconciler.model.administration import AdministrationRole
from reconciler.planning.plans import CreateAssignment
from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from tests.adoption.conftest import Console, new_repository, run_cli, write_folder
from tests.conftest import FAST

ADMINS = {"name": "Admins", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}


@pytest.fixture
def delegated() -> bool:
    """Whether the sandbox's caller is a delegated administrator (parametrize to change)."""
    return True


@pytest.fixture
def sandbox(delegated: bool) -> Iterator[Sandbox]:
    """The example organization's sandbox; with ``delegated``, the caller is member account
    ``identity``, registered as Identity Center's delegated administrator."""
    settings = SandboxSettings(**{**FAST.model_dump(), "delegated_administrator": delegated})
    with Sandbox(settings, shape_check=True) as running:
        yield running


def admins_in(repository: Path, accounts: list[str], console: Console) -> str:
    """Commit Admins for alice in ``accounts`` (alice is made by hand); returns the SHA."""
    console.user("alice")
    return write_folder(
        repository,
        {
            "permission-sets/Admins.json": ADMINS,
            "assignments.json": {
                "assignments": [
                    {"permission_set": "Admins", "users": ["alice"], "accounts": accounts}
                ]
            },
        },
    )


def problems_of(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli(*args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_caller_is_read_as_the_delegated_administrator(
    console: Console, sandbox: Sandbox, organization: SeededOrganization
) -> None:
    live = read_live_state(make_clients())

    assert live.caller is not None
    assert live.caller.role is AdministrationRole.DELEGATED_ADMINISTRATOR
    assert live.caller.account_id == organization.accounts["identity"]
    assert live.caller.management_account == organization.management_account_id


def test_an_assignment_in_the_management_account_is_refused_before_any_write(
    console: Console,
    sandbox: Sandbox,
    organization: SeededOrganization,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repository = new_repository(tmp_path)
    admins_in(repository, ["prod", "management"], console)
    writes = len(sandbox.recorder.write_calls())

    code, output = problems_of(capsys, "apply", "--repo", str(repository))

    assert code != 0
    assert "assignments.json" in output
    assert "$.assignments[0].accounts[1]" in output
    assert f"management ({organization.management_account_id})" in output
    assert "delegated administrator" in output
    assert "run the reconciler from the management account" in output
    assert sandbox.recorder.write_calls()[writes:] == []  # nothing applied, not even prod


def test_validate_with_live_checks_names_the_management_account_problem(
    console: Console, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = new_repository(tmp_path)
    admins_in(repository, ["management"], console)

    code, output = problems_of(capsys, "validate", "--repo", str(repository))

    assert code != 0
    assert "[management_account_assignment]" in output
    assert "$.assignments[0].accounts[0]" in output


def test_a_set_provisioned_to_the_management_account_is_refused(
    console: Console, sandbox: Sandbox, organization: SeededOrganization, tmp_path: Path
) -> None:
    arn = console.permission_set("Admins")
    center = sandbox.identity_center
    with center.lock:  # provisioned there by the management account itself
        center.provisioned[(arn, organization.management_account_id)] = 1
    repository = new_repository(tmp_path)
    admins_in(repository, ["prod"], console)
    writes = len(sandbox.recorder.write_calls())

    with pytest.raises(InvalidRevisionError) as refused:
        reconcile(
            revision=Revision(revision=None, folder=repository / "desired-state"),
            aws=make_clients(),
            apply=True,
        )

    [problem] = refused.value.problems
    assert problem.rule == "management_account_permission_set"
    assert problem.file == "permission-sets/Admins.json"
    assert organization.management_account_id in problem.message
    assert "delegated administrator" in problem.message
    assert sandbox.recorder.write_calls()[writes:] == []


@pytest.mark.parametrize("delegated", [False])
def test_from_the_management_account_an_assignment_there_is_planned(
    console: Console, organization: SeededOrganization, tmp_path: Path
) -> None:
    repository = new_repository(tmp_path)
    admins_in(repository, ["prod", "management"], console)

    result = reconcile(
        revision=Revision(revision=None, folder=repository / "desired-state"),
        aws=make_clients(),
        apply=False,
    )

    assert result.live.caller is not None
    assert result.live.caller.role is AdministrationRole.MANAGEMENT_ACCOUNT
    assert organization.management_account_id in {
        op.assignment.account_id
        for op in result.plan.operations
        if isinstance(op, CreateAssignment)
    }


@pytest.mark.parametrize("delegated", [False])
def test_in_another_region_no_instance_is_found_and_the_error_names_the_region(
    console: Console,
) -> None:
    with pytest.raises(PermanentAwsError) as missing:
        read_live_state(make_clients(region="eu-west-1"))

    assert missing.value.code == "InstanceNotFound"
    assert "no IAM Identity Center instance in eu-west-1" in str(missing.value)
    assert "AWS_REGION" in str(missing.value)


@pytest.mark.parametrize("delegated", [False])
def test_a_named_instance_missing_from_the_region_names_the_region(
    console: Console, organization: SeededOrganization
) -> None:
    with pytest.raises(PermanentAwsError) as missing:
        read_live_state(make_clients(region="eu-west-1"), instance_arn=organization.instance_arn)

    assert f"no IAM Identity Center instance {organization.instance_arn} in eu-west-1" in str(
        missing.value
    )
    assert "AWS_REGION" in str(missing.value)


@pytest.mark.parametrize("delegated", [False])
def test_an_identity_store_in_another_region_than_its_client_names_that_region(
    console: Console, aws_environment: dict[str, str]
) -> None:
    clients = make_clients()
    elsewhere: Any = boto3.client("identitystore", region_name="eu-west-1")
    mismatched = dataclasses.replace(clients, identitystore=elsewhere)

    with pytest.raises(PermanentAwsError) as missing:
        read_live_state(mismatched)

    assert "no identity store d-" in str(missing.value)
    assert "in eu-west-1" in str(missing.value)
    assert "AWS_REGION" in str(missing.value)


@pytest.mark.parametrize("delegated", [False])
def test_the_cli_names_the_region_when_it_finds_no_instance(
    console: Console,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repository = new_repository(tmp_path)
    write_folder(repository, {})
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")

    code, output = problems_of(capsys, "plan", "--repo", str(repository))

    assert code != 0
    assert "no IAM Identity Center instance in ap-southeast-2" in output
    assert "AWS_REGION" in output
