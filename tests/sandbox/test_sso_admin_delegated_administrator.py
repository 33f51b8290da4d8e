"""sso-admin called from a delegated administrator account (``SandboxSettings``
``delegated_administrator``).

Source: IAM Identity Center user guide, "Delegated administration", prerequisites: tasks that
can only be performed from the management account include "Managing permission sets
provisioned in the management account" (and so the account assignments there); the service
answers other callers AccessDeniedException (error shape in botocore's sso-admin model).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import SandboxSettings, SeededOrganization


@pytest.fixture
def sandbox_settings() -> SandboxSettings:
    return SandboxSettings(
        assignment_delay_seconds=0.05,
        provisioning_delay_seconds=0.05,
        delegated_administrator=True,
    )


def assignment(org: SeededOrganization, arn: str, principal: str, account: str) -> dict[str, Any]:
    return {
        "InstanceArn": org.instance_arn,
        "TargetId": org.accounts[account],
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": arn,
        "PrincipalType": "USER",
        "PrincipalId": principal,
    }


def test_an_assignment_in_the_management_account_is_access_denied(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    arn = aws.create_permission_set("Admins")
    user = aws.create_user("alice")

    with pytest.raises(ClientError) as raised:
        sso.create_account_assignment(**assignment(org, arn, user, "management"))

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def test_an_assignment_in_a_member_account_is_allowed(org: SeededOrganization, aws: Any) -> None:
    arn = aws.create_permission_set("Admins")
    user = aws.create_user("alice")

    status = aws.assign(permission_set_arn=arn, principal_id=user, account_id=org.accounts["prod"])

    assert status["Status"] == "SUCCEEDED"


def test_provisioning_to_the_management_account_is_access_denied(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    arn = aws.create_permission_set("Admins")

    with pytest.raises(ClientError) as raised:
        sso.provision_permission_set(
            InstanceArn=org.instance_arn,
            PermissionSetArn=arn,
            TargetType="AWS_ACCOUNT",
            TargetId=org.accounts["management"],
        )

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_set_provisioned_to_the_management_account_cannot_be_changed(
    sandbox: Any, sso: Any, org: SeededOrganization, aws: Any
) -> None:
    arn = aws.create_permission_set("Admins")
    center = sandbox.identity_center
    with center.lock:  # provisioned there by the management account itself
        center.provisioned[(arn, org.accounts["management"])] = 1

    with pytest.raises(ClientError) as raised:
        sso.update_permission_set(
            InstanceArn=org.instance_arn, PermissionSetArn=arn, SessionDuration="PT2H"
        )

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
