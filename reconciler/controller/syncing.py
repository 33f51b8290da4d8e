"""``reconciler sync``: ask a running controller to fetch and reconcile now, print the report.

The client of ``POST /api/sync`` (``reconciler.controller.hooks``): it sends the sync token as
``Authorization: Bearer``, gets a ticket, then polls ``GET /api/sync/<ticket>`` until the first
pass begun after its request has ended, and prints that pass's report (text, or with
``--format json`` the report document of ``run --once --format json``). Exit codes are those
of ``run --once``: 0 converged, 2 not converged but nothing wrong (drift or changes left in
``detect`` mode or while writes are suspended), 1 a failure (the pass's, or no report: the
controller unreachable, the token refused, no pass ended within ``--timeout``).

The token comes from ``--token-file``, else ``RECONCILER_SYNC_TOKEN_FILE``, else
``RECONCILER_SYNC_TOKEN`` (the variables the controller reads its own from), never from the
command line, where other users of the machine could read it. Redirects are not followed, so
the token is only ever sent to the URL given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["add_sync_options", "sync_command"]

TOKEN_VARIABLE = "RECONCILER_SYNC_TOKEN"  # noqa: S105 - the variable's name, not a token
TOKEN_FILE_VARIABLE = "RECONCILER_SYNC_TOKEN_FILE"  # noqa: S105 - a name too
DEFAULT_TIMEOUT_SECONDS = 900.0
"""How long ``sync`` waits for its pass by default: a pass at scale with an apply takes
minutes."""
REQUEST_TIMEOUT_SECONDS = 30.0
"""How long one HTTP request to the controller may take."""
POLL_SECONDS = 0.5
"""Pause between two looks at the ticket."""
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest answer read (a report lists every change and grant)."""


def add_sync_options(parser: argparse.ArgumentParser) -> None:
    """The flags of ``reconciler sync``."""
    parser.add_argument(
        "--controller",
        required=True,
        metavar="URL",
        help="the controller's endpoint (its --listen address), e.g. http://127.0.0.1:8080",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the pass to end (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help=f"file holding the sync token (default: ${TOKEN_FILE_VARIABLE}, else "
        f"${TOKEN_VARIABLE})",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="how the report is printed"
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _token(args: argparse.Namespace) -> bytes:
    """The sync token; raises ``ConfigurationError`` when none is given or it is unusable."""
    from pydantic import SecretStr  # noqa: PLC0415 - keeps --help fast

    from reconciler.controller.settings import read_secret  # noqa: PLC0415
    from reconciler.errors import ConfigurationError  # noqa: PLC0415

    file = args.token_file
    if file is None and os.environ.get(TOKEN_FILE_VARIABLE):
        file = Path(os.environ[TOKEN_FILE_VARIABLE])
    value = os.environ.get(TOKEN_VARIABLE) if file is None else None
    try:
        token = read_secret(SecretStr(value) if value else None, file, name="sync_token")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if token is None:
        raise ConfigurationError(
            f"no sync token: give --token-file, or set {TOKEN_FILE_VARIABLE} or "
            f"{TOKEN_VARIABLE} to the controller's sync_token"
        )
    return token


def _base_url(text: str) -> str:
    """``--controller`` without a trailing slash; raises ``ConfigurationError`` unless it is an
    ``http://`` or ``https://`` URL with a host and no credentials, query or fragment."""
    from reconciler.errors import ConfigurationError  # noqa: PLC0415

    url = urllib.parse.urlsplit(text.strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigurationError(
            f"--controller {text!r} is not an http:// or https:// URL of the controller's "
            "endpoint (e.g. http://127.0.0.1:8080)"
        )
    if url.username is not None or url.password is not None or url.query or url.fragment:
        raise ConfigurationError(
            "--controller takes the endpoint's URL only: no credentials, query or fragment"
        )
    return urllib.parse.urlunsplit((url.scheme, url.netloc, url.path.rstrip("/"), "", ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers, not followed: the bearer token goes to the URL given only."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _call(url: str, *, method: str, token: bytes, shown: str) -> dict[str, Any]:
    """One request to the controller's API; its JSON answer. Raises ``ConfigurationError``
    when the token is refused or sync is not enabled, ``SyncError`` otherwise."""
    from reconciler.errors import ConfigurationError, SyncError  # noqa: PLC0415

    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)  # noqa: S310 - http(s) only, checked
    request.add_header("Authorization", "Bearer " + token.decode())
    request.add_header("Accept", "application/json")
    try:
        with _OPENER.open(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        reason = _reason(error)
        if error.code in (401, 403):
            raise ConfigurationError(
                f"the controller at {shown} refused the sync request ({error.code}: {reason}); "
                "check the token against the controller's sync_token"
            ) from None
        raise SyncError(f"the controller at {shown} answered {error.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as error:
        why = getattr(error, "reason", error)
        raise SyncError(f"cannot reach the controller at {shown}: {why}") from None
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise SyncError(f"the controller at {shown} did not answer with its API's JSON")
    return document


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        document = json.loads(error.read(64 * 1024))
    except ValueError:
        return str(error.reason)
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    return str(error.reason)


def request_report(controller: str, *, token: bytes, timeout_seconds: float) -> dict[str, Any]:
    """Ask ``controller`` (the endpoint's base URL) for a pass and wait for its end: returns
    the ticket's finished document ``{"ticket", "status": "finished", "report": {...},
    "text": str}``. Raises ``ConfigurationError`` (bad URL, token refused) or ``SyncError``
    (unreachable, not the API, no pass ended within ``timeout_seconds``)."""
    from reconciler.errors import SyncError  # noqa: PLC0415

    base = _base_url(controller)
    deadline = time.monotonic() + timeout_seconds
    requested = _call(f"{base}/api/sync", method="POST", token=token, shown=base)
    ticket = requested.get("ticket")
    if not isinstance(ticket, str) or not ticket.replace("-", "").isalnum():
        raise SyncError(f"the controller at {base} gave no ticket")
    status_url = f"{base}/api/sync/{ticket}"
    while True:
        answer = _call(status_url, method="GET", token=token, shown=base)
        if answer.get("status") == "finished" and isinstance(answer.get("report"), dict):
            return answer
        if time.monotonic() >= deadline:
            raise SyncError(
                f"no pass ended within {timeout_seconds:g} s (ticket {ticket}): the controller "
                "is still busy; the pass will be reported as usual (logs, Slack, metrics)"
            )
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _printable(text: str) -> str:
    """``text`` with every control character but the newline escaped: what the controller
    sends is printed on a terminal."""
    return "".join(
        char if char == "\n" or char.isprintable() else char.encode("unicode_escape").decode()
        for char in text
    )


def sync_command(args: argparse.Namespace) -> int:
    """Run ``reconciler sync``; returns the exit code of the pass's status (as ``run
    --once``). Raises ``ConfigurationError`` or ``SyncError`` (printed by the CLI, exit 1)."""
    from reconciler.controller.command import exit_code  # noqa: PLC0415
    from reconciler.errors import SyncError  # noqa: PLC0415
    from reconciler.planning.reports import PassStatus  # noqa: PLC0415

    answer = request_report(args.controller, token=_token(args), timeout_seconds=args.timeout)
    report = answer["report"]
    try:
        status = PassStatus(report.get("status"))
    except ValueError:
        raise SyncError(f"the report's status {report.get('status')!r} is unknown") from None
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_printable(str(answer.get("text", ""))) + "\n")
    return exit_code(status)
