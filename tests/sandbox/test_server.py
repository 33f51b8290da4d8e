"""The sandbox as a server: endpoint, environment, moto passthrough, one per process, fault
layer and call recording end to end, ``serve``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from reconciler.sandbox import Sandbox, SandboxNotRunningError, SeededOrganization
from reconciler.sandbox.faults import FaultConfig


def test_endpoint_is_a_free_loopback_port(sandbox: Sandbox) -> None:
    """``start(port=0)`` binds 127.0.0.1 on a free port and returns its URL."""
    assert sandbox.endpoint_url.startswith("http://127.0.0.1:")
    assert int(sandbox.endpoint_url.rsplit(":", 1)[1]) > 0


def test_client_environment_points_boto3_at_the_sandbox(
    sandbox: Sandbox, org: SeededOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only the variables of ``client_environment`` boto3 reaches the sandbox
    (AWS_ENDPOINT_URL is honoured by botocore ≥ 1.31)."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in sandbox.client_environment().items():
        monkeypatch.setenv(key, value)

    instances = boto3.session.Session().client("sso-admin").list_instances()["Instances"]

    assert [i["InstanceArn"] for i in instances] == [org.instance_arn]


@pytest.mark.parametrize("sandbox_shape_check", [False])
def test_process_environment_points_boto3_at_the_sandbox_then_restores_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    with sandbox.process_environment() as environment:
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
        assert boto3.client("sso-admin").list_instances()["Instances"] == []
        assert environment == sandbox.client_environment()

    assert os.environ["AWS_PROFILE"] == "someone-elses"
    assert os.environ["AWS_REGION"] == "eu-west-3"
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_dynamodb_goes_to_moto(client: Any, sandbox_shape_check: bool) -> None:
    """Services the sandbox does not simulate itself are plain moto (DynamoDB here; moto's
    CreateTable answer has NumberOfDecreasesToday 0, below the model's minimum of 1, so the
    shape check is off)."""
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName="locks",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    assert dynamodb.list_tables()["TableNames"] == ["locks"]


def test_sso_admin_operations_not_simulated_are_refused_not_sent_to_moto(
    sso: Any, org: SeededOrganization
) -> None:
    """An sso-admin operation the sandbox does not simulate fails clearly instead of reaching
    moto's separate (and inconsistent) sso-admin state."""
    with pytest.raises(ClientError) as excinfo:
        sso.list_applications(InstanceArn=org.instance_arn)

    assert excinfo.value.response["Error"]["Code"] == "UnknownOperationException"


def test_a_second_sandbox_in_the_same_process_is_refused(sandbox: Sandbox) -> None:
    """moto's state is process-wide, so a second running sandbox would share it."""
    with pytest.raises(RuntimeError, match="another Sandbox"):
        Sandbox().start()


def test_seeding_before_start_is_refused() -> None:
    """The seeding helpers need a running sandbox."""
    with pytest.raises(SandboxNotRunningError):
        Sandbox().seed_example_organization()


def test_read_only_calls_record_no_write_call(
    sandbox: Sandbox, sso: Any, org: SeededOrganization
) -> None:
    """Every call is recorded with service, operation and HTTP status; reads are no writes."""
    sso.list_permission_sets(InstanceArn=org.instance_arn)
    sso.list_instances()

    recorded = [(c.service, c.operation, c.status) for c in sandbox.calls]
    assert recorded == [
        ("sso-admin", "ListPermissionSets", 200),
        ("sso-admin", "ListInstances", 200),
    ]
    assert sandbox.recorder.write_calls() == []


def test_an_injected_lost_response_closes_the_connection_after_the_write(
    sandbox: Sandbox, client: Any, org: SeededOrganization
) -> None:
    """``lost=1`` through the sandbox's own server (waitress): the user is created, and the
    client's connection is closed without a status line (not answered HTTP 500)."""
    ids = client("identitystore")
    sandbox.configure_faults(FaultConfig.parse("none,lost=1,seed=1"))

    with pytest.raises(ConnectionClosedError):
        ids.create_user(
            IdentityStoreId=org.identity_store_id,
            UserName="alice",
            DisplayName="Alice",
            Name={"GivenName": "Alice", "FamilyName": "Example"},
        )
    sandbox.configure_faults(FaultConfig.parse("none"))

    users = ids.list_users(IdentityStoreId=org.identity_store_id)["Users"]
    assert [user["UserName"] for user in users] == ["alice"]
    assert [(c.operation, c.fault) for c in sandbox.calls][-2:] == [
        ("CreateUser", "lost_response"),
        ("ListUsers", None),
    ]


def test_injected_throttling_reaches_the_client_and_changes_nothing(
    sandbox: Sandbox, sso: Any, org: SeededOrganization
) -> None:
    """With ``throttle=1`` every call is answered ThrottlingException by the fault layer before
    it reaches the simulator."""
    sandbox.configure_faults(FaultConfig.parse("none,throttle=1,seed=3"))

    with pytest.raises(ClientError) as excinfo:
        sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")
    sandbox.configure_faults(FaultConfig.parse("none"))

    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"
    assert sso.list_permission_sets(InstanceArn=org.instance_arn)["PermissionSets"] == []


def test_default_rate_limit_throttles_a_burst() -> None:
    """The default fault config applies AWS's ~20 requests/s to sso-admin: a burst of 40
    calls without retries meets ThrottlingException."""
    with Sandbox() as sandbox:
        sandbox.seed_example_organization()
        sso = boto3.client(
            "sso-admin",
            endpoint_url=sandbox.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=boto3.session.Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        codes = set()
        for _ in range(40):
            try:
                sso.list_instances()
                codes.add("OK")
            except ClientError as error:
                codes.add(error.response["Error"]["Code"])

    assert codes == {"OK", "ThrottlingException"}


def test_complete_operations_fast_forwards_in_progress_work(
    sso: Any, org: SeededOrganization, aws: Any, sandbox: Sandbox
) -> None:
    """``complete_operations`` ends every IN_PROGRESS operation at once (for tests)."""
    arn = aws.create_permission_set("A")
    started = sso.provision_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        TargetType="AWS_ACCOUNT",
        TargetId=org.accounts["prod"],
    )["PermissionSetProvisioningStatus"]

    sandbox.complete_operations()

    status = sso.describe_permission_set_provisioning_status(
        InstanceArn=org.instance_arn, ProvisionPermissionSetRequestId=started["RequestId"]
    )["PermissionSetProvisioningStatus"]
    assert status["Status"] == "SUCCEEDED"


def test_serve_prints_the_environment_and_stops_on_sigterm() -> None:
    """``serve`` prints ``export AWS_ENDPOINT_URL=...`` and exits cleanly on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from reconciler.sandbox import serve; serve()"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("# Ctrl-C") or not line:
                break
        endpoint = next(
            line.split("=", 1)[1].strip() for line in lines if "AWS_ENDPOINT_URL" in line
        )
        instances = boto3.client(
            "sso-admin",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).list_instances()["Instances"]
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()

    assert endpoint.startswith("http://127.0.0.1:")
    assert len(instances) == 1
    assert code == 0
