"""Slack: pass summaries posted to an incoming webhook. The only module that talks to Slack.

A :class:`SlackNotifier` decides whether a pass is worth a message, builds it with the pure
:mod:`reconciler.planning.slack_messages`, and posts it through slack-sdk's
:class:`~slack_sdk.webhook.WebhookClient`:

* a pass that changed, drifted or failed is posted;
* a drift or failure message identical to one posted less than ``dedup_window_seconds`` ago
  (same :func:`~reconciler.planning.slack_messages.message_fingerprint`: revision, item keys,
  reasons; never times or pass ids) is not posted again; an in-sync pass forgets them, so a
  recurrence is news again; a message that failed to post is not remembered, so the next pass
  tries again;
* unmanaged objects (live objects the revision leaves alone) are listed in every message; a
  pass that is otherwise not news is posted when its unmanaged list differs from the last one
  posted (another object, or another reason), never again while it stays the same; an empty
  list forgets it, so a recurrence is news;
* with ``heartbeat``, an in-sync pass posts "in sync" when no heartbeat was posted in the last
  24 hours (the first in-sync pass after start posts one).

The dedup memory (fingerprint → when posted) is the notifier's; :meth:`SlackNotifier.posted`
gives it and :meth:`SlackNotifier.remember` adopts an earlier one, so that the controller keeps it
in its state file and a restarted controller (``run --once`` from cron) does not post an
ongoing drift again within the window. The heartbeat's time is in-process only.

The webhook URL is a secret (anyone holding it can post to the channel): it is kept inside the
client and appears in no log line, message, ``repr`` or error; slack-sdk's own logger, which
would log it at debug level, is silenced. Slack unreachable, an HTTP error or a timeout is
logged as a warning and :meth:`SlackNotifier.notify` returns ``False``: it never raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog
from slack_sdk.webhook import WebhookClient

from reconciler.planning import slack_messages
from reconciler.planning.reports import PassReport, PassStatus

__all__ = ["HEARTBEAT_INTERVAL_SECONDS", "SlackNotifier"]

HEARTBEAT_INTERVAL_SECONDS = 24 * 60 * 60.0
"""At most one heartbeat per this many seconds (a day)."""

log = structlog.get_logger("reconciler.notify")

_REDACTED = "***"


def _silent_logger() -> logging.Logger:
    """A logger that drops everything: slack-sdk logs the webhook URL at debug level."""
    silent = logging.getLogger("reconciler.notify.slack_sdk")
    silent.setLevel(logging.CRITICAL + 1)
    silent.propagate = False
    silent.disabled = True
    return silent


class SlackNotifier:
    """Posts pass reports to a Slack incoming webhook.

    ``webhook_url`` is the webhook (``https://hooks.slack.com/services/...``), from the
    environment; ``dedup_window_seconds`` how long an identical drift or failure message is
    not repeated; ``heartbeat`` turns on the daily "in sync" message; ``repository_web_url``
    (``https://github.com/org/access``) links revisions to ``{url}/commit/{sha}``; ``clock``
    returns seconds since the epoch (injected by tests); ``timeout_seconds`` bounds one HTTP
    request (slack-sdk retries once after a connection error, so a post may take twice that).

    Raises :class:`ValueError` when ``webhook_url`` is not an http(s) URL (the message does
    not repeat it).
    """

    def __init__(
        self,
        *,
        webhook_url: str,
        dedup_window_seconds: float = 3600,
        heartbeat: bool = False,
        repository_web_url: str | None = None,
        clock: Callable[[], float] = time.time,
        timeout_seconds: int = 10,
    ) -> None:
        parts = urlsplit(webhook_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("the Slack webhook URL must be an http(s) URL")
        self._secrets = tuple(
            secret for secret in (webhook_url, parts.path, parts.query) if len(secret) > 1
        )
        self._host = parts.hostname or "?"
        self._client = WebhookClient(
            url=webhook_url, timeout=timeout_seconds, logger=_silent_logger()
        )
        self._window = dedup_window_seconds
        self._heartbeat = heartbeat
        self._repository_web_url = repository_web_url
        self._clock = clock
        self._posted: dict[str, float] = {}  # fingerprint -> when it was last posted
        self._last_heartbeat: float | None = None
        self._unmanaged_posted: str | None = None  # unmanaged fingerprint of the last post

    def __repr__(self) -> str:
        return (
            f"SlackNotifier(webhook_url='{_REDACTED}', dedup_window_seconds={self._window!r},"
            f" heartbeat={self._heartbeat!r})"
        )

    def notify(self, report: PassReport) -> bool:
        """Post ``report`` if it is news (see the module docstring); ``True`` when posted.

        Never raises: a failed post is logged (``slack.post_failed``, warning) and returns
        ``False``; so does an unexpected error while building the message
        (``slack.notify_failed``, error, with the traceback).
        """
        try:
            return self._notify(report)
        except Exception:  # a bug here must not stop the loop either
            log.exception("slack.notify_failed", pass_id=report.pass_id)
            return False

    def _notify(self, report: PassReport) -> bool:
        now = self._clock()
        self._forget_before(now - self._window)
        unmanaged = slack_messages.unmanaged_fingerprint(report)
        if unmanaged is None:
            self._unmanaged_posted = None
        if slack_messages.worth_posting(report) or unmanaged != self._unmanaged_posted:
            fingerprint = slack_messages.message_fingerprint(report)
            if slack_messages.is_deduplicated(report) and fingerprint in self._posted:
                log.info(
                    "slack.suppressed",
                    pass_id=report.pass_id,
                    status=report.status.value,
                    posted_seconds_ago=round(now - self._posted[fingerprint], 1),
                )
                return False
            message = slack_messages.pass_message(
                report, repository_web_url=self._repository_web_url
            )
            posted = self._post(message, report=report, kind="summary")
            if posted:
                self._posted[fingerprint] = now
                self._unmanaged_posted = unmanaged
            return posted
        if report.status is PassStatus.IN_SYNC:
            self._posted.clear()  # in sync again: a drift or failure coming back is news
            if self._heartbeat and (
                self._last_heartbeat is None
                or now - self._last_heartbeat >= HEARTBEAT_INTERVAL_SECONDS
            ):
                message = slack_messages.heartbeat_message(
                    report, repository_web_url=self._repository_web_url
                )
                posted = self._post(message, report=report, kind="heartbeat")
                if posted:
                    self._last_heartbeat = now
                return posted
        return False

    def posted(self) -> dict[str, float]:
        """The fingerprints of the drift and failure messages posted within the dedup window,
        each with when it was posted (seconds since the epoch, this notifier's clock)."""
        self._forget_before(self._clock() - self._window)
        return dict(self._posted)

    def remember(self, posted: Mapping[str, float]) -> None:
        """Adopt messages posted earlier (by another process, or before a restart): each
        fingerprint in ``posted`` (seconds since the epoch) within the window suppresses an
        identical message as if this notifier had posted it; the later time of the two wins."""
        for fingerprint, posted_at in posted.items():
            if posted_at > self._posted.get(fingerprint, float("-inf")):
                self._posted[fingerprint] = posted_at
        self._forget_before(self._clock() - self._window)

    def _forget_before(self, moment: float) -> None:
        for fingerprint, posted_at in list(self._posted.items()):
            if posted_at <= moment:
                del self._posted[fingerprint]

    def _post(self, message: dict[str, Any], *, report: PassReport, kind: str) -> bool:
        try:
            response = self._client.send(text=message["text"], blocks=message["blocks"])
        except Exception as exc:  # anything at all: Slack must never stop the loop
            log.warning(
                "slack.post_failed",
                pass_id=report.pass_id,
                kind=kind,
                host=self._host,
                error=self._redact(f"{type(exc).__name__}: {exc}"),
            )
            return False
        if response.status_code != 200:
            log.warning(
                "slack.post_failed",
                pass_id=report.pass_id,
                kind=kind,
                host=self._host,
                http_status=response.status_code,
                error=self._redact(str(response.body))[:300],
            )
            return False
        log.info("slack.posted", pass_id=report.pass_id, kind=kind, status=report.status.value)
        return True

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text
