"""The operations endpoint of ``reconciler run``: health, readiness and Prometheus metrics.

=============  ==================================================================================
path           answer
=============  ==================================================================================
``/healthz``   ``200 ok`` while the process serves (liveness: nothing the loop does blocks it)
``/readyz``    ``200 ready`` once a pass has read live state from AWS, ``503 not ready`` before
``/metrics``   the controller's registry in Prometheus' text format (prometheus-client's own
               exposition, content negotiation and gzip included)
=============  ==================================================================================

Anything else is ``404``; methods other than GET and HEAD are ``405``. The server runs in daemon
threads (a standard-library WSGI server, one thread per request) beside the loop and only reads
from it. It binds loopback unless told otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import CollectorRegistry, make_wsgi_app

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = ["OperationsServer"]

log = structlog.get_logger("reconciler.controller")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """No access log on standard error (probes every few seconds would drown the logs)."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class OperationsServer:
    """Serves ``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port`` (port 0: any free).

    ``ready`` is asked at every ``/readyz``. Use as a context manager, or ``start`` / ``stop``.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        ready: Callable[[], bool],
    ) -> None:
        self._metrics = make_wsgi_app(registry)
        self._ready = ready
        self._server = make_server(
            host, port, self._app, server_class=_Server, handler_class=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually bound."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """``http://host:port`` of the endpoint."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> OperationsServer:
        """Serve from a daemon thread; returns ``self``."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="operations-http",
            daemon=True,
        )
        self._thread.start()
        log.info("operations.listening", url=self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OperationsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "method not allowed\n")
        if path == "/metrics":
            body: Iterable[bytes] = self._metrics(environ, start_response)
            return body
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            if self._ready():
                return _text(start_response, "200 OK", "ready\n")
            return _text(start_response, "503 Service Unavailable", "not ready\n")
        return _text(start_response, "404 Not Found", "not found\n")


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]
