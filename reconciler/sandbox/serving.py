"""The sandbox's HTTP server: waitress, HTTP/1.1 keep-alive, every response sent in one piece.

Why not werkzeug's development server (the sandbox's server until issue 13): it closes the
connection after every response (``Connection: close``) and writes the status line and headers
with one ``send`` and the body with another. Terraform's AWS provider (aws-sdk-go-v2 1.36, Go
``net/http``, parallelism 50) now and then closes its connection within microseconds of
receiving the headers, before the body's segment arrives (apparently a race inside the Go
client; Python clients wait for the body); the body then meets a closed socket (RST), the
provider logs no response for that attempt and retries it, and a create the sandbox had
answered 200 comes back ``ConflictException``. Captured on loopback: 2 to 5 such retries per
320 Terraform writes, each matching one RST after a response split in two segments with the
client's FIN between them; none in 7 runs once every response left in one ``send``.

waitress keeps HTTP/1.1 connections open (a run opens a handful of connections instead of one
per call) but also sends headers and body separately (its ``send_bytes`` is 1), so its
connection class here holds a task's writes and sends them joined: a client has the whole
response the moment it has its headers.

Differences from werkzeug that matter to the sandbox:

- waitress drops request headers whose names contain an underscore (moto's werkzeug handler
  keeps them for S3 object metadata); no AWS SDK header of the services the sandbox simulates
  has one (``X-Amz-Target``, ``X-Amz-Date``, ``Amz-Sdk-Request``, ``Amz-Sdk-Invocation-Id``,
  ``Authorization``, ``Content-Type``);
- the application runs in a pool of ``SERVER_THREADS`` threads; more requests at once wait
  for a thread (werkzeug started a thread per connection);
- the fault layer's connection drops need the client's socket: the server puts it in
  ``environ[CONNECTION_SOCKET_KEY]`` and ignores the ``ConnectionResetError`` the layer raises
  after closing it (``log_socket_errors`` off), so no HTTP 500 is written instead.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from waitress.adjustments import Adjustments
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import WSGITask

from reconciler.sandbox.faults import CONNECTION_SOCKET_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["SERVER_THREADS", "SandboxHttpServer"]

SERVER_THREADS = 64
"""Threads running the simulators: above Terraform's default parallelism (10) and the
``-parallelism=50`` we measure with, so a call waits for a thread only when a fault (latency,
read timeout) holds many threads at once."""
MAX_CONNECTIONS = 1000
"""Sockets open at once (waitress's ``connection_limit``, counting its own listening and wake-up
sockets); more connections wait in the listen queue. Needs ``ulimit -n`` above it."""
LISTEN_BACKLOG = 1024
IDLE_TIMEOUT_SECONDS = 120
"""A keep-alive connection idle this long is closed (longer than Go's 90-second and urllib3's
unlimited idle times, so the client usually closes first; a server close of an idle connection
drops no request: nothing was received on it)."""
_LOOP_SECONDS = 5.0
"""Longest wait of one turn of the event loop; ``shutdown`` wakes it at once."""
_THREAD_EXIT_SECONDS = 1.0
"""How long ``close`` waits for threads still running a call (a ``read_timeout`` fault may
hold one); they are daemon threads, left to finish on their own after that."""


class _Task(WSGITask):  # type: ignore[misc]  # waitress ships no type hints
    """waitress's WSGI task, with the client's socket in the environ (for the fault layer) and
    its whole response handed to the channel at once."""

    channel: _Channel

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ[CONNECTION_SOCKET_KEY] = self.channel.socket
        return environ

    def service(self) -> None:
        self.channel.hold_writes()
        try:
            super().service()
        finally:
            self.channel.release_writes()


class _Channel(HTTPChannel):  # type: ignore[misc]
    """waitress's connection, able to hold a task's writes and send them with one ``send``.

    waitress sends each ``write_soon`` at once (its ``send_bytes`` is 1), so a response would
    leave as two segments, status line and headers, then body: the split this server exists
    to avoid.
    """

    task_class = _Task
    _held: list[bytes] | None = None

    def hold_writes(self) -> None:
        """Keep the next writes (bytes) until ``release_writes``."""
        self._held = []

    def release_writes(self) -> None:
        """Queue the writes held, joined, for one ``send``; stop holding."""
        held, self._held = self._held, None
        if held:
            super().write_soon(b"".join(held))

    def write_soon(self, data: Any) -> int:
        if self._held is None:
            return int(super().write_soon(data))
        if not isinstance(data, bytes):  # a wsgi.file_wrapper buffer: keep the order
            self.release_writes()
            return int(super().write_soon(data))
        if not self.connected:
            raise ClientDisconnected
        self._held.append(data)
        return len(data)


class _Server(TcpWSGIServer):  # type: ignore[misc]
    channel_class = _Channel


class SandboxHttpServer:
    """Serves ``app`` on ``host:port`` (port 0: a free one), bound at construction; a
    keep-alive connection idle ``idle_timeout_seconds`` (whole seconds) is closed.

    ``serve_forever`` runs the event loop in the calling thread until ``shutdown`` (callable
    from any thread; wakes the loop at once); ``close`` then closes every socket and stops the
    thread pool. Raises ``OSError`` when the address cannot be bound.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        host: str,
        port: int,
        idle_timeout_seconds: int = IDLE_TIMEOUT_SECONDS,
    ) -> None:
        adjustments = Adjustments(
            host=host,
            port=port,
            threads=SERVER_THREADS,
            connection_limit=MAX_CONNECTIONS,
            backlog=LISTEN_BACKLOG,
            channel_timeout=idle_timeout_seconds,
            cleanup_interval=min(30, idle_timeout_seconds),  # how often idleness is checked
            asyncore_use_poll=True,  # select() fails above file descriptor 1,023
            ident="sandbox",
            log_socket_errors=False,  # the fault layer's drops; clients resetting connections
            expose_tracebacks=False,
        )
        self._server = _Server(app, map={}, adj=adjustments, sockinfo=adjustments.listen[0])
        self._stopping = threading.Event()
        self._closing = threading.Lock()
        """Held while the wake-up pipe is pulled or closed, so that no pull meets a closed pipe."""
        self._closed = False

    @property
    def port(self) -> int:
        """The TCP port bound."""
        return int(self._server.effective_port)

    def serve_forever(self) -> None:
        """Run the event loop until ``shutdown``; closes the server on the way out."""
        server = self._server
        try:
            while not self._stopping.is_set():
                server.asyncore.loop(timeout=_LOOP_SECONDS, map=server._map, use_poll=True, count=1)
        finally:
            self.close()

    def shutdown(self) -> None:
        """Ask the loop to stop and wake it (returns at once)."""
        with self._closing:
            self._stopping.set()
            if not self._closed:  # the loop may have seen the flag and closed already
                self._server.pull_trigger()

    def close(self) -> None:
        """Stop the thread pool (waiting up to ``_THREAD_EXIT_SECONDS`` for calls in progress),
        then close the listening socket, every connection and the wake-up pipe (idempotent)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        server = self._server
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=_THREAD_EXIT_SECONDS)
        with self._closing:
            for dispatcher in list(server._map.values()):
                with contextlib.suppress(OSError):  # already closed by the client
                    dispatcher.close()
