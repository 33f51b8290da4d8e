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

Each error also carries ``advice``: what to check, naming the variable or setting, for the
classes a person must act on (``advice``): missing credentials (``AWS_PROFILE``,
``AWS_ACCESS_KEY_ID``), rejected or expired credentials, an endpoint that cannot be reached
(``AWS_ENDPOINT_URL`` when it is set, and ``reconciler sandbox serve`` when it points at
loopback), no Region (``AWS_REGION``), access denied (the operation's IAM action, such as
``sso:ListInstances``) and throttling that outlasted botocore's retries.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

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

MISSING_CREDENTIAL_CODES = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}
)
"""Codes meaning no usable credentials were found on this machine (botocore's chain)."""

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
"""Codes meaning AWS throttled the call (AWS common errors; Organizations' own code)."""

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnauthorizedOperation",
        "AccessDeniedForDependencyException",
    }
)
"""Codes meaning the caller's identity may not make the call (an IAM policy)."""

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
"""The variable botocore reads for one endpoint of every service (the sandbox's)."""

CONFLICT = "ConflictException"
UNIQUENESS_VIOLATION = "UNIQUENESS_CONSTRAINT_VIOLATION"
"""identitystore ConflictException ``Reason`` for a taken user name, group name or membership."""
NOT_FOUND = "ResourceNotFoundException"


def translate(
    exc: Exception,
    *,
    operation: str,
    service: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> AwsError:
    """The ``AwsError`` for a botocore error raised by ``operation`` (``ListUsers``).

    ``ClientError`` keeps AWS's code and message; other botocore errors use their class name as
    code. Anything else is returned as a ``PermanentAwsError`` with the exception's class name.
    ``service`` is the IAM prefix of the operation's service (``sso``, ``identitystore``,
    ``organizations``), to name the IAM action an access-denied error lacks; ``environ``
    (default ``os.environ``) tells whether ``AWS_ENDPOINT_URL`` is set. The error's ``advice``
    is ``advice`` of it.
    """
    error = _translated(exc, operation=operation)
    hint = advice(error, service=service, endpoint_url=_endpoint_of(exc), environ=environ)
    if not hint:
        return error
    return type(error)(operation=error.operation, code=error.code, reason=error.reason, advice=hint)


def _translated(exc: Exception, *, operation: str) -> AwsError:
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


def _endpoint_of(exc: Exception) -> str | None:
    """The endpoint URL a connection error names (botocore keeps it in ``kwargs``)."""
    kwargs = getattr(exc, "kwargs", None)
    url = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
    return str(url) if url else None


def is_loopback(url: str | None) -> bool:
    """Whether ``url``'s host is this machine (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    host = urlsplit(url or "").hostname
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_ACTION_IN_MESSAGE = re.compile(r"perform:? ([a-z0-9-]+:[A-Za-z0-9]+)")
"""The IAM action AWS names in an access-denied message (``... is not authorized to perform:
sso:ListInstances on resource ...``)."""


def advice(
    error: AwsError,
    *,
    service: str | None = None,
    endpoint_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """What to check after ``error``, naming the variable or setting; "" when there is nothing
    more to say than AWS's message.

    ``endpoint_url`` is the URL a connection error names; ``environ`` (default ``os.environ``)
    says whether ``AWS_ENDPOINT_URL`` is set. Sources: botocore's credential chain and
    configuration variables (boto3 user guide, "Credentials" and "Configuration"), IAM's
    actions for IAM Identity Center (``sso:``), the identity store (``identitystore:``) and
    Organizations (``organizations:``).
    """
    env = os.environ if environ is None else environ
    code = error.code
    if code in MISSING_CREDENTIAL_CODES:
        return (
            "no usable AWS credentials were found: set AWS_PROFILE to a profile with credentials "
            "(for an IAM Identity Center profile run `aws sso login` first), or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
            "credentials); `aws configure list` shows what the credential chain finds"
        )
    if code in CREDENTIAL_CODES:
        return (
            "AWS refused the credentials (unknown, invalid or expired): renew them (`aws sso "
            "login` for an IAM Identity Center profile) or check AWS_PROFILE, AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; `aws sts get-caller-identity` tests "
            "them"
        )
    if code in UNREACHABLE_CODES:
        return _unreachable_advice(endpoint_url, env)
    if code == "NoRegionError":
        return (
            "no AWS Region is configured: set AWS_REGION to the Region of the Identity Center "
            "instance"
        )
    if code in ACCESS_DENIED_CODES:
        found = _ACTION_IN_MESSAGE.search(error.reason)
        action = found.group(1) if found else f"{service}:{error.operation}" if service else None
        what = f"the IAM action {action}" if action else f"the IAM action of {error.operation}"
        return (
            f"the AWS identity in use may not call {error.operation}: allow {what} in the "
            "policy of its role or user (AWS_PROFILE or AWS_ACCESS_KEY_ID selects the identity; "
            "`aws sts get-caller-identity` shows which it is)"
        )
    if code in THROTTLING_CODES:
        return (
            f"AWS still throttled {error.operation} after every retry: other callers share its "
            "request rate (sso-admin: about 20 requests per second per instance and Region; "
            "identitystore: about 20 per API; Organizations: a few); run again later, or when "
            "the other callers are done"
        )
    return ""


def _unreachable_advice(endpoint_url: str | None, env: Mapping[str, str]) -> str:
    shown = endpoint_url or "the AWS endpoint"
    named = [
        name
        for name, value in sorted(env.items())
        if name == ENDPOINT_VARIABLE or name.startswith(f"{ENDPOINT_VARIABLE}_")
        if value
    ]
    if not named:
        return (
            f"nothing answers at {shown}: check the network (and HTTPS_PROXY, if a proxy is "
            "needed) and that AWS_REGION is the Region of the Identity Center instance"
        )
    variables = " and ".join(f"{name}={env[name]}" for name in named)
    if is_loopback(endpoint_url) or any(is_loopback(env[name]) for name in named):
        port = urlsplit(endpoint_url or env[named[0]]).port
        serve = "reconciler sandbox serve" + (f" --port {port}" if port else "")
        return (
            f"nothing answers at {shown}, where {variables} points: start the sandbox there "
            f"(`{serve}`), or unset {named[0]} to reach AWS itself"
        )
    return (
        f"nothing answers at {shown}, where {variables} points: check that address, or unset "
        f"{named[0]} to reach AWS itself"
    )


def stops_the_pass(error: AwsError) -> bool:
    """True when no further call of the pass can succeed: bad credentials, unreachable endpoint."""
    return error.code in CREDENTIAL_CODES or error.code in UNREACHABLE_CODES


@contextmanager
def translating(operation: str, *, service: str | None = None) -> Iterator[None]:
    """Translate botocore errors raised inside the block (see ``translate``)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, operation=operation, service=service) from exc


