"""Applying plans to the sandbox over real HTTP: each operation type, asynchronous requests and
their failures, dependencies between operations, retries, and apply-then-read round trips.

Plans are written by hand here (the planner has its own tests); live state is read with
``read_live_state`` before each apply, as a reconcile pass does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import boto3
import pytest
import structlog

from reconciler.adapters.aws.applying import (
    LOCK_LOST_REASON,
    ApplySettings,
    apply_plan,
    progress_listener,
)
from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.errors import WriterLockLostError
from reconciler.model.policies import policy_document
from reconciler.model.state import (
    MANAGED_TAG_KEY,
    MANAGED_TAG_VALUE,
    AssignmentKey,
    CustomerManagedPolicyRef,
    Group,
    IdentityCenterState,
    LiveState,
    Membership,
    PermissionsBoundary,
    PermissionSet,
    PrincipalType,
    User,
)
from reconciler.planning.outcomes import Outcome, Status
from reconciler.planning.plans import (
    AddMembership,
    AttributeChange,
    CreateAssignment,
    CreateGroup,
    CreatePermissionSet,
    CreateUser,
    DeleteAssignment,
    DeleteGroup,
    DeletePermissionSet,
    DeleteUser,
    Operation,
    Plan,
    ProvisionPermissionSet,
    RemoveMembership,
    UpdateGroup,
    UpdatePermissionSet,
    UpdateUser,
)
from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from reconciler.sandbox.faults import FaultConfig

QUICK = ApplySettings(poll_interval_seconds=0.05, conflict_backoff_seconds=0.05)
"""Short pauses: the sandbox's asynchronous requests last 50 ms."""

VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
MANAGED = {MANAGED_TAG_KEY: MANAGED_TAG_VALUE}
ALICE = User(
    user_name="alice",
    display_name="Alice Liddell",
    given_name="Alice",
    family_name="Liddell",
    email="alice@example.com",
)
BOB = User(user_name="bob", display_name="Bob Builder", given_name="Bob", family_name="Builder")
ADMINS = Group(name="Admins", description="Full access")
DEVELOPER = PermissionSet(
    name="Developer",
    description="Builds things",
    session_duration="PT2H",
    relay_state="https://console.aws.amazon.com/ec2/",
    managed_policies=frozenset({VIEW_ONLY, READ_ONLY}),
    customer_managed_policies=frozenset(
        {CustomerManagedPolicyRef("DeveloperExtras", "/platform/")}
    ),
    inline_policy=policy_document(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
    ),
    permissions_boundary=PermissionsBoundary(
        customer_managed_policy=CustomerManagedPolicyRef("DeveloperBoundary", "/platform/")
    ),
    tags={**MANAGED, "team": "platform"},
)
READER = PermissionSet(name="Reader", managed_policies=frozenset({READ_ONLY}), tags=MANAGED)


@pytest.fixture
def clients(aws_environment: dict[str, str]) -> AwsClients:
    """Clients built only from the standard environment (AWS_ENDPOINT_URL, AWS_REGION)."""
    return make_clients()


def apply(clients: AwsClients, *operations: Operation, settings: ApplySettings = QUICK) -> Outcome:
    """Read live state, then apply ``operations`` as one plan."""
    live = read_live_state(clients)
    return apply_plan(clients, Plan(revision="r1", operations=operations), live, settings=settings)


def statuses(outcome: Outcome) -> list[tuple[str, Status]]:
    return [(result.operation.key, result.status) for result in outcome.results]


def assignment(
    account_id: str, permission_set: str, name: str, kind: PrincipalType = PrincipalType.USER
) -> AssignmentKey:
    return AssignmentKey(account_id, permission_set, kind, name)


@contextmanager
def own_sandbox(
    settings: SandboxSettings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Sandbox, SeededOrganization, AwsClients]]:
    """A sandbox with ``settings`` (no rate limit), the example organization, and clients."""
    with Sandbox(settings, faults=FaultConfig.parse("none")) as sandbox:
        organization = sandbox.seed_example_organization()
        for key, value in sandbox.client_environment().items():
            monkeypatch.setenv(key, value)
        yield sandbox, organization, make_clients(rates=RateLimits(sso_admin=0))


