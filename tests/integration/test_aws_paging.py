"""Every paginated AWS call the product makes reads every page.

The sandbox answers pages of one item (``SandboxSettings.list_page_size=1``, as AWS may return
fewer items than asked with a NextToken), so two objects of a kind already cross a page
boundary: a loop that stops after the first page loses the second object and a test here fails.

Calls and where they are made (``reconciler.adapters.aws``):

- reading: ListInstances, ListAccounts, ListUsers, ListGroups, ListGroupMemberships,
  ListGroupMembershipsForMember, ListPermissionSets, ListManagedPoliciesInPermissionSet,
  ListCustomerManagedPolicyReferencesInPermissionSet, ListTagsForResource (sso-admin),
  ListAccountsForProvisionedPermissionSet (unfiltered and LATEST_PERMISSION_SET_NOT_PROVISIONED),
  ListAccountAssignments, ListAccountAssignmentsForPrincipal;
- organizations: ListOrganizationalUnitsForParent and ListAccountsForParent (moto's pages of 20,
  AWS's largest), ListRoots and ListParents (one item each in any organization),
  ListTagsForResource (Organizations; moto answers one page);
- applying: ListAccountAssignmentCreationStatus / DeletionStatus (status polling, filtered on
  IN_PROGRESS and FAILED); ListPermissionSets (a set found after CreatePermissionSet's
  ConflictException), ListManagedPoliciesInPermissionSet and
  ListCustomerManagedPolicyReferencesInPermissionSet (a policy found after an attach's
  ConflictException), ListInstances (is the instance still there after a ResourceNotFound).

Exporting reads through ``read_live_state`` (above). Not crossed, as one page is all there can
be: ListRoots (one root), ListParents (one parent), Organizations ListTagsForResource (moto
answers one page; 50 tags at most per account).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest

from reconciler.adapters.aws.applying import ApplySettings, apply_plan
from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.errors import pages
from reconciler.adapters.aws.reading import find_instance, read_live_state
from reconciler.model.state import (
    AssignmentKey,
    CustomerManagedPolicyRef,
    LiveState,
    Membership,
    PermissionSet,
    PrincipalType,
    User,
)
from reconciler.model.targets import TargetReads
from reconciler.planning.outcomes import Status
from reconciler.planning.plans import (
    AttributeChange,
    CreateAssignment,
    CreatePermissionSet,
    CreateUser,
    DeleteAssignment,
    Plan,
    UpdatePermissionSet,
)
from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.identity_center import AsyncOperation
from tests.conftest import FAST
from tests.support import HandMade

ONE_PER_PAGE = FAST.model_copy(update={"list_page_size": 1})
QUICK = ApplySettings(poll_interval_seconds=0.05, conflict_backoff_seconds=0.05)
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


@dataclass(frozen=True)
class Paged:
    sandbox: Sandbox
    organization: SeededOrganization
    clients: AwsClients
    made: HandMade


@contextmanager
def _paged(settings: SandboxSettings) -> Iterator[Paged]:
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        Sandbox(settings, faults=FaultConfig.parse("none"), shape_check=True) as sandbox,
    ):
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        organization = sandbox.seed_example_organization()
        for key, value in sandbox.client_environment().items():
            monkeypatch.setenv(key, value)
        clients = make_clients(
            rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0)
        )
        yield Paged(sandbox, organization, clients, HandMade(organization))


@pytest.fixture
def paged() -> Iterator[Paged]:
    """A sandbox answering one item per page, with the example organization."""
    with _paged(ONE_PER_PAGE) as running:
        yield running


def _wait_for_assignments(made: HandMade) -> None:
    deadline = time.monotonic() + 30
    while made.sso.list_account_assignment_creation_status(
        InstanceArn=made.org.instance_arn, Filter={"Status": "IN_PROGRESS"}
    )["AccountAssignmentsCreationStatus"]:
        if time.monotonic() > deadline:
            raise AssertionError("account assignments still IN_PROGRESS")
        time.sleep(0.05)


def _two_of_everything(paged: Paged) -> None:
    """Two users, two groups, three memberships, two permission sets with two of each policy
    kind and two tags, each assigned to a user and a group in both member accounts (then
    changed, so stale in both).

    The group's assignments are made in the reverse order of the user's, so that the first
    page of each principal's assignments names a different (set, account): a reader that
    stopped there would find both pairs explained and look no further."""
    made, org = paged.made, paged.organization
    for account in ("prod", "staging"):
        for policy in ("Extras", "More"):
            paged.sandbox.put_customer_managed_policy(account_id=org.accounts[account], name=policy)
    alice, bob = made.user("alice"), made.user("bob")
    admins, readers = made.group("Admins"), made.group("Readers")
    made.member(admins, alice)
    made.member(readers, alice)
    made.member(admins, bob)
    targets = []
    for name in ("Ops", "Audit"):
        arn = made.permission_set(
            name, Tags=[{"Key": "team", "Value": "platform"}, {"Key": "cost", "Value": "42"}]
        )
        target = {"InstanceArn": org.instance_arn, "PermissionSetArn": arn}
        for policy in (VIEW_ONLY, READ_ONLY):
            made.sso.attach_managed_policy_to_permission_set(**target, ManagedPolicyArn=policy)
        for policy in ("Extras", "More"):
            made.sso.attach_customer_managed_policy_reference_to_permission_set(
                **target, CustomerManagedPolicyReference={"Name": policy, "Path": "/"}
            )
        targets += [(target, org.accounts[account]) for account in ("prod", "staging")]
    for principal, kind, order in ((alice, "USER", 1), (admins, "GROUP", -1)):
        for target, account_id in targets[::order]:
            made.sso.create_account_assignment(
                **target,
                TargetId=account_id,
                TargetType="AWS_ACCOUNT",
                PrincipalType=kind,
                PrincipalId=principal,
            )
    _wait_for_assignments(made)
    for target, _ in targets[::2]:
        made.sso.put_inline_policy_to_permission_set(**target, InlinePolicy=json.dumps(INLINE))


def _assignments(org: SeededOrganization) -> frozenset[AssignmentKey]:
    return frozenset(
        AssignmentKey(org.accounts[account], name, kind, principal)
        for name in ("Ops", "Audit")
        for account in ("prod", "staging")
        for kind, principal in ((PrincipalType.USER, "alice"), (PrincipalType.GROUP, "Admins"))
    )


Check = Callable[[LiveState, SeededOrganization], None]


def _accounts(live: LiveState, org: SeededOrganization) -> None:
    assert set(live.accounts) == set(org.accounts.values())


def _users(live: LiveState, org: SeededOrganization) -> None:
    assert set(live.state.users) == {"alice", "bob"}


def _groups(live: LiveState, org: SeededOrganization) -> None:
    assert set(live.state.groups) == {"Admins", "Readers"}


def _memberships(live: LiveState, org: SeededOrganization) -> None:
    assert live.state.memberships == {
        Membership("Admins", "alice"),
        Membership("Readers", "alice"),
        Membership("Admins", "bob"),
    }


def _permission_sets(live: LiveState, org: SeededOrganization) -> None:
    assert set(live.state.permission_sets) == {"Ops", "Audit"}


def _managed(live: LiveState, org: SeededOrganization) -> None:
    for read in live.state.permission_sets.values():
        assert read.managed_policies == {VIEW_ONLY, READ_ONLY}


def _customer_managed(live: LiveState, org: SeededOrganization) -> None:
    for read in live.state.permission_sets.values():
        assert read.customer_managed_policies == {
            CustomerManagedPolicyRef("Extras", "/"),
            CustomerManagedPolicyRef("More", "/"),
        }


def _tags(live: LiveState, org: SeededOrganization) -> None:
    for read in live.state.permission_sets.values():
        assert read.tags == {"team": "platform", "cost": "42"}


def _provisioned(live: LiveState, org: SeededOrganization) -> None:
    both = {org.accounts["prod"], org.accounts["staging"]}
    assert live.provisioned_accounts == {"Ops": both, "Audit": both}
    assert live.stale_accounts == {"Ops": both, "Audit": both}


def _assignments_read(live: LiveState, org: SeededOrganization) -> None:
    assert live.state.assignments == _assignments(org)


READS: dict[str, tuple[Check, str]] = {
    # call: (what a complete read shows, how assignments are read)
    "ListAccounts": (_accounts, "permission-set"),
    "ListUsers": (_users, "permission-set"),
    "ListGroups": (_groups, "permission-set"),
    "ListGroupMemberships": (_memberships, "permission-set"),
    "ListPermissionSets": (_permission_sets, "permission-set"),
    "ListManagedPoliciesInPermissionSet": (_managed, "permission-set"),
    "ListCustomerManagedPolicyReferencesInPermissionSet": (_customer_managed, "permission-set"),
    "ListTagsForResource": (_tags, "permission-set"),
    "ListAccountsForProvisionedPermissionSet": (_provisioned, "permission-set"),
    "ListAccountAssignments": (_assignments_read, "permission-set"),
    "ListAccountAssignmentsForPrincipal": (_assignments_read, "principal"),
}


@pytest.mark.parametrize("operation", sorted(READS))
def test_reading_follows_every_page_of(operation: str, paged: Paged) -> None:
    check, assignments_by = READS[operation]
    _two_of_everything(paged)
    before = paged.clients.calls.snapshot()

    live = read_live_state(paged.clients, assignments_by=assignments_by)  # type: ignore[arg-type]

    check(live, paged.organization)
    # Pages of one item: more calls than lists read proves the read crossed a page boundary.
    assert paged.clients.calls.since(before)[operation] >= 2


def test_reading_memberships_per_member_follows_every_page(paged: Paged) -> None:
    alice = paged.made.user("alice")
    for name in ("A", "B", "C"):
        paged.made.member(paged.made.group(name), alice)
    before = paged.clients.calls.snapshot()

    live = read_live_state(paged.clients)

    assert live.state.memberships == {Membership(g, "alice") for g in ("A", "B", "C")}
    assert paged.clients.calls.since(before)["ListGroupMembershipsForMember"] == 3


def test_finding_the_instance_follows_every_page(paged: Paged) -> None:
    second = paged.sandbox.create_instance(name="second")

    found = find_instance(paged.clients, instance_arn=second.arn)
    first = find_instance(paged.clients, instance_arn=paged.organization.instance_arn)

    assert found == (second.arn, second.identity_store_id)
    assert first[0] == paged.organization.instance_arn


def test_reading_the_ou_tree_follows_every_page_of_twenty(paged: Paged) -> None:
    """moto pages ListOrganizationalUnitsForParent and ListAccountsForParent at 20, AWS's
    largest page: 21 OUs and 24 accounts under the root cross it."""
    organizations = boto3.client("organizations")
    root = organizations.list_roots()["Roots"][0]["Id"]
    for index in range(21):
        organizations.create_organizational_unit(ParentId=root, Name=f"unit-{index:02d}")
    for index in range(21):
        paged.sandbox.add_account(name=f"workload-{index:02d}")
    before = paged.clients.calls.snapshot()

    live = read_live_state(paged.clients, targets=TargetReads(units=True))

    calls = paged.clients.calls.since(before)
    assert live.organization is not None
    assert len(live.organization.units) == 22  # the root and 21 OUs
    assert set(live.organization.account_parents) == set(live.accounts)
    assert len(live.accounts) == 24
    assert calls["ListOrganizationalUnitsForParent"] >= 2
    assert calls["ListAccountsForParent"] >= 2


@pytest.mark.parametrize("request_status", ["describe", "lists"])
def test_status_polling_follows_every_page(
    request_status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several assignment creations in flight, one of them FAILED: with pages of one request,
    IN_PROGRESS and FAILED requests beyond the first page are still seen (in ``lists``
    mode a request missing from both lists would be taken for SUCCEEDED)."""
    slow = ONE_PER_PAGE.model_copy(update={"assignment_delay_seconds": 0.4})
    with _paged(slow) as paged:
        org = paged.organization
        prod, staging = org.accounts["prod"], org.accounts["staging"]
        paged.sandbox.put_customer_managed_policy(account_id=prod, name="ProdOnly", path="/")
        prod_only = PermissionSet(
            name="ProdOnly",
            customer_managed_policies=frozenset({CustomerManagedPolicyRef("ProdOnly", "/")}),
        )
        users = [
            User(user_name=f"user{i}", display_name="U", given_name="U", family_name="U")
            for i in range(4)
        ]
        settings = ApplySettings(
            poll_interval_seconds=0.05,
            request_status=request_status,  # type: ignore[arg-type]
        )
        setup = (
            CreatePermissionSet(permission_set=prod_only),
            *(CreateUser(user=u) for u in users),
        )
        apply_plan(
            paged.clients,
            Plan(revision="r0", operations=setup),
            read_live_state(paged.clients),
            settings=settings,
        )
        keys = [
            AssignmentKey(account, "ProdOnly", PrincipalType.USER, user.user_name)
            for user in users
            for account in (prod, staging)
        ]

        outcome = apply_plan(
            paged.clients,
            Plan(revision="r1", operations=tuple(CreateAssignment(assignment=k) for k in keys)),
            read_live_state(paged.clients),
            settings=settings,
        )

        failed = {r.operation.key for r in outcome.results if r.status is Status.FAILED}
        assert failed == {
            CreateAssignment(assignment=k).key for k in keys if k.account_id == staging
        }
        assert read_live_state(paged.clients).state.assignments == {
            k for k in keys if k.account_id == prod
        }


