"""``POST /hooks/git`` and ``/api/sync`` over real HTTP on 127.0.0.1, asking a bare
``Triggers`` (no loop): whether a request asked for a tick is read from ``triggers.pending``
right after its answer, so "nothing was asked" is checked without waiting for anything."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from prometheus_client import CollectorRegistry

from reconciler.controller.hooks import MAX_HOOK_BODY_BYTES, HookEndpoints
from reconciler.controller.serving import OperationsServer
from reconciler.controller.triggers import Triggers
from reconciler.planning.reports import Mode, PassReport, PassStatus
from tests.controller.webhooks import (
    SECRET,
    TOKEN,
    call,
    github_headers,
    github_signature,
    gitlab_headers,
    push_payload,
    serve,
)


@pytest.fixture
def triggers() -> Triggers:
    return Triggers()


@pytest.fixture
def server(triggers: Triggers) -> Iterator[OperationsServer]:
    with serve(triggers) as running:
        yield running


def hook(server: OperationsServer, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    status, document, _ = call(f"{server.url}/hooks/git", body=body, headers=headers)
    return status, document


# --- what starts a fetch -------------------------------------------------------------------


def test_a_signed_github_push_to_the_branch_asks_for_a_fetch(
    server: OperationsServer, triggers: Triggers
) -> None:
    body = push_payload()

    status, document = hook(server, body, github_headers(body))

    assert (status, document["status"]) == (202, "accepted")
    assert triggers.pending


def test_a_gitlab_push_with_the_secret_token_asks_for_a_fetch(
    server: OperationsServer, triggers: Triggers
) -> None:
    status, document = hook(server, push_payload(), gitlab_headers())

    assert (status, document["status"]) == (202, "accepted")
    assert triggers.pending


def test_ten_pushes_while_the_loop_is_busy_make_one_tick(
    server: OperationsServer, triggers: Triggers
) -> None:
    body = push_payload()
    for _ in range(10):
        assert hook(server, body, github_headers(body))[0] == 202

    first = triggers.begin_tick()  # the one tick the ten pushes asked for
    triggers.end_tick(first, None)

    assert not triggers.pending
    assert not first.force  # a push asks for a fetch, never a pass whatever the revision


def test_the_github_ping_is_answered_and_asks_for_nothing(
    server: OperationsServer, triggers: Triggers
) -> None:
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'

    status, document = hook(server, body, github_headers(body, event="ping"))

    assert (status, document["status"]) == (200, "pong")
    assert not triggers.pending


# --- what is refused -----------------------------------------------------------------------


def test_a_wrong_github_signature_is_refused(server: OperationsServer, triggers: Triggers) -> None:
    body = push_payload()

    status, _ = hook(server, body, github_headers(body, secret=b"not-the-secret-at-all"))

    assert status == 403
    assert not triggers.pending


def test_a_signature_of_another_body_is_refused(
    server: OperationsServer, triggers: Triggers
) -> None:
    """A delivery seen once cannot carry another payload under its signature."""
    signed = push_payload(ref="refs/heads/feature")
    headers = github_headers(signed)

    status, _ = hook(server, push_payload(ref="refs/heads/main"), headers)

    assert status == 403
    assert not triggers.pending


def test_a_github_push_without_a_signature_is_refused(
    server: OperationsServer, triggers: Triggers
) -> None:
    body = push_payload()
    headers = github_headers(body)
    del headers["X-Hub-Signature-256"]

    assert hook(server, body, headers)[0] == 403
    assert not triggers.pending


def test_a_wrong_gitlab_token_is_refused(server: OperationsServer, triggers: Triggers) -> None:
    status, _ = hook(server, push_payload(), gitlab_headers(token=SECRET[:-1]))

    assert status == 403
    assert not triggers.pending


def test_without_a_configured_secret_every_hook_is_refused(triggers: Triggers) -> None:
    """Not even a delivery signed with an empty key, or an empty token, gets through."""
    body = push_payload()
    with serve(triggers, secret=None) as server:
        github = hook(server, body, github_headers(body, secret=b""))
        gitlab = hook(server, body, gitlab_headers(token=b""))

    assert (github[0], gitlab[0]) == (403, 403)
    assert "no webhook secret is configured" in github[1]["error"]
    assert not triggers.pending


def test_a_push_to_another_branch_is_ignored(server: OperationsServer, triggers: Triggers) -> None:
    for ref in ("refs/heads/feature", "refs/tags/main", "refs/heads/main-old"):
        body = push_payload(ref=ref)

        status, document = hook(server, body, github_headers(body))

        assert (status, document["status"]) == (200, "ignored"), ref
    assert not triggers.pending


def test_without_a_ref_the_default_branch_named_by_the_payload_is_followed(
    triggers: Triggers,
) -> None:
    body = push_payload(ref="refs/heads/main")
    other = push_payload(ref="refs/heads/feature")
    with serve(triggers, branch=None) as server:
        assert hook(server, other, github_headers(other))[1]["status"] == "ignored"
        assert not triggers.pending
        assert hook(server, body, github_headers(body))[1]["status"] == "accepted"
    assert triggers.pending


def test_an_event_other_than_a_push_is_refused(
    server: OperationsServer, triggers: Triggers
) -> None:
    body = push_payload()

    github = hook(server, body, github_headers(body, event="pull_request"))
    gitlab = hook(server, body, gitlab_headers(event="Tag Push Hook"))

    assert (github[0], gitlab[0]) == (400, 400)
    assert not triggers.pending


def test_a_body_that_is_not_json_is_refused_with_415(
    server: OperationsServer, triggers: Triggers
) -> None:
    body = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"
    headers = {**github_headers(body), "Content-Type": "application/x-www-form-urlencoded"}

    assert hook(server, body, headers)[0] == 415
    assert not triggers.pending


def test_other_methods_are_refused_with_405(server: OperationsServer) -> None:
    status, _, headers = call(f"{server.url}/hooks/git", method="GET")

    assert status == 405
    assert headers["allow"] == "POST"


def test_a_webhook_is_neither_github_nor_gitlab_is_refused(
    server: OperationsServer, triggers: Triggers
) -> None:
    body = push_payload()

    status, _ = hook(server, body, {"Content-Type": "application/json"})

    assert status == 400
    assert not triggers.pending


def _answer(client: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 30 s pass)."""
    client.settimeout(30)
    answer = b""
    while chunk := client.recv(65536):
        answer += chunk
    return answer


