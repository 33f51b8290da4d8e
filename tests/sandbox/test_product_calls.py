"""The sandbox tells the reconciler's own calls from other clients' by the role its clients
name in the User-Agent, and keeps them for the session's IAM policy check."""

from __future__ import annotations

import boto3

from reconciler.adapters.aws.clients import make_clients, user_agent
from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.server import product_operations_seen


def test_a_call_of_the_products_clients_is_recorded_with_the_role_they_name(
    sandbox: Sandbox, aws_environment: dict[str, str]
) -> None:
    make_clients(role="plan").sso_admin.list_instances()

    (call,) = [c for c in sandbox.calls if c.operation == "ListInstances"]
    assert call.role == "plan"
    assert ("plan", "sso-admin", "ListInstances") in product_operations_seen()


def test_a_call_of_another_client_carries_no_role(
    sandbox: Sandbox, organization: SeededOrganization, aws_environment: dict[str, str]
) -> None:
    boto3.client("identitystore").list_users(IdentityStoreId=organization.identity_store_id)

    (call,) = [c for c in sandbox.calls if c.operation == "ListUsers"]
    assert call.role is None


def test_the_products_calls_are_kept_when_the_recorder_is_reset(
    sandbox: Sandbox, aws_environment: dict[str, str]
) -> None:
    make_clients(role="apply").organizations.list_accounts()
    sandbox.recorder.reset()

    assert ("apply", "organizations", "ListAccounts") in product_operations_seen()


def test_the_user_agent_names_the_product_its_version_and_the_role() -> None:
    assert user_agent("lease").startswith("identity-center-reconciler/")
    assert user_agent("lease").endswith(" role/lease")