# --- identities ----------------------------------------------------------------------------


def test_creates_users_groups_and_memberships(clients: AwsClients) -> None:
    outcome = apply(
        clients,
        CreateUser(user=ALICE),
        CreateUser(user=BOB),
        CreateGroup(group=ADMINS),
        AddMembership(membership=Membership("Admins", "alice")),
    )

    live = read_live_state(clients)
    assert outcome.succeeded
    assert live.state.users == {"alice": ALICE, "bob": BOB}
    assert live.state.groups == {"Admins": ADMINS}
    assert live.state.memberships == {Membership("Admins", "alice")}


def test_updates_a_users_names_and_email(clients: AwsClients) -> None:
    apply(clients, CreateUser(user=ALICE))
    changed = replace(
        ALICE, display_name="Alice L.", given_name="Al", family_name="L", email="al@example.org"
    )

    outcome = apply(clients, UpdateUser(user=changed, diff=()))

    assert outcome.succeeded
    assert read_live_state(clients).state.users["alice"] == changed


def test_removes_a_users_email(clients: AwsClients) -> None:
    apply(clients, CreateUser(user=ALICE))

    outcome = apply(clients, UpdateUser(user=replace(ALICE, email=None), diff=()))

    assert outcome.succeeded
    assert read_live_state(clients).state.users["alice"].email is None


def test_updates_a_groups_description(clients: AwsClients) -> None:
    apply(clients, CreateGroup(group=ADMINS))

    outcome = apply(clients, UpdateGroup(group=Group(name="Admins", description="Root"), diff=()))

    assert outcome.succeeded
    assert read_live_state(clients).state.groups["Admins"].description == "Root"


def test_deletes_a_membership_a_group_and_a_user(clients: AwsClients) -> None:
    apply(
        clients,
        CreateUser(user=ALICE),
        CreateUser(user=BOB),
        CreateGroup(group=ADMINS),
        AddMembership(membership=Membership("Admins", "alice")),
        AddMembership(membership=Membership("Admins", "bob")),
    )

    outcome = apply(
        clients,
        RemoveMembership(membership=Membership("Admins", "bob")),
        DeleteGroup(name="Admins"),
        DeleteUser(user_name="alice"),
    )

    live = read_live_state(clients)
    assert outcome.succeeded
    assert live.state.groups == {}
    assert live.state.users == {"bob": BOB}
    assert live.state.memberships == frozenset()


def test_creating_a_user_that_already_exists_adopts_it(clients: AwsClients) -> None:
    """As after a lost response: the user exists, the plan (read before) still creates it."""
    live = read_live_state(clients)
    apply(clients, CreateUser(user=ALICE))

    outcome = apply_plan(
        clients,
        Plan(
            revision="r1",
            operations=(
                CreateUser(user=ALICE),
                CreateGroup(group=ADMINS),
                AddMembership(membership=Membership("Admins", "alice")),
            ),
        ),
        live,
        settings=QUICK,
    )

    assert outcome.succeeded
    assert read_live_state(clients).state.memberships == {Membership("Admins", "alice")}


# --- permission sets -------------------------------------------------------------------------


def test_creates_a_permission_set_with_every_attribute(clients: AwsClients) -> None:
    outcome = apply(clients, CreatePermissionSet(permission_set=DEVELOPER))

    assert outcome.succeeded
    assert read_live_state(clients).state.permission_sets == {"Developer": DEVELOPER}


def test_updates_every_attribute_of_a_permission_set(clients: AwsClients) -> None:
    apply(clients, CreatePermissionSet(permission_set=DEVELOPER))
    desired = PermissionSet(
        name="Developer",
        description="Builds more things",
        session_duration="PT4H",
        relay_state="https://console.aws.amazon.com/s3/",
        managed_policies=frozenset({READ_ONLY, POWER_USER}),
        customer_managed_policies=frozenset(),
        inline_policy=None,
        permissions_boundary=PermissionsBoundary(managed_policy_arn=POWER_USER),
        tags={**MANAGED, "owner": "ops"},
    )

    outcome = apply(clients, UpdatePermissionSet(permission_set=desired, live=DEVELOPER, diff=()))

    assert outcome.succeeded, outcome.results
    assert read_live_state(clients).state.permission_sets["Developer"] == desired