def test_an_oversized_body_is_refused_from_its_length_before_it_is_sent(
    server: OperationsServer, triggers: Triggers
) -> None:
    """The server answers 413 on the header alone: it does not wait for (nor read) the body."""
    head = (
        "POST /hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n"
        f"Content-Length: {MAX_HOOK_BODY_BYTES + 1}\r\n\r\n"
    )
    with (
        structlog.testing.capture_logs() as events,
        socket.create_connection(server.address) as client,
    ):
        client.sendall(head.encode())
        answer = _answer(client)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert not triggers.pending
    refused = [event for event in events if event["event"] == "http.refused"]
    assert [(event["status"], event["path"]) for event in refused] == [(413, "/hooks/git")]


def test_a_client_still_sending_after_the_refusal_reads_the_whole_answer(
    server: OperationsServer, triggers: Triggers
) -> None:
    """A refused sender (GitHub sends the whole body whatever the answer) keeps sending after
    the server has answered 413: the server goes on reading (and discarding) before it closes,
    so the kernel never resets the connection, which would destroy the answer unread."""
    head = (
        "POST /hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n"
        f"Content-Length: {4 * MAX_HOOK_BODY_BYTES}\r\n\r\n"
    )
    with socket.create_connection(server.address) as client:
        client.sendall(head.encode())
        client.settimeout(30)
        client.recv(1, socket.MSG_PEEK)  # the answer has arrived (the server ends the connection)
        client.sendall(b" " * 65536)  # a closed socket would answer this with a reset...
        time.sleep(0.2)  # ...which would have arrived by now (loopback), purging the answer
        answer = _answer(client)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert not triggers.pending


