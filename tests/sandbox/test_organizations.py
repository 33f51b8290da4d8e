"""Organizations through the sandbox: ListAccounts paging and account status.

Sources: botocore's ``organizations`` model (ListAccounts MaxResults 1-20) and the
Organizations API reference (ListAccounts: "Always check the NextToken response parameter").
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization


@pytest.fixture
def organizations(client: Any) -> Any:
    """Organizations client."""
    return client("organizations")


def test_list_accounts_pages_hold_at_most_20_accounts(
    sandbox: Sandbox, organizations: Any, org: SeededOrganization
) -> None:
    """45 member accounts + management: pages of 20, 20, 8 and every account exactly once."""
    for i in range(45):
        sandbox.add_account(name=f"account{i:02d}")

    pages = list(organizations.get_paginator("list_accounts").paginate())

    assert [len(page["Accounts"]) for page in pages] == [20, 20, 8]
    ids = [account["Id"] for page in pages for account in page["Accounts"]]
    assert len(ids) == len(set(ids)) == 48


def test_list_accounts_max_results_above_20_is_rejected(
    organizations: Any, org: SeededOrganization
) -> None:
    """MaxResults range 1-20 (botocore model); AWS refuses more."""
    with pytest.raises(ClientError) as excinfo:
        organizations.list_accounts(MaxResults=21)

    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_accounts_carry_their_status(
    sandbox: Sandbox, organizations: Any, org: SeededOrganization
) -> None:
    """Account.Status is ACTIVE, SUSPENDED or PENDING_CLOSURE (Organizations Account shape)."""
    suspended = sandbox.add_account(name="old", status="SUSPENDED")

    accounts = {a["Id"]: a for a in organizations.list_accounts()["Accounts"]}

    assert accounts[suspended]["Status"] == "SUSPENDED"
    assert accounts[org.accounts["prod"]]["Status"] == "ACTIVE"
    assert accounts[org.management_account_id]["Name"] == "management"


def test_other_organizations_calls_reach_moto(organizations: Any, org: SeededOrganization) -> None:
    """DescribeOrganization is answered by moto underneath."""
    described = organizations.describe_organization()["Organization"]

    assert described["MasterAccountId"] == org.management_account_id


@pytest.mark.parametrize("sandbox_settings", [SandboxSettings(organizations_empty_first_page=True)])
def test_an_empty_first_page_with_a_next_token_can_be_simulated(
    sandbox_settings: SandboxSettings, organizations: Any, org: SeededOrganization
) -> None:
    """AWS may answer ListAccounts with an empty page and a NextToken (Organizations API
    reference: "Always check the NextToken response parameter ... even when there are no
    more results"); with the setting on, the paginator still finds every account."""
    first = organizations.list_accounts()
    paged = [
        a["Id"]
        for p in organizations.get_paginator("list_accounts").paginate()
        for a in p["Accounts"]
    ]

    assert first["Accounts"] == []
    assert "NextToken" in first
    assert sorted(paged) == sorted(org.accounts.values())
