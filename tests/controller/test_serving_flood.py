"""The operations endpoint under a flood of idle, half-sent requests (loopback only, bounded).

A client that opens connections and never finishes its request must cost the process at most
``MAX_CONNECTIONS`` file descriptors, must not keep ``/healthz`` from answering, and must not
stop the controller's loop from making passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from reconciler.controller.serving import MAX_CONNECTIONS, OperationsServer
from reconciler.sandbox import Sandbox

PARTIAL_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
"""A request whose header never ends."""


def open_fds(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@contextlib.contextmanager
def flood(address: tuple[str, int], count: int) -> Iterator[list[socket.socket]]:
    """Up to ``count`` connections to ``address``, opened one after the other, each sending
    ``PARTIAL_REQUEST``; stops early once five connections in a row are not accepted within
    0.2 s (the server has stopped accepting). Yields the connections; closes them after."""
    sockets: list[socket.socket] = []
    refused_in_a_row = 0
    try:
        while len(sockets) < count and refused_in_a_row < 5:
            try:
                client = socket.create_connection(address, timeout=0.2)
            except OSError:
                refused_in_a_row += 1
                continue
            refused_in_a_row = 0
            sockets.append(client)
            with contextlib.suppress(OSError):
                client.sendall(PARTIAL_REQUEST)
        yield sockets
    finally:
        for client in sockets:
            client.close()


def healthz_status(url: str) -> int | None:
    """The status of one GET /healthz with a short timeout; None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def poll(condition: Callable[[], bool], *, deadline_seconds: float, what: str) -> None:
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {deadline_seconds} s")
        time.sleep(0.1)


def small_server(*, idle_timeout_seconds: int) -> OperationsServer:
    return OperationsServer(
        host="127.0.0.1",
        port=0,
        registry=CollectorRegistry(),
        ready=lambda: True,
        max_connections=8,
        idle_timeout_seconds=idle_timeout_seconds,
    )


def test_a_flood_beyond_the_cap_leaves_healthz_answering_with_bounded_fds() -> None:
    # The idle timeout is far longer than the deadline: only closing the idlest connection to
    # make room can let /healthz in.
    with small_server(idle_timeout_seconds=600) as server:
        before = open_fds()
        with flood(server.address, 100) as clients:
            poll(
                lambda: healthz_status(server.url) == 200,
                deadline_seconds=30,
                what="/healthz answering during the flood",
            )
            # the test's own client sockets, and at most 8 connections on the server's side
            assert open_fds() <= before + len(clients) + 8 + 4


def test_an_idle_half_sent_request_is_closed_after_the_idle_timeout() -> None:
    with (
        small_server(idle_timeout_seconds=1) as server,
        socket.create_connection(server.address, timeout=30) as client,
    ):
        client.sendall(PARTIAL_REQUEST)

        assert client.recv(1024) == b""  # closed by the server, not answered


def test_the_default_cap_is_far_below_the_smallest_common_fd_limit() -> None:
    assert MAX_CONNECTIONS * 8 <= 1024


# --- the whole controller, in a process whose file descriptors are few --------------------

FD_LIMIT = 256
"""RLIMIT_NOFILE of the controller process: the flood is larger than this."""
FLOOD = 400

CHILD = (
    "import resource, sys\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, hard))\n"
    "from reconciler.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _events(log: Path, event: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("event") == event:
                found.append(record)
    return found


@pytest.mark.slow
def test_a_flood_past_the_fd_limit_leaves_healthz_answering_and_passes_running(
    sandbox: Sandbox, access_repo: Path, aws_environment: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "controller.log"
    environment = {
        **os.environ,
        "RECONCILER_CACHE_DIR": str(tmp_path / "cache"),
        "RECONCILER_INTERVAL_SECONDS": "0.5",
        "RECONCILER_POLL_INTERVAL_SECONDS": "0.2",
        "RECONCILER_RETRY_INTERVAL_SECONDS": "0.2",
        "RECONCILER_JITTER": "0",
    }
    arguments = ["--log-format", "json", "run", "--repo", str(access_repo), "--ref", "main"]
    arguments += ["--state-file", str(tmp_path / "state.json"), "--listen", "127.0.0.1:0"]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *arguments],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        poll(
            lambda: bool(_events(log, "pass.finished")),
            deadline_seconds=60,
            what=f"a first pass\n{log.read_text()[-3000:]}",
        )
        url = str(_events(log, "operations.listening")[0]["url"])
        host, port = url.removeprefix("http://").split(":")
        baseline = open_fds(process.pid)

        with flood((host, int(port)), FLOOD) as clients:
            flooded = len(clients)
            passes_before = len(_events(log, "pass.finished"))
            most_fds = baseline

            def passes_made() -> bool:
                nonlocal most_fds
                most_fds = max(most_fds, open_fds(process.pid))
                return len(_events(log, "pass.finished")) >= passes_before + 3

            poll(passes_made, deadline_seconds=60, what="three more passes during the flood")
            poll(
                lambda: healthz_status(url) == 200,
                deadline_seconds=60,
                what="/healthz answering during the flood",
            )
            most_fds = max(most_fds, open_fds(process.pid))

        assert _events(log, "tick.crashed") == []
        assert "Too many open files" not in log.read_text()
        assert most_fds <= baseline + MAX_CONNECTIONS + 16, (baseline, most_fds)
        assert flooded == FLOOD  # every connection was accepted: none waits for a slot
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
