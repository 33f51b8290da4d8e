"""The WSGI layer that sends each request to our simulators or, failing that, to moto.

A JSON-1.1 request names its operation in ``X-Amz-Target: <targetPrefix>.<Operation>``: when
one of ``services`` has that prefix and handles the operation, it answers; every other request
(other operations, other services, query-protocol IAM/STS, ``/moto-api``) goes to ``fallback``,
moto's ``DomainDispatcherApplication``.

DynamoDB requests to the fallback are served one at a time. DynamoDB applies each conditional
write atomically (Amazon DynamoDB Developer Guide, "Condition expressions": the condition is
evaluated and the write made as one operation), while moto reads the item, checks the condition
and writes it in separate steps without a lock: two clients racing for the writer lease would
both win it. Serializing the service restores the atomicity that the lease relies on.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from reconciler.sandbox.protocol import JsonService

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


_SERIALIZED_PREFIX = "DynamoDB_"
"""``X-Amz-Target`` prefix of the requests served one at a time (``DynamoDB_20120810.*``)."""


class SimulatorRouter:
    """WSGI application: ``services`` first, ``fallback`` for everything else.

    ``page_size`` caps every page of the services' List calls (``SandboxSettings.list_page_size``;
    None: each call's own AWS maximum). moto's fallback pages as moto does.
    """

    def __init__(
        self,
        *,
        services: Sequence[JsonService],
        fallback: WSGIApplication,
        page_size: int | None = None,
    ) -> None:
        self.services = list(services)
        self.fallback = fallback
        self.page_size = page_size
        self._serialized = threading.Lock()

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
        if routed is None:
            if str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(_SERIALIZED_PREFIX):
                with self._serialized:  # the whole answer made under the lock (module docstring)
                    return list(self.fallback(environ, start_response))
            return self.fallback(environ, start_response)
        service, operation = routed
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status, payload = service.call(operation, body, page_size=self.page_size)
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
