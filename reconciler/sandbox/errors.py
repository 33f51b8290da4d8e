"""Errors the sandbox returns on the wire, shaped like AWS JSON-1.1 protocol errors.

ServiceError
 ├─ raised by a simulator for any refused request; rendered as HTTP ``status`` with a JSON body
 │  ``{"__type": code, "Message": message, ...extra}``, which botocore turns into a
 │  ``ClientError`` whose ``Error.Code`` is ``code``.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refused request.

    ``code`` is the AWS error code (e.g. ``"ConflictException"``), ``status`` the HTTP status,
    ``extra`` further members of the error shape (e.g. ``{"Reason": ...}``).
    """

    def __init__(
        self, code: str, message: str, *, status: int = 400, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        """The JSON error document: ``{"__type", "Message", "message", ...extra}``."""
        return {"__type": self.code, "Message": self.message, "message": self.message, **self.extra}


def validation_error(message: str) -> ServiceError:
    """A ``ValidationException`` (HTTP 400)."""
    return ServiceError("ValidationException", message)


def not_found(message: str, **extra: Any) -> ServiceError:
    """A ``ResourceNotFoundException`` (HTTP 400)."""
    return ServiceError("ResourceNotFoundException", message, extra=extra)


def conflict(message: str, **extra: Any) -> ServiceError:
    """A ``ConflictException`` (HTTP 400)."""
    return ServiceError("ConflictException", message, extra=extra)


def throttling(message: str) -> ServiceError:
    """A ``ThrottlingException`` (HTTP 400), which botocore's retry handler retries."""
    return ServiceError("ThrottlingException", message)


def quota_exceeded(message: str) -> ServiceError:
    """A ``ServiceQuotaExceededException`` (HTTP 400)."""
    return ServiceError("ServiceQuotaExceededException", message)


def access_denied(message: str) -> ServiceError:
    """An ``AccessDeniedException`` (HTTP 400, as sso-admin's model declares it)."""
    return ServiceError("AccessDeniedException", message)
