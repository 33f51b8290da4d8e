"""The sandbox's server under concurrent keep-alive clients: no response is ever lost.

Issue 13: Terraform's AWS provider (Go SDK, parallelism 50, no fault injected) retried creates
the sandbox had answered 200 and met ``ConflictException``. Cause, seen on the wire: the
server (werkzeug's development server, then) sent each response as two segments, status line
and headers first, body second; the Go client sometimes closed its connection between the two
(apparently a race inside it), the body met a closed socket, the SDK retried. ``serving.py``
sends each response with one ``send``.

The clients here speak raw HTTP/1.1 over their own keep-alive connections, so that nothing
retries behind the test's back: a lost response is a failed request here, not a hidden retry.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.serving import SandboxHttpServer

CLIENTS = 32
CREATES_PER_CLIENT = 8
IDLE_GAP_SECONDS = (0.0, 0.0, 0.001, 0.01, 0.05)
"""Pauses a client takes between two requests on its connection (drawn at random): back to
back, a scheduler tick, and idle long enough for the server to have finished the previous
response and gone back to waiting."""
SOCKET_TIMEOUT_SECONDS = 30.0


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes
    reads: int
    """``recv`` calls it took; 1 when the whole response had arrived by the first."""


@dataclass
class _Tally:
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """user name → decoded 200 answer."""
    reads: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _create_user_request(*, port: int, identity_store_id: str, user_name: str) -> bytes:
    body = json.dumps(
        {
            "IdentityStoreId": identity_store_id,
            "UserName": user_name,
            "DisplayName": user_name,
            "Name": {"GivenName": user_name, "FamilyName": "Load"},
        }
    ).encode()
    head = (
        "POST / HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n"
        "X-Amz-Target: AWSIdentityStore.CreateUser\r\n"
        "X-Amz-Date: 20260101T000000Z\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/identitystore/"
        "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def _read_response(connection: socket.socket) -> _Response:
    """Read one HTTP/1.1 response with a Content-Length body; raises ``ConnectionError`` when
    the connection ends first."""
    data = b""
    reads = 0
    while True:
        chunk = connection.recv(65536)
        reads += 1
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} bytes of the response")
        data += chunk
        head, separator, rest = data.partition(b"\r\n\r\n")
        if not separator:
            continue
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        length = int(headers["content-length"])
        if len(rest) >= length:
            return _Response(
                status=int(status_line.split()[1]),
                headers=headers,
                body=rest[:length],
                reads=reads,
            )


def _client(
    *, index: int, port: int, identity_store_id: str, tally: _Tally, start: threading.Barrier
) -> None:
    """Create ``CREATES_PER_CLIENT`` users through one keep-alive connection (a new one only
    when the server asks to close), pausing between requests."""
    draw = random.Random(index)  # noqa: S311 - pauses, not secrets
    connection: socket.socket | None = None
    start.wait()
    try:
        for number in range(CREATES_PER_CLIENT):
            user_name = f"load-{index}-{number}"
            if connection is None:
                connection = socket.create_connection(
                    ("127.0.0.1", port), timeout=SOCKET_TIMEOUT_SECONDS
                )
            request = _create_user_request(
                port=port, identity_store_id=identity_store_id, user_name=user_name
            )
            try:
                connection.sendall(request)
                response = _read_response(connection)
            except OSError as error:
                with tally.lock:
                    tally.failures.append(f"{user_name}: {type(error).__name__}: {error}")
                connection.close()
                connection = None
                continue
            with tally.lock:
                tally.reads.append(response.reads)
                if response.status != 200:
                    tally.failures.append(f"{user_name}: HTTP {response.status} {response.body!r}")
                elif user_name in tally.answers:
                    tally.failures.append(f"{user_name}: answered twice")
                else:
                    tally.answers[user_name] = json.loads(response.body)
            if response.headers.get("connection", "").lower() == "close":
                connection.close()
                connection = None
            time.sleep(draw.choice(IDLE_GAP_SECONDS))
    finally:
        if connection is not None:
            connection.close()


def _load(sandbox: Sandbox, org: SeededOrganization) -> _Tally:
    port = int(sandbox.endpoint_url.rsplit(":", 1)[1])
    tally = _Tally()
    start = threading.Barrier(CLIENTS)
    threads = [
        threading.Thread(
            target=_client,
            kwargs={
                "index": index,
                "port": port,
                "identity_store_id": org.identity_store_id,
                "tally": tally,
                "start": start,
            },
            name=f"load-client-{index}",
        )
        for index in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return tally


def test_concurrent_keep_alive_clients_get_every_create_answered_exactly_once(
    sandbox: Sandbox, org: SeededOrganization, client: Any
) -> None:
    """32 clients, each on its own keep-alive connection, create 8 users apiece: every create
    is answered 200 once, none fails, and the store holds exactly the users answered."""
    tally = _load(sandbox, org)

    expected = {f"load-{i}-{n}" for i in range(CLIENTS) for n in range(CREATES_PER_CLIENT)}
    assert tally.failures == []
    assert set(tally.answers) == expected
    users = client("identitystore").get_paginator("list_users")
    stored = {
        user["UserName"]: user["UserId"]
        for page in users.paginate(IdentityStoreId=org.identity_store_id)
        for user in page["Users"]
    }
    assert stored == {name: answer["UserId"] for name, answer in tally.answers.items()}
    creates = [c for c in sandbox.calls if c.operation == "CreateUser"]
    assert len(creates) == len(expected)


def test_every_response_reaches_a_client_in_one_piece(
    sandbox: Sandbox, org: SeededOrganization
) -> None:
    """Under the same load, each response's status line, headers and body arrive together:
    the first ``recv`` after a request returns the whole response. A response split between
    two sends is what a client closing its connection right after the headers (the Go SDK,
    racing itself) loses, and then retries."""
    tally = _load(sandbox, org)

    assert tally.failures == []
    split = sum(1 for reads in tally.reads if reads > 1)
    assert (len(tally.reads), split) == (CLIENTS * CREATES_PER_CLIENT, 0)


IDLE_TIMEOUT_SECONDS = 1
IDLE_CLIENTS = 16
REQUESTS_PER_IDLE_CLIENT = 4
GAPS_AROUND_IDLE_TIMEOUT = (0.8, 0.95, 1.0, 1.05, 1.2, 2.1)


class _CountingApp:
    """Answers ``POST`` with the request's body after counting it as processed."""

    def __init__(self) -> None:
        self.processed: Counter[bytes] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        with self.lock:
            self.processed[body] += 1
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]


