"""Fixtures for the sandbox's own tests: one fresh sandbox per test, real boto3 clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from reconciler.sandbox import Sandbox, SandboxSettings, SeededOrganization
from reconciler.sandbox.faults import FaultConfig

#: No retries: a test sees every error the sandbox returns, throttling included.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})

FAST = SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05)

ClientFactory = Callable[[str], Any]


@pytest.fixture
def sandbox_settings() -> SandboxSettings:
    """Short delays; override in a module for other settings."""
    return FAST


@pytest.fixture
def sandbox_shape_check() -> bool:
    """Check every response against botocore's output shape (parametrize to turn it off)."""
    return True


@pytest.fixture
def sandbox(sandbox_settings: SandboxSettings, sandbox_shape_check: bool) -> Iterator[Sandbox]:
    """A running sandbox with no rate limit, checking every response against botocore's shape."""
    with Sandbox(
        sandbox_settings, faults=FaultConfig.parse("none"), shape_check=sandbox_shape_check
    ) as running:
        yield running
        assert running.fault_layer.shape_violations == []


@pytest.fixture
def org(sandbox: Sandbox) -> SeededOrganization:
    """The example organization: management, prod, staging; one instance."""
    return sandbox.seed_example_organization()


@pytest.fixture
def client(sandbox: Sandbox) -> ClientFactory:
    """``client("sso-admin")``: a boto3 client of the sandbox, without retries."""

    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.endpoint_url,
            region_name=sandbox.settings.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=NO_RETRY,
        )

    return make


@pytest.fixture
def sso(client: ClientFactory) -> Any:
    """sso-admin client."""
    return client("sso-admin")


@pytest.fixture
def ids(client: ClientFactory) -> Any:
    """identitystore client."""
    return client("identitystore")


class Driver:
    """Shortcuts over real boto3 clients of one sandbox, for the tests' arrangements."""

    def __init__(self, *, sso: Any, ids: Any, org: SeededOrganization) -> None:
        self.sso = sso
        self.ids = ids
        self.org = org

    def create_user(self, user_name: str) -> str:
        """Create a user with the required attributes; returns its id."""
        response = self.ids.create_user(
            IdentityStoreId=self.org.identity_store_id,
            UserName=user_name,
            DisplayName=f"{user_name} Example",
            Name={"GivenName": user_name, "FamilyName": "Example"},
            Emails=[{"Value": f"{user_name}@example.com", "Type": "work", "Primary": True}],
        )
        return str(response["UserId"])

    def create_group(self, name: str) -> str:
        """Create a group; returns its id."""
        return str(
            self.ids.create_group(IdentityStoreId=self.org.identity_store_id, DisplayName=name)[
                "GroupId"
            ]
        )

    def create_permission_set(self, name: str, **extra: Any) -> str:
        """Create a permission set; returns its ARN."""
        response = self.sso.create_permission_set(
            InstanceArn=self.org.instance_arn, Name=name, **extra
        )
        return str(response["PermissionSet"]["PermissionSetArn"])

    @staticmethod
    def wait_for(describe: Callable[[], dict[str, Any]], *, timeout: float = 5.0) -> dict[str, Any]:
        """Poll ``describe`` until its Status leaves IN_PROGRESS; returns the final status."""
        deadline = time.monotonic() + timeout
        while True:
            status = describe()
            if status["Status"] != "IN_PROGRESS":
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"still IN_PROGRESS after {timeout}s: {status}")
            time.sleep(0.02)

    def assign(
        self,
        *,
        permission_set_arn: str,
        principal_id: str,
        account_id: str,
        principal_type: str = "USER",
        delete: bool = False,
    ) -> dict[str, Any]:
        """Create (or delete) an account assignment and wait for its final status."""
        call = self.sso.delete_account_assignment if delete else self.sso.create_account_assignment
        key = "AccountAssignmentDeletionStatus" if delete else "AccountAssignmentCreationStatus"
        started = call(
            InstanceArn=self.org.instance_arn,
            TargetId=account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set_arn,
            PrincipalType=principal_type,
            PrincipalId=principal_id,
        )[key]
        request_id = started["RequestId"]
        if delete:
            return self.wait_for(
                lambda: self.sso.describe_account_assignment_deletion_status(
                    InstanceArn=self.org.instance_arn, AccountAssignmentDeletionRequestId=request_id
                )[key]
            )
        return self.wait_for(
            lambda: self.sso.describe_account_assignment_creation_status(
                InstanceArn=self.org.instance_arn, AccountAssignmentCreationRequestId=request_id
            )[key]
        )

    def provision(self, *, permission_set_arn: str, account_id: str | None) -> dict[str, Any]:
        """ProvisionPermissionSet to one account (or ALL_PROVISIONED_ACCOUNTS) and wait."""
        target: dict[str, str] = (
            {"TargetType": "AWS_ACCOUNT", "TargetId": account_id}
            if account_id
            else {"TargetType": "ALL_PROVISIONED_ACCOUNTS"}
        )
        started = self.sso.provision_permission_set(
            InstanceArn=self.org.instance_arn, PermissionSetArn=permission_set_arn, **target
        )["PermissionSetProvisioningStatus"]
        return self.wait_for(
            lambda: self.sso.describe_permission_set_provisioning_status(
                InstanceArn=self.org.instance_arn,
                ProvisionPermissionSetRequestId=started["RequestId"],
            )["PermissionSetProvisioningStatus"]
        )


@pytest.fixture
def aws(sso: Any, ids: Any, org: SeededOrganization) -> Driver:
    """A ``Driver`` over the seeded organization."""
    return Driver(sso=sso, ids=ids, org=org)
