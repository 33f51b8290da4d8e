"""Fault injection, rate limits, call recording and output-shape checks in front of the sandbox.

``FaultLayer`` is WSGI middleware wrapped around the sandbox's simulator (moto underneath). For
every AWS call it finds the service and operation, then, in this order:

1. sleeps ``latency_seconds``;
2. draws one random number from a generator seeded with ``seed`` (one draw per call, whatever
   the outcome, so a seed replays the same faults for the same sequence of calls);
3. takes a token from the service's token bucket (sso-admin: one bucket for the whole service;
   identitystore: one per API; Organizations: one, off by default). No token: the call is
   answered ``ThrottlingException`` and never reaches the simulator;
4. maps the draw onto the injected fault rates; a fault decided here (throttling, HTTP 500,
   HTTP 503, connection reset, read timeout) is answered without reaching the simulator, so no
   state changes;
5. otherwise forwards the call, then, if asked, checks the JSON response against botocore's
   output shape, and for a write may lose the response after the simulator processed it
   (``lost_response``: the classic cause of duplicates on retry).

What botocore sees for each fault (JSON-1.1 services; IAM and STS get the query-protocol XML
equivalents):

==================  =============================================================================
fault               on the wire → in botocore
==================  =============================================================================
rate_limit,         HTTP 400 ``{"__type": "ThrottlingException", "message": "Rate exceeded"}``
throttling          (Organizations: ``TooManyRequestsException``, the code its API reference
                    documents) → ``ClientError``; retried by every retry mode
http_500            HTTP 500 ``InternalServerException`` (Organizations ``ServiceException``,
                    DynamoDB ``InternalServerError``) → ``ClientError``; retried
http_503            HTTP 503 ``ServiceUnavailable`` (AWS common errors) → ``ClientError``; retried
connection_reset    the server closes the TCP connection without a status line →
                    ``botocore.exceptions.ConnectionClosedError``; retried
read_timeout        no byte for ``read_timeout_seconds``, then the connection is closed →
                    ``botocore.exceptions.ReadTimeoutError`` if the client's ``read_timeout`` is
                    shorter, else ``ConnectionClosedError``; retried
lost_response       the simulator applies the write, then the connection is closed as for
                    connection_reset; a retry then meets the already-changed state
shape_violation     HTTP 500 ``{"__type": "SandboxShapeViolation", "message": ...}`` naming the
                    JSONPath and rule broken → ``ClientError`` (retried: 500 is transient)
==================  =============================================================================

The connection drop needs the client's socket: the sandbox's server (``serving.py``, waitress)
puts it in ``environ[CONNECTION_SOCKET_KEY]``, werkzeug's development server (the wire tests')
in ``environ["werkzeug.socket"]``. Under another WSGI server the layer raises
``ConnectionResetError`` instead, which that server may turn into an HTTP 500.

Requests that are not AWS calls (``/moto-api/...``) pass through untouched and unrecorded.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import http.client
import io
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from functools import cache
from typing import Any, ClassVar, Literal, NoReturn, cast
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from xml.sax.saxutils import escape

import botocore.loaders
import regex
from botocore.exceptions import UnknownServiceError
from botocore.model import (
    ListShape,
    MapShape,
    OperationNotFoundError,
    ServiceModel,
    Shape,
    StructureShape,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reconciler.adapters.aws.clients import USER_AGENT_ROLE

__all__ = [
    "CONNECTION_SOCKET_KEY",
    "CallRecorder",
    "ErrorRates",
    "FaultConfig",
    "FaultKind",
    "FaultLayer",
    "FaultSpecError",
    "OperationLog",
    "RecordedCall",
    "ShapeViolation",
    "calling_role",
    "check_output_shape",
    "identify_call",
    "is_write_operation",
    "java_pattern",
    "service_model",
]


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


class FaultSpecError(ValueError):
    """A ``--faults`` specification that cannot be parsed.

    ``key`` and ``value`` name the offending item (``None`` when the whole spec is at fault);
    the message lists the accepted keys.
    """

    def __init__(self, message: str, *, key: str | None = None, value: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


class ErrorRates(BaseModel):
    """Fractions (0..1) of AWS calls answered with an injected fault; their sum is at most 1.

    Every rate but ``lost_response`` is decided before the call reaches the simulator.
    ``lost_response`` applies to write operations only (see ``is_write_operation``): the
    simulator processes the call, then the response is dropped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    throttling: float = Field(
        default=0.0, ge=0.0, le=1.0, description="fraction of calls answered ThrottlingException"
    )
    http_500: float = Field(
        default=0.0, ge=0.0, le=1.0, description="fraction of calls answered HTTP 500"
    )
    http_503: float = Field(
        default=0.0, ge=0.0, le=1.0, description="fraction of calls answered HTTP 503"
    )
    connection_reset: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="fraction of calls whose connection is closed without a response",
    )
    read_timeout: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="fraction of calls that hang read_timeout_seconds, then close unanswered",
    )
    lost_response: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="fraction of write calls the simulator processes whose response is dropped",
    )

    @model_validator(mode="after")
    def _total_at_most_one(self) -> ErrorRates:
        total = sum(self._ordered())
        if total > 1.0 + 1e-9:
            raise ValueError(f"error rates add up to {total:g}; their sum must be at most 1")
        return self

    def _ordered(self) -> tuple[float, ...]:
        return (
            self.throttling,
            self.http_500,
            self.http_503,
            self.connection_reset,
            self.read_timeout,
            self.lost_response,
        )


