"""The operations endpoint of ``reconciler run``: health, readiness and Prometheus metrics.

=============  ==================================================================================
path           answer
=============  ==================================================================================
``/healthz``   ``200 ok`` while the process serves (liveness: nothing the loop does blocks it)
``/readyz``    ``200 ready`` once a pass has read live state from AWS, ``503 not ready`` before
``/metrics``   the controller's registry in Prometheus' text format (prometheus-client's own
               exposition, content negotiation and gzip included)
``/``, ...     the status page, ``/api/status`` and ``/access``, when given ``pages``
               (``status_page.StatusPages``: read-only)
=============  ==================================================================================

Anything else is ``404`` (whatever the method); methods other than GET and HEAD are ``405``.
It binds loopback unless told otherwise.

The server is waitress (https://docs.pylonsproject.org/projects/waitress/): one thread runs its
event loop, which reads every request without a thread per connection, and a pool of
``SERVER_THREADS`` threads runs the application. It is bounded so that no client, however many
connections it opens, can take the file descriptors or threads the loop needs:

- at most ``MAX_CONNECTIONS`` connections are open at once; when one more arrives, the
  connection idle the longest (no request in progress) is closed to make room, so that a flood
  of idle or half-sent requests cannot keep a liveness probe out. When every connection has a
  request in progress, new ones wait in the kernel's listen queue (``LISTEN_BACKLOG``), which
  costs this process no file descriptor;
- a connection that has received nothing for ``IDLE_TIMEOUT_SECONDS`` with no request in
  progress is closed (checked every second);
- a request's header is at most ``MAX_REQUEST_HEADER_BYTES``, its body ``MAX_REQUEST_BODY_BYTES``
  (or the hooks' ``max_body_bytes`` when larger: a webhook's payload); a larger body is refused
  with ``413`` from its ``Content-Length`` before it is read, a chunked one as soon as it
  passes the bound;
- a connection the server ends (after a refusal such as ``413``, or ``Connection: close``) is
  closed *lingering*: once the answer is sent, the server shuts its side down and reads and
  discards what the client still sends, until the client closes or ``LINGER_SECONDS`` pass.
  Closing a socket with unread data makes the kernel reset the connection, and the reset can
  destroy the answer before the client reads it (Apache's and nginx's ``lingering_close``).

The loop never waits for the server: the server only reads the metrics registry and the
controller's readiness flag, and runs in daemon threads of its own.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, make_wsgi_app
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from reconciler.controller.hooks import HookEndpoints
    from reconciler.controller.status_page import StatusPages

__all__ = [
    "IDLE_TIMEOUT_SECONDS",
    "MAX_CONNECTIONS",
    "OperationsServer",
]

log = structlog.get_logger("reconciler.controller")

MAX_CONNECTIONS = 32
"""Client connections open at once: probes and a scraper need a handful; far below any
file-descriptor limit (1,024 is the smallest common default)."""
IDLE_TIMEOUT_SECONDS = 5
"""A connection receiving nothing for this long, with no request in progress, is closed
(whole seconds: waitress's ``channel_timeout``)."""
SERVER_THREADS = 2
"""Threads running the application (each answer is computed in memory, in microseconds)."""
LISTEN_BACKLOG = 128
"""Connections the kernel queues while every slot has a request in progress."""
MAX_REQUEST_HEADER_BYTES = 8192
MAX_REQUEST_BODY_BYTES = 1024
LINGER_SECONDS = 2.0
"""How long a connection the server ends goes on being read (and discarded) for the client's
sake before it is closed (see the module docstring)."""

_LOOP_SECONDS = 0.2
"""How long one turn of the event loop waits for sockets: the delay of ``stop``."""


class _LoggedErrorTask(ErrorTask):  # type: ignore[misc]  # waitress ships no type hints
    """waitress's answer to a request it refuses before the application sees it (a header or a
    body over the bounds, a malformed request), logged as ``http.refused``."""

    def execute(self) -> None:
        error = self.request.error
        path = str(getattr(self.request, "path", "") or "")[:120]
        log.warning(
            "http.refused",
            status=int(getattr(error, "code", 400)),
            reason=str(getattr(error, "reason", "")),
            path=path if path.isprintable() else path.encode("unicode_escape").decode(),
            remote=str(self.channel.addr[0]) if self.channel.addr else "",
        )
        super().execute()  # after the log line: the client may be gone once it is answered


class _Channel(HTTPChannel):  # type: ignore[misc]  # waitress ships no type hints
    """waitress's connection, logging the requests it refuses and closing lingering when the
    server ends the connection (module docstring). Every method runs in the event loop."""

    error_task_class = _LoggedErrorTask
    will_close: bool  # waitress's: close once the answer is flushed
    connected: bool
    _linger_until: float | None = None  # monotonic seconds; None: not lingering

    def handle_close(self) -> None:
        # waitress calls this to end the connection: with ``will_close`` set when the server
        # decided it (after the answer was flushed), unset when the client closed or failed.
        if self.will_close and self._linger_until is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            else:
                self._linger_until = time.monotonic() + LINGER_SECONDS
                self.will_close = False
                return
        self.close_now()

    def close_now(self) -> None:
        """Close the connection at once (no lingering)."""
        super().handle_close()

    def readable(self) -> bool:
        if self._linger_until is None:
            return bool(super().readable())
        if time.monotonic() >= self._linger_until:
            self.close_now()
            return False
        return True

    def writable(self) -> bool:
        return self._linger_until is None and bool(super().writable())

    def handle_read(self) -> None:
        if self._linger_until is None:
            super().handle_read()
            return
        try:
            data = self.socket.recv(65536)
        except OSError:
            data = b""
        if not data:  # the client closed (or failed): nothing more to spare it
            self.close_now()


class _Server(TcpWSGIServer):  # type: ignore[misc]  # waitress ships no type hints
    """waitress's TCP server, keeping accepting at the connection cap by closing the connection
    idle the longest, and logging the requests it refuses itself. Runs in one thread: every
    method here is called from its event loop."""

    channel_class = _Channel
    max_connections = MAX_CONNECTIONS

    def readable(self) -> bool:
        super().readable()  # closes timed-out connections every ``cleanup_interval``
        return bool(self.accepting) and (
            len(self.active_channels) < self.max_connections or self._idlest() is not None
        )

    def handle_accept(self) -> None:
        if len(self.active_channels) >= self.max_connections:
            idlest = self._idlest()
            if idlest is None:  # pragma: no cover - readable() said there was one
                return
            idlest.close_now()
        super().handle_accept()

    def _idlest(self) -> Any:
        """The open connection with no request in progress and nothing left to send that
        received its last byte the longest ago; ``None`` when there is none."""
        idle = [
            channel
            for channel in self.active_channels.values()
            if not channel.requests and not channel.total_outbufs_len
        ]
        return min(idle, key=lambda channel: channel.last_activity, default=None)


class OperationsServer:
    """Serves ``/healthz``, ``/readyz`` and ``/metrics`` on ``host:port`` (port 0: any free).

    ``ready`` is asked at every ``/readyz``; ``hooks``, when given, answers its own paths
    (``HookEndpoints.handles``: ``POST /hooks/git``, ``/api/sync``); ``pages``, when given,
    answers the status page's (its ``paths``: ``/``, ``/api/status``, ``/access``, GET and
    HEAD). Use as a context manager, or ``start`` / ``stop``.
    ``max_connections`` and ``idle_timeout_seconds`` (whole seconds, at least 1) bound the
    connections (defaults ``MAX_CONNECTIONS``, ``IDLE_TIMEOUT_SECONDS``). Raises ``OSError``
    when the address cannot be bound.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        ready: Callable[[], bool],
        pages: StatusPages | None = None,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout_seconds: int = IDLE_TIMEOUT_SECONDS,
        hooks: HookEndpoints | None = None,
    ) -> None:
        self._metrics = make_wsgi_app(registry)
        self._ready = ready
        self._hooks = hooks
        self._pages = pages
        max_body = max(MAX_REQUEST_BODY_BYTES, hooks.max_body_bytes if hooks else 0)
        adjustments = Adjustments(
            host=host,
            port=port,
            threads=SERVER_THREADS,
            channel_timeout=idle_timeout_seconds,
            cleanup_interval=1,
            # _Server closes the idlest connection at the cap, so waitress's own limit (which
            # stops accepting; it counts its listening and wake-up sockets too) is never reached
            connection_limit=max_connections + 3,
            backlog=LISTEN_BACKLOG,
            max_request_header_size=MAX_REQUEST_HEADER_BYTES,
            max_request_body_size=max_body + 1,  # waitress refuses a body of this size
            asyncore_use_poll=True,  # select() fails above file descriptor 1,023
            asyncore_loop_timeout=_LOOP_SECONDS,
            ident="",  # no Server header
            log_socket_errors=False,  # a client resetting its connection is not our error
            expose_tracebacks=False,
        )
        self._server = _Server(self._app, map={}, adj=adjustments, sockinfo=adjustments.listen[0])
        self._server.max_connections = max_connections
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually bound."""
        return str(self._server.effective_host), int(self._server.effective_port)

    @property
    def url(self) -> str:
        """``http://host:port`` of the endpoint."""
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> OperationsServer:
        """Serve from a daemon thread; returns ``self``."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="operations-http", daemon=True)
        self._thread.start()
        log.info("operations.listening", url=self.url, max_connections=self._server.max_connections)
        return self

    def stop(self) -> None:
        """Stop serving and close every socket (within about ``_LOOP_SECONDS``)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        else:
            self._close()

    def __enter__(self) -> OperationsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        """The event loop, a turn at a time so that ``stop`` is seen; closes on the way out."""
        server = self._server
        try:
            while not self._stopping.is_set():
                server.asyncore.loop(timeout=_LOOP_SECONDS, map=server._map, use_poll=True, count=1)
        finally:
            self._close()

    def _close(self) -> None:
        server = self._server
        for dispatcher in list(server._map.values()):
            dispatcher.close()
        server.task_dispatcher.shutdown(timeout=1)

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if self._hooks is not None and self._hooks.handles(path):
            return self._hooks(environ, start_response)
        known = path in ("/metrics", "/healthz", "/readyz") or (
            self._pages is not None and path in self._pages.paths
        )
        if not known:
            return _text(start_response, "404 Not Found", "not found\n")
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
        if self._pages is not None and path in self._pages.paths:
            return self._pages(environ, start_response)
        return _text(start_response, "404 Not Found", "not found\n")


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]
