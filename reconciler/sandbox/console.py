"""Hand changes, made the way a person in the AWS console would: through the public APIs.

The demo and the tests use these to create drift. They talk to whatever ``AWS_ENDPOINT_URL``
in ``environment`` points at (the sandbox), with plain boto3, and know nothing of the
reconciler.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any

import boto3

_session_lock = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _client(service: str, environment: Mapping[str, str]) -> Any:
    """A ``service`` client for ``environment``'s endpoint, region and keys, built from one
    session per process (a session parses botocore's models once; building clients from it is
    not thread-safe, hence the lock)."""
    with _session_lock:
        return _session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=environment["AWS_ENDPOINT_URL"],
            region_name=environment["AWS_REGION"],
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        )


class ConsoleActions:
    """boto3 calls to the endpoint in ``environment`` (a sandbox's ``client_environment()``)."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.sso_admin: Any = _client("sso-admin", environment)
        self.identitystore: Any = _client("identitystore", environment)
        instance = self.sso_admin.list_instances()["Instances"][0]
        self.instance_arn: str = instance["InstanceArn"]
        self.identity_store_id: str = instance["IdentityStoreId"]

    def permission_set_arn(self, name: str) -> str:
        """The ARN of the permission set called ``name`` (raises ``LookupError`` when absent)."""
        paginator = self.sso_admin.get_paginator("list_permission_sets")
        for page in paginator.paginate(InstanceArn=self.instance_arn):
            for arn in page["PermissionSets"]:
                described = self.sso_admin.describe_permission_set(
                    InstanceArn=self.instance_arn, PermissionSetArn=arn
                )
                if described["PermissionSet"]["Name"] == name:
                    return str(arn)
        raise LookupError(f"no permission set named {name!r}")

    def attach_managed_policy(self, *, permission_set: str, policy_arn: str) -> None:
        """Attach an AWS managed policy to a permission set, without provisioning it."""
        self.sso_admin.attach_managed_policy_to_permission_set(
            InstanceArn=self.instance_arn,
            PermissionSetArn=self.permission_set_arn(permission_set),
            ManagedPolicyArn=policy_arn,
        )

    def remove_user_from_group(self, *, group: str, user_name: str) -> None:
        """Delete the membership of ``user_name`` in the group whose display name is ``group``."""
        group_id = self.identitystore.get_group_id(
            IdentityStoreId=self.identity_store_id,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": group}
            },
        )["GroupId"]
        user_id = self.identitystore.get_user_id(
            IdentityStoreId=self.identity_store_id,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": user_name}
            },
        )["UserId"]
        membership_id = self.identitystore.get_group_membership_id(
            IdentityStoreId=self.identity_store_id, GroupId=group_id, MemberId={"UserId": user_id}
        )["MembershipId"]
        self.identitystore.delete_group_membership(
            IdentityStoreId=self.identity_store_id, MembershipId=membership_id
        )

    def set_access_control_attributes(self, attributes: Mapping[str, str]) -> None:
        """Enable attributes for access control with ``attributes`` (key → source), or replace
        the attributes of the configuration that exists (the console's "Attributes for access
        control" page)."""
        configuration = {
            "AccessControlAttributes": [
                {"Key": key, "Value": {"Source": [source]}} for key, source in attributes.items()
            ]
        }
        try:
            self.sso_admin.describe_instance_access_control_attribute_configuration(
                InstanceArn=self.instance_arn
            )
        except self.sso_admin.exceptions.ResourceNotFoundException:
            self.sso_admin.create_instance_access_control_attribute_configuration(
                InstanceArn=self.instance_arn,
                InstanceAccessControlAttributeConfiguration=configuration,
            )
            return
        self.sso_admin.update_instance_access_control_attribute_configuration(
            InstanceArn=self.instance_arn, InstanceAccessControlAttributeConfiguration=configuration
        )

    def access_control_attributes(self) -> dict[str, str] | None:
        """The instance's attributes for access control (key → source); None without any."""
        try:
            described = self.sso_admin.describe_instance_access_control_attribute_configuration(
                InstanceArn=self.instance_arn
            )
        except self.sso_admin.exceptions.ResourceNotFoundException:
            return None
        listed = described["InstanceAccessControlAttributeConfiguration"]["AccessControlAttributes"]
        return {item["Key"]: item["Value"]["Source"][0] for item in listed}

    def disable_access_control_attributes(self) -> None:
        """Delete the instance's attributes for access control configuration."""
        self.sso_admin.delete_instance_access_control_attribute_configuration(
            InstanceArn=self.instance_arn
        )