def test_an_oversized_chunked_body_is_refused_once_it_passes_the_bound(
    server: OperationsServer, triggers: Triggers
) -> None:
    """A chunked body has no length to judge: it is refused at the first byte past the bound,
    without waiting for its end (the last chunk is never sent)."""
    head = (
        "POST /hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=00\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 65536
    chunks = [chunk] * (MAX_HOOK_BODY_BYTES // len(chunk)) + [b" "]  # one byte past the bound
    with socket.create_connection(server.address) as client:
        client.sendall(head.encode())
        for data in chunks:
            client.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        answer = _answer(client)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert not triggers.pending


def test_a_body_of_the_bound_is_accepted(server: OperationsServer, triggers: Triggers) -> None:
    body = push_payload()
    body += b" " * (MAX_HOOK_BODY_BYTES - len(body))

    assert hook(server, body, github_headers(body))[0] == 202
    assert triggers.pending


def test_neither_the_secret_nor_the_signature_is_logged(server: OperationsServer) -> None:
    body = push_payload()
    good = github_headers(body)
    wrong = github_headers(body, secret=b"a-secret-that-is-wrong")
    with structlog.testing.capture_logs() as events:
        hook(server, body, good)
        hook(server, body, wrong)
        hook(server, body, gitlab_headers())
        hook(server, body, gitlab_headers(token=b"a-gitlab-token-that-is-wrong"))

    logged = repr(events)
    assert [event["event"] for event in events].count("hook.accepted") == 2
    assert [event["event"] for event in events].count("hook.refused") == 2
    for secret in (
        SECRET.decode(),
        good["X-Hub-Signature-256"],
        wrong["X-Hub-Signature-256"],
        github_signature(body).removeprefix("sha256="),
        "a-gitlab-token-that-is-wrong",
    ):
        assert secret not in logged


# --- /api/sync -----------------------------------------------------------------------------


def sync(server: OperationsServer, token: bytes | None) -> tuple[int, dict, dict]:
    headers = {"Authorization": f"Bearer {token.decode()}"} if token is not None else {}
    return call(f"{server.url}/api/sync", body=b"", headers=headers)


def report(pass_id: str) -> PassReport:
    return PassReport(
        pass_id=pass_id,
        started_at=datetime(2026, 12, 1, tzinfo=UTC),
        seconds=1.0,
        mode=Mode.HEAL,
        status=PassStatus.IN_SYNC,
        revision="b" * 40,
        applied_revision="b" * 40,
    )


def test_sync_asks_for_a_pass_and_its_ticket_gets_the_report_of_the_next_one(
    server: OperationsServer, triggers: Triggers
) -> None:
    running = triggers.begin_tick()  # a pass in progress when sync is asked
    status, requested, _ = sync(server, TOKEN)
    triggers.end_tick(running, report("before"))
    url = f"{server.url}{requested['status_url']}"
    auth = {"Authorization": f"Bearer {TOKEN.decode()}"}
    waiting = call(url, method="GET", headers=auth)[1]
    asked = triggers.begin_tick()
    triggers.end_tick(asked, report("after"))

    finished = call(url, method="GET", headers=auth)[1]

    assert status == 202
    assert asked.force
    assert waiting["status"] == "waiting"  # the pass in progress began before the request
    assert finished["status"] == "finished"
    assert finished["report"]["pass_id"] == "after"
    assert finished["text"].startswith("pass after: in_sync")


def test_sync_without_a_token_is_refused(server: OperationsServer, triggers: Triggers) -> None:
    status, _, headers = sync(server, None)

    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert not triggers.pending


def test_sync_with_a_wrong_token_is_refused(server: OperationsServer, triggers: Triggers) -> None:
    assert sync(server, TOKEN[:-1] + b"X")[0] == 401
    assert sync(server, TOKEN[:-1])[0] == 401
    assert sync(server, TOKEN + b"X")[0] == 401
    assert not triggers.pending


def test_sync_is_refused_when_no_token_is_configured(triggers: Triggers) -> None:
    """An empty bearer token does not match an empty (missing) configuration."""
    with serve(triggers, token=None) as server:
        empty = call(f"{server.url}/api/sync", body=b"", headers={"Authorization": "Bearer "})[0]
        any_token = sync(server, TOKEN)[0]

    assert (empty, any_token) == (403, 403)
    assert not triggers.pending


def test_a_ticket_needs_the_token_too(server: OperationsServer, triggers: Triggers) -> None:
    requested = sync(server, TOKEN)[1]

    status, _, _ = call(f"{server.url}{requested['status_url']}", method="GET")

    assert status == 401


def test_a_ticket_of_another_controller_process_is_unknown(server: OperationsServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN.decode()}"}

    status, _, _ = call(f"{server.url}/api/sync/0123456789ab-0", method="GET", headers=auth)

    assert status == 404


def test_waiting_sync_clients_do_not_keep_healthz_from_answering(
    server: OperationsServer, triggers: Triggers
) -> None:
    """No pass ever ends here (no loop): clients waiting for one hold no server thread."""
    stop = threading.Event()
    auth = {"Authorization": f"Bearer {TOKEN.decode()}"}

    def wait_for_a_pass() -> None:
        url = f"{server.url}{sync(server, TOKEN)[1]['status_url']}"
        while not stop.is_set():
            call(url, method="GET", headers=auth)

    clients = [threading.Thread(target=wait_for_a_pass, daemon=True) for _ in range(6)]
    for client in clients:
        client.start()
    try:
        answers = [call(f"{server.url}/healthz", method="GET")[0] for _ in range(20)]
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)

    assert set(answers) == {200}


def test_half_sent_webhook_bodies_at_the_connection_cap_leave_healthz_answering(
    triggers: Triggers,
) -> None:
    """Slow senders of large bodies (slowloris) are idle connections: at the cap, the idlest
    is closed to let a probe in, however long the idle timeout."""
    server = OperationsServer(
        host="127.0.0.1",
        port=0,
        registry=CollectorRegistry(),
        ready=lambda: True,
        max_connections=4,
        idle_timeout_seconds=600,
        hooks=HookEndpoints(
            triggers=triggers, webhook_secret=SECRET, sync_token=TOKEN, branch="main"
        ),
    )
    head = (
        "POST /hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: push\r\nContent-Length: {MAX_HOOK_BODY_BYTES}\r\n\r\n"
    ).encode()
    clients = []
    with server:
        try:
            for _ in range(12):
                client = socket.create_connection(server.address, timeout=5)
                client.sendall(head + b" " * 65536)  # and never the rest
                clients.append(client)

            status = call(f"{server.url}/healthz", method="GET")[0]
        finally:
            for client in clients:
                client.close()

    assert status == 200
    assert not triggers.pending


def test_answers_are_counted_by_endpoint_and_status_without_secrets(
    server: OperationsServer,
) -> None:
    body = push_payload()
    hook(server, body, github_headers(body))
    hook(server, body, github_headers(body, secret=b"not-the-secret-at-all"))
    sync(server, None)

    metrics = call(f"{server.url}/metrics", method="GET")[1]["raw"]

    assert 'reconciler_trigger_requests_total{endpoint="hooks",status="202"} 1.0' in metrics
    assert 'reconciler_trigger_requests_total{endpoint="hooks",status="403"} 1.0' in metrics
    assert 'reconciler_trigger_requests_total{endpoint="sync",status="401"} 1.0' in metrics
    assert SECRET.decode() not in metrics
    assert github_signature(body) not in metrics