def test_removing_the_permissions_boundary_deletes_it(clients: AwsClients) -> None:
    apply(clients, CreatePermissionSet(permission_set=DEVELOPER))
    desired = replace(DEVELOPER, permissions_boundary=None)

    outcome = apply(clients, UpdatePermissionSet(permission_set=desired, live=DEVELOPER, diff=()))

    assert outcome.succeeded, outcome.results
    assert "DeletePermissionsBoundaryFromPermissionSet" in outcome.api_calls
    assert read_live_state(clients).state.permission_sets["Developer"].permissions_boundary is None


def test_update_calls_only_what_differs(clients: AwsClients) -> None:
    apply(clients, CreatePermissionSet(permission_set=DEVELOPER))
    desired = replace(DEVELOPER, tags={**MANAGED, "team": "data"})

    outcome = apply(clients, UpdatePermissionSet(permission_set=desired, live=DEVELOPER, diff=()))

    writes = {name for name in outcome.api_calls if not name.startswith(("List", "Describe"))}
    assert writes == {"TagResource"}


def test_relay_state_survives_a_description_only_update(clients: AwsClients) -> None:
    apply(clients, CreatePermissionSet(permission_set=DEVELOPER))
    desired = replace(DEVELOPER, description="New words")

    outcome = apply(
        clients,
        UpdatePermissionSet(
            permission_set=desired,
            live=DEVELOPER,
            diff=(AttributeChange(attribute="description", old="Builds things", new="New words"),),
        ),
    )

    read = read_live_state(clients).state.permission_sets["Developer"]
    assert outcome.succeeded
    assert read.description == "New words"
    assert read.relay_state == DEVELOPER.relay_state
    assert read.session_duration == DEVELOPER.session_duration


def test_provisioning_brings_stale_accounts_up_to_date(
    clients: AwsClients, organization: SeededOrganization
) -> None:
    prod = organization.accounts["prod"]
    apply(
        clients,
        CreateUser(user=ALICE),
        CreatePermissionSet(permission_set=READER),
        CreateAssignment(assignment=assignment(prod, "Reader", "alice")),
    )
    changed = replace(READER, managed_policies=frozenset({VIEW_ONLY}))
    apply(clients, UpdatePermissionSet(permission_set=changed, live=READER, diff=()))
    assert read_live_state(clients).stale_accounts["Reader"] == {prod}

    outcome = apply(clients, ProvisionPermissionSet(name="Reader", accounts=frozenset({prod})))

    live = read_live_state(clients)
    assert outcome.succeeded
    assert live.stale_accounts["Reader"] == frozenset()
    assert live.provisioned_accounts["Reader"] == {prod}


def test_failed_provisioning_carries_awss_reason(
    clients: AwsClients, sandbox: Sandbox, organization: SeededOrganization
) -> None:
    sandbox.put_customer_managed_policy(account_id=organization.accounts["prod"], name="OnlyProd")
    prod = organization.accounts["prod"]
    apply(
        clients,
        CreateUser(user=ALICE),
        CreatePermissionSet(permission_set=READER),
        CreateAssignment(assignment=assignment(prod, "Reader", "alice")),
        CreateAssignment(
            assignment=assignment(organization.accounts["staging"], "Reader", "alice")
        ),
    )
    changed = replace(
        READER, customer_managed_policies=frozenset({CustomerManagedPolicyRef("OnlyProd")})
    )

    outcome = apply(
        clients,
        UpdatePermissionSet(permission_set=changed, live=READER, diff=()),
        ProvisionPermissionSet(name="Reader", accounts=frozenset()),
    )

    provisioning = outcome.results[1]
    assert provisioning.status is Status.FAILED
    assert provisioning.reason is not None
    assert "/OnlyProd does not exist" in provisioning.reason


