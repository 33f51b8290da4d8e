"""Reading live state from the sandbox over real HTTP: every attribute of every kind, every page,
and the per-permission-set strategy for account assignments.

Objects are created with plain boto3 clients (the way a person or another tool would), then read
with ``read_live_state``.
"""

from __future__ import annotations

import json
import time
from typing import Literal

import pytest

from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import (
    deleted_principal_name,
    read_live_state,
    session_duration,
)
from reconciler.errors import PermanentAwsError
from reconciler.model.policies import canonical_policy
from reconciler.model.state import (
    CustomerManagedPolicyRef,
    Group,
    Membership,
    PermissionsBoundary,
    PrincipalType,
    User,
)
from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.faults import FaultConfig
from tests.support import HandMade

VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
INLINE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
    ],
}
UNLIMITED = RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0)


class Seeding(HandMade):
    """Hand-made live state, with assignments by account id."""

    def assign(
        self,
        arn: str,
        account_id: str,
        principal_id: str,
        kind: Literal["USER", "GROUP"] = "USER",
    ) -> str:
        return str(
            self.sso.create_account_assignment(
                InstanceArn=self.org.instance_arn,
                TargetId=account_id,
                TargetType="AWS_ACCOUNT",
                PermissionSetArn=arn,
                PrincipalType=kind,
                PrincipalId=principal_id,
            )["AccountAssignmentCreationStatus"]["RequestId"]
        )

    def wait_for_assignments(self) -> None:
        """Until no account assignment creation is IN_PROGRESS."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pending = self.sso.list_account_assignment_creation_status(
                InstanceArn=self.org.instance_arn, Filter={"Status": "IN_PROGRESS"}
            )["AccountAssignmentsCreationStatus"]
            if not pending:
                return
            time.sleep(0.05)
        raise AssertionError("account assignments still IN_PROGRESS")


@pytest.fixture
def seeding(aws_environment: dict[str, str], organization: SeededOrganization) -> Seeding:
    return Seeding(organization)


@pytest.fixture
def clients(aws_environment: dict[str, str]) -> AwsClients:
    """Clients built only from the standard environment (AWS_ENDPOINT_URL, AWS_REGION)."""
    return make_clients()


@pytest.fixture
def unthrottled(sandbox: Sandbox, aws_environment: dict[str, str]) -> AwsClients:
    """For bulk tests: no rate limit on either side, so seeding hundreds of objects is quick."""
    sandbox.configure_faults(FaultConfig.parse("none"))
    return make_clients(rates=UNLIMITED)


# --- identities ----------------------------------------------------------------------------


def test_reads_every_user_attribute(seeding: Seeding, clients: AwsClients) -> None:
    seeding.user(
        "alice",
        DisplayName="Alice Liddell",
        Name={"GivenName": "Alice", "FamilyName": "Liddell"},
        Emails=[{"Value": "alice@example.com", "Type": "work", "Primary": True}],
    )

    live = read_live_state(clients)

    assert live.state.users == {
        "alice": User(
            user_name="alice",
            display_name="Alice Liddell",
            given_name="Alice",
            family_name="Liddell",
            email="alice@example.com",
        )
    }


def test_reads_an_email_not_marked_primary(seeding: Seeding, clients: AwsClients) -> None:
    """The identity store holds at most one email per user; it counts even when not primary."""
    seeding.user("bob", Emails=[{"Value": "bob@home.example", "Type": "home", "Primary": False}])

    assert read_live_state(clients).state.users["bob"].email == "bob@home.example"


def test_reads_a_user_without_email_as_none(seeding: Seeding, clients: AwsClients) -> None:
    seeding.user("carol")

    assert read_live_state(clients).state.users["carol"].email is None


def test_maps_user_and_group_names_to_their_ids(seeding: Seeding, clients: AwsClients) -> None:
    user_id = seeding.user("alice")
    group_id = seeding.group("Admins")

    live = read_live_state(clients)

    assert live.user_ids == {"alice": user_id}
    assert live.group_ids == {"Admins": group_id}


def test_reads_group_description_and_its_absence(seeding: Seeding, clients: AwsClients) -> None:
    seeding.group("Admins", Description="Full access")
    seeding.group("Readers")

    assert read_live_state(clients).state.groups == {
        "Admins": Group(name="Admins", description="Full access"),
        "Readers": Group(name="Readers", description=None),
    }


def test_reads_memberships_with_their_ids(seeding: Seeding, clients: AwsClients) -> None:
    alice, bob = seeding.user("alice"), seeding.user("bob")
    admins = seeding.group("Admins")
    seeding.member(admins, alice)
    seeding.member(admins, bob)
    expected_id = seeding.ids.get_group_membership_id(
        IdentityStoreId=seeding.org.identity_store_id, GroupId=admins, MemberId={"UserId": bob}
    )["MembershipId"]

    live = read_live_state(clients)

    assert live.state.memberships == {Membership("Admins", "alice"), Membership("Admins", "bob")}
    assert live.membership_ids[Membership("Admins", "bob")] == expected_id


def test_reads_memberships_per_member_when_users_are_fewer_than_groups(
    seeding: Seeding, clients: AwsClients
) -> None:
    alice = seeding.user("alice")
    for name in ("A", "B", "C"):
        seeding.member(seeding.group(name), alice)
    before = clients.calls.snapshot()

    live = read_live_state(clients)

    calls = clients.calls.since(before)
    assert live.state.memberships == {Membership(g, "alice") for g in ("A", "B", "C")}
    assert calls.get("ListGroupMembershipsForMember") == 1
    assert "ListGroupMemberships" not in calls


def test_reads_memberships_per_group_when_groups_are_fewer_than_users(
    seeding: Seeding, clients: AwsClients
) -> None:
    admins = seeding.group("Admins")
    for name in ("alice", "bob", "carol"):
        seeding.member(admins, seeding.user(name))
    before = clients.calls.snapshot()

    live = read_live_state(clients)

    calls = clients.calls.since(before)
    assert len(live.state.memberships) == 3
    assert calls.get("ListGroupMemberships") == 1
    assert "ListGroupMembershipsForMember" not in calls


# --- permission sets -------------------------------------------------------------------------


def test_reads_every_permission_set_attribute(
    seeding: Seeding, clients: AwsClients, sandbox: Sandbox
) -> None:
    arn = seeding.permission_set(
        "Developer",
        Description="Builds things",
        SessionDuration="PT2H",
        RelayState="https://console.aws.amazon.com/ec2/",
        Tags=[{"Key": "team", "Value": "platform"}, {"Key": "cost-center", "Value": "42"}],
    )
    target = {"InstanceArn": seeding.org.instance_arn, "PermissionSetArn": arn}
    for policy in (VIEW_ONLY, READ_ONLY):
        seeding.sso.attach_managed_policy_to_permission_set(**target, ManagedPolicyArn=policy)
    seeding.sso.attach_customer_managed_policy_reference_to_permission_set(
        **target, CustomerManagedPolicyReference={"Name": "DeveloperExtras", "Path": "/platform/"}
    )
    seeding.sso.put_inline_policy_to_permission_set(**target, InlinePolicy=json.dumps(INLINE))
    seeding.sso.put_permissions_boundary_to_permission_set(
        **target,
        PermissionsBoundary={
            "CustomerManagedPolicyReference": {"Name": "DeveloperBoundary", "Path": "/platform/"}
        },
    )

    live = read_live_state(clients)

    read = live.state.permission_sets["Developer"]
    assert live.permission_set_arns == {"Developer": arn}
    assert read.description == "Builds things"
    assert read.session_duration == "PT2H"
    assert read.relay_state == "https://console.aws.amazon.com/ec2/"
    assert read.managed_policies == {VIEW_ONLY, READ_ONLY}
    assert read.customer_managed_policies == {
        CustomerManagedPolicyRef("DeveloperExtras", "/platform/")
    }
    assert read.inline_policy is not None
    assert read.inline_policy.canonical == canonical_policy(INLINE)
    assert read.permissions_boundary == PermissionsBoundary(
        customer_managed_policy=CustomerManagedPolicyRef("DeveloperBoundary", "/platform/")
    )
    assert read.tags == {"team": "platform", "cost-center": "42"}


def test_reads_an_aws_managed_permissions_boundary(seeding: Seeding, clients: AwsClients) -> None:
    arn = seeding.permission_set("Bounded")
    seeding.sso.put_permissions_boundary_to_permission_set(
        InstanceArn=seeding.org.instance_arn,
        PermissionSetArn=arn,
        PermissionsBoundary={"ManagedPolicyArn": POWER_USER},
    )

    read = read_live_state(clients).state.permission_sets["Bounded"]

    assert read.permissions_boundary == PermissionsBoundary(managed_policy_arn=POWER_USER)


def test_reads_a_bare_permission_set_with_aws_defaults(
    seeding: Seeding, clients: AwsClients
) -> None:
    seeding.permission_set("Bare")

    read = read_live_state(clients).state.permission_sets["Bare"]

    assert read.description is None
    assert read.session_duration == "PT1H"
    assert read.relay_state is None
    assert read.inline_policy is None
    assert read.permissions_boundary is None
    assert read.managed_policies == frozenset()
    assert read.tags == {}


@pytest.mark.parametrize(
    ("returned", "canonical"),
    [("PT1H", "PT1H"), ("PT60M", "PT1H"), ("PT5400S", "PT1H30M"), (3600, "PT1H"), (None, "PT1H")],
)
def test_session_duration_is_read_in_canonical_form(returned: object, canonical: str) -> None:
    assert session_duration(returned) == canonical


def test_reads_provisioned_and_stale_accounts(seeding: Seeding, clients: AwsClients) -> None:
    arn = seeding.permission_set("Ops")
    alice = seeding.user("alice")
    prod, staging = seeding.org.accounts["prod"], seeding.org.accounts["staging"]
    seeding.assign(arn, prod, alice)
    seeding.assign(arn, staging, alice)
    seeding.wait_for_assignments()
    seeding.sso.put_inline_policy_to_permission_set(
        InstanceArn=seeding.org.instance_arn, PermissionSetArn=arn, InlinePolicy=json.dumps(INLINE)
    )
    seeding.sso.provision_permission_set(
        InstanceArn=seeding.org.instance_arn,
        PermissionSetArn=arn,
        TargetType="AWS_ACCOUNT",
        TargetId=prod,
    )
    time.sleep(0.2)

    live = read_live_state(clients)

    assert live.provisioned_accounts == {"Ops": {prod, staging}}
    assert live.stale_accounts == {"Ops": {staging}}


# --- account assignments ---------------------------------------------------------------------


def test_reads_user_and_group_assignments_by_name(seeding: Seeding, clients: AwsClients) -> None:
    arn = seeding.permission_set("Ops")
    alice, admins = seeding.user("alice"), seeding.group("Admins")
    prod = seeding.org.accounts["prod"]
    seeding.assign(arn, prod, alice)
    seeding.assign(arn, prod, admins, kind="GROUP")
    seeding.wait_for_assignments()

    live = read_live_state(clients)

    assert {
        (a.account_id, a.permission_set, a.principal_type, a.principal_name)
        for a in live.state.assignments
    } == {
        (prod, "Ops", PrincipalType.USER, "alice"),
        (prod, "Ops", PrincipalType.GROUP, "Admins"),
    }


def test_assignment_of_a_deleted_user_keeps_a_placeholder_that_maps_to_its_id(
    seeding: Seeding, clients: AwsClients
) -> None:
    arn = seeding.permission_set("Ops")
    ghost = seeding.user("ghost")
    seeding.assign(arn, seeding.org.accounts["prod"], ghost)
    seeding.wait_for_assignments()
    seeding.ids.delete_user(IdentityStoreId=seeding.org.identity_store_id, UserId=ghost)

    live = read_live_state(clients)

    placeholder = deleted_principal_name(PrincipalType.USER, ghost)
    assert [a.principal_name for a in live.state.assignments] == [placeholder]
    assert live.user_ids[placeholder] == ghost
    assert placeholder not in live.state.users


def test_reads_assignments_only_in_accounts_where_the_set_is_provisioned(
    seeding: Seeding, unthrottled: AwsClients, sandbox: Sandbox
) -> None:
    for index in range(5):
        sandbox.add_account(name=f"extra-{index}")
    alice = seeding.user("alice")
    prod, staging = seeding.org.accounts["prod"], seeding.org.accounts["staging"]
    wide = seeding.permission_set("Wide")
    seeding.assign(wide, prod, alice)
    seeding.assign(wide, staging, alice)
    seeding.assign(seeding.permission_set("Narrow"), prod, alice)
    seeding.permission_set("Unused")
    seeding.wait_for_assignments()
    before = unthrottled.calls.snapshot()

    live = read_live_state(unthrottled)

    calls = unthrottled.calls.since(before)
    assert len(live.accounts) == 8
    assert len(live.state.assignments) == 3
    # Wide: prod + staging, Narrow: prod, Unused: nowhere. Every account x every set would be 24.
    assert calls["ListAccountAssignments"] == 3
    assert calls["DescribePermissionSet"] == 3
    assert calls["ListAccountsForProvisionedPermissionSet"] == 6


# --- pagination ------------------------------------------------------------------------------


def test_reads_every_account_across_pages(sandbox: Sandbox, unthrottled: AwsClients) -> None:
    for index in range(42):  # the example organization has 3 accounts
        sandbox.add_account(name=f"workload-{index:02d}")
    before = unthrottled.calls.snapshot()

    live = read_live_state(unthrottled)

    assert len(live.accounts) == 45
    assert {account.name for account in live.accounts.values()} >= {"prod", "workload-41"}
    assert unthrottled.calls.since(before)["ListAccounts"] == 3  # pages of at most 20


def test_reads_a_group_with_150_members(seeding: Seeding, unthrottled: AwsClients) -> None:
    group = seeding.group("Everyone")
    for index in range(150):
        seeding.member(group, seeding.user(f"user{index:03d}"))

    live = read_live_state(unthrottled)

    assert len(live.state.users) == 150
    assert len(live.state.memberships) == 150
    assert {m.group for m in live.state.memberships} == {"Everyone"}


def test_reads_a_permission_set_assigned_to_130_groups_in_one_account(
    seeding: Seeding, unthrottled: AwsClients
) -> None:
    arn = seeding.permission_set("Shared")
    prod = seeding.org.accounts["prod"]
    groups = [seeding.group(f"team-{index:03d}") for index in range(130)]
    for start in range(0, len(groups), 10):  # stay under the 15 outstanding requests
        for group in groups[start : start + 10]:
            seeding.assign(arn, prod, group, kind="GROUP")
        seeding.wait_for_assignments()
    before = unthrottled.calls.snapshot()

    live = read_live_state(unthrottled)

    assert len(live.state.assignments) == 130
    assert {a.principal_name for a in live.state.assignments} == {
        f"team-{index:03d}" for index in range(130)
    }
    assert unthrottled.calls.since(before)["ListAccountAssignments"] == 2  # pages of 100


def test_reads_a_permission_set_provisioned_to_120_accounts(
    seeding: Seeding, unthrottled: AwsClients, sandbox: Sandbox
) -> None:
    """AWS pages ListAccountsForProvisionedPermissionSet at 100 (MaxResults 1-100): the 20
    accounts past the first page are provisioned and stale too."""
    accounts = [sandbox.add_account(name=f"workload-{index:03d}") for index in range(120)]
    arn = seeding.permission_set("Everywhere")
    alice = seeding.user("alice")
    for start in range(0, len(accounts), 10):  # stay under the 15 outstanding requests
        for account_id in accounts[start : start + 10]:
            seeding.assign(arn, account_id, alice)
        seeding.wait_for_assignments()
    seeding.sso.put_inline_policy_to_permission_set(
        InstanceArn=seeding.org.instance_arn, PermissionSetArn=arn, InlinePolicy=json.dumps(INLINE)
    )
    before = unthrottled.calls.snapshot()

    live = read_live_state(unthrottled)

    assert live.provisioned_accounts == {"Everywhere": set(accounts)}
    assert live.stale_accounts == {"Everywhere": set(accounts)}
    assert len(live.state.assignments) == 120
    # Two pages of 100, unfiltered and filtered on LATEST_PERMISSION_SET_NOT_PROVISIONED.
    assert unthrottled.calls.since(before)["ListAccountsForProvisionedPermissionSet"] == 4


# --- instance --------------------------------------------------------------------------------


def test_no_instance_is_a_clear_error(sandbox: Sandbox, aws_environment: dict[str, str]) -> None:
    with sandbox.identity_center.lock:
        sandbox.identity_center.instances.clear()

    with pytest.raises(PermanentAwsError, match="no IAM Identity Center instance") as raised:
        read_live_state(make_clients())

    assert raised.value.code == "InstanceNotFound"


def test_several_instances_need_one_named(
    sandbox: Sandbox, organization: SeededOrganization, aws_environment: dict[str, str]
) -> None:
    sandbox.create_instance(name="second")
    clients = make_clients()

    with pytest.raises(PermanentAwsError, match="2 IAM Identity Center instances"):
        read_live_state(clients)
    live = read_live_state(clients, instance_arn=organization.instance_arn)

    assert live.instance_arn == organization.instance_arn
    assert live.identity_store_id == organization.identity_store_id


def test_an_unknown_instance_arn_is_a_clear_error(
    organization: SeededOrganization, clients: AwsClients
) -> None:
    missing = organization.instance_arn[:-4] + "0000"

    with pytest.raises(PermanentAwsError, match=missing):
        read_live_state(clients, instance_arn=missing)
