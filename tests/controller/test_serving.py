"""The operations endpoint in-process, on 127.0.0.1 and a free port."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from reconciler.controller.serving import OperationsServer


class Readiness:
    def __init__(self) -> None:
        self.ready = False

    def __call__(self) -> bool:
        return self.ready


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def server(readiness: Readiness) -> Iterator[OperationsServer]:
    registry = CollectorRegistry()
    Counter("reconciler_example", "An example counter.", registry=registry).inc(3)
    with OperationsServer(host="127.0.0.1", port=0, registry=registry, ready=readiness) as running:
        yield running


def get(url: str, *, method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_it_listens_on_loopback(server: OperationsServer) -> None:
    host, port = server.address

    assert host == "127.0.0.1"
    assert port > 0


def test_healthz_answers_ok(server: OperationsServer) -> None:
    assert get(f"{server.url}/healthz")[::2] == (200, "ok\n")


def test_readyz_is_503_until_ready_then_200(server: OperationsServer, readiness: Readiness) -> None:
    before = get(f"{server.url}/readyz")
    readiness.ready = True
    after = get(f"{server.url}/readyz")

    assert before[::2] == (503, "not ready\n")
    assert after[::2] == (200, "ready\n")


def test_metrics_are_the_registry_in_prometheus_text_format(server: OperationsServer) -> None:
    status, content_type, body = get(f"{server.url}/metrics")

    assert status == 200
    assert content_type.startswith("text/plain; version=")
    assert "reconciler_example_total 3.0" in body


def test_an_unknown_path_is_404(server: OperationsServer) -> None:
    assert get(f"{server.url}/admin")[0] == 404


def test_writes_are_refused(server: OperationsServer) -> None:
    assert get(f"{server.url}/healthz", method="POST")[0] == 405


def test_a_post_to_an_unknown_path_is_404_not_405(server: OperationsServer) -> None:
    # A webhook configured at `/hooks/git/` (a trailing slash) must be told the path is
    # wrong, not that POST is.
    assert get(f"{server.url}/hooks/git/", method="POST")[0] == 404
