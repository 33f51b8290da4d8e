"""A loopback simulator of AWS IAM Identity Center (sso-admin), the identity store,
Organizations, IAM customer-managed policies and DynamoDB, for tests, demos and benchmarks.

Usage::

    from reconciler.sandbox import Sandbox, SandboxSettings

    with Sandbox(SandboxSettings(assignment_delay_seconds=0.1)) as sandbox:
        org = sandbox.seed_example_organization()
        client = boto3.client("sso-admin", endpoint_url=sandbox.endpoint_url,
                              region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        client.list_instances()

Only ``127.0.0.1`` is ever bound by default. See ``server`` for the layers.
"""

from reconciler.sandbox.server import (
    Sandbox,
    SandboxNotRunningError,
    SeededOrganization,
    serve,
)
from reconciler.sandbox.settings import SandboxSettings

__all__ = [
    "Sandbox",
    "SandboxNotRunningError",
    "SandboxSettings",
    "SeededOrganization",
    "serve",
]
