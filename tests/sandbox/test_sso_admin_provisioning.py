"""sso-admin provisioning: ProvisionPermissionSet, stale copies, provisioning status calls.

Sources: IAM Identity Center API reference (ProvisionPermissionSet,
DescribePermissionSetProvisioningStatus, ListPermissionSetProvisioningStatus,
ListAccountsForProvisionedPermissionSet, ListPermissionSetsProvisionedToAccount;
PutInlinePolicyToPermissionSet: "If the permission set is already referenced by one or more
account assignments, you will need to call ProvisionPermissionSet after this action to apply
the corresponding IAM policy updates to all assigned accounts").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox, SeededOrganization

LATEST = "LATEST_PERMISSION_SET_PROVISIONED"
STALE = "LATEST_PERMISSION_SET_NOT_PROVISIONED"
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def accounts_with(sso: Any, org: SeededOrganization, arn: str, status: str) -> list[str]:
    return sorted(
        sso.list_accounts_for_provisioned_permission_set(
            InstanceArn=org.instance_arn, PermissionSetArn=arn, ProvisioningStatus=status
        )["AccountIds"]
    )


def test_provisioning_to_an_account_is_in_progress_then_succeeded(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """ProvisionPermissionSet answers IN_PROGRESS with a RequestId, then the status call
    reports SUCCEEDED and the account holds the set."""
    arn = aws.create_permission_set("A")
    started = sso.provision_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        TargetType="AWS_ACCOUNT",
        TargetId=org.accounts["prod"],
    )["PermissionSetProvisioningStatus"]
    final = aws.wait_for(
        lambda: sso.describe_permission_set_provisioning_status(
            InstanceArn=org.instance_arn, ProvisionPermissionSetRequestId=started["RequestId"]
        )["PermissionSetProvisioningStatus"]
    )

    assert started["Status"] == "IN_PROGRESS"
    assert final["Status"] == "SUCCEEDED"
    assert final["AccountId"] == org.accounts["prod"]
    assert accounts_with(sso, org, arn, LATEST) == [org.accounts["prod"]]


def test_changed_set_is_stale_in_accounts_until_reprovisioned(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """After an inline-policy change, accounts provisioned earlier report
    LATEST_PERMISSION_SET_NOT_PROVISIONED until ProvisionPermissionSet reaches them."""
    arn = aws.create_permission_set("A")
    aws.provision(permission_set_arn=arn, account_id=org.accounts["prod"])
    sso.put_inline_policy_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, InlinePolicy=POLICY
    )
    stale = accounts_with(sso, org, arn, STALE)

    aws.provision(permission_set_arn=arn, account_id=org.accounts["prod"])

    assert stale == [org.accounts["prod"]]
    assert accounts_with(sso, org, arn, STALE) == []
    assert accounts_with(sso, org, arn, LATEST) == [org.accounts["prod"]]


@pytest.mark.parametrize(
    "change",
    ["managed_policy", "customer_managed_policy", "boundary", "session_duration"],
)
def test_every_provisioned_attribute_change_makes_copies_stale(
    sso: Any, org: SeededOrganization, aws: Any, change: str
) -> None:
    """Policies, permissions boundary and session duration live in the provisioned role, so a
    change to any of them needs reprovisioning."""
    arn = aws.create_permission_set("A")
    aws.provision(permission_set_arn=arn, account_id=org.accounts["prod"])
    target = {"InstanceArn": org.instance_arn, "PermissionSetArn": arn}
    if change == "managed_policy":
        sso.attach_managed_policy_to_permission_set(
            **target, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )
    elif change == "customer_managed_policy":
        sso.attach_customer_managed_policy_reference_to_permission_set(
            **target, CustomerManagedPolicyReference={"Name": "Mine"}
        )
    elif change == "boundary":
        sso.put_permissions_boundary_to_permission_set(
            **target,
            PermissionsBoundary={"ManagedPolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        )
    else:
        sso.update_permission_set(**target, SessionDuration="PT8H")

    assert accounts_with(sso, org, arn, STALE) == [org.accounts["prod"]]


def test_description_change_does_not_make_copies_stale(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """The description is not part of the provisioned role."""
    arn = aws.create_permission_set("A", SessionDuration="PT2H")
    aws.provision(permission_set_arn=arn, account_id=org.accounts["prod"])

    sso.update_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        Description="new",
        SessionDuration="PT2H",
    )

    assert accounts_with(sso, org, arn, STALE) == []


def test_provisioning_all_provisioned_accounts_updates_each(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """TargetType ALL_PROVISIONED_ACCOUNTS reprovisions every account that holds the set
    (API reference ProvisionPermissionSet)."""
    arn = aws.create_permission_set("A")
    for account in ("prod", "staging"):
        aws.provision(permission_set_arn=arn, account_id=org.accounts[account])
    sso.put_inline_policy_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, InlinePolicy=POLICY
    )

    final = aws.provision(permission_set_arn=arn, account_id=None)

    assert final["Status"] == "SUCCEEDED"
    assert accounts_with(sso, org, arn, LATEST) == sorted(
        [org.accounts["prod"], org.accounts["staging"]]
    )


def test_provisioning_fails_where_the_customer_managed_policy_is_missing(
    sandbox: Sandbox, sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """Provisioning to an account lacking the referenced customer-managed policy ends FAILED
    with a FailureReason; an account that has it is provisioned."""
    sandbox.put_customer_managed_policy(account_id=org.accounts["prod"], name="Team", path="/t/")
    arn = aws.create_permission_set("A")
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        CustomerManagedPolicyReference={"Name": "Team", "Path": "/t/"},
    )

    good = aws.provision(permission_set_arn=arn, account_id=org.accounts["prod"])
    bad = aws.provision(permission_set_arn=arn, account_id=org.accounts["staging"])

    assert good["Status"] == "SUCCEEDED"
    assert bad["Status"] == "FAILED"
    assert "/t/Team" in bad["FailureReason"]
    assert accounts_with(sso, org, arn, LATEST) == [org.accounts["prod"]]


def test_provisioning_to_an_account_requires_a_target_id(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """TargetType AWS_ACCOUNT without TargetId is a ValidationException."""
    arn = aws.create_permission_set("A")

    with pytest.raises(ClientError) as excinfo:
        sso.provision_permission_set(
            InstanceArn=org.instance_arn, PermissionSetArn=arn, TargetType="AWS_ACCOUNT"
        )

    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_permission_sets_provisioned_to_an_account_are_filtered_by_status(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """ListPermissionSetsProvisionedToAccount with ProvisioningStatus separates current from
    stale copies."""
    current = aws.create_permission_set("Current")
    stale = aws.create_permission_set("Stale")
    for arn in (current, stale):
        aws.provision(permission_set_arn=arn, account_id=org.accounts["prod"])
    sso.put_inline_policy_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=stale, InlinePolicy=POLICY
    )

    def listed(status: str | None) -> list[str]:
        extra = {"ProvisioningStatus": status} if status else {}
        return sorted(
            sso.list_permission_sets_provisioned_to_account(
                InstanceArn=org.instance_arn, AccountId=org.accounts["prod"], **extra
            )["PermissionSets"]
        )

    assert listed(LATEST) == [current]
    assert listed(STALE) == [stale]
    assert listed(None) == sorted([current, stale])


def test_provisioning_status_list_filters_by_status(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """ListPermissionSetProvisioningStatus lists provisioning requests, Filter.Status
    narrowing them (API reference)."""
    arn = aws.create_permission_set("A")
    ok = aws.provision(permission_set_arn=arn, account_id=org.accounts["prod"])
    failed = aws.provision(permission_set_arn=arn, account_id="999999999999")

    every = sso.list_permission_set_provisioning_status(InstanceArn=org.instance_arn)[
        "PermissionSetsProvisioningStatus"
    ]
    failures = sso.list_permission_set_provisioning_status(
        InstanceArn=org.instance_arn, Filter={"Status": "FAILED"}
    )["PermissionSetsProvisioningStatus"]

    assert [s["RequestId"] for s in every] == [ok["RequestId"], failed["RequestId"]]
    assert [s["RequestId"] for s in failures] == [failed["RequestId"]]


def test_unknown_request_id_is_not_found(sso: Any, org: SeededOrganization) -> None:
    """Describe...Status of a request id never issued: ResourceNotFoundException."""
    with pytest.raises(ClientError) as excinfo:
        sso.describe_permission_set_provisioning_status(
            InstanceArn=org.instance_arn,
            ProvisionPermissionSetRequestId="00000000-0000-4000-8000-000000000000",
        )

    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_assignment_does_not_refresh_an_existing_stale_copy(
    sso: Any, org: SeededOrganization, aws: Any
) -> None:
    """CreateAccountAssignment provisions only where the set is not yet provisioned; AWS: "If
    the permission set is subsequently updated, the corresponding IAM policies attached to
    roles in your accounts will not be updated automatically. In this case, you must call
    ProvisionPermissionSet" (API reference CreateAccountAssignment)."""
    arn = aws.create_permission_set("A")
    alice, bob = aws.create_user("alice"), aws.create_user("bob")
    aws.assign(permission_set_arn=arn, principal_id=alice, account_id=org.accounts["prod"])
    sso.put_inline_policy_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, InlinePolicy=POLICY
    )

    aws.assign(permission_set_arn=arn, principal_id=bob, account_id=org.accounts["prod"])

    assert accounts_with(sso, org, arn, STALE) == [org.accounts["prod"]]