# --- account assignments ---------------------------------------------------------------------


def test_creates_and_deletes_user_and_group_assignments(
    clients: AwsClients, organization: SeededOrganization
) -> None:
    prod, staging = organization.accounts["prod"], organization.accounts["staging"]
    keys = [
        assignment(prod, "Reader", "alice"),
        assignment(staging, "Reader", "alice"),
        assignment(prod, "Reader", "Admins", PrincipalType.GROUP),
    ]
    created = apply(
        clients,
        CreateUser(user=ALICE),
        CreateGroup(group=ADMINS),
        CreatePermissionSet(permission_set=READER),
        *(CreateAssignment(assignment=key) for key in keys),
    )
    assert created.succeeded
    assert read_live_state(clients).state.assignments == set(keys)

    deleted = apply(clients, DeleteAssignment(assignment=keys[0]))

    assert deleted.succeeded
    assert read_live_state(clients).state.assignments == set(keys[1:])


def test_a_failed_assignment_carries_awss_reason_while_the_others_are_created(
    clients: AwsClients, sandbox: Sandbox, organization: SeededOrganization
) -> None:
    """The set references a customer-managed policy that exists in prod only."""
    prod, staging = organization.accounts["prod"], organization.accounts["staging"]
    sandbox.put_customer_managed_policy(account_id=prod, name="ProdOnly", path="/")
    prod_only = PermissionSet(
        name="ProdOnly",
        customer_managed_policies=frozenset({CustomerManagedPolicyRef("ProdOnly", "/")}),
        tags=MANAGED,
    )
    keys = [
        assignment(prod, "ProdOnly", "alice"),
        assignment(staging, "ProdOnly", "alice"),
        assignment(prod, "ProdOnly", "bob"),
    ]

    outcome = apply(
        clients,
        CreateUser(user=ALICE),
        CreateUser(user=BOB),
        CreatePermissionSet(permission_set=prod_only),
        *(CreateAssignment(assignment=key) for key in keys),
    )

    failed = outcome.results[4]
    assert [result.status for result in outcome.results] == [
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.SUCCEEDED,
    ]
    assert failed.reason is not None
    assert "Customer managed policy /ProdOnly does not exist" in failed.reason
    assert read_live_state(clients).state.assignments == {keys[0], keys[2]}


def test_deleting_a_set_assigned_in_several_accounts_deletes_its_assignments_first(
    clients: AwsClients, organization: SeededOrganization
) -> None:
    prod, staging = organization.accounts["prod"], organization.accounts["staging"]
    keys = [
        assignment(account, "Reader", name, kind)
        for account in (prod, staging)
        for name, kind in (("alice", PrincipalType.USER), ("Admins", PrincipalType.GROUP))
    ]
    apply(
        clients,
        CreateUser(user=ALICE),
        CreateGroup(group=ADMINS),
        CreatePermissionSet(permission_set=READER),
        *(CreateAssignment(assignment=key) for key in keys),
    )

    outcome = apply(
        clients,
        *(DeleteAssignment(assignment=key) for key in keys),
        DeletePermissionSet(name="Reader"),
    )

    live = read_live_state(clients)
    assert outcome.succeeded, outcome.results
    assert all("Conflict" not in (result.reason or "") for result in outcome.results)
    assert outcome.api_calls["DeletePermissionSet"] == 1
    assert live.state.permission_sets == {}
    assert live.state.assignments == frozenset()