def _service_of(client: Any) -> str | None:
    """The IAM prefix of a client's service: its signing name (``sso`` for sso-admin)."""
    try:
        return str(client.meta.service_model.signing_name)
    except AttributeError:
        return None


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
    service = _service_of(getattr(method, "__self__", None))
    with translating(_operation_name(method), service=service):
        return method(*args, **kwargs)


def pages(client: Any, method: str, /, **kwargs: Any) -> Iterator[Mapping[str, Any]]:
    """Every page of a paginated call (``pages(client, "list_users", IdentityStoreId=...)``).

    botocore's paginators follow ``NextToken`` to the last page, empty pages included (AWS's
    ListAccounts may return an empty page with a token). Each page is asked for at the largest
    size the API model allows (``largest_page``), unless the caller gives ``MaxResults`` or
    ``PaginationConfig``: AWS documents no default page size for most of these calls. Raises
    like ``call``.
    """
    operation = client.meta.method_to_api_mapping.get(method, method)
    asked = "PaginationConfig" in kwargs or "MaxResults" in kwargs
    if not asked and (size := largest_page(client, operation)):
        kwargs["PaginationConfig"] = {"PageSize": size}
    with translating(operation, service=_service_of(client)):
        yield from client.get_paginator(method).paginate(**kwargs)


def largest_page(client: Any, operation: str) -> int | None:
    """The largest ``MaxResults`` the API model of ``client``'s service allows for
    ``operation`` (``ListUsers``; botocore's shape metadata ``max``), or None when the call
    takes no ``MaxResults`` or the model sets no maximum."""
    input_shape = client.meta.service_model.operation_model(operation).input_shape
    member = input_shape.members.get("MaxResults") if input_shape is not None else None
    maximum = member.metadata.get("max") if member is not None else None
    return int(maximum) if maximum is not None else None
