"""The honest read floor (``benchmarks.floor``), computed from counts alone."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.floor import ASSIGNMENTS_ONLY, OrganizationData, floor, page_limits

# 3 accounts, 2 sets; set 0 provisioned to accounts 0 and 1, set 1 to account 0.
DATA = OrganizationData(
    accounts=3,
    users=4,
    groups=2,
    permission_sets=2,
    members_of=(3, 1),
    groups_of=(1, 1, 1, 1),
    managed=(1, 0),
    customer=(0, 0),
    tags=(2, 1),
    provisioned_by_set=(2, 1),
    provisioned_by_account=(2, 1, 0),
    stale_by_set=(0, 0),
    stale_by_account=(0, 0, 0),
    assignments_by_pair=(250, 0, 1),
    assignments_by_every_pair=(250, 0, 0, 1, 0, 0),
)


def test_page_sizes_come_from_botocore_models() -> None:
    limits = page_limits()

    assert limits["ListAccounts"] == 20
    assert limits["ListAccountAssignments"] == 100


def test_every_provisioned_pair_costs_a_page_even_when_it_holds_no_assignment() -> None:
    calls = floor(DATA)

    assert calls["ListAccountAssignments"] == 3 + 1 + 1  # 250 -> 3 pages, 0 -> 1, 1 -> 1


def test_memberships_are_counted_from_the_cheaper_side() -> None:
    by_group = floor(DATA)
    by_member = floor(replace(DATA, groups=5, members_of=(1, 1, 1, 1, 0)))

    assert by_group["ListGroupMemberships"] == 2
    assert by_member["ListGroupMembershipsForMember"] == 4
    assert "ListGroupMemberships" not in by_member


def test_assignments_alone_take_the_cheaper_provisioning_side_and_what_it_needs() -> None:
    many_sets = replace(
        DATA,
        permission_sets=150,
        provisioned_by_set=(2, 1, *([0] * 148)),
    )

    calls = floor(many_sets, ASSIGNMENTS_ONLY)

    # 150 sets: one page each by set, against 3 accounts by account plus their list.
    assert calls == {
        "ListAccountAssignments": 5,
        "ListAccounts": 1,
        "ListInstances": 1,
        "ListPermissionSetsProvisionedToAccount": 3,
    }