def test_describe_mode_describes_each_request_once_and_lists_for_all_of_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = SandboxSettings(assignment_delay_seconds=0.5, provisioning_delay_seconds=0.05)
    with own_sandbox(settings, monkeypatch) as (_, organization, clients):
        users = [
            User(user_name=f"user{i}", display_name="U", given_name="U", family_name="U")
            for i in range(8)
        ]
        apply(
            clients,
            CreatePermissionSet(permission_set=READER),
            *(CreateUser(user=user) for user in users),
        )
        prod = organization.accounts["prod"]

        outcome = apply(
            clients,
            *(CreateAssignment(assignment=assignment(prod, "Reader", u.user_name)) for u in users),
            settings=replace(QUICK, poll_interval_seconds=0.2, request_status="describe"),
        )

    assert outcome.succeeded
    assert outcome.api_calls["CreateAccountAssignment"] == 8
    assert outcome.api_calls["DescribeAccountAssignmentCreationStatus"] == 8
    # About one list call per interval (0.5 s / 0.2 s) answers for all eight requests.
    assert outcome.api_calls["ListAccountAssignmentCreationStatus"] <= 5


# --- dependencies and failures ---------------------------------------------------------------


def test_assignments_of_a_permission_set_whose_creation_failed_are_skipped(
    clients: AwsClients, organization: SeededOrganization
) -> None:
    broken = replace(
        READER, name="Broken", managed_policies=frozenset({"arn:aws:iam::aws:policy/NoSuchPolicy"})
    )
    prod = organization.accounts["prod"]

    outcome = apply(
        clients,
        CreateUser(user=ALICE),
        CreatePermissionSet(permission_set=broken),
        CreatePermissionSet(permission_set=READER),
        CreateAssignment(assignment=assignment(prod, "Broken", "alice")),
        CreateAssignment(assignment=assignment(prod, "Reader", "alice")),
    )

    assert statuses(outcome) == [
        ("user/alice", Status.SUCCEEDED),
        ("permission-set/Broken", Status.FAILED),
        ("permission-set/Reader", Status.SUCCEEDED),
        (f"assignment/{prod}/Broken/USER/alice", Status.SKIPPED),
        (f"assignment/{prod}/Reader/USER/alice", Status.SUCCEEDED),
    ]
    assert outcome.results[3].reason == (
        "skipped: it depends on create permission-set/Broken, which failed"
    )


def test_memberships_and_assignments_of_a_user_whose_creation_failed_are_skipped(
    clients: AwsClients, organization: SeededOrganization
) -> None:
    invalid = User(user_name="has space", display_name="X", given_name="X", family_name="X")
    prod = organization.accounts["prod"]

    outcome = apply(
        clients,
        CreateUser(user=invalid),
        CreateUser(user=ALICE),
        CreateGroup(group=ADMINS),
        CreatePermissionSet(permission_set=READER),
        AddMembership(membership=Membership("Admins", "has space")),
        AddMembership(membership=Membership("Admins", "alice")),
        CreateAssignment(assignment=assignment(prod, "Reader", "has space")),
    )

    assert [status for _, status in statuses(outcome)] == [
        Status.FAILED,
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.SKIPPED,
        Status.SUCCEEDED,
        Status.SKIPPED,
    ]
    assert "ValidationException" in (outcome.results[0].reason or "")


def test_deleting_a_set_is_skipped_when_one_of_its_assignment_deletions_failed(
    clients: AwsClients, organization: SeededOrganization
) -> None:
    prod = organization.accounts["prod"]
    apply(
        clients,
        CreateUser(user=ALICE),
        CreatePermissionSet(permission_set=READER),
        CreateAssignment(assignment=assignment(prod, "Reader", "alice")),
    )

    outcome = apply(
        clients,
        DeleteAssignment(assignment=assignment(prod, "Reader", "alice")),
        DeleteAssignment(assignment=assignment(prod, "Reader", "nobody")),
        DeletePermissionSet(name="Reader"),
    )

    assert [status for _, status in statuses(outcome)] == [
        Status.SUCCEEDED,
        Status.FAILED,
        Status.SKIPPED,
    ]
    assert outcome.results[1].reason == "user nobody is not in the identity store"
    assert "Reader" in read_live_state(clients).state.permission_sets


