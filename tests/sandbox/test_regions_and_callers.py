"""The sandbox's instance lives in one Region, and its caller can be a delegated administrator.

Sources: IAM Identity Center user guide, "IAM Identity Center Region availability" (an
instance is enabled in one Region; sso-admin and identitystore are Regional endpoints) and
"Delegated administration" (one member account administers the organization's instance);
STS API reference, GetCallerIdentity (``Account``: the caller's account).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from tests.sandbox.conftest import FAST, NO_RETRY


def client_in(sandbox: Sandbox, service: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=sandbox.endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRY,
    )


def test_list_instances_in_another_region_lists_none(
    sandbox: Sandbox, org: SeededOrganization
) -> None:
    home = client_in(sandbox, "sso-admin", sandbox.settings.region)
    elsewhere = client_in(sandbox, "sso-admin", "eu-west-1")

    assert [i["InstanceArn"] for i in home.list_instances()["Instances"]] == [org.instance_arn]
    assert elsewhere.list_instances()["Instances"] == []


def test_the_instance_is_not_found_from_another_region(
    sandbox: Sandbox, org: SeededOrganization
) -> None:
    elsewhere = client_in(sandbox, "sso-admin", "eu-west-1")

    with pytest.raises(ClientError) as raised:
        elsewhere.list_permission_sets(InstanceArn=org.instance_arn)

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_identity_store_does_not_exist_in_another_region(
    sandbox: Sandbox, org: SeededOrganization
) -> None:
    elsewhere = client_in(sandbox, "identitystore", "eu-west-1")

    with pytest.raises(ClientError) as raised:
        elsewhere.list_users(IdentityStoreId=org.identity_store_id)

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert org.identity_store_id in raised.value.response["Error"]["Message"]


def test_organizations_answers_in_every_region(sandbox: Sandbox, org: SeededOrganization) -> None:
    elsewhere = client_in(sandbox, "organizations", "eu-west-1")

    listed = {a["Id"] for a in elsewhere.list_accounts()["Accounts"]}

    assert listed == set(org.accounts.values())


def test_the_caller_is_the_management_account_by_default(
    sandbox: Sandbox, org: SeededOrganization
) -> None:
    sts = client_in(sandbox, "sts", sandbox.settings.region)

    assert sts.get_caller_identity()["Account"] == org.management_account_id


@pytest.mark.parametrize(
    "sandbox_settings",
    [SandboxSettings(**{**FAST.model_dump(), "delegated_administrator": True})],
)
def test_a_delegated_administrator_sandbox_calls_from_its_member_account(
    sandbox: Sandbox, org: SeededOrganization
) -> None:
    sts = client_in(sandbox, "sts", sandbox.settings.region)

    identity = sts.get_caller_identity()

    assert identity["Account"] == org.accounts["identity"]
    assert identity["Account"] != org.management_account_id
    assert sandbox.delegated_administrator_id == org.accounts["identity"]


def test_the_management_account_cannot_be_registered_as_delegated_administrator(
    sandbox: Sandbox, org: SeededOrganization
) -> None:
    with pytest.raises(ValueError, match="management account"):
        sandbox.register_delegated_administrator(org.management_account_id)