def _idle_client(
    *,
    index: int,
    port: int,
    answered: list[bytes],
    unanswered: list[bytes],
    start: threading.Barrier,
) -> None:
    """Send ``REQUESTS_PER_IDLE_CLIENT`` requests on one keep-alive connection, pausing around
    the server's idle timeout between them; a request whose connection ends unanswered is sent
    again on a new connection, as an SDK would."""
    draw = random.Random(index)  # noqa: S311 - pauses, not secrets
    connection: socket.socket | None = None
    start.wait()
    try:
        for number in range(REQUESTS_PER_IDLE_CLIENT):
            body = f"{index}-{number}".encode()
            request = (
                f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            for _attempt in range(3):
                if connection is None:
                    connection = socket.create_connection(
                        ("127.0.0.1", port), timeout=SOCKET_TIMEOUT_SECONDS
                    )
                try:
                    connection.sendall(request)
                    response = _read_response(connection)
                except OSError:
                    unanswered.append(body)
                    connection.close()
                    connection = None
                    continue
                answered.append(response.body)
                break
            time.sleep(draw.choice(GAPS_AROUND_IDLE_TIMEOUT))
    finally:
        if connection is not None:
            connection.close()


@pytest.mark.slow
def test_a_request_meeting_the_idle_timeout_is_answered_or_never_processed() -> None:
    """Clients pause around the server's keep-alive idle timeout (1 s here), so some requests
    reach a connection the server is closing. Each such request is then either answered, or
    dropped unprocessed (safe to send again): no request is processed without its answer, so
    none is processed twice when its client sends it again."""
    app = _CountingApp()
    server = SandboxHttpServer(app, host="127.0.0.1", port=0, idle_timeout_seconds=1)
    loop = threading.Thread(target=server.serve_forever, name="idle-test-http", daemon=True)
    loop.start()
    answered: list[bytes] = []
    unanswered: list[bytes] = []
    start = threading.Barrier(IDLE_CLIENTS)
    clients = [
        threading.Thread(
            target=_idle_client,
            kwargs={
                "index": index,
                "port": server.port,
                "answered": answered,
                "unanswered": unanswered,
                "start": start,
            },
        )
        for index in range(IDLE_CLIENTS)
    ]
    try:
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=120)
    finally:
        server.shutdown()
        loop.join(timeout=10)
        server.close()

    expected = {
        f"{i}-{n}".encode() for i in range(IDLE_CLIENTS) for n in range(REQUESTS_PER_IDLE_CLIENT)
    }
    assert unanswered  # the server did close connections a request was sent on
    assert sorted(answered) == sorted(expected)
    assert app.processed == Counter(expected)
