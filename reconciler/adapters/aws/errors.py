"""Translation of botocore's errors into the reconciler's ``AwsError`` tree, once, here.

Every AWS call of the adapter goes through ``call`` or ``pages``, which raise only
``TemporaryAwsError`` or ``PermanentAwsError`` (``raise ... from`` the botocore error)::

    botocore error                                   reconciler error
    ClientError ThrottlingException, Throttling,     TemporaryAwsError  (after botocore's
      TooManyRequestsException, RequestLimitExceeded,                    retries gave up)
      InternalServerException, ServiceException,
      ServiceUnavailable, ConflictException (but not
      identitystore's UNIQUENESS_CONSTRAINT_VIOLATION),
      ConcurrentModificationException, any HTTP 5xx
    ConnectTimeoutError, ReadTimeoutError,           TemporaryAwsError  (code: the class name)
      EndpointConnectionError, ConnectionClosedError
    ClientError AccessDeniedException,               PermanentAwsError
      ValidationException, ResourceNotFoundException,
      ServiceQuotaExceededException, any other code
    NoCredentialsError, ParamValidationError, ...    PermanentAwsError  (code: the class name)

``stops_the_pass`` says which errors leave no point in making further calls in the pass:
missing, invalid or expired credentials, and an endpoint that cannot be reached at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from reconciler.errors import AwsError, PermanentAwsError, TemporaryAwsError

P = ParamSpec("P")
R = TypeVar("R")

TEMPORARY_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServerException",
        "InternalFailure",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ConflictException",
        "ConcurrentModificationException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""AWS error codes a later attempt may get past (service models and AWS's common errors)."""

CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "MissingAuthenticationToken",
        "IncompleteSignature",
        "AuthFailure",
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "NoAuthTokenError",
        "TokenRetrievalError",
        "SSOTokenLoadError",
        "UnauthorizedSSOTokenError",
    }
)
"""Codes meaning the caller's credentials are missing, invalid or expired (AWS common errors)."""

UNREACHABLE_CODES = frozenset({"EndpointConnectionError", "ConnectTimeoutError"})
"""Connection failures that survived botocore's retries: the endpoint cannot be reached."""

CONFLICT = "ConflictException"
UNIQUENESS_VIOLATION = "UNIQUENESS_CONSTRAINT_VIOLATION"
"""identitystore ConflictException ``Reason`` for a taken user name, group name or membership."""
NOT_FOUND = "ResourceNotFoundException"


def translate(exc: Exception, *, operation: str) -> AwsError:
    """The ``AwsError`` for a botocore error raised by ``operation`` (``ListUsers``).

    ``ClientError`` keeps AWS's code and message; other botocore errors use their class name as
    code. Anything else is returned as a ``PermanentAwsError`` with the exception's class name.
    """
    if isinstance(exc, ClientError):
        error: Mapping[str, Any] = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        reason = str(error.get("Message") or exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        name = exc.operation_name or operation
        if code == CONFLICT and exc.response.get("Reason") == UNIQUENESS_VIOLATION:
            # identitystore: the name is taken; waiting will not free it.
            return PermanentAwsError(operation=name, code=code, reason=reason)
        if code in TEMPORARY_CODES or status >= 500:
            return TemporaryAwsError(operation=name, code=code, reason=reason)
        return PermanentAwsError(operation=name, code=code, reason=reason)
    code = type(exc).__name__
    if isinstance(
        exc,
        ConnectTimeoutError
        | ReadTimeoutError
        | EndpointConnectionError
        | ConnectionClosedError
        | HTTPClientError,
    ):
        return TemporaryAwsError(operation=operation, code=code, reason=str(exc))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | BotoCoreError):
        return PermanentAwsError(operation=operation, code=code, reason=str(exc))
    return PermanentAwsError(operation=operation, code=code, reason=str(exc))


def stops_the_pass(error: AwsError) -> bool:
    """True when no further call of the pass can succeed: bad credentials, unreachable endpoint."""
    return error.code in CREDENTIAL_CODES or error.code in UNREACHABLE_CODES


@contextmanager
def translating(operation: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block (see ``translate``)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, operation=operation) from exc


def _operation_name(method: Callable[..., Any]) -> str:
    client = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "call")
    if client is not None:
        mapping: Mapping[str, str] = client.meta.method_to_api_mapping
        return mapping.get(name, name)
    return name


def call(method: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call a boto3 client method, translating botocore errors.

    ``call(clients.sso_admin.describe_permission_set, InstanceArn=..., PermissionSetArn=...)``.
    Raises ``TemporaryAwsError`` or ``PermanentAwsError``.
    """
    with translating(_operation_name(method)):
        return method(*args, **kwargs)


def pages(client: Any, method: str, /, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
    """Every page of a paginated call (``pages(client, "list_users", IdentityStoreId=...)``).

    botocore's paginators follow ``NextToken`` to the last page, empty pages included (AWS's
    ListAccounts may return an empty page with a token). Raises like ``call``.
    """
    operation = client.meta.method_to_api_mapping.get(method, method)
    with translating(operation):
        yield from client.get_paginator(method).paginate(**kwargs)