_SPEC_KEYS: dict[str, str] = {
    # --faults key -> dotted FaultConfig field
    "throttle": "error_rates.throttling",
    "http500": "error_rates.http_500",
    "http503": "error_rates.http_503",
    "reset": "error_rates.connection_reset",
    "timeout": "error_rates.read_timeout",
    "lost": "error_rates.lost_response",
    "latency": "latency_seconds",
    "timeout-seconds": "read_timeout_seconds",
    "seed": "seed",
    "sso-admin-rps": "sso_admin_requests_per_second",
    "identitystore-rps": "identitystore_requests_per_second_per_api",
    "organizations-rps": "organizations_requests_per_second",
    "burst": "burst",
}
_OPTIONAL_NUMBER_KEYS = frozenset(
    {"sso-admin-rps", "identitystore-rps", "organizations-rps", "burst", "seed"}
)
_ACCEPTED = ", ".join([*_SPEC_KEYS, "none"])
_RATE_LIMIT_FIELDS = (
    "sso_admin_requests_per_second",
    "identitystore_requests_per_second_per_api",
    "organizations_requests_per_second",
)


class FaultConfig(BaseModel):
    """What the fault layer does to each AWS call. Immutable; swap it with ``FaultLayer.configure``.

    The defaults are AWS's documented request rates and no injected fault. AWS facts: sso-admin
    allows about 20 requests/s shared by all its APIs per instance and Region; identitystore
    about 20 requests/s per API (IAM Identity Center user guide, "Throttling limits").
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    sso_admin_requests_per_second: float | None = Field(
        default=20.0,
        gt=0.0,
        description="requests/s for all sso-admin APIs together; None: unlimited",
    )
    identitystore_requests_per_second_per_api: float | None = Field(
        default=20.0,
        gt=0.0,
        description="requests/s for each identitystore API separately; None: unlimited",
    )
    organizations_requests_per_second: float | None = Field(
        default=None,
        gt=0.0,
        description="requests/s for all Organizations APIs together; None: unlimited",
    )
    burst: float | None = Field(
        default=None,
        ge=1.0,
        description=(
            "capacity of each token bucket, in requests; None: one second's worth of the "
            "bucket's rate (AWS publishes no burst size)"
        ),
    )
    latency_seconds: float = Field(
        default=0.0, ge=0.0, le=10.0, description="seconds added to every AWS call"
    )
    error_rates: ErrorRates = Field(
        default_factory=ErrorRates, description="fractions of calls given each injected fault"
    )
    seed: int | None = Field(
        default=None, description="seed of the fault draws; None: a fresh random sequence"
    )
    read_timeout_seconds: float = Field(
        default=5.0,
        gt=0.0,
        le=60.0,
        description=(
            "seconds a read_timeout fault hangs before closing the connection; clients see "
            "ReadTimeoutError only if their read_timeout is shorter"
        ),
    )

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """Parse the CLI's ``--faults`` syntax: comma-separated ``key=value`` items.

        Keys: ``throttle``, ``http500``, ``http503``, ``reset``, ``timeout``, ``lost``
        (fractions 0..1), ``latency``, ``timeout-seconds`` (seconds), ``seed`` (integer),
        ``sso-admin-rps``, ``identitystore-rps``, ``organizations-rps`` (requests/s, or
        ``off``), ``burst`` (requests, or ``off`` for the default). Unnamed keys keep their
        defaults; ``""`` is the default config. The item ``none`` turns every rate limit off
        (``"none"``: no limit, no fault; ``"none,throttle=0.1"``: only injected throttling).
        Example: ``"throttle=0.05,http500=0.01,reset=0.01,timeout=0.005,latency=0.02,seed=7"``.

        Raises ``FaultSpecError`` (a ``ValueError``) naming the bad key or value.
        """
        text = spec.strip()
        top: dict[str, Any] = {}
        rates: dict[str, Any] = {}
        field_to_key: dict[str, str] = {}
        for raw_item in text.split(",") if text else []:
            item = raw_item.strip()
            if not item:
                continue
            if item.lower() == "none":
                for limit in _RATE_LIMIT_FIELDS:
                    top.setdefault(limit, None)
                continue
            key, sep, value = (part.strip() for part in item.partition("="))
            if not sep or not key:
                raise FaultSpecError(
                    f"--faults item {item!r} is not key=value; accepted keys: {_ACCEPTED}",
                    value=item,
                )
            field = _SPEC_KEYS.get(key.lower())
            if field is None:
                raise FaultSpecError(
                    f"--faults key {key!r} is unknown; accepted keys: {_ACCEPTED}",
                    key=key,
                    value=value,
                )
            key = key.lower()
            if field in field_to_key:
                raise FaultSpecError(
                    f"--faults key {key!r} is given twice; accepted keys: {_ACCEPTED}", key=key
                )
            field_to_key[field] = key
            parsed = _parse_spec_value(key, value)
            if field.startswith("error_rates."):
                rates[field.removeprefix("error_rates.")] = parsed
            else:
                top[field] = parsed
        if rates:
            top["error_rates"] = rates
        try:
            return cls.model_validate(top)
        except ValidationError as exc:
            error = exc.errors()[0]
            location = ".".join(str(part) for part in error["loc"])
            bad_key = field_to_key.get(location)
            if bad_key is None:  # a whole-model rule (the rates' sum) has no single field
                raise FaultSpecError(
                    f"--faults {spec!r}: {error['msg']}; accepted keys: {_ACCEPTED}"
                ) from exc
            raise FaultSpecError(
                f"--faults {bad_key}={error['input']!r}: {error['msg']}; "
                f"accepted keys: {_ACCEPTED}",
                key=bad_key,
                value=str(error["input"]),
            ) from exc


def _parse_spec_value(key: str, value: str) -> float | int | None:
    if key in _OPTIONAL_NUMBER_KEYS and value.lower() in ("off", "none"):
        return None
    try:
        return int(value) if key == "seed" else float(value)
    except ValueError:
        wanted = "an integer" if key == "seed" else "a number"
        if key in _OPTIONAL_NUMBER_KEYS:
            wanted += " or 'off'"
        raise FaultSpecError(
            f"--faults {key}={value!r} is not {wanted}; accepted keys: {_ACCEPTED}",
            key=key,
            value=value,
        ) from None


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


class FaultKind(enum.StrEnum):
    """What the layer did to a call, as recorded in ``RecordedCall.fault``."""

    RATE_LIMIT = "rate_limit"  # token bucket empty: ThrottlingException, simulator not reached
    THROTTLING = "throttling"  # injected ThrottlingException, simulator not reached
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    CONNECTION_RESET = "connection_reset"
    READ_TIMEOUT = "read_timeout"
    LOST_RESPONSE = "lost_response"  # simulator processed the call; response dropped
    SHAPE_VIOLATION = "shape_violation"  # simulator answered; response replaced by HTTP 500


_WRITE_PREFIXES = (
    "Accept",
    "Add",
    "Associate",
    "Attach",
    "Batch",
    "Cancel",
    "Close",
    "Create",
    "Decline",
    "Delete",
    "Deregister",
    "Detach",
    "Disable",
    "Disassociate",
    "Enable",
    "Invite",
    "Leave",
    "Move",
    "Provision",
    "Put",
    "Register",
    "Remove",
    "Reset",
    "Restore",
    "Set",
    "Start",
    "Stop",
    "Tag",
    "TransactWrite",
    "Untag",
    "Update",
)
_WRITE_OPERATION = re.compile(rf"(?:{'|'.join(_WRITE_PREFIXES)})(?:[A-Z]|$)")
_READ_BATCH = re.compile(r"Batch(?:Get|Describe|List)")


def is_write_operation(operation: str) -> bool:
    """Whether ``operation`` (a botocore operation name, ``CreatePermissionSet``) changes state.

    Judged by the verb that starts the name (Create, Delete, Update, Put, Attach, Detach,
    Provision, Tag, Untag, Add, Remove, Move, Register, ...); ``BatchGet*`` is a read.
    """
    return _WRITE_OPERATION.match(operation) is not None and _READ_BATCH.match(operation) is None


@dataclass(frozen=True, kw_only=True)
class RecordedCall:
    """One AWS call as the fault layer saw it.

    ``service`` and ``operation`` are botocore's names (``sso-admin``, ``CreatePermissionSet``);
    ``status`` is the HTTP status sent, 0 when the connection was closed without one (for
    ``lost_response`` it is the status the simulator produced); ``fault`` is a ``FaultKind``
    value or ``None``; ``started`` is the arrival time in seconds since the Unix epoch;
    ``seconds`` the time the layer spent on the call, latency and hangs included; ``role`` the
    role the reconciler's own clients named in the User-Agent (``plan``, ``apply``, ``lease``,
    ``setup``), ``None`` for any other client (the tests', the console's).
    """

    service: str
    operation: str
    status: int
    fault: str | None
    started: float
    seconds: float
    role: str | None = None

    @property
    def is_write(self) -> bool:
        """Whether the operation changes state (see ``is_write_operation``)."""
        return is_write_operation(self.operation)

    @property
    def reached_simulator(self) -> bool:
        """Whether the simulator processed the call (no fault, or one decided after it)."""
        return self.fault in (None, FaultKind.LOST_RESPONSE, FaultKind.SHAPE_VIOLATION)


class CallRecorder:
    """A thread-safe log of the AWS calls the fault layer handled, in the order it decided them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []

    @property
    def calls(self) -> list[RecordedCall]:
        """A snapshot (copy) of the recorded calls."""
        with self._lock:
            return list(self._calls)

    def record(self, call: RecordedCall) -> None:
        """Append ``call``."""
        with self._lock:
            self._calls.append(call)

    def write_calls(self) -> list[RecordedCall]:
        """The recorded calls to operations that change state, faulted ones included.

        Filter on ``RecordedCall.reached_simulator`` for the writes the simulator processed.
        """
        return [call for call in self.calls if call.is_write]

    def count_by_operation(self, *, service: str | None = None) -> dict[str, int]:
        """Number of recorded calls per operation name, optionally only those to ``service``."""
        return dict(
            Counter(
                call.operation for call in self.calls if service is None or call.service == service
            )
        )

    def reset(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._calls.clear()


class OperationLog:
    """A thread-safe set of the (role, service, operation) triples the reconciler's own clients
    called (``RecordedCall.role`` set), kept even when a ``CallRecorder`` is reset: the test
    suite checks them against ``adapters.aws.permissions`` at the end of the session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, *, role: str, service: str, operation: str) -> None:
        """Remember that ``role`` called ``service``'s ``operation``."""
        with self._lock:
            self._seen.add((role, service, operation))

    def snapshot(self) -> frozenset[tuple[str, str, str]]:
        """Every (role, service, operation) so far."""
        with self._lock:
            return frozenset(self._seen)


def calling_role(environ: WSGIEnvironment) -> str | None:
    """The role a request's User-Agent names (``identity-center-reconciler/0.1.0 role/plan``:
    ``plan``), ``None`` when the reconciler's clients did not make it."""
    found = USER_AGENT_ROLE.search(str(environ.get("HTTP_USER_AGENT", "")))
    return None if found is None else found[1]


# --------------------------------------------------------------------------------------------
# Finding the service and operation of a request
# --------------------------------------------------------------------------------------------

_WireProtocol = Literal["json", "query"]

# X-Amz-Target prefix -> botocore service name (metadata.targetPrefix in botocore's models).
_TARGET_PREFIXES: dict[str, str] = {
    "SWBExternalService": "sso-admin",
    "AWSIdentityStore": "identitystore",
    "AWSOrganizationsV20161128": "organizations",
    "DynamoDB_20120810": "dynamodb",
}
# SigV4 credential-scope service (metadata.signingName) -> botocore service name, where they differ.
_SIGNING_NAMES: dict[str, str] = {"sso": "sso-admin"}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


@dataclass(frozen=True, kw_only=True)
class _Call:
    service: str
    operation: str
    protocol: _WireProtocol
    json_content_type: str


def identify_call(environ: WSGIEnvironment, body: bytes) -> tuple[str, str] | None:
    """The (botocore service name, operation name) of a request, or ``None`` if not an AWS call.

    JSON protocol: ``X-Amz-Target: <targetPrefix>.<Operation>``; query protocol (IAM, STS):
    ``Action=<Operation>`` in the form body or the query string. The service comes from the
    target prefix, else from the SigV4 credential scope of the ``Authorization`` header.
    """
    call = _identify(environ, body)
    return None if call is None else (call.service, call.operation)


def _identify(environ: WSGIEnvironment, body: bytes) -> _Call | None:
    scope = _CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    scoped_service = None if scope is None else _SIGNING_NAMES.get(scope[1], scope[1])
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        prefix, _, operation = target.rpartition(".")
        service = _TARGET_PREFIXES.get(prefix, scoped_service)
        if service is None or not operation:
            return None
        content_type = str(environ.get("CONTENT_TYPE", ""))
        if not content_type.startswith("application/x-amz-json"):
            content_type = "application/x-amz-json-1.1"
        return _Call(
            service=service,
            operation=operation,
            protocol="json",
            json_content_type=content_type,
        )
    action = _form_value(body, environ, "Action")
    if action is None or scoped_service is None:
        return None
    return _Call(
        service=scoped_service,
        operation=action,
        protocol="query",
        json_content_type="application/x-amz-json-1.1",
    )


def _form_value(body: bytes, environ: WSGIEnvironment, name: str) -> str | None:
    sources = [str(environ.get("QUERY_STRING", ""))]
    if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        sources.insert(0, body.decode("utf-8", errors="replace"))
    for source in sources:
        values = parse_qs(source).get(name)
        if values:
            return values[0]
    return None


def _read_body(environ: WSGIEnvironment) -> bytes:
    """Read the request body and put an equivalent stream back for the downstream app."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        body = b""
    elif length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: the server marks the end of input
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


# --------------------------------------------------------------------------------------------
# Output-shape check
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShapeViolation:
    """A response body that breaks botocore's output shape for its operation.

    ``path`` is a JSONPath into the body (``$.PermissionSet.SessionDuration``, ``$.Users[0]``);
    ``rule`` one of ``json``, ``required``, ``null``, ``type``, ``enum``, ``pattern``,
    ``min_length``, ``max_length``, ``min_items``, ``max_items``, ``min_value``, ``max_value``,
    ``union``; ``message`` says what was found and what the model asks for.
    """

    service: str
    operation: str
    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.service} {self.operation} {self.path}: {self.rule}: {self.message}"


_loader_lock = threading.Lock()
_loader = botocore.loaders.create_loader()


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of ``service`` (``"sso-admin"``), loaded once per process from
    botocore's data files: no AWS configuration is read, so an ``AWS_PROFILE`` that names a
    missing profile does not stop the sandbox. Raises ``UnknownServiceError``."""
    with _loader_lock:
        return ServiceModel(_loader.load_service_model(service, "service-2"), service)


@cache
def java_pattern(pattern: str) -> regex.Pattern[str] | None:
    """Compile a botocore (Java) pattern; ``None`` if the ``regex`` package cannot.

    Java's ``\\w`` and ``\\d`` are ASCII-only, ``\\p{L}`` is Unicode; ``regex`` handles
    ``\\p{..}`` and is told the ASCII meaning of ``\\w`` and ``\\d`` by rewriting them.
    """
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            ranges = {"w": "a-zA-Z0-9_", "d": "0-9"}.get(escaped)
            if ranges is None:
                out.append(char + escaped)
            else:
                out.append(ranges if depth else f"[{ranges}]")
            index += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        out.append(char)
        index += 1
    try:
        return regex.compile("".join(out))
    except regex.error:
        return None


def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _describe(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


_AWS_BELOW_MODEL_MINIMUM: frozenset[tuple[str, str]] = frozenset(
    {
        # DynamoDB's CreateTable/DescribeTable answer ProvisionedThroughput.
        # NumberOfDecreasesToday 0 for a new or on-demand table, although botocore's model
        # (shape PositiveLongObject) says min 1; botocore does not check outputs, so clients
        # take it. moto sends the same 0.
        ("dynamodb", "NumberOfDecreasesToday"),
    }
)
"""(service, member) pairs whose values AWS itself sends below the model's ``min``."""


class _ShapeChecker:
    _MAX_VIOLATIONS: ClassVar[int] = 50

    def __init__(self, *, service: str, operation: str) -> None:
        self.service = service
        self.operation = operation
        self.violations: list[ShapeViolation] = []

    def add(self, path: str, rule: str, message: str) -> None:
        if len(self.violations) < self._MAX_VIOLATIONS:
            self.violations.append(
                ShapeViolation(
                    service=self.service,
                    operation=self.operation,
                    path=path,
                    rule=rule,
                    message=message,
                )
            )

    def check(self, shape: Shape, value: object, path: str) -> None:
        if value is None:
            self.add(path, "null", f"null where the model has a {shape.type_name}")
            return
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            self._check_structure(shape, value, path)
        elif kind == "list":
            self._check_list(shape, value, path)
        elif kind == "map":
            self._check_map(shape, value, path)
        elif kind == "string":
            self._check_string(shape, value, path)
        else:
            self._check_scalar(shape, value, path)

    def _check_structure(self, shape: StructureShape, value: object, path: str) -> None:
        if shape.is_document_type:
            return
        if not isinstance(value, Mapping):
            self.add(path, "type", f"{_describe(value)} where the model has an object")
            return
        present = 0
        for name, member in shape.members.items():
            wire_name = member.serialization.get("name", name)
            member_value = value.get(wire_name)
            if member_value is None:
                if name in shape.required_members:
                    self.add(f"{path}.{wire_name}", "required", f"required member {name} missing")
                continue
            present += 1
            self.check(member, member_value, f"{path}.{wire_name}")
        if shape.is_tagged_union and present != 1:
            self.add(path, "union", f"{present} members set in a union; exactly 1 allowed")

    def _check_list(self, shape: Shape, value: object, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "type", f"{_describe(value)} where the model has a list")
            return
        self._check_bounds(shape, len(value), path, "items", "items")
        member = cast(ListShape, shape).member
        for index, item in enumerate(value):
            self.check(member, item, f"{path}[{index}]")

    def _check_map(self, shape: Shape, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            self.add(path, "type", f"{_describe(value)} where the model has a map")
            return
        self._check_bounds(shape, len(value), path, "items", "entries")
        key_shape = cast(MapShape, shape).key
        value_shape = cast(MapShape, shape).value
        for key, item in value.items():
            item_path = f"{path}[{json.dumps(key)}]"
            self.check(key_shape, key, f"{item_path}(key)")
            self.check(value_shape, item, item_path)

    def _check_string(self, shape: Shape, value: object, path: str) -> None:
        if not isinstance(value, str):
            self.add(path, "type", f"{_describe(value)} where the model has a string")
            return
        self._check_bounds(shape, len(value), path, "length", "characters")
        enum_values: list[str] = shape.metadata.get("enum", [])
        if enum_values and value not in enum_values:
            self.add(path, "enum", f"{_describe(value)} is not one of {', '.join(enum_values)}")
        pattern = shape.metadata.get("pattern")
        if pattern:
            compiled = java_pattern(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                self.add(path, "pattern", f"{_describe(value)} does not match {pattern}")

    def _check_scalar(self, shape: Shape, value: object, path: str) -> None:
        kind = shape.type_name
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind in ("integer", "long"):
            if not isinstance(value, int) or isinstance(value, bool):
                self.add(path, "type", f"{_describe(value)} where the model has an integer")
                return
            self._check_value_range(shape, value, path)
        elif kind in ("float", "double"):
            if not number:
                self.add(path, "type", f"{_describe(value)} where the model has a number")
                return
            assert isinstance(value, int | float)
            self._check_value_range(shape, value, path)
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.add(path, "type", f"{_describe(value)} where the model has a boolean")
        elif kind == "timestamp":
            if not number:
                self.add(
                    path,
                    "type",
                    f"{_describe(value)} where JSON-1.1 sends a timestamp as epoch seconds",
                )
        elif kind == "blob" and not _is_base64(value):
            self.add(path, "type", f"{_describe(value)} where the model has base64 bytes")

    def _check_bounds(self, shape: Shape, size: int, path: str, what: str, unit: str) -> None:
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        if low is not None and size < low:
            self.add(path, f"min_{what}", f"{size} {unit}, fewer than the minimum {low}")
        if high is not None and size > high:
            self.add(path, f"max_{what}", f"{size} {unit}, more than the maximum {high}")

    def _check_value_range(self, shape: Shape, value: float, path: str) -> None:
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        member = path.rsplit(".", 1)[-1]
        if (self.service, member) in _AWS_BELOW_MODEL_MINIMUM:
            low = None
        if low is not None and value < low:
            self.add(path, "min_value", f"{value} is below the minimum {low}")
        if high is not None and value > high:
            self.add(path, "max_value", f"{value} is above the maximum {high}")


def check_output_shape(*, service: str, operation: str, body: bytes) -> list[ShapeViolation]:
    """Violations of botocore's output shape by a successful JSON response ``body``.

    Checks, recursively: the body is a JSON object; required members present (``null`` counts
    as absent, as botocore drops it); JSON types; strings' enum, ``pattern`` (Java regex, full
    match) and length; list and map sizes; integer ranges; timestamps as epoch-second numbers;
    unions with one member. Members the model does not know are ignored, as botocore does.
    An unknown service or operation yields no violation.
    """
    checker = _ShapeChecker(service=service, operation=operation)
    try:
        shape = service_model(service).operation_model(operation).output_shape
    except (UnknownServiceError, OperationNotFoundError):
        return []
    try:
        value = json.loads(body) if body.strip() else {}
    except ValueError:
        checker.add("$", "json", f"body is not JSON: {body[:80]!r}")
        return checker.violations
    if not isinstance(value, dict):
        checker.add("$", "type", f"{_describe(value)} where the body must be a JSON object")
    elif shape is not None:
        checker.check(shape, value, "$")
    return checker.violations


# --------------------------------------------------------------------------------------------
# The WSGI middleware
# --------------------------------------------------------------------------------------------

_Headers = list[tuple[str, str]]

_THROTTLING_CODES: dict[str, str] = {"organizations": "TooManyRequestsException"}
_INTERNAL_CODES: dict[str, str] = {
    "sso-admin": "InternalServerException",
    "identitystore": "InternalServerException",
    "organizations": "ServiceException",
    "dynamodb": "InternalServerError",
}


CONNECTION_SOCKET_KEY = "reconciler.sandbox.socket"
"""WSGI environ key under which the sandbox's server gives the layer the client's socket."""
_SOCKET_KEYS = (CONNECTION_SOCKET_KEY, "werkzeug.socket")


class _InjectedDropError(ConnectionResetError):
    """Raised after the layer closed the connection on purpose; the server then writes nothing
    (werkzeug treats it as a dropped connection, waitress as a socket error it does not log)."""


class _TokenBucket:
    def __init__(self, *, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True, kw_only=True)
class _Response:
    status: int
    headers: _Headers
    body: bytes


@dataclass(frozen=True)
class _Decision:
    """The response to send (``None``: close the connection unanswered), and what to record."""

    response: _Response | None
    _: KW_ONLY
    status: int
    fault: FaultKind | None


class FaultLayer:
    """WSGI middleware: rate limits, injected faults, call recording and output-shape checks.

    ``app`` is the simulator's WSGI application; every AWS call through the layer is appended
    to ``recorder``, and those of the reconciler's own clients to ``operations`` too. With
    ``shape_check`` every successful JSON response is checked by ``check_output_shape``; a
    violation is kept in ``shape_violations`` and the client gets
    HTTP 500 ``SandboxShapeViolation`` naming it. Thread-safe; ``configure`` swaps the config
    while requests are in flight (calls already past the fault decision keep the old one).
    ``clock`` returns monotonic seconds for the rate limits' token buckets (replaceable in
    tests).
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        config: FaultConfig,
        recorder: CallRecorder,
        shape_check: bool = False,
        clock: Callable[[], float] = time.monotonic,
        operations: OperationLog | None = None,
    ) -> None:
        self._app = app
        self._clock = clock
        self._recorder = recorder
        self._operations = operations
        self._shape_check = shape_check
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._violations: list[ShapeViolation] = []
        self._config = config
        self._random = random.Random(config.seed)  # noqa: S311 - fault draws, not secrets
        self._buckets: dict[tuple[str, str], _TokenBucket] = {}

    @property
    def config(self) -> FaultConfig:
        """The config in force."""
        return self._config

    @property
    def recorder(self) -> CallRecorder:
        """The recorder every call is appended to."""
        return self._recorder

    @property
    def shape_violations(self) -> list[ShapeViolation]:
        """A snapshot (copy) of the output-shape violations seen so far, oldest first."""
        with self._lock:
            return list(self._violations)

    def reset_shape_violations(self) -> None:
        """Forget the output-shape violations seen so far."""
        with self._lock:
            self._violations.clear()

    def configure(self, config: FaultConfig) -> None:
        """Put ``config`` in force: the fault draws restart from its seed, buckets refill."""
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)  # noqa: S311 - fault draws, not secrets
            self._buckets.clear()

    def wait_idle(self, *, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no AWS call is in the layer; ``True`` if idle.

        Useful before stopping a server while a ``read_timeout`` fault still hangs.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = _read_body(environ)
        call = _identify(environ, body)
        if call is None:
            return self._app(environ, start_response)
        role = calling_role(environ)
        if role is not None and self._operations is not None:
            self._operations.add(role=role, service=call.service, operation=call.operation)
        with self._lock:
            self._in_flight += 1
        started = time.time()
        clock = time.perf_counter()
        try:
            try:
                decision = self._handle(call, environ)
            except Exception:
                self._record(call, status=500, fault=None, started=started, clock=clock, role=role)
                raise
            # Recorded before the client can see the outcome, so a test that just got its
            # answer (or its dropped connection) finds the call in the recorder.
            self._record(
                call,
                status=decision.status,
                fault=decision.fault,
                started=started,
                clock=clock,
                role=role,
            )
            if decision.response is None:
                _drop_connection(environ, fault=decision.fault)
            response = decision.response
            start_response(
                f"{response.status} {http.client.responses.get(response.status, 'Unknown')}",
                response.headers,
            )
            return [response.body]
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _record(
        self,
        call: _Call,
        *,
        status: int,
        fault: FaultKind | None,
        started: float,
        clock: float,
        role: str | None,
    ) -> None:
        self._recorder.record(
            RecordedCall(
                service=call.service,
                operation=call.operation,
                status=status,
                fault=None if fault is None else fault.value,
                started=started,
                seconds=time.perf_counter() - clock,
                role=role,
            )
        )

    def _handle(self, call: _Call, environ: WSGIEnvironment) -> _Decision:
        """What to answer (``response`` ``None``: drop the connection) and what to record."""
        config = self._config
        if config.latency_seconds > 0:
            time.sleep(config.latency_seconds)
        fault = self._decide(call, config)
        if fault in (FaultKind.RATE_LIMIT, FaultKind.THROTTLING):
            code = "Throttling" if call.protocol == "query" else "ThrottlingException"
            code = _THROTTLING_CODES.get(call.service, code)
            return _Decision(
                _error(call, status=400, code=code, message="Rate exceeded"),
                status=400,
                fault=fault,
            )
        if fault == FaultKind.HTTP_500:
            code = _INTERNAL_CODES.get(call.service, "InternalFailure")
            message = "An internal error occurred. Try again later."
            return _Decision(
                _error(call, status=500, code=code, message=message), status=500, fault=fault
            )
        if fault == FaultKind.HTTP_503:
            message = "The request has failed due to a temporary failure of the server."
            return _Decision(
                _error(call, status=503, code="ServiceUnavailable", message=message),
                status=503,
                fault=fault,
            )
        if fault == FaultKind.READ_TIMEOUT:
            time.sleep(config.read_timeout_seconds)
        if fault in (FaultKind.CONNECTION_RESET, FaultKind.READ_TIMEOUT):
            return _Decision(None, status=0, fault=fault)
        response = self._forward(environ)
        if self._shape_check and call.protocol == "json" and 200 <= response.status < 300:
            violations = check_output_shape(
                service=call.service, operation=call.operation, body=response.body
            )
            if violations:
                with self._lock:
                    self._violations.extend(violations)
                message = (
                    f"sandbox: the simulator's {call.service} {call.operation} response breaks "
                    "botocore's output shape: "
                    + "; ".join(f"{v.path}: {v.rule}: {v.message}" for v in violations)
                )
                return _Decision(
                    _error(call, status=500, code="SandboxShapeViolation", message=message),
                    status=500,
                    fault=FaultKind.SHAPE_VIOLATION,
                )
        if fault == FaultKind.LOST_RESPONSE:
            return _Decision(None, status=response.status, fault=fault)
        return _Decision(response, status=response.status, fault=None)

    def _decide(self, call: _Call, config: FaultConfig) -> FaultKind | None:
        with self._lock:
            draw = self._random.random()
            allowed = self._take_token(call, config)
        if not allowed:
            return FaultKind.RATE_LIMIT
        rates = config.error_rates
        kinds = (
            FaultKind.THROTTLING,
            FaultKind.HTTP_500,
            FaultKind.HTTP_503,
            FaultKind.CONNECTION_RESET,
            FaultKind.READ_TIMEOUT,
            FaultKind.LOST_RESPONSE,
        )
        edge = 0.0
        for kind, rate in zip(kinds, rates._ordered(), strict=True):
            edge += rate
            if draw < edge:
                if kind == FaultKind.LOST_RESPONSE and not is_write_operation(call.operation):
                    return None
                return kind
        return None

    def _take_token(self, call: _Call, config: FaultConfig) -> bool:
        """Take a token from the call's bucket; the caller holds ``self._lock``."""
        if call.service == "sso-admin":
            rate, key = config.sso_admin_requests_per_second, (call.service, "*")
        elif call.service == "identitystore":
            rate = config.identitystore_requests_per_second_per_api
            key = (call.service, call.operation)
        elif call.service == "organizations":
            rate, key = config.organizations_requests_per_second, (call.service, "*")
        else:
            return True
        if rate is None:
            return True
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            capacity = config.burst if config.burst is not None else max(1.0, rate)
            bucket = self._buckets[key] = _TokenBucket(rate=rate, capacity=capacity, now=now)
        return bucket.take(now)

    def _forward(self, environ: WSGIEnvironment) -> _Response:
        """Run the simulator on the request and buffer its whole response."""
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start(status: str, headers: _Headers, exc_info: Any = None) -> Any:
            started["status"] = int(status.split(None, 1)[0])
            started["headers"] = list(headers)
            return chunks.append

        result = self._app(environ, start)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return _Response(
            status=started["status"], headers=started["headers"], body=b"".join(chunks)
        )


def _drop_connection(environ: WSGIEnvironment, *, fault: FaultKind | None) -> NoReturn:
    """Close the client's connection without an HTTP response, then raise ``_InjectedDropError``.

    The server puts the socket in ``environ[CONNECTION_SOCKET_KEY]`` (werkzeug: in
    ``environ["werkzeug.socket"]``); shutting it down sends FIN (and ``SO_LINGER`` 0 turns the
    final close into RST), so the client's read of the status line fails: urllib3 raises
    ``ProtocolError``, botocore ``ConnectionClosedError``. Both servers treat the
    ``ConnectionResetError`` subclass raised here as a dropped connection and write nothing.
    """
    connection = next(
        (environ[key] for key in _SOCKET_KEYS if isinstance(environ.get(key), socket.socket)),
        None,
    )
    if isinstance(connection, socket.socket):
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.shutdown(socket.SHUT_RDWR)
    raise _InjectedDropError(f"sandbox: {fault} injected: connection closed without a response")


def _error(call: _Call, *, status: int, code: str, message: str) -> _Response:
    """An AWS error response in the call's protocol (JSON-1.1 ``__type`` or query XML)."""
    request_id = str(uuid.uuid4())
    if call.protocol == "query":
        side = "Sender" if status < 500 else "Receiver"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{side}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = call.json_content_type
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id),
    ]
    if call.protocol == "json":
        headers.append(("x-amzn-ErrorType", code))
    return _Response(status=status, headers=headers, body=body)
