"""Pinned API call counts of reading live state on small generated organizations.

A regression in the read strategy (an extra call per set, a read per account instead of per
provisioned account, memberships read the expensive way) changes these exact numbers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from benchmarks.floor import floor as honest_floor
from benchmarks.floor import organization_data
from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.sandbox import Sandbox
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.seeding import ScaleSpec, SeededScale, seed_organization

SMALL = ScaleSpec(accounts=12, permission_sets=5, groups=8, users=20, assignments=60, seed=3)
WIDE = ScaleSpec(accounts=30, permission_sets=4, groups=3, users=4, assignments=150, seed=5)


@pytest.fixture
def unlimited_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A sandbox without rate limits, the AWS environment pointing at it."""
    with Sandbox(faults=FaultConfig.parse("none")) as sandbox:
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        for key, value in sandbox.client_environment().items():
            monkeypatch.setenv(key, value)
        yield sandbox


def _clients() -> AwsClients:
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    return make_clients(rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0))


def _seed(sandbox: Sandbox, spec: ScaleSpec) -> SeededScale:
    return seed_organization(sandbox, spec)


SMALL_BY_PERMISSION_SET = {
    "DescribePermissionSet": 5,
    "GetCallerIdentity": 1,
    "GetInlinePolicyForPermissionSet": 5,
    "GetPermissionsBoundaryForPermissionSet": 5,
    "ListAccountAssignments": 36,
    "ListAccounts": 1,
    "ListAccountsForProvisionedPermissionSet": 10,
    "ListCustomerManagedPolicyReferencesInPermissionSet": 5,
    "ListGroupMemberships": 8,
    "ListGroups": 1,
    "ListInstances": 1,
    "ListManagedPoliciesInPermissionSet": 5,
    "ListPermissionSets": 1,
    "ListTagsForResource": 5,
    "ListUsers": 1,
}


def test_read_by_permission_set_makes_the_pinned_calls(unlimited_sandbox: Sandbox) -> None:
    _seed(unlimited_sandbox, SMALL)
    clients = _clients()

    live = read_live_state(clients)

    assert len(live.state.assignments) == SMALL.assignments
    assert clients.calls.snapshot() == SMALL_BY_PERMISSION_SET


def test_read_by_permission_set_is_at_the_floor(unlimited_sandbox: Sandbox) -> None:
    seeded = _seed(unlimited_sandbox, SMALL)
    floor = honest_floor(organization_data(unlimited_sandbox, instance_arn=seeded.instance_arn))
    clients = _clients()

    read_live_state(clients)

    assert clients.calls.snapshot() == floor


def test_read_by_principal_makes_the_pinned_calls(unlimited_sandbox: Sandbox) -> None:
    _seed(unlimited_sandbox, SMALL)
    clients = _clients()

    live = read_live_state(clients, assignments_by="principal")

    assert len(live.state.assignments) == SMALL.assignments
    expected = {
        **{k: v for k, v in SMALL_BY_PERMISSION_SET.items() if k != "ListAccountAssignments"},
        "ListAccountAssignmentsForPrincipal": 28,  # 20 users + 8 groups, one page each
    }
    assert clients.calls.snapshot() == expected


def test_both_ways_of_reading_assignments_see_the_same_state(unlimited_sandbox: Sandbox) -> None:
    _seed(unlimited_sandbox, SMALL)

    by_set = read_live_state(_clients())
    by_principal = read_live_state(_clients(), assignments_by="principal")

    assert by_principal.state == by_set.state


def test_auto_reads_per_permission_set_when_principals_outnumber_provisioned_accounts(
    unlimited_sandbox: Sandbox,
) -> None:
    spec = ScaleSpec(accounts=4, permission_sets=2, groups=30, users=40, assignments=20)
    _seed(unlimited_sandbox, spec)  # 70 principals, 7 provisioned (set, account)
    clients = _clients()

    live = read_live_state(clients, assignments_by="auto")

    calls = clients.calls.snapshot()
    assert len(live.state.assignments) == 20
    assert calls["ListAccountAssignments"] == 7  # one per provisioned (set, account)
    assert "ListAccountAssignmentsForPrincipal" not in calls


def test_auto_reads_per_principal_when_principals_are_fewer(unlimited_sandbox: Sandbox) -> None:
    _seed(unlimited_sandbox, WIDE)  # 7 principals, sets provisioned to most of 30 accounts
    clients = _clients()

    live = read_live_state(clients, assignments_by="auto")

    calls = clients.calls.snapshot()
    assert len(live.state.assignments) == WIDE.assignments
    assert calls["ListAccountAssignmentsForPrincipal"] == 7  # against 89 pairs per set
    assert "ListAccountAssignments" not in calls


def test_memberships_are_read_per_member_when_that_is_fewer_calls(
    unlimited_sandbox: Sandbox,
) -> None:
    _seed(
        unlimited_sandbox,
        ScaleSpec(accounts=3, permission_sets=2, groups=9, users=4, assignments=0),
    )
    clients = _clients()

    read_live_state(clients)

    calls = clients.calls.snapshot()
    assert calls["ListGroupMembershipsForMember"] == 4
    assert "ListGroupMemberships" not in calls


SMALL_HYBRID_STEADY = {
    **{k: v for k, v in SMALL_BY_PERMISSION_SET.items() if k != "ListAccountAssignments"},
    "ListAccountAssignmentsForPrincipal": 28,  # 20 users + 8 groups, one page each
}


def test_hybrid_read_after_a_complete_one_reads_per_principal(
    unlimited_sandbox: Sandbox,
) -> None:
    _seed(unlimited_sandbox, SMALL)
    previous = read_live_state(_clients())
    clients = _clients()

    live = read_live_state(clients, assignments_by="hybrid", previous=previous)

    assert live.state == previous.state
    assert clients.calls.snapshot() == SMALL_HYBRID_STEADY


def test_hybrid_read_reads_the_pairs_of_principals_deleted_since_the_previous_read(
    unlimited_sandbox: Sandbox,
) -> None:
    seeded = _seed(unlimited_sandbox, SMALL)
    previous = read_live_state(_clients())
    identitystore = _clients().identitystore
    store = seeded.identity_store_id
    # team-0000 holds 21 assignments in 21 (set, account) pairs, user00003 one more.
    identitystore.delete_group(IdentityStoreId=store, GroupId=previous.group_ids["team-0000"])
    identitystore.delete_user(IdentityStoreId=store, UserId=previous.user_ids["user00003"])
    clients = _clients()

    live = read_live_state(clients, assignments_by="hybrid", previous=previous)

    assert live.state == read_live_state(_clients()).state
    assert clients.calls.snapshot() == {
        **SMALL_HYBRID_STEADY,
        "ListGroupMemberships": 7,  # one group fewer
        "ListAccountAssignments": 22,  # the deleted principals' pairs
        "ListAccountAssignmentsForPrincipal": 28,  # 19 users + 7 groups + the 2 deleted
    }
