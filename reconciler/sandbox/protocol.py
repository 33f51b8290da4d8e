"""The AWS JSON-1.1 protocol as the sandbox's simulators speak it.

A request is ``POST /`` with ``X-Amz-Target: <prefix>.<Operation>`` and a JSON body. Inputs are
validated against botocore's service model (required members, string length and pattern, enum,
integer range, list length), the way AWS's front end does, producing AWS's wording:
``1 validation error detected: Value 'x' at 'name' failed to satisfy constraint: ...``.
Outputs are JSON; timestamps are rendered as epoch seconds (float), as JSON-1.1 requires.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import regex
from botocore.model import (
    ListShape,
    OperationModel,
    Shape,
    StructureShape,
)

from reconciler.sandbox.errors import ServiceError, validation_error

# botocore's patterns are Java regular expressions (ASCII \w and \d, Unicode \p{L});
# the fault layer already translates them, so both layers judge a value the same way.
from reconciler.sandbox.faults import java_pattern, service_model

T = TypeVar("T")
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def snake_case(operation: str) -> str:
    """``ListInstances`` -> ``list_instances``: the handler method name of an operation."""
    return regex.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _member_path(parent: str, name: str) -> str:
    lowered = name[:1].lower() + name[1:]
    return f"{parent}.{lowered}" if parent else lowered


def _validate(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    """Append AWS-worded constraint violations of ``value`` against ``shape`` to ``problems``."""
    metadata = shape.metadata
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        return  # a free-form JSON document (e.g. identitystore AttributeValue)
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: Member must be an object"
            )
            return
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{_member_path(path, name)}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _validate(member, value[name], _member_path(path, name), problems)
        return
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: Member must be a list"
            )
            return
        _check_length(len(value), metadata, value, path, problems)
        for index, item in enumerate(value):
            _validate(shape.member, item, f"{path}.{index + 1}.member", problems)
        return
    if kind == "string":
        if not isinstance(value, str):
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: Member must be a string"
            )
            return
        _check_length(len(value), metadata, value, path, problems)
        if "enum" in metadata and value not in metadata["enum"]:
            allowed = ", ".join(metadata["enum"])
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{allowed}]"
            )
        pattern = metadata.get("pattern")
        compiled = java_pattern(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern}"
            )
        return
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: Member must be a number"
            )
            return
        if "min" in metadata and value < metadata["min"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {metadata['min']}"
            )
        if "max" in metadata and value > metadata["max"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {metadata['max']}"
            )


def _check_length(
    length: int, metadata: Mapping[str, Any], value: Any, path: str, problems: list[str]
) -> None:
    shown = value if isinstance(value, str) else "[...]"
    if "min" in metadata and length < metadata["min"]:
        problems.append(
            f"Value '{shown}' at '{path}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {metadata['min']}"
        )
    if "max" in metadata and length > metadata["max"]:
        problems.append(
            f"Value '{shown}' at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {metadata['max']}"
        )


def validate_input(operation: OperationModel, params: Mapping[str, Any]) -> None:
    """Check ``params`` against the operation's input shape.

    Raises ``ServiceError`` ``ValidationException`` listing every violation, like AWS.
    """
    shape = operation.input_shape
    if shape is None:
        return
    problems: list[str] = []
    _validate(shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise validation_error(f"{count} validation {noun} detected: " + "; ".join(problems))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Mapping):
        return {key: _encode(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def encode_output(document: Mapping[str, Any]) -> bytes:
    """JSON bytes of an output document: ``None`` members dropped, datetimes as epoch seconds."""
    return json.dumps(_encode(document)).encode("utf-8")


class JsonService:
    """One JSON-1.1 service: ``handlers`` maps operation names to ``params -> output`` callables."""

    def __init__(
        self,
        *,
        service: str,
        handlers: Mapping[str, Handler],
        exclusive: bool = False,
        elsewhere: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.model = service_model(service)
        self.target_prefix: str = self.model.metadata["targetPrefix"]
        self.handlers = dict(handlers)
        self.exclusive = exclusive
        self.elsewhere = elsewhere
        """``(operation, params) -> output`` answering requests signed for another Region than
        the sandbox's (a Regional service whose data lives in one Region); None: the
        service answers every Region alike."""

    def handles(self, operation: str) -> bool:
        """Whether ``operation`` (e.g. ``"ListInstances"``) is answered here: every operation
        of an ``exclusive`` service (unsimulated ones with an error), else those with a
        handler."""
        return self.exclusive or operation in self.handlers

    def call(
        self, operation: str, body: bytes, *, page_size: int | None = None, home: bool = True
    ) -> tuple[int, bytes]:
        """Run one request; returns ``(http_status, json_body)``. Never raises ServiceError.

        ``page_size`` caps the page of a List call as a smaller ``MaxResults`` would (AWS may
        return fewer items than asked, with a ``NextToken``). ``home`` is False for a request
        signed for another Region than the sandbox's: ``elsewhere`` answers it, when set.
        """
        try:
            params = json.loads(body or b"{}")
            if not isinstance(params, dict):
                raise validation_error("The request body must be a JSON object")
            if operation not in self.model.operation_names:
                raise ServiceError("UnknownOperationException", f"Unknown operation {operation}")
            validate_input(self.model.operation_model(operation), params)
            if page_size is not None and operation.startswith("List"):
                asked = params.get("MaxResults")
                params["MaxResults"] = min(asked, page_size) if asked else page_size
            handler = self.handlers.get(operation)
            if not home and self.elsewhere is not None:
                elsewhere = self.elsewhere
                handler = lambda params: elsewhere(operation, params)  # noqa: E731
            if handler is None:
                raise ServiceError(
                    "UnknownOperationException",
                    f"The sandbox does not simulate {self.model.service_name} {operation}",
                )
            output = handler(params)
        except ServiceError as error:
            return error.status, json.dumps(error.body()).encode("utf-8")
        except json.JSONDecodeError:
            malformed = ServiceError("SerializationException", "The request body is not valid JSON")
            return malformed.status, json.dumps(malformed.body()).encode("utf-8")
        return 200, encode_output(output)


# --- pagination -----------------------------------------------------------------------------


def _token_for(scope: str, last_key: str) -> str:
    raw = json.dumps({"s": scope, "k": last_key}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _key_from(token: str, scope: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise validation_error("The NextToken is invalid") from exc
    if (
        not isinstance(decoded, dict)
        or decoded.get("s") != scope
        or not isinstance(decoded.get("k"), str)
    ):
        raise validation_error("The NextToken is invalid for this request")
    return str(decoded["k"])


def start_token(scope: str) -> str:
    """A NextToken that resumes at the first item (for an empty first page)."""
    return _token_for(scope, "")


def paginate(
    items: Iterable[T],
    *,
    key: Callable[[T], str],
    scope: str,
    next_token: str | None,
    max_results: int | None,
    page_limit: int = 100,
) -> tuple[list[T], str | None]:
    """One page of ``items`` ordered by ``key``; returns ``(page, next_token or None)``.

    The token is opaque (base64 of the scope and the last key returned), so it stays valid
    when items are added or removed between pages, and is refused (ValidationException) when
    replayed against another request (``scope`` differs). ``max_results`` defaults to, and is
    capped at, ``page_limit`` (100 for Identity Center and the identity store, 20 for
    Organizations' ListAccounts).
    """
    ordered: Sequence[T] = sorted(items, key=key)
    limit = min(max_results or page_limit, page_limit)
    start = 0
    if next_token:
        after = _key_from(next_token, scope)
        start = next((i for i, item in enumerate(ordered) if key(item) > after), len(ordered))
    page = list(ordered[start : start + limit])
    more = start + limit < len(ordered)
    return page, (_token_for(scope, key(page[-1])) if more and page else None)
