"""Translation of botocore's errors into the reconciler's error tree, once, at the boundary."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from reconciler.adapters.aws.clients import make_clients
from reconciler.adapters.aws.errors import call, pages, stops_the_pass, translate
from reconciler.errors import PermanentAwsError, TemporaryAwsError
from reconciler.sandbox import SeededOrganization


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
