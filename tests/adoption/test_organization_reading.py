"""Reading the OU tree and account tags from the sandbox: what targets need, with the fewest
calls (Organizations list pages hold at most 20 items)."""

from __future__ import annotations

from collections import Counter

import pytest

from reconciler.adapters.aws.clients import make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.model.state import LiveState
from reconciler.model.targets import TargetReads
from reconciler.sandbox import Sandbox
from tests.adoption.conftest import Console

ORGANIZATION_CALLS = (
    "DescribeOrganization",
    "ListRoots",
    "ListOrganizationalUnitsForParent",
    "ListAccountsForParent",
    "ListParents",
    "ListTagsForResource",
)


def _unit(console: Console, parent: str, name: str) -> str:
    created = console.organizations.create_organizational_unit(ParentId=parent, Name=name)
    return str(created["OrganizationalUnit"]["Id"])


def _root(console: Console) -> str:
    return str(console.organizations.list_roots()["Roots"][0]["Id"])


def _move(console: Console, account: str, destination: str) -> None:
    account_id = console.org.accounts[account]
    console.organizations.move_account(
        AccountId=account_id, SourceParentId=_root(console), DestinationParentId=destination
    )


def _read(sandbox: Sandbox, reads: TargetReads) -> tuple[LiveState, Counter[str]]:
    first = len(sandbox.calls)
    live = read_live_state(make_clients(), targets=reads)
    calls = Counter(
        call.operation
        for call in sandbox.calls[first:]
        if call.service == "organizations" and call.operation in ORGANIZATION_CALLS
    )
    return live, calls


def test_no_organization_call_when_no_rule_needs_one(console: Console, sandbox: Sandbox) -> None:
    live, calls = _read(sandbox, TargetReads())

    assert calls == Counter()
    assert (live.organization, live.account_tags) == (None, None)


def test_reads_ou_paths_and_parents_per_unit_when_units_are_few(
    console: Console, sandbox: Sandbox
) -> None:
    workloads = _unit(console, _root(console), "Workloads")
    prod = _unit(console, workloads, "Prod")
    _move(console, "prod", prod)

    live, calls = _read(sandbox, TargetReads(organization=True, units=True))

    organization = live.organization
    assert organization is not None
    assert organization.path(prod) == "Root/Workloads/Prod"
    assert organization.account_parents[console.org.accounts["prod"]] == prod
    assert organization.account_parents[console.org.accounts["staging"]] == organization.root_id
    assert organization.management_account_id == console.org.management_account_id
    # 3 units (root, Workloads, Prod) and 3 accounts: one call per unit for children and accounts
    assert calls == Counter(
        {
            "DescribeOrganization": 1,
            "ListRoots": 1,
            "ListOrganizationalUnitsForParent": 3,
            "ListAccountsForParent": 3,
        }
    )


def test_reads_parents_per_account_when_accounts_are_fewer_than_units(
    console: Console, sandbox: Sandbox
) -> None:
    root = _root(console)
    units = [_unit(console, root, f"Team{index}") for index in range(5)]
    _move(console, "prod", units[2])

    live, calls = _read(sandbox, TargetReads(organization=True, units=True))

    assert live.organization is not None
    assert live.organization.account_parents[console.org.accounts["prod"]] == units[2]
    assert calls["ListParents"] == len(console.org.accounts)
    assert calls["ListAccountsForParent"] == 0


@pytest.mark.parametrize("tagged", [True, False])
def test_reads_account_tags_only_when_asked(
    tagged: bool, console: Console, sandbox: Sandbox
) -> None:
    console.organizations.tag_resource(
        ResourceId=console.org.accounts["prod"], Tags=[{"Key": "env", "Value": "prod"}]
    )

    live, calls = _read(sandbox, TargetReads(organization=True, account_tags=tagged))

    assert calls["ListTagsForResource"] == (len(console.org.accounts) if tagged else 0)
    if tagged:
        assert live.account_tags is not None
        assert live.account_tags[console.org.accounts["prod"]] == {"env": "prod"}
    else:
        assert live.account_tags is None
