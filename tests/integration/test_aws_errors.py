"""Translation of botocore's errors into the reconciler's error tree, once, at the boundary."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from reconciler.adapters.aws.clients import make_clients
from reconciler.adapters.aws.errors import call, pages, stops_the_pass, translate
from reconciler.errors import PermanentAwsError, TemporaryAwsError
from reconciler.sandbox import Sandbox, SeededOrganization


def client_error(code: str, *, status: int = 400, message: str = "words") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "CreateAccountAssignment")


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalServerException",
        "ConflictException",
        "ServiceUnavailable",
    ],
)
def test_retryable_codes_become_temporary_errors(code: str) -> None:
    error = translate(client_error(code), operation="ignored")

    assert isinstance(error, TemporaryAwsError)
    assert (error.operation, error.code, error.reason) == ("CreateAccountAssignment", code, "words")


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "ValidationException",
        "ResourceNotFoundException",
        "ServiceQuotaExceededException",
    ],
)
def test_other_codes_become_permanent_errors(code: str) -> None:
    assert isinstance(translate(client_error(code), operation="x"), PermanentAwsError)


def test_any_5xx_is_temporary() -> None:
    error = translate(client_error("SomethingNew", status=502), operation="x")

    assert isinstance(error, TemporaryAwsError)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_connection_errors_are_temporary_and_named_by_class(exc: Exception) -> None:
    error = translate(exc, operation="ListUsers")

    assert isinstance(error, TemporaryAwsError)
    assert (error.operation, error.code) == ("ListUsers", type(exc).__name__)


def test_missing_credentials_are_permanent_and_stop_the_pass() -> None:
    error = translate(NoCredentialsError(), operation="ListInstances")

    assert isinstance(error, PermanentAwsError)
    assert stops_the_pass(error)


@pytest.mark.parametrize(
    ("code", "stops"),
    [
        ("UnrecognizedClientException", True),
        ("ExpiredTokenException", True),
        ("AccessDeniedException", False),
        ("ThrottlingException", False),
    ],
)
def test_only_credential_and_reachability_errors_stop_the_pass(code: str, stops: bool) -> None:
    assert stops_the_pass(translate(client_error(code), operation="x")) is stops


def test_call_translates_and_chains_the_botocore_error(
    aws_environment: dict[str, str], organization: SeededOrganization
) -> None:
    clients = make_clients()
    missing = (
        organization.instance_arn.replace("instance", "permissionSet") + "/ps-0000000000000000"
    )

    with pytest.raises(PermanentAwsError) as raised:
        call(
            clients.sso_admin.describe_permission_set,
            InstanceArn=organization.instance_arn,
            PermissionSetArn=missing,
        )

    assert raised.value.operation == "DescribePermissionSet"
    assert raised.value.code == "ResourceNotFoundException"
    assert isinstance(raised.value.__cause__, ClientError)


def test_pages_translate_errors_of_any_page(aws_environment: dict[str, str]) -> None:
    clients = make_clients()

    with pytest.raises(PermanentAwsError) as raised:
        list(pages(clients.identitystore, "list_users", IdentityStoreId="d-0000000000"))

    assert raised.value.operation == "ListUsers"
    assert raised.value.code == "ResourceNotFoundException"


def test_a_taken_identity_store_name_is_a_permanent_conflict() -> None:
    response: Any = {
        "Error": {"Code": "ConflictException", "Message": "Duplicate UserName"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
        "Reason": "UNIQUENESS_CONSTRAINT_VIOLATION",
    }

    error = translate(ClientError(response, "CreateUser"), operation="x")

    assert isinstance(error, PermanentAwsError)
    assert error.code == "ConflictException"


# -- what to check: one message per class of error, naming the variable or setting ----------


def test_missing_credentials_name_the_variables_to_set() -> None:
    error = translate(NoCredentialsError(), operation="ListInstances", environ={})

    assert "AWS_PROFILE" in error.advice
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in error.advice
    assert str(error).endswith(error.advice)


def test_no_region_names_aws_region() -> None:
    error = translate(NoRegionError(), operation="ListInstances", environ={})

    assert "set AWS_REGION to the Region of the Identity Center instance" in error.advice


def test_expired_credentials_say_to_renew_them() -> None:
    error = translate(client_error("ExpiredTokenException"), operation="x", environ={})

    assert "expired" in error.advice
    assert "aws sso login" in error.advice


def test_an_unreachable_loopback_endpoint_names_the_variable_and_the_sandbox() -> None:
    url = "http://127.0.0.1:5999"
    exc = EndpointConnectionError(endpoint_url=f"{url}/")

    error = translate(exc, operation="ListInstances", environ={"AWS_ENDPOINT_URL": url})

    assert f"AWS_ENDPOINT_URL={url}" in error.advice
    assert "`reconciler sandbox serve --port 5999`" in error.advice
    assert "unset AWS_ENDPOINT_URL" in error.advice


def test_an_unreachable_aws_endpoint_without_the_variable_names_the_network_and_region() -> None:
    exc = EndpointConnectionError(endpoint_url="https://sso.eu-west-9.amazonaws.com/")

    error = translate(exc, operation="ListInstances", environ={})

    assert "https://sso.eu-west-9.amazonaws.com/" in error.advice
    assert "AWS_REGION" in error.advice
    assert "sandbox" not in error.advice


def test_access_denied_names_the_operation_and_its_iam_action() -> None:
    exc = client_error("AccessDeniedException", message="User is not authorized")

    error = translate(exc, operation="x", service="sso")

    assert "may not call CreateAccountAssignment" in error.advice
    assert "the IAM action sso:CreateAccountAssignment" in error.advice


def test_access_denied_prefers_the_iam_action_aws_names() -> None:
    message = (
        "User: arn:aws:iam::111111111111:user/ci is not authorized to perform: "
        "sso:ListInstances on resource: *"
    )
    exc = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": message}}, "ListInstances"
    )

    assert "the IAM action sso:ListInstances" in translate(exc, operation="x").advice


def test_throttling_after_every_retry_says_to_run_again_later() -> None:
    error = translate(client_error("ThrottlingException"), operation="x")

    assert isinstance(error, TemporaryAwsError)
    assert "throttled CreateAccountAssignment after every retry" in error.advice
    assert "run again later" in error.advice


def test_a_validation_error_keeps_aws_message_alone() -> None:
    error = translate(client_error("ValidationException", message="bad"), operation="x")

    assert error.advice == ""
    assert str(error) == "CreateAccountAssignment: ValidationException: bad"


def test_call_names_the_iam_action_of_the_client_service(
    aws_environment: dict[str, str], sandbox: Sandbox
) -> None:
    clients = make_clients()
    denied: Any = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}

    def refuse(**_: Any) -> None:
        raise ClientError(denied, "ListUsers")

    clients.identitystore.meta.events.register_first("before-send.identitystore", refuse)

    with pytest.raises(PermanentAwsError) as raised:
        call(clients.identitystore.list_users, IdentityStoreId="d-0000000000")

    assert "the IAM action identitystore:ListUsers" in raised.value.advice