def test_writing_stops_when_the_instance_is_gone(clients: AwsClients, sandbox: Sandbox) -> None:
    live = read_live_state(clients)
    with sandbox.identity_center.lock:
        sandbox.identity_center.instances.clear()

    outcome = apply_plan(
        clients,
        Plan(
            revision="r2",
            operations=(
                CreatePermissionSet(permission_set=READER),
                CreatePermissionSet(permission_set=DEVELOPER),
                ProvisionPermissionSet(name="Reader", accounts=frozenset()),
            ),
        ),
        live,
        settings=QUICK,
    )

    assert [result.status for result in outcome.results] == [
        Status.FAILED,
        Status.SKIPPED,
        Status.SKIPPED,
    ]
    assert outcome.results[0].reason is not None
    assert "ResourceNotFoundException" in outcome.results[0].reason
    assert (outcome.results[2].reason or "").startswith("not attempted: writing stopped after")


def test_the_reason_writing_stopped_for_a_gone_instance_names_the_region(
    clients: AwsClients, sandbox: Sandbox
) -> None:
    live = read_live_state(clients)
    with sandbox.identity_center.lock:
        sandbox.identity_center.instances.clear()

    outcome = apply_plan(
        clients,
        Plan(
            revision="r2",
            operations=(
                CreatePermissionSet(permission_set=READER),
                CreatePermissionSet(permission_set=DEVELOPER),
            ),
        ),
        live,
        settings=QUICK,
    )

    skipped = outcome.results[1].reason or ""
    assert f"no IAM Identity Center instance {live.instance_arn} in {clients.region}" in skipped
    assert "AWS_REGION" in skipped


def test_conflict_is_retried_until_the_conflicting_operation_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.5)
    with own_sandbox(settings, monkeypatch) as (_, organization, clients):
        prod = organization.accounts["prod"]
        apply(
            clients,
            CreateUser(user=ALICE),
            CreatePermissionSet(permission_set=READER),
            CreateAssignment(assignment=assignment(prod, "Reader", "alice")),
        )
        live = read_live_state(clients)
        boto3.client("sso-admin").provision_permission_set(
            InstanceArn=organization.instance_arn,
            PermissionSetArn=live.permission_set_arns["Reader"],
            TargetType="ALL_PROVISIONED_ACCOUNTS",
        )
        desired = replace(READER, description="Changed while provisioning")

        outcome = apply_plan(
            clients,
            Plan(
                revision="r2",
                operations=(UpdatePermissionSet(permission_set=desired, live=READER, diff=()),),
            ),
            live,
            settings=QUICK,
        )

        assert outcome.succeeded, outcome.results
        assert outcome.api_calls["UpdatePermissionSet"] >= 2
        assert read_live_state(clients).state.permission_sets["Reader"] == desired


def test_an_assignment_still_in_progress_at_the_deadline_fails_as_timed_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = SandboxSettings(assignment_delay_seconds=600.0, provisioning_delay_seconds=0.05)
    with own_sandbox(settings, monkeypatch) as (sandbox, organization, clients):
        apply(clients, CreateUser(user=ALICE), CreatePermissionSet(permission_set=READER))

        outcome = apply(
            clients,
            CreateAssignment(
                assignment=assignment(organization.accounts["prod"], "Reader", "alice")
            ),
            settings=replace(QUICK, poll_timeout_seconds=0.3),
        )
        sandbox.complete_operations()

    assert outcome.results[0].status is Status.FAILED
    assert (outcome.results[0].reason or "").startswith("timed out")
    assert outcome.results[0].seconds < 300  # gave up at its deadline, not at the request's end


def test_assignment_requests_stay_within_awss_outstanding_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = SandboxSettings(
        assignment_delay_seconds=0.3,
        provisioning_delay_seconds=0.05,
        max_outstanding_assignment_operations=10,
    )
    with own_sandbox(settings, monkeypatch) as (sandbox, organization, clients):
        groups = [Group(name=f"team-{index:02d}") for index in range(25)]
        apply(
            clients,
            *(CreateGroup(group=group) for group in groups),
            CreatePermissionSet(permission_set=READER),
        )

        outcome = apply(
            clients,
            *(
                CreateAssignment(
                    assignment=assignment(
                        organization.accounts["prod"], "Reader", group.name, PrincipalType.GROUP
                    )
                )
                for group in groups
            ),
            settings=replace(QUICK, assignment_concurrency=10),
        )
        refused = [
            call
            for call in sandbox.calls
            if call.operation == "CreateAccountAssignment" and call.status != 200
        ]

    assert outcome.succeeded
    assert refused == []
    assert outcome.api_calls["CreateAccountAssignment"] == 25


