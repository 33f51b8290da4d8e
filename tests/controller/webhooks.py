"""Helpers of the webhook and sync tests: deliveries as GitHub and GitLab send them, on
loopback only, and an operations server with the hooks mounted."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from prometheus_client import CollectorRegistry

from reconciler.controller.hooks import HookEndpoints
from reconciler.controller.serving import OperationsServer
from reconciler.controller.triggers import Triggers

SECRET = b"0123456789abcdef-webhook-secret"
TOKEN = b"fedcba9876543210-sync-token"


def serve(
    triggers: Triggers,
    *,
    secret: bytes | None = SECRET,
    token: bytes | None = TOKEN,
    branch: str | None = "main",
    registry: CollectorRegistry | None = None,
) -> OperationsServer:
    """An operations server on 127.0.0.1 (a free port) with the hooks asking ``triggers``;
    not started."""
    registry = registry or CollectorRegistry()
    return OperationsServer(
        host="127.0.0.1",
        port=0,
        registry=registry,
        ready=lambda: True,
        hooks=HookEndpoints(
            triggers=triggers,
            webhook_secret=secret,
            sync_token=token,
            branch=branch,
            registry=registry,
        ),
    )


def push_payload(ref: str = "refs/heads/main", *, after: str = "a" * 40) -> bytes:
    """A push payload's body (the fields the controller reads, and a little more)."""
    return json.dumps(
        {
            "ref": ref,
            "before": "0" * 40,
            "after": after,
            "repository": {"full_name": "example/access", "default_branch": "main"},
            "project": {"path_with_namespace": "example/access", "default_branch": "main"},
            "commits": [{"id": after, "message": "Add sam.lee to AdminAccess"}],
        }
    ).encode()


def github_signature(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def github_headers(body: bytes, *, event: str = "push", secret: bytes = SECRET) -> dict[str, str]:
    """The headers GitHub sends with a delivery of ``body`` (content type application/json)."""
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": github_signature(body, secret),
        "User-Agent": "GitHub-Hookshot/044aadd",
    }


def gitlab_headers(*, event: str = "Push Hook", token: bytes = SECRET) -> dict[str, str]:
    """The headers GitLab sends with a push hook."""
    return {
        "Content-Type": "application/json",
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token.decode(),
        "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e",
    }


def call(
    url: str,
    *,
    method: str = "POST",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``(status, JSON answer, headers)`` of one request (loopback only)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return (
                response.status,
                _document(response.read()),
                {k.lower(): v for k, v in response.headers.items()},
            )
    except urllib.error.HTTPError as error:
        return error.code, _document(error.read()), {k.lower(): v for k, v in error.headers.items()}


def _document(data: bytes) -> dict[str, Any]:
    """A JSON answer, or ``{"raw": text}`` for another (``/healthz``'s ``ok``)."""
    try:
        document = json.loads(data)
    except ValueError:
        return {"raw": data.decode(errors="replace")}
    return document if isinstance(document, dict) else {"raw": document}
