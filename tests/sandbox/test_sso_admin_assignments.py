"""sso-admin account assignments: asynchronous status, provisioning on assignment, failures,
idempotency, listing.

Sources: IAM Identity Center API reference (CreateAccountAssignment,
DescribeAccountAssignmentCreationStatus, DeleteAccountAssignment, ListAccountAssignments,
ListAccountAssignmentsForPrincipal) and botocore's ``sso-admin`` model.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.inventory import assignment_deletions


class StoppedClock:
    """The sandbox's clock, moved only by the test: a busy machine cannot age a request."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stop_the_clock(sandbox: Sandbox) -> StoppedClock:
    """Put a :class:`StoppedClock` in place of the sandbox's monotonic clock; returns it."""
    center = sandbox.identity_center
    with center.lock:
        clock = StoppedClock(center.clock())
        center.clock = clock
    return clock


def test_creation_is_in_progress_until_the_delay_passes_then_succeeded(
    sso: Any, org: SeededOrganization, aws: Any, sandbox: Sandbox
) -> None:
    """CreateAccountAssignment answers IN_PROGRESS with a RequestId; the status call reports
    IN_PROGRESS, then SUCCEEDED (API reference: "After a successful response, call
    DescribeAccountAssignmentCreationStatus to describe the status")."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    clock = stop_the_clock(sandbox)
    started = sso.create_account_assignment(
        InstanceArn=org.instance_arn,
        TargetId=org.accounts["prod"],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=arn,
        PrincipalType="USER",
        PrincipalId=user,
    )["AccountAssignmentCreationStatus"]
    right_after = sso.describe_account_assignment_creation_status(
        InstanceArn=org.instance_arn, AccountAssignmentCreationRequestId=started["RequestId"]
    )["AccountAssignmentCreationStatus"]
    clock.now += sandbox.settings.assignment_delay_seconds
    later = sso.describe_account_assignment_creation_status(
        InstanceArn=org.instance_arn, AccountAssignmentCreationRequestId=started["RequestId"]
    )["AccountAssignmentCreationStatus"]

    assert started["Status"] == "IN_PROGRESS"
    assert right_after["Status"] == "IN_PROGRESS"
    assert later["Status"] == "SUCCEEDED"
    assert later["PrincipalId"] == user


def test_assignment_is_listed_only_after_it_succeeded(
    sso: Any, org: SeededOrganization, aws: Any, sandbox: Sandbox
) -> None:
    """ListAccountAssignments shows the assignment once creation has SUCCEEDED."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    clock = stop_the_clock(sandbox)
    sso.create_account_assignment(
        InstanceArn=org.instance_arn,
        TargetId=org.accounts["prod"],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=arn,
        PrincipalType="USER",
        PrincipalId=user,
    )

    def listed() -> list[dict[str, str]]:
        return list(
            sso.list_account_assignments(
                InstanceArn=org.instance_arn, AccountId=org.accounts["prod"], PermissionSetArn=arn
            )["AccountAssignments"]
        )

    before = listed()
    clock.now += sandbox.settings.assignment_delay_seconds
    after = listed()

    assert before == []
    assert after == [
        {
            "AccountId": org.accounts["prod"],
            "PermissionSetArn": arn,
            "PrincipalType": "USER",
            "PrincipalId": user,
        }
    ]


def test_assignment_provisions_the_permission_set_to_the_account(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """API reference CreateAccountAssignment: "As part of a successful CreateAccountAssignment
    call, the specified permission set will automatically be provisioned to the account"."""
    arn = aws.create_permission_set("A")
    group = aws.create_group("admins")

    aws.assign(
        permission_set_arn=arn,
        principal_id=group,
        principal_type="GROUP",
        account_id=org.accounts["staging"],
    )

    accounts = sso.list_accounts_for_provisioned_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )["AccountIds"]
    assert accounts == [org.accounts["staging"]]


