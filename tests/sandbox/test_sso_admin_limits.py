"""sso-admin conflicts and limits: overlapping writes on a permission set, deleting a set in
use, outstanding assignment operations, concurrent provisioning.

The asynchronous operations here stay IN_PROGRESS for 1 second, longer than each test needs.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import SandboxSettings, SeededOrganization

SLOW = SandboxSettings(
    assignment_delay_seconds=1.0,
    provisioning_delay_seconds=1.0,
    max_outstanding_assignment_operations=2,
    max_concurrent_provisioning=1,
)


@pytest.fixture
def sandbox_settings() -> SandboxSettings:
    """Slow asynchronous operations and small limits."""
    return SLOW


def create_assignment(sso: Any, org: SeededOrganization, *, arn: str, user: str) -> None:
    sso.create_account_assignment(
        InstanceArn=org.instance_arn,
        TargetId=org.accounts["prod"],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=arn,
        PrincipalType="USER",
        PrincipalId=user,
    )


def test_update_during_an_in_progress_provisioning_conflicts(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """A write on a permission set while an asynchronous operation on it is IN_PROGRESS is a
    ConflictException ("conflicting operation in process"; UpdatePermissionSet lists
    ConflictException in the API reference)."""
    arn = aws.create_permission_set("A")
    sso.provision_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        TargetType="AWS_ACCOUNT",
        TargetId=org.accounts["prod"],
    )

    with pytest.raises(ClientError) as excinfo:
        sso.update_permission_set(
            InstanceArn=org.instance_arn, PermissionSetArn=arn, Description="changed"
        )

    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    assert "conflicting operation in process" in excinfo.value.response["Error"]["Message"]


def test_policy_change_during_an_in_progress_assignment_conflicts(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """Attaching a policy while an assignment of the set is being created: ConflictException."""
    arn = aws.create_permission_set("A")
    create_assignment(sso, org, arn=arn, user=aws.create_user("alice"))

    with pytest.raises(ClientError) as excinfo:
        sso.attach_managed_policy_to_permission_set(
            InstanceArn=org.instance_arn,
            PermissionSetArn=arn,
            ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess",
        )

    assert excinfo.value.response["Error"]["Code"] == "ConflictException"


def test_writes_on_another_permission_set_are_not_blocked(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """The conflict is per permission set: another set can be changed meanwhile."""
    busy = aws.create_permission_set("Busy")
    other = aws.create_permission_set("Other")
    create_assignment(sso, org, arn=busy, user=aws.create_user("alice"))

    sso.update_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=other, Description="d")

    described = sso.describe_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=other)
    assert described["PermissionSet"]["Description"] == "d"


def test_more_outstanding_assignment_operations_than_the_limit_are_throttled(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """AWS: "The write API operations have a limit of 15 outstanding asynchronous calls. This
    limit cannot be increased." (IAM user guide, account access manager quotas). One more is
    refused with ThrottlingException (here the limit is 2)."""
    arn = aws.create_permission_set("A")
    users = [aws.create_user(f"user{i}") for i in range(3)]
    create_assignment(sso, org, arn=arn, user=users[0])
    create_assignment(sso, org, arn=arn, user=users[1])

    with pytest.raises(ClientError) as excinfo:
        create_assignment(sso, org, arn=arn, user=users[2])

    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"


def test_more_concurrent_provisionings_than_the_limit_are_throttled(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """ProvisionPermissionSet runs at most ``max_concurrent_provisioning`` at once (design
    notes: about 3); one more is ThrottlingException (here the limit is 1)."""
    first, second = aws.create_permission_set("First"), aws.create_permission_set("Second")
    sso.provision_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=first,
        TargetType="AWS_ACCOUNT",
        TargetId=org.accounts["prod"],
    )

    with pytest.raises(ClientError) as excinfo:
        sso.provision_permission_set(
            InstanceArn=org.instance_arn,
            PermissionSetArn=second,
            TargetType="AWS_ACCOUNT",
            TargetId=org.accounts["prod"],
        )

    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"


def test_deleting_an_assigned_permission_set_conflicts(
    sandbox: Any, sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """DeletePermissionSet of a set that is still assigned is a ConflictException (API
    reference DeletePermissionSet lists ConflictException; the console refuses too)."""
    arn = aws.create_permission_set("A")
    create_assignment(sso, org, arn=arn, user=aws.create_user("alice"))
    sandbox.complete_operations()
    assigned = sso.list_account_assignments(
        InstanceArn=org.instance_arn, AccountId=org.accounts["prod"], PermissionSetArn=arn
    )["AccountAssignments"]

    with pytest.raises(ClientError) as excinfo:
        sso.delete_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)

    assert len(assigned) == 1
    assert excinfo.value.response["Error"]["Code"] == "ConflictException"


def test_deleting_a_provisioned_permission_set_conflicts(
    sandbox: Any, sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """A set provisioned to an account (even without assignments) cannot be deleted."""
    arn = aws.create_permission_set("A")
    sso.provision_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        TargetType="AWS_ACCOUNT",
        TargetId=org.accounts["prod"],
    )
    sandbox.complete_operations()

    with pytest.raises(ClientError) as excinfo:
        sso.delete_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)

    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