# --- round trip and logs -------------------------------------------------------------------


def test_apply_then_read_gives_back_the_applied_state(
    clients: AwsClients, organization: SeededOrganization
) -> None:
    prod, staging = organization.accounts["prod"], organization.accounts["staging"]
    desired = IdentityCenterState(
        users={"alice": ALICE, "bob": BOB},
        groups={"Admins": ADMINS},
        memberships=frozenset({Membership("Admins", "alice"), Membership("Admins", "bob")}),
        permission_sets={"Developer": DEVELOPER, "Reader": READER},
        assignments=frozenset(
            {
                assignment(prod, "Developer", "Admins", PrincipalType.GROUP),
                assignment(staging, "Developer", "Admins", PrincipalType.GROUP),
                assignment(prod, "Reader", "bob"),
            }
        ),
    )

    outcome = apply(
        clients,
        *(CreateUser(user=user) for user in desired.users.values()),
        *(CreateGroup(group=group) for group in desired.groups.values()),
        *(AddMembership(membership=m) for m in sorted(desired.memberships)),
        *(CreatePermissionSet(permission_set=ps) for ps in desired.permission_sets.values()),
        *(CreateAssignment(assignment=key) for key in sorted(desired.assignments)),
    )

    live: LiveState = read_live_state(clients)
    assert outcome.succeeded, outcome.results
    assert live.state == desired
    assert live.provisioned_accounts == {"Developer": {prod, staging}, "Reader": {prod}}


def test_logs_one_event_per_operation_with_its_key_and_result(clients: AwsClients) -> None:
    live = read_live_state(clients)

    with structlog.testing.capture_logs() as events:
        apply_plan(
            clients,
            Plan(revision="r1", operations=(CreateUser(user=ALICE), CreateGroup(group=ADMINS))),
            live,
            settings=QUICK,
        )

    applied = [event for event in events if event["event"] == "operation_applied"]
    assert [(e["key"], e["status"]) for e in applied] == [
        ("user/alice", "succeeded"),
        ("group/Admins", "succeeded"),
    ]


def test_outcome_counts_the_calls_of_this_apply_only(clients: AwsClients) -> None:
    outcome = apply(clients, CreateUser(user=ALICE))

    assert outcome.api_calls == {"CreateUser": 1}
    assert outcome.revision == "r1"


def test_inline_policy_text_is_sent_as_written(clients: AwsClients) -> None:
    apply(clients, CreatePermissionSet(permission_set=DEVELOPER))

    read = read_live_state(clients).state.permission_sets["Developer"]

    assert read.inline_policy is not None
    assert DEVELOPER.inline_policy is not None
    assert json.loads(read.inline_policy.text) == json.loads(DEVELOPER.inline_policy.text)


def test_creating_a_group_whose_name_is_taken_by_another_run_adopts_it(
    clients: AwsClients,
) -> None:
    live = read_live_state(clients)
    apply(clients, CreateGroup(group=ADMINS))

    outcome = apply_plan(
        clients,
        Plan(revision="r1", operations=(CreateGroup(group=ADMINS),)),
        live,
        settings=QUICK,
    )

    assert outcome.succeeded
    assert outcome.api_calls == {"CreateGroup": 1, "GetGroupId": 1}