def test_creating_an_existing_assignment_succeeds_without_a_duplicate(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """A repeated CreateAccountAssignment is idempotent: SUCCEEDED, one assignment listed."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    first = aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])
    second = aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])

    listed = sso.list_account_assignments(
        InstanceArn=org.instance_arn, AccountId=org.accounts["prod"], PermissionSetArn=arn
    )["AccountAssignments"]
    assert (first["Status"], second["Status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert len(listed) == 1


def test_assignment_to_an_unknown_principal_fails_asynchronously(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """A well-formed PrincipalId that names no user: the request is accepted (IN_PROGRESS)
    and ends FAILED with a FailureReason; no assignment exists. (AWS validates the id's
    format synchronously but reports a missing principal through the status, like every
    failure that happens while creating the role.)"""
    arn = aws.create_permission_set("A")
    ghost = org.identity_store_id[2:] + "-00000000-0000-4000-8000-000000000000"

    status = aws.assign(permission_set_arn=arn, principal_id=ghost, account_id=org.accounts["prod"])

    assert status["Status"] == "FAILED"
    assert ghost in status["FailureReason"]
    assert (
        sso.list_account_assignments(
            InstanceArn=org.instance_arn, AccountId=org.accounts["prod"], PermissionSetArn=arn
        )["AccountAssignments"]
        == []
    )


def test_assignment_to_an_account_outside_the_organization_fails(
    org: SeededOrganization, aws: Any
) -> None:
    """TargetId of an account that is not in the organization: FAILED with a FailureReason."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")

    status = aws.assign(permission_set_arn=arn, principal_id=user, account_id="999999999999")

    assert status["Status"] == "FAILED"
    assert "999999999999" in status["FailureReason"]


def test_assignment_to_a_suspended_account_fails(
    sandbox: Sandbox, org: SeededOrganization, aws: Any
) -> None:
    """A SUSPENDED account gets no assignment (aws-sso-util issue 80: assignments to
    suspended accounts fail)."""
    suspended = sandbox.add_account(name="closed", status="SUSPENDED")
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")

    status = aws.assign(permission_set_arn=arn, principal_id=user, account_id=suspended)

    assert status["Status"] == "FAILED"


def test_assignment_fails_when_a_customer_managed_policy_is_missing_in_the_account(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """Provisioning a set whose customer-managed policy does not exist in the target account
    fails (IAM Identity Center user guide, customer managed policies: "the policy must exist
    in each account"); the assignment is then not created."""
    arn = aws.create_permission_set("A")
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        CustomerManagedPolicyReference={"Name": "TeamPolicy", "Path": "/"},
    )
    user = aws.create_user("alice")

    status = aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])

    assert status["Status"] == "FAILED"
    assert "TeamPolicy" in status["FailureReason"]
    assert (
        sso.list_account_assignments(
            InstanceArn=org.instance_arn, AccountId=org.accounts["prod"], PermissionSetArn=arn
        )["AccountAssignments"]
        == []
    )


def test_assignment_succeeds_once_the_customer_managed_policy_exists(
    sandbox: Sandbox, sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """With the policy declared in the account (put_customer_managed_policy) provisioning,
    and so the assignment, succeeds."""
    sandbox.put_customer_managed_policy(account_id=org.accounts["prod"], name="TeamPolicy")
    arn = aws.create_permission_set("A")
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        CustomerManagedPolicyReference={"Name": "TeamPolicy"},
    )
    user = aws.create_user("alice")

    status = aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])

    assert status["Status"] == "SUCCEEDED"


def test_assignment_fails_when_the_customer_managed_boundary_is_missing(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """A customer-managed permissions boundary must exist in the account too (API reference
    PermissionsBoundary: the policy is referenced by name and path in each account)."""
    arn = aws.create_permission_set("A")
    sso.put_permissions_boundary_to_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        PermissionsBoundary={"CustomerManagedPolicyReference": {"Name": "Boundary"}},
    )
    user = aws.create_user("alice")

    status = aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])

    assert status["Status"] == "FAILED"
    assert "Boundary" in status["FailureReason"]


