"""Reading the Organizations tree and account tags that assignment targets need.

Only what ``reconciler.model.targets.TargetReads`` asks for is read, with the fewest calls:

- the management account: DescribeOrganization (1 call) whenever any rule-based target is used;
- the OU tree (OU targets only): ListRoots, then ListOrganizationalUnitsForParent per root and
  OU (breadth first), then the parent of every account, whichever is cheaper: ListAccountsForParent
  per root and OU (U + 1 calls plus extra pages of 20) or ListParents per account (A calls);
- account tags (tag targets only): ListTagsForResource per account (the API has no batch form).

Organizations pages hold at most 20 items (botocore ``organizations`` model); every page is
read. Errors are translated to ``AwsError`` like every other read.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.adapters.aws.clients import AwsClients
from reconciler.adapters.aws.errors import call, pages
from reconciler.model.state import Organization, OrganizationalUnit
from reconciler.model.targets import TargetReads

ORGANIZATIONS_PAGE = 20
"""Largest page of Organizations list calls (MaxResults 1-20)."""


def _children(clients: AwsClients, parent_id: str) -> list[OrganizationalUnit]:
    return [
        OrganizationalUnit(id=raw["Id"], name=raw.get("Name", raw["Id"]), parent_id=parent_id)
        for page in pages(
            clients.organizations, "list_organizational_units_for_parent", ParentId=parent_id
        )
        for raw in page.get("OrganizationalUnits", [])
    ]


def _parents_by_unit(clients: AwsClients, unit_ids: Iterable[str]) -> dict[str, str]:
    return {
        raw["Id"]: unit_id
        for unit_id in unit_ids
        for page in pages(clients.organizations, "list_accounts_for_parent", ParentId=unit_id)
        for raw in page.get("Accounts", [])
    }


def _parents_by_account(clients: AwsClients, account_ids: Iterable[str]) -> dict[str, str]:
    parents = {}
    for account_id in account_ids:
        for page in pages(clients.organizations, "list_parents", ChildId=account_id):
            for raw in page.get("Parents", []):
                parents[account_id] = raw["Id"]
    return parents


def read_organization(
    clients: AwsClients, *, reads: TargetReads, account_ids: Iterable[str]
) -> tuple[Organization | None, dict[str, dict[str, str]] | None]:
    """(the organization, tags by account id) as far as ``reads`` asks; None for what it does
    not ask for. ``account_ids`` are the accounts ListAccounts returned."""
    accounts = sorted(account_ids)
    organization = None
    if reads.organization or reads.units:
        described = call(clients.organizations.describe_organization)["Organization"]
        management = described.get("MasterAccountId")
        root_id = ""
        units: dict[str, OrganizationalUnit] = {}
        parents: dict[str, str] = {}
        if reads.units:
            roots = [
                raw for page in pages(clients.organizations, "list_roots") for raw in page["Roots"]
            ]
            root_id = roots[0]["Id"] if roots else ""
            for raw in roots:
                units[raw["Id"]] = OrganizationalUnit(id=raw["Id"], name=raw.get("Name", "Root"))
            pending = [raw["Id"] for raw in roots]
            while pending:
                for unit in _children(clients, pending.pop(0)):
                    units[unit.id] = unit
                    pending.append(unit.id)
            per_unit_calls = len(units) + len(accounts) // ORGANIZATIONS_PAGE
            if per_unit_calls <= len(accounts):
                parents = _parents_by_unit(clients, sorted(units))
            else:
                parents = _parents_by_account(clients, accounts)
        organization = Organization(
            root_id=root_id,
            units=units,
            account_parents=parents,
            management_account_id=str(management) if management else None,
        )
    tags = None
    if reads.account_tags:
        tags = {
            account_id: {
                raw["Key"]: raw.get("Value", "")
                for page in pages(
                    clients.organizations, "list_tags_for_resource", ResourceId=account_id
                )
                for raw in page.get("Tags", [])
            }
            for account_id in accounts
        }
    return organization, tags