@pytest.mark.parametrize("request_status", ["describe", "lists"])
def test_deletion_status_polling_follows_every_page(
    request_status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deletions still IN_PROGRESS beyond the first page of ListAccountAssignmentDeletionStatus
    are waited for: when the apply returns, no deletion is IN_PROGRESS in the sandbox (in
    ``lists`` mode a request missing from the IN_PROGRESS list is taken for ended)."""
    slow = ONE_PER_PAGE.model_copy(update={"assignment_delay_seconds": 0.4})
    with _paged(slow) as paged:
        prod = paged.organization.accounts["prod"]
        reader = PermissionSet(name="Reader", managed_policies=frozenset({READ_ONLY}))
        users = [
            User(user_name=f"user{i}", display_name="U", given_name="U", family_name="U")
            for i in range(6)
        ]
        keys = [AssignmentKey(prod, "Reader", PrincipalType.USER, u.user_name) for u in users]
        settings = ApplySettings(
            poll_interval_seconds=0.05,
            request_status=request_status,  # type: ignore[arg-type]
        )
        setup = (
            CreatePermissionSet(permission_set=reader),
            *(CreateUser(user=u) for u in users),
            *(CreateAssignment(assignment=k) for k in keys),
        )
        apply_plan(
            paged.clients,
            Plan(revision="r0", operations=setup),
            read_live_state(paged.clients),
            settings=settings,
        )

        center = paged.sandbox.identity_center
        start_deletion = center.delete_account_assignment

        def later_after_the_first(**kwargs: Any) -> AsyncOperation:
            """Every deletion after the first ends 0.6 s later than the first: a poller that
            took the requests missing from the first page for ended would return early."""
            operation = start_deletion(**kwargs)
            if started:
                operation.due += 0.6
            started.append(operation.request_id)
            return operation

        started: list[str] = []
        monkeypatch.setattr(center, "delete_account_assignment", later_after_the_first)

        outcome = apply_plan(
            paged.clients,
            Plan(revision="r1", operations=tuple(DeleteAssignment(assignment=k) for k in keys)),
            read_live_state(paged.clients),
            settings=settings,
        )

        with center.lock:
            center.advance()
            still_deleting = [
                op for op in center.pending.values() if op.kind == "DELETE_ASSIGNMENT"
            ]
        assert outcome.succeeded
        assert still_deleting == []
        assert read_live_state(paged.clients).state.assignments == frozenset()


# --- applying: reads made to resolve a conflict or an error ---------------------------------


def test_creating_sets_that_exist_already_finds_each_across_pages(paged: Paged) -> None:
    """CreatePermissionSet meets ConflictException (made meanwhile by someone else): the set
    is found by listing every page of ListPermissionSets and adopted."""
    names = ["Alpha", "Beta", "Gamma"]
    live = read_live_state(paged.clients)
    for name in names:
        paged.made.permission_set(name)
    plan = Plan(
        revision="r1",
        operations=tuple(
            CreatePermissionSet(permission_set=PermissionSet(name=name, description="adopted"))
            for name in names
        ),
    )

    outcome = apply_plan(paged.clients, plan, live, settings=QUICK)

    assert outcome.succeeded, [r.reason for r in outcome.results]
    read = read_live_state(paged.clients).state.permission_sets
    assert {name: read[name].description for name in names} == dict.fromkeys(names, "adopted")


def test_attaching_policies_attached_meanwhile_finds_each_across_pages(paged: Paged) -> None:
    """Attach calls meet ConflictException (attached meanwhile): each policy is found by
    listing every page of the set's managed and customer-managed policies."""
    org = paged.organization
    for policy in ("Extras", "More"):
        paged.sandbox.put_customer_managed_policy(account_id=org.accounts["prod"], name=policy)
    arn = paged.made.permission_set("Ops")
    live = read_live_state(paged.clients)
    target = {"InstanceArn": org.instance_arn, "PermissionSetArn": arn}
    for policy in (VIEW_ONLY, READ_ONLY):
        paged.made.sso.attach_managed_policy_to_permission_set(**target, ManagedPolicyArn=policy)
    for name in ("Extras", "More"):
        paged.made.sso.attach_customer_managed_policy_reference_to_permission_set(
            **target, CustomerManagedPolicyReference={"Name": name, "Path": "/"}
        )
    desired = PermissionSet(
        name="Ops",
        managed_policies=frozenset({VIEW_ONLY, READ_ONLY}),
        customer_managed_policies=frozenset(
            {CustomerManagedPolicyRef("Extras", "/"), CustomerManagedPolicyRef("More", "/")}
        ),
    )
    update = UpdatePermissionSet(
        permission_set=desired,
        live=live.state.permission_sets["Ops"],
        diff=(AttributeChange(attribute="managed_policies", old=[], new=[]),),
    )

    outcome = apply_plan(
        paged.clients, Plan(revision="r1", operations=(update,)), live, settings=QUICK
    )

    assert outcome.succeeded, [r.reason for r in outcome.results]
    assert read_live_state(paged.clients).state.permission_sets["Ops"] == desired


def test_a_not_found_error_does_not_stop_writing_while_the_instance_is_listed_on_a_later_page(
    paged: Paged,
) -> None:
    """A write answered ResourceNotFound makes the applier check that the instance still
    exists (ListInstances): found on a later page, writing goes on."""
    ours = paged.organization.instance_arn
    while min(paged.sandbox.identity_center.instances) == ours:
        paged.sandbox.create_instance(name="other")
    paged.made.permission_set("Gone")
    live = read_live_state(paged.clients, instance_arn=ours)
    paged.made.sso.delete_permission_set(
        InstanceArn=ours, PermissionSetArn=live.permission_set_arns["Gone"]
    )
    gone = live.state.permission_sets["Gone"]
    plan = Plan(
        revision="r1",
        operations=(
            UpdatePermissionSet(
                permission_set=replace(gone, description="changed"),
                live=gone,
                diff=(AttributeChange(attribute="description", old=None, new="changed"),),
            ),
            CreateUser(
                user=User(user_name="after", display_name="A", given_name="A", family_name="A")
            ),
        ),
    )

    outcome = apply_plan(paged.clients, plan, live, settings=QUICK)

    assert [r.status for r in outcome.results] == [Status.FAILED, Status.SUCCEEDED]


def test_every_list_call_asks_for_the_largest_page_its_api_model_allows(paged: Paged) -> None:
    """AWS documents no default page size for most List calls: a reader that leaves
    ``MaxResults`` out may get small pages, and pay calls the read floor does not count."""
    _two_of_everything(paged)
    asked: list[tuple[str, int | None]] = []

    def capture(params: dict[str, Any], model: Any, **_: Any) -> None:
        members = model.input_shape.members if model.input_shape is not None else {}
        if "MaxResults" in members:
            maximum = members["MaxResults"].metadata.get("max")
            asked.append((model.name, params.get("MaxResults") == maximum and maximum))

    clients = paged.clients
    for client in (clients.sso_admin, clients.identitystore, clients.organizations):
        client.meta.events.register("provide-client-params", capture)

    for assignments_by in ("permission-set", "principal"):
        read_live_state(
            clients,
            assignments_by=assignments_by,  # type: ignore[arg-type]
            targets=TargetReads(units=True),
        )

    operations = {operation for operation, _ in asked}
    assert {"ListUsers", "ListAccountAssignments", "ListAccountsForParent"} <= operations
    assert [operation for operation, largest in asked if not largest] == []


def test_a_page_size_the_caller_asks_for_is_kept() -> None:
    with _paged(FAST) as full_pages:
        full_pages.made.user("alice")
        full_pages.made.user("bob")
        identity_store = full_pages.organization.identity_store_id
        client = full_pages.clients.identitystore

        largest = list(pages(client, "list_users", IdentityStoreId=identity_store))
        one_each = list(pages(client, "list_users", IdentityStoreId=identity_store, MaxResults=1))

    assert [len(page["Users"]) for page in largest] == [2]
    assert [len(page["Users"]) for page in one_each if page["Users"]] == [1, 1]