def test_deleting_the_last_assignment_removes_the_provisioned_copy(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """Deleting the last assignment of a set in an account removes the set from that account
    (AWS deletes the AWSReservedSSO role), so it no longer counts as provisioned there."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])

    deleted = aws.assign(
        permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"], delete=True
    )

    accounts = sso.list_accounts_for_provisioned_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )["AccountIds"]
    assert deleted["Status"] == "SUCCEEDED"
    assert accounts == []


def test_deleting_one_of_two_assignments_keeps_the_provisioned_copy(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """The set stays provisioned while another principal is still assigned there."""
    arn = aws.create_permission_set("A")
    alice, bob = aws.create_user("alice"), aws.create_user("bob")
    aws.assign(permission_set_arn=arn, principal_id=alice, account_id=org.accounts["prod"])
    aws.assign(permission_set_arn=arn, principal_id=bob, account_id=org.accounts["prod"])

    aws.assign(
        permission_set_arn=arn, principal_id=alice, account_id=org.accounts["prod"], delete=True
    )

    accounts = sso.list_accounts_for_provisioned_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )["AccountIds"]
    assert accounts == [org.accounts["prod"]]


def test_assignments_for_principal_are_listed_and_filtered_by_account(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """ListAccountAssignmentsForPrincipal with Filter.AccountId (API reference)."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    for account in ("prod", "staging"):
        aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts[account])

    every = sso.list_account_assignments_for_principal(
        InstanceArn=org.instance_arn, PrincipalId=user, PrincipalType="USER"
    )["AccountAssignments"]
    filtered = sso.list_account_assignments_for_principal(
        InstanceArn=org.instance_arn,
        PrincipalId=user,
        PrincipalType="USER",
        Filter={"AccountId": org.accounts["staging"]},
    )["AccountAssignments"]

    assert {a["AccountId"] for a in every} == {org.accounts["prod"], org.accounts["staging"]}
    assert [a["AccountId"] for a in filtered] == [org.accounts["staging"]]


def test_list_account_assignments_pages(sso: Any, org: SeededOrganization, aws: Any) -> None:
    """ListAccountAssignments pages with MaxResults and NextToken (botocore paginator)."""
    arn = aws.create_permission_set("A")
    users = [aws.create_user(f"user{i}") for i in range(5)]
    for user in users:
        aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])

    pages = list(
        sso.get_paginator("list_account_assignments").paginate(
            InstanceArn=org.instance_arn,
            AccountId=org.accounts["prod"],
            PermissionSetArn=arn,
            PaginationConfig={"PageSize": 2},
        )
    )

    assert [len(p["AccountAssignments"]) for p in pages] == [2, 2, 1]
    assert {a["PrincipalId"] for p in pages for a in p["AccountAssignments"]} == set(users)


def test_creation_status_list_filters_by_status(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """ListAccountAssignmentCreationStatus with Filter.Status (API reference)."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    ok = aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])
    failed = aws.assign(permission_set_arn=arn, principal_id=user, account_id="999999999999")

    succeeded = sso.list_account_assignment_creation_status(
        InstanceArn=org.instance_arn, Filter={"Status": "SUCCEEDED"}
    )["AccountAssignmentsCreationStatus"]
    failures = sso.list_account_assignment_creation_status(
        InstanceArn=org.instance_arn, Filter={"Status": "FAILED"}
    )["AccountAssignmentsCreationStatus"]

    assert [s["RequestId"] for s in succeeded] == [ok["RequestId"]]
    assert [s["RequestId"] for s in failures] == [failed["RequestId"]]


def test_deletion_status_is_listed(sso: Any, org: SeededOrganization, aws: Any) -> None:
    """ListAccountAssignmentDeletionStatus lists deletion requests (API reference)."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])
    deleted = aws.assign(
        permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"], delete=True
    )

    listed = sso.list_account_assignment_deletion_status(InstanceArn=org.instance_arn)[
        "AccountAssignmentsDeletionStatus"
    ]

    assert [(s["RequestId"], s["Status"]) for s in listed] == [(deleted["RequestId"], "SUCCEEDED")]


def test_every_deletion_request_is_logged_with_the_names_it_had(
    sso: Any, org: SeededOrganization, aws: Any, sandbox: Sandbox, ids: Any
) -> None:
    """``inventory.assignment_deletions`` lists each DeleteAccountAssignment request accepted,
    named as at the request: a grant deleted and created again shows, and so does one whose
    user was deleted afterwards."""
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    target = {
        "InstanceArn": org.instance_arn,
        "TargetId": org.accounts["prod"],
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": arn,
        "PrincipalType": "USER",
        "PrincipalId": user,
    }
    for write in ("create", "delete", "create", "delete"):
        getattr(sso, f"{write}_account_assignment")(**target)
        sandbox.complete_operations()
    ids.delete_user(IdentityStoreId=org.identity_store_id, UserId=user)

    assert assignment_deletions(sandbox) == [(org.accounts["prod"], "A", "USER", "alice")] * 2
