"""The Slack notifier against a real HTTP server on 127.0.0.1 standing in for Slack's webhook."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from reconciler.adapters.notify import HEARTBEAT_INTERVAL_SECONDS, SlackNotifier
from reconciler.planning.reports import Mode, PassReport, PassStatus, ReportItem

SECRET_PATH = "/services/T0000/B0000/XsEcReTtOkEn1234"
REVISION = "0123456789abcdef0123456789abcdef01234567"


class FakeSlack(ThreadingHTTPServer):
    """Answers webhook posts like Slack (200 "ok"), recording each JSON body."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        self.delay_seconds = 0.0

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{SECRET_PATH}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSlack

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        if self.server.delay_seconds:
            time.sleep(self.server.delay_seconds)
        self.server.received.append(body)
        self.server.paths.append(self.path)
        answer = b"ok" if self.server.status == 200 else b"invalid_token"
        try:
            self.send_response(self.server.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """structlog as it starts: an earlier test may have left a level filter configured
    (``configure_logging(level="error")``), which would hide the events asserted on here."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack-sdk sends through HTTPS_PROXY when set; the tests talk to 127.0.0.1 only."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    """A :class:`FakeSlack` serving on 127.0.0.1 for the duration of the block."""
    server = FakeSlack()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def notifier(slack: FakeSlack, clock: Clock, **options: Any) -> SlackNotifier:
    return SlackNotifier(webhook_url=slack.webhook_url, clock=clock, **options)


def drift(key: str = "mallory", **overrides: Any) -> PassReport:
    fields: dict[str, Any] = {
        "pass_id": f"p-{time.monotonic_ns()}",
        "started_at": datetime.now(UTC),
        "seconds": 2.5,
        "mode": Mode.DETECT,
        "status": PassStatus.DRIFTED,
        "revision": REVISION,
        "applied_revision": REVISION,
        "drift": (
            ReportItem(
                action="delete",
                kind="assignment",
                key=f"assignment/111111111111/AdminAccess/USER/{key}",
                description=f"unassign AdminAccess for user {key} in prod",
            ),
        ),
    }
    return PassReport(**(fields | overrides))


def in_sync() -> PassReport:
    return drift(status=PassStatus.IN_SYNC, drift=())


def applied() -> PassReport:
    change = ReportItem(
        action="create",
        kind="user",
        key="user/ada",
        description="create user ada",
        status="succeeded",
    )
    return drift(status=PassStatus.APPLIED, drift=(), changes=(change,), mode=Mode.HEAL)


# -- what is posted --------------------------------------------------------------------------


def test_a_drift_report_is_posted_as_block_kit(slack: FakeSlack, clock: Clock) -> None:
    posted = notifier(slack, clock).notify(drift())

    assert posted is True
    (body,) = slack.received
    assert body["blocks"][0]["type"] == "header"
    assert "unassign AdminAccess for user mallory in prod" in json.dumps(body)
    assert slack.paths == [SECRET_PATH]


def test_the_revision_links_to_the_configured_repository(slack: FakeSlack, clock: Clock) -> None:
    notifier(slack, clock, repository_web_url="https://github.com/org/access").notify(drift())

    assert f"https://github.com/org/access/commit/{REVISION}" in json.dumps(slack.received[0])


def test_an_in_sync_pass_posts_nothing_without_heartbeat(slack: FakeSlack, clock: Clock) -> None:
    assert notifier(slack, clock).notify(in_sync()) is False
    assert slack.received == []


def test_applied_changes_are_posted_every_time(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock)

    assert notifying.notify(applied()) is True
    assert notifying.notify(applied()) is True
    assert len(slack.received) == 2


# -- deduplication ---------------------------------------------------------------------------


def test_an_identical_drift_within_the_window_is_posted_once(
    slack: FakeSlack, clock: Clock
) -> None:
    notifying = notifier(slack, clock, dedup_window_seconds=3600)

    first = notifying.notify(drift())
    clock.now += 3599
    second = notifying.notify(drift())

    assert (first, second) == (True, False)
    assert len(slack.received) == 1


def test_an_identical_drift_after_the_window_is_posted_again(
    slack: FakeSlack, clock: Clock
) -> None:
    notifying = notifier(slack, clock, dedup_window_seconds=3600)

    notifying.notify(drift())
    clock.now += 3600
    again = notifying.notify(drift())

    assert again is True
    assert len(slack.received) == 2


def test_a_different_drift_within_the_window_is_posted(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock)

    notifying.notify(drift("mallory"))
    clock.now += 60
    other = notifying.notify(drift("eve"))

    assert other is True
    assert len(slack.received) == 2


def test_drift_coming_back_after_an_in_sync_pass_is_posted(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock)

    notifying.notify(drift())
    notifying.notify(in_sync())
    back = notifying.notify(drift())

    assert back is True
    assert len(slack.received) == 2


def test_an_identical_failure_is_posted_once(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock)
    failing: dict[str, Any] = {
        "status": PassStatus.ERROR,
        "drift": (),
        "error": "AccessDenied",
        "phase": "read",
    }

    notifying.notify(drift(**failing))
    notifying.notify(drift(**failing))

    assert len(slack.received) == 1


# -- heartbeat -------------------------------------------------------------------------------


def test_the_heartbeat_is_posted_once_a_day(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock, heartbeat=True)

    posted = [notifying.notify(in_sync())]
    clock.now += HEARTBEAT_INTERVAL_SECONDS - 1
    posted.append(notifying.notify(in_sync()))
    clock.now += 1
    posted.append(notifying.notify(in_sync()))

    assert posted == [True, False, True]
    assert [body["blocks"][0]["text"]["text"] for body in slack.received] == [
        "Identity Center: in sync"
    ] * 2


def test_no_heartbeat_when_not_in_sync(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock, heartbeat=True)

    notifying.notify(drift())
    clock.now += 60
    notifying.notify(drift())

    assert len(slack.received) == 1  # the drift, once; no heartbeat


# -- Slack unavailable -----------------------------------------------------------------------


def test_an_http_error_returns_false_and_logs_a_warning(slack: FakeSlack, clock: Clock) -> None:
    slack.status = 500

    with capture_logs() as logs:
        posted = notifier(slack, clock).notify(drift())

    assert posted is False
    assert [(log["event"], log["log_level"], log["http_status"]) for log in logs] == [
        ("slack.post_failed", "warning", 500)
    ]


def test_a_failed_post_is_tried_again_at_the_next_pass(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock)
    slack.status = 503
    notifying.notify(drift())
    slack.status = 200

    assert notifying.notify(drift()) is True


def test_slack_unreachable_returns_false_without_raising(clock: Clock) -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        notifying = SlackNotifier(webhook_url=f"http://127.0.0.1:{port}{SECRET_PATH}", clock=clock)

        with capture_logs() as logs:
            posted = notifying.notify(drift())

    assert posted is False
    assert [log["event"] for log in logs] == ["slack.post_failed"]


def test_a_timeout_returns_false_without_raising(slack: FakeSlack, clock: Clock) -> None:
    slack.delay_seconds = 2.0
    notifying = notifier(slack, clock, timeout_seconds=1)

    started = time.monotonic()
    posted = notifying.notify(drift())

    assert posted is False
    assert time.monotonic() - started < 2.0


# -- the webhook URL is a secret -------------------------------------------------------------


def test_the_webhook_url_is_in_no_log_line(slack: FakeSlack, clock: Clock) -> None:
    notifying = notifier(slack, clock)
    with capture_logs() as logs:
        notifying.notify(drift())
        slack.status = 404
        notifying.notify(drift("eve"))

    assert len(logs) == 2
    assert all(SECRET_PATH not in repr(log) and "XsEcReT" not in repr(log) for log in logs)


def test_the_webhook_url_is_in_no_standard_library_log_record(
    slack: FakeSlack, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    notifier(slack, clock).notify(drift())

    assert "XsEcReT" not in caplog.text


def test_the_webhook_url_is_not_in_the_repr(slack: FakeSlack, clock: Clock) -> None:
    assert "XsEcReT" not in repr(notifier(slack, clock))


def test_an_invalid_webhook_url_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="http") as refused:
        SlackNotifier(webhook_url="hooks.slack.com/services/XsEcReTtOkEn1234")

    assert "XsEcReT" not in str(refused.value)


def test_messages_remembered_from_an_earlier_process_are_not_posted_again(
    slack: FakeSlack, clock: Clock
) -> None:
    first = notifier(slack, clock)
    assert first.notify(drift())
    clock.now += 60

    restarted = notifier(slack, clock)
    restarted.remember(first.posted())

    assert not restarted.notify(drift())
    assert len(slack.received) == 1


def test_remembered_messages_older_than_the_window_are_forgotten(
    slack: FakeSlack, clock: Clock
) -> None:
    first = notifier(slack, clock, dedup_window_seconds=600)
    assert first.notify(drift())
    clock.now += 601

    restarted = notifier(slack, clock, dedup_window_seconds=600)
    restarted.remember(first.posted())

    assert restarted.notify(drift())