def test_a_plan_applied_through_lost_responses_and_server_errors_converges(
    clients: AwsClients, sandbox: Sandbox, organization: SeededOrganization
) -> None:
    """Lost responses make botocore retry writes that already happened: creates adopt what
    they meet, nothing is duplicated, every operation succeeds."""
    prod = organization.accounts["prod"]
    desired = IdentityCenterState(
        users={"alice": ALICE, "bob": BOB},
        groups={"Admins": ADMINS},
        memberships=frozenset({Membership("Admins", "alice"), Membership("Admins", "bob")}),
        permission_sets={"Reader": READER},
        assignments=frozenset({assignment(prod, "Reader", "Admins", PrincipalType.GROUP)}),
    )
    live = read_live_state(clients)
    sandbox.configure_faults(FaultConfig.parse("lost=0.3,http500=0.1,seed=46"))

    outcome = apply_plan(
        clients,
        Plan(
            revision="r1",
            operations=(
                CreateUser(user=ALICE),
                CreateUser(user=BOB),
                CreateGroup(group=ADMINS),
                AddMembership(membership=Membership("Admins", "alice")),
                AddMembership(membership=Membership("Admins", "bob")),
                CreatePermissionSet(permission_set=READER),
                *(CreateAssignment(assignment=key) for key in desired.assignments),
            ),
        ),
        live,
        # One lane, in plan order: the seeded faults meet the same calls on every run.
        settings=replace(QUICK, side_by_side=False),
    )
    sandbox.configure_faults(FaultConfig())

    lost = {c.operation for c in sandbox.calls if c.fault == "lost_response"}
    # Seed 46 loses the response of one write of every create kind before any polling starts.
    assert lost >= {"CreateUser", "CreateGroup", "CreateGroupMembership", "CreatePermissionSet"}
    assert outcome.succeeded, outcome.results
    assert read_live_state(clients).state == desired


# --- fenced writes --------------------------------------------------------------------------


class Fence:
    """A write fence that lets ``allowed`` checks pass, then refuses every one after."""

    def __init__(self, allowed: int | None = None) -> None:
        self.allowed = allowed
        self.checks = 0

    def __call__(self) -> None:
        self.checks += 1
        if self.allowed is not None and self.checks > self.allowed:
            raise WriterLockLostError(
                "the writer lease was lost: now held by ctl-b", holder="ctl-b"
            )


def _identity_writes(sandbox: Sandbox) -> list[str]:
    return [call.operation for call in sandbox.recorder.write_calls() if call.service != "dynamodb"]


def test_a_fence_refusing_mid_apply_stops_writing_and_skips_the_rest(
    clients: AwsClients, sandbox: Sandbox
) -> None:
    live = read_live_state(clients)
    fence = Fence()
    token = progress_listener.set(lambda _: setattr(fence, "allowed", fence.checks))
    writes_before = len(_identity_writes(sandbox))
    try:
        outcome = apply_plan(
            clients,
            Plan(
                revision="r1",
                operations=(
                    CreateUser(user=ALICE),
                    CreateUser(user=BOB),
                    CreateGroup(group=ADMINS),
                ),
            ),
            live,
            settings=replace(QUICK, identity_concurrency=1),
            fence=fence,
        )
    finally:
        progress_listener.reset(token)

    assert _identity_writes(sandbox)[writes_before:] == ["CreateUser"]
    assert [result.status for result in outcome.results] == [
        Status.SUCCEEDED,
        Status.SKIPPED,
        Status.SKIPPED,
    ]
    assert all(
        (result.reason or "").startswith(LOCK_LOST_REASON) and "ctl-b" in (result.reason or "")
        for result in outcome.results[1:]
    )
    assert outcome.lock_lost == "the writer lease was lost: now held by ctl-b"


def test_the_fence_is_checked_before_each_of_botocores_retries_of_a_write(
    clients: AwsClients, sandbox: Sandbox
) -> None:
    live = read_live_state(clients)
    sandbox.configure_faults(FaultConfig.parse("none,throttle=1.0"))
    fence = Fence(allowed=3)  # operation start, the write, its first HTTP attempt

    outcome = apply_plan(
        clients,
        Plan(revision="r1", operations=(CreateUser(user=ALICE),)),
        live,
        settings=QUICK,
        fence=fence,
    )

    assert _identity_writes(sandbox) == ["CreateUser"]  # the throttled attempt, no retry
    assert outcome.results[0].status is Status.FAILED
    assert "the writer lock was lost" in (outcome.results[0].reason or "")
    assert outcome.lock_lost is not None
