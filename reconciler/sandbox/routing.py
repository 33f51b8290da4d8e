"""The WSGI layer that sends each request to our simulators or, failing that, to moto.

A JSON-1.1 request names its operation in ``X-Amz-Target: <targetPrefix>.<Operation>``: when
one of ``services`` has that prefix and handles the operation, it answers; every other request
(other operations, other services, query-protocol IAM/STS, ``/moto-api``) goes to ``fallback``,
moto's ``DomainDispatcherApplication``.

Regions: an Identity Center instance and its identity store live in one Region (IAM Identity
Center user guide, "IAM Identity Center Region availability": the instance is enabled in one
Region; the APIs are Regional endpoints). A request to sso-admin or identitystore signed for
another Region (SigV4 credential scope ``<key>/<date>/<region>/<service>/aws4_request``) is
answered by the service's ``elsewhere`` handler: ListInstances lists nothing there, and calls
naming the instance or the store find nothing. Organizations is global and answers every Region.

STS GetCallerIdentity (query protocol) is answered here with ``caller_account``'s account, so
that a sandbox can stand for a delegated administrator's account (``Sandbox.caller_account_id``);
other STS calls go to moto.

DynamoDB requests to the fallback are served one at a time. DynamoDB applies each conditional
write atomically (Amazon DynamoDB Developer Guide, "Condition expressions": the condition is
evaluated and the write made as one operation), while moto reads the item, checks the condition
and writes it in separate steps without a lock: two clients racing for the writer lease would
both win it. Serializing the service restores the atomicity that the lease relies on.
"""

from __future__ import annotations

import io
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from reconciler.sandbox.protocol import JsonService

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


_SERIALIZED_PREFIX = "DynamoDB_"
"""``X-Amz-Target`` prefix of the requests served one at a time (``DynamoDB_20120810.*``)."""
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
"""(region, service) of a SigV4 ``Authorization`` header."""


def signed_scope(environ: WSGIEnvironment) -> tuple[str, str] | None:
    """(Region, service) a request was signed for, or None when it is not signed."""
    found = _CREDENTIAL_SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return None if found is None else (found[1], found[2])


def _caller_identity(account_id: str) -> bytes:
    """STS GetCallerIdentity's XML answer (botocore ``sts`` model, query protocol)."""
    account = escape(account_id)
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult>"
        f"<Arn>arn:aws:sts::{account}:assumed-role/reconciler/sandbox</Arn>"
        "<UserId>AROASANDBOXCALLER0000:sandbox</UserId>"
        f"<Account>{account}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()


class SimulatorRouter:
    """WSGI application: ``services`` first, ``fallback`` for everything else.

    ``page_size`` caps every page of the services' List calls (``SandboxSettings.list_page_size``;
    None: each call's own AWS maximum). moto's fallback pages as moto does. ``region`` is the
    sandbox's Region (``SandboxSettings.region``): requests signed for another one get the
    services' ``elsewhere`` answers (None: every Region is home). ``caller_account`` gives the
    account STS GetCallerIdentity answers (None: moto answers).
    """

    def __init__(
        self,
        *,
        services: Sequence[JsonService],
        fallback: WSGIApplication,
        page_size: int | None = None,
        region: str | None = None,
        caller_account: Callable[[], str] | None = None,
    ) -> None:
        self.services = list(services)
        self.fallback = fallback
        self.page_size = page_size
        self.region = region
        self.caller_account = caller_account
        self._serialized = threading.Lock()

    def _is_home(self, environ: WSGIEnvironment) -> bool:
        scope = signed_scope(environ)
        return self.region is None or scope is None or scope[0] == self.region

    def _answers_caller_identity(self, environ: WSGIEnvironment) -> bool:
        """Whether this is STS GetCallerIdentity (the body is read and put back for the
        fallback)."""
        scope = signed_scope(environ)
        if scope is None or scope[1] != "sts":
            return False
        body = _read_body(environ)
        form = parse_qs(body.decode("utf-8", "replace")) or parse_qs(
            str(environ.get("QUERY_STRING", ""))
        )
        return form.get("Action") == ["GetCallerIdentity"]

    def route(self, environ: WSGIEnvironment) -> tuple[JsonService, str] | None:
        """The service and operation that answer this request, or None for the fallback."""
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        prefix, _, operation = target.rpartition(".")
        for service in self.services:
            if service.target_prefix == prefix and service.handles(operation):
                return service, operation
        return None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        routed = self.route(environ)
        caller = self.caller_account
        if routed is None and caller is not None and self._answers_caller_identity(environ):
            payload = _caller_identity(caller())
            start_response(
                "200 OK",
                [
                    ("Content-Type", "text/xml"),
                    ("Content-Length", str(len(payload))),
                    ("x-amzn-RequestId", str(uuid.uuid4())),
                ],
            )
            return [payload]
        if routed is None:
            if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(_SERIALIZED_PREFIX):
                with self._serialized:  # the whole answer made under the lock (module docstring)
                    return list(self.fallback(environ, start_response))
            return self.fallback(environ, start_response)
        service, operation = routed
        body = _read_body(environ)
        status, payload = service.call(
            operation, body, page_size=self.page_size, home=self._is_home(environ)
        )
        reason = (
            "OK" if status == 200 else "Bad Request" if status < 500 else "Internal Server Error"
        )
        start_response(
            f"{status} {reason}",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("Content-Length", str(len(payload))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [payload]


def _read_body(environ: WSGIEnvironment) -> bytes:
    """The request's body (``CONTENT_LENGTH`` bytes), put back in ``wsgi.input`` so that a
    fallback reading it again gets it whole."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)
