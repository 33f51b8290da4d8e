"""Push webhooks and ``reconciler sync``: the endpoints that ask the loop for an early tick.

=========================  ===================================================================
request                    answer
=========================  ===================================================================
``POST /hooks/git``        a GitHub push webhook (``X-GitHub-Event: push``, signed in
                           ``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the
                           secret) or a GitLab push hook (``X-Gitlab-Event: Push Hook``, the
                           secret in ``X-Gitlab-Token``). A push to the followed branch asks
                           for a fetch at once (``202``); another branch or a tag is ignored
                           (``200``); GitHub's ``ping`` is answered (``200``)
``POST /api/sync``         with ``Authorization: Bearer <sync token>``: asks for a full pass at
                           once; ``202`` with the ticket and its ``status_url``
``GET /api/sync/<ticket>`` the ticket's state: ``waiting``, or ``finished`` with the report of
                           the first pass begun after the request (JSON and text)
=========================  ===================================================================

Refusals, each logged (``hook.refused`` / ``sync.refused`` with the reason and the client's
address; never the secret, the token, a signature or the body): ``403`` without a configured
secret (token), for a bad signature or token; ``401`` (with ``WWW-Authenticate: Bearer``) for a
sync request without the right token; ``405`` for another method; ``415`` for a body that is
not ``application/json``; ``413`` for a body over ``MAX_HOOK_BODY_BYTES`` (refused by the
server from ``Content-Length`` before the body is read, or as soon as a chunked body passes
the bound); ``400`` for a request that is neither GitHub's nor GitLab's, an event other than
a push, or a signed body that is not a push payload; ``404`` for an unknown ticket.

Secrets are compared with :func:`hmac.compare_digest` (constant time), and nothing of an
unauthenticated body is parsed. The requests carry no revision to the loop: a push only makes
the controller fetch its branch as it is now, and the loop's own checks (new revision,
forward-only history, signatures) decide; so a replayed signed delivery costs one fetch.
Every answer is computed in memory without waiting for the loop, so webhooks and ``sync``
clients cannot hold the server's threads (``/healthz`` keeps answering): a ``sync`` client
polls its ticket.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from reconciler.controller.triggers import Ticket, Triggers
from reconciler.planning.reports import report_json, report_text

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = ["HOOK_PATH", "MAX_HOOK_BODY_BYTES", "SYNC_PATH", "HookEndpoints"]

log = structlog.get_logger("reconciler.controller")

HOOK_PATH = "/hooks/git"
SYNC_PATH = "/api/sync"

MAX_HOOK_BODY_BYTES = 1024 * 1024
"""The largest webhook body accepted: a push of a few hundred commits fits (GitHub lists at
most 20 commits in full, GitLab 20 too); a larger delivery is refused with ``413`` and the
next poll picks the revision up."""

MAX_LOGGED_CHARACTERS = 120
"""Header values and refs are logged cut to this length, control characters escaped."""

_GITHUB_PUSH = "push"
_GITHUB_PING = "ping"
_GITLAB_PUSH = "Push Hook"
_JSON = "application/json"
_SIGNATURE_PREFIX = "sha256="


def _shown(value: object) -> str:
    """``value`` fit for a log line: at most ``MAX_LOGGED_CHARACTERS``, control characters as
    escapes (it may come from anyone)."""
    text = str(value)[:MAX_LOGGED_CHARACTERS]
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def _raw(value: str) -> bytes:
    """A WSGI header value back to the bytes the client sent (PEP 3333: latin-1)."""
    return value.encode("latin-1", errors="replace")


class _RefusalError(Exception):
    """An answer other than success: ``status`` (``"403 Forbidden"``), ``reason`` (said to
    the client and logged), extra ``headers``."""

    def __init__(self, status: str, reason: str, *, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)


class HookEndpoints:
    """The WSGI application of ``/hooks/git`` and ``/api/sync``, asking ``triggers`` for ticks.

    ``webhook_secret`` and ``sync_token`` (bytes; ``None``: that endpoint refuses everything
    with ``403``) come from the settings (``webhook_secret``, ``sync_token`` or their
    ``*_file``). ``branch`` is the branch the controller follows (``main``, or
    ``refs/heads/main``); ``None`` (the remote's default branch): the default branch the
    payload names (``repository.default_branch``, ``project.default_branch``). A tag or a SHA
    as ``branch`` matches no push. With ``registry``, every answer is counted there in
    ``reconciler_trigger_requests_total{endpoint="hooks"|"sync", status="<HTTP status>"}``
    (the server's own refusals, a body over the bound, are logged as ``http.refused``).
    """

    def __init__(
        self,
        *,
        triggers: Triggers,
        webhook_secret: bytes | None,
        sync_token: bytes | None,
        branch: str | None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._requests = (
            Counter(
                "reconciler_trigger_requests",
                "Requests to the webhook (endpoint hooks) and sync (endpoint sync) endpoints, by "
                "HTTP status of the answer.",
                ["endpoint", "status"],
                registry=registry,
            )
            if registry is not None
            else None
        )
        self._triggers = triggers
        self._secret = webhook_secret or None  # an empty secret is no secret
        self._token = sync_token or None
        self._branch = branch.removeprefix("refs/heads/") if branch else None

    @property
    def max_body_bytes(self) -> int:
        """The request body the server must accept for these endpoints: a webhook's when a
        secret is configured, else none (refused before the body matters)."""
        return MAX_HOOK_BODY_BYTES if self._secret is not None else 0

    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` is one of these endpoints."""
        return path in (HOOK_PATH, SYNC_PATH) or path.startswith(SYNC_PATH + "/")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        endpoint = "hooks" if path == HOOK_PATH else "sync"
        try:
            if path == HOOK_PATH:
                status, document = self._hook(environ)
            elif path == SYNC_PATH:
                status, document = self._sync(environ)
            else:
                status, document = self._ticket(environ, path[len(SYNC_PATH) + 1 :])
        except _RefusalError as refusal:
            event = "hook.refused" if path == HOOK_PATH else "sync.refused"
            log.warning(
                event,
                status=int(refusal.status.split()[0]),
                reason=refusal.reason,
                remote=_shown(environ.get("REMOTE_ADDR", "")),
                **(_delivery(environ) if path == HOOK_PATH else {}),
            )
            self._count(endpoint, refusal.status)
            return _json(start_response, refusal.status, {"error": refusal.reason}, refusal.headers)
        self._count(endpoint, status)
        return _json(start_response, status, document)

    def _count(self, endpoint: str, status: str) -> None:
        if self._requests is not None:
            self._requests.labels(endpoint=endpoint, status=status.split(maxsplit=1)[0]).inc()

    # --- POST /hooks/git ------------------------------------------------------------------

    def _hook(self, environ: WSGIEnvironment) -> tuple[str, dict[str, Any]]:
        _method(environ, "POST")
        if self._secret is None:
            raise _RefusalError(
                "403 Forbidden",
                "webhooks are not enabled: no webhook secret is configured "
                "(webhook_secret or webhook_secret_file)",
            )
        body = _json_body(environ)
        github_event = environ.get("HTTP_X_GITHUB_EVENT")
        gitlab_event = environ.get("HTTP_X_GITLAB_EVENT")
        if github_event is not None:
            provider, event = "github", github_event
            delivery = environ.get("HTTP_X_GITHUB_DELIVERY")
            self._check_github_signature(environ, body)
        elif gitlab_event is not None:
            provider, event = "gitlab", gitlab_event
            delivery = environ.get("HTTP_X_GITLAB_EVENT_UUID")
            self._check_gitlab_token(environ)
        else:
            raise _RefusalError(
                "400 Bad Request",
                "not a GitHub or GitLab webhook (no X-GitHub-Event or X-Gitlab-Event header)",
            )
        context = {
            "provider": provider,
            "hook_event": _shown(event),
            "delivery": _shown(delivery or ""),
            "remote": _shown(environ.get("REMOTE_ADDR", "")),
        }
        if provider == "github" and event == _GITHUB_PING:
            log.info("hook.ping", **context)
            return "200 OK", {"status": "pong"}
        if event != (_GITHUB_PUSH if provider == "github" else _GITLAB_PUSH):
            raise _RefusalError(
                "400 Bad Request",
                f"{provider} event {_shown(event)!r} does not start a pass: send push events only",
            )
        payload = _push_payload(body)
        ref, branch = payload["ref"], self._followed(payload, provider)
        context.update(ref=_shown(ref), after=_shown(payload.get("after", "")))
        if branch is None or ref != f"refs/heads/{branch}":
            log.info("hook.ignored", branch=_shown(branch or ""), **context)
            followed = f"refs/heads/{branch}" if branch else "no branch"
            return "200 OK", {"status": "ignored", "reason": f"the controller follows {followed}"}
        self._triggers.request_fetch()
        log.info("hook.accepted", **context)
        return "202 Accepted", {"status": "accepted", "fetch": "requested"}

    def _check_github_signature(self, environ: WSGIEnvironment, body: bytes) -> None:
        signature = environ.get("HTTP_X_HUB_SIGNATURE_256")
        if signature is None:
            raise _RefusalError("403 Forbidden", "no X-Hub-Signature-256 header: set the secret")
        secret = self._secret or b""
        expected = _SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(_raw(signature), expected.encode()):
            raise _RefusalError("403 Forbidden", "the signature does not match the body and secret")

    def _check_gitlab_token(self, environ: WSGIEnvironment) -> None:
        token = environ.get("HTTP_X_GITLAB_TOKEN")
        if token is None:
            raise _RefusalError("403 Forbidden", "no X-Gitlab-Token header: set the secret token")
        if not hmac.compare_digest(_raw(token), self._secret or b""):
            raise _RefusalError("403 Forbidden", "the secret token does not match")

    def _followed(self, payload: Mapping[str, Any], provider: str) -> str | None:
        """The branch a push must be on: the configured one, else the repository's default
        branch as the (authenticated) payload names it."""
        if self._branch is not None:
            return self._branch
        repository = payload.get("repository" if provider == "github" else "project")
        default = repository.get("default_branch") if isinstance(repository, dict) else None
        return default if isinstance(default, str) and default else None

    # --- /api/sync ------------------------------------------------------------------------

    def _sync(self, environ: WSGIEnvironment) -> tuple[str, dict[str, Any]]:
        _method(environ, "POST")
        self._check_token(environ)
        ticket = self._triggers.request_pass()
        remote = _shown(environ.get("REMOTE_ADDR", ""))
        log.info("sync.requested", ticket=str(ticket), remote=remote)
        return "202 Accepted", {
            "ticket": str(ticket),
            "status": "waiting",
            "status_url": f"{SYNC_PATH}/{ticket}",
        }

    def _ticket(self, environ: WSGIEnvironment, text: str) -> tuple[str, dict[str, Any]]:
        _method(environ, "GET", "HEAD")
        self._check_token(environ)
        ticket = Ticket.parse(text)
        try:
            if ticket is None:
                raise LookupError(text)
            report = self._triggers.report_for(ticket)
        except LookupError:
            raise _RefusalError(
                "404 Not Found",
                "unknown ticket: not given by this controller process (it may have restarted)",
            ) from None
        if report is None:
            return "200 OK", {"ticket": str(ticket), "status": "waiting"}
        return "200 OK", {
            "ticket": str(ticket),
            "status": "finished",
            "report": report_json(report),
            "text": report_text(report),
        }

    def _check_token(self, environ: WSGIEnvironment) -> None:
        if self._token is None:
            raise _RefusalError(
                "403 Forbidden",
                "sync is not enabled: no sync token is configured (sync_token or sync_token_file)",
            )
        scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        challenge = (("WWW-Authenticate", 'Bearer realm="reconciler"'),)
        if scheme.lower() != "bearer" or not given:
            raise _RefusalError(
                "401 Unauthorized", "no bearer token (Authorization: Bearer ...)", headers=challenge
            )
        if not hmac.compare_digest(_raw(given.strip()), self._token):
            raise _RefusalError(
                "401 Unauthorized", "the bearer token does not match", headers=challenge
            )


def _delivery(environ: WSGIEnvironment) -> dict[str, str]:
    """What a refused delivery says it is (its headers, as claimed: logged, never trusted):
    ``github_event``, ``gitlab_event``, ``delivery`` when present."""
    claimed = {
        "github_event": environ.get("HTTP_X_GITHUB_EVENT"),
        "gitlab_event": environ.get("HTTP_X_GITLAB_EVENT"),
        "delivery": environ.get("HTTP_X_GITHUB_DELIVERY")
        or environ.get("HTTP_X_GITLAB_EVENT_UUID"),
    }
    return {key: _shown(value) for key, value in claimed.items() if value is not None}


def _method(environ: WSGIEnvironment, *allowed: str) -> None:
    if environ.get("REQUEST_METHOD", "GET") not in allowed:
        raise _RefusalError(
            "405 Method Not Allowed",
            f"method not allowed: {' or '.join(allowed)}",
            headers=(("Allow", ", ".join(allowed)),),
        )


def _json_body(environ: WSGIEnvironment) -> bytes:
    """The body of a JSON request, at most ``MAX_HOOK_BODY_BYTES`` read (the server has
    buffered it whole, within its own bound)."""
    media_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if media_type != _JSON:
        raise _RefusalError(
            "415 Unsupported Media Type",
            f"the body must be {_JSON} (set the webhook's content type to application/json)",
        )
    try:
        length = int(environ.get("CONTENT_LENGTH") or "0")
    except ValueError:
        raise _RefusalError("400 Bad Request", "Content-Length is not a number") from None
    if length > MAX_HOOK_BODY_BYTES:
        raise _RefusalError(
            "413 Content Too Large", f"the body is over {MAX_HOOK_BODY_BYTES} bytes"
        )
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    return body


def _push_payload(body: bytes) -> dict[str, Any]:
    """The authenticated body as a push payload (a JSON object with a string ``ref``)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise _RefusalError("400 Bad Request", "the body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("ref"), str):
        raise _RefusalError("400 Bad Request", "the body is not a push payload (no ref)")
    return payload


def _json(
    start_response: StartResponse,
    status: str,
    document: Mapping[str, Any],
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    data = (json.dumps(document, ensure_ascii=False) + "\n").encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            *headers,
        ],
    )
    return [data]
