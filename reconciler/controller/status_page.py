"""The status page of ``reconciler run``, served on its operations endpoint (``--listen``).

================  ===============================================================================
path              answer
================  ===============================================================================
``/``             the status page: HTML rendered on the server (Jinja2, autoescaped), no script,
                  no external resource; it reloads itself every ``REFRESH_SECONDS``
``/api/status``   the same as JSON (``status.status_json``, versioned)
``/access``       who has access to what in the live state the last pass read
                  (``reconciler access --format html`` of it); ``404`` before any read
================  ===============================================================================

Read-only: GET and HEAD only (the server refuses other methods), and nothing here changes the
controller. Every answer carries security headers (``SECURITY_HEADERS``) and a
Content-Security-Policy allowing nothing but the page's own inline style, named by its hash
(and, for ``/access``, its own script), with ``frame-ancestors 'none'``. Repository content and
names from AWS are untrusted: Jinja2 autoescaping makes them text, and
``escaping.one_line`` keeps each name on its line.

:func:`status_html` renders a :class:`~reconciler.controller.status.StatusView` (pure);
:class:`StatusPages` is the WSGI application, which reads the controller at each request.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

import jinja2
from markupsafe import Markup

from reconciler.controller.status import (
    ACCESS_REPORT_PATH,
    ControllerFacts,
    RepositoryView,
    StatusView,
    collect_status,
    shown_repository,
    status_json,
)
from reconciler.model.policies import allows_broad_access
from reconciler.model.state import LiveState
from reconciler.planning.access import is_privileged
from reconciler.planning.access_rendering import access_html, access_html_policy
from reconciler.planning.access_reports import AccessDirectory, access_report
from reconciler.planning.escaping import one_line

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from reconciler.controller.loop import Controller
    from reconciler.controller.settings import ControllerSettings

__all__ = [
    "PATHS",
    "REFRESH_SECONDS",
    "SECURITY_HEADERS",
    "StatusPages",
    "live_access_html",
    "status_html",
    "status_policy",
]

REFRESH_SECONDS = 15
"""How often the page reloads itself (``<meta http-equiv="refresh">``)."""
STATUS_PATH = "/"
JSON_PATH = "/api/status"
PATHS = frozenset({STATUS_PATH, JSON_PATH, ACCESS_REPORT_PATH})
"""The paths :class:`StatusPages` answers."""

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
"""Sent with every answer, besides its Content-Security-Policy."""
_HEADER_ONLY = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""Directives of the header's policy that a ``<meta>`` policy cannot carry or need not."""


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("reconciler.controller", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["utc"] = _utc
    environment.filters["utc_short"] = lambda at: at.astimezone(UTC).strftime("%m-%d %H:%M:%S")
    environment.filters["one_line"] = one_line
    return environment


@cache
def _style() -> tuple[Markup, str]:
    """The page's stylesheet and its CSP source (``'sha256-…'``)."""
    environment = _environment()
    loader = environment.loader
    if loader is None:  # pragma: no cover - set above
        raise RuntimeError("no template loader")
    text, _, _ = loader.get_source(environment, "status_page.css")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return Markup(text), f"'sha256-{digest}'"  # noqa: S704 - our own file, not input


def status_policy() -> str:
    """The Content-Security-Policy of the status page: nothing but its own stylesheet (by
    hash); no script, image, font, frame, form or connection."""
    return f"default-src 'none'; style-src {_style()[1]}"


def status_html(view: StatusView) -> str:
    """The status page of ``view``: one HTML document, every value escaped (Jinja2
    autoescaping, names made one line), links only to ``http(s)`` commit URLs and the
    endpoint's own paths."""
    style, _ = _style()
    template = _environment().get_template("status_page.html.j2")
    return template.render(
        view=view,
        style=style,
        policy=status_policy(),
        refresh_seconds=REFRESH_SECONDS,
        ago=lambda at: _ago(at, view.generated_at),
    )


def live_access_html(live: LiveState, *, generated_at: datetime) -> str:
    """``reconciler access --format html`` of ``live``: who can sign in where. Privileged
    permission sets are those matching the default patterns (``*Admin*``, ``*PowerUser*``) or
    whose policies allow broad access, as for ``reconciler access`` on live state."""
    from reconciler.model.documents import DEFAULT_PRIVILEGED_PERMISSION_SETS  # noqa: PLC0415

    state = live.state
    broad = {
        name
        for name, permission_set in state.permission_sets.items()
        if allows_broad_access(permission_set.managed_policies, permission_set.inline_policy)
    }
    report = access_report(
        state,
        AccessDirectory(
            users=state.users,
            groups=state.groups,
            accounts=live.accounts,
            organization=live.organization,
        ),
        generated_at=generated_at,
        instance_arn=live.instance_arn,
        privileged=lambda name: (
            name in broad or is_privileged(name, DEFAULT_PRIVILEGED_PERMISSION_SETS)
        ),
    )
    return access_html(report)


class StatusPages:
    """The WSGI application of ``PATHS``: ``view`` gives the status at each request,
    ``live`` the live state last read and when (``None`` before any read): for a controller,
    its ``access_state`` (what the last pass read, with what it applied since)."""

    paths = PATHS

    def __init__(
        self,
        *,
        view: Callable[[], StatusView],
        live: Callable[[], tuple[LiveState, datetime] | None],
    ) -> None:
        self._view = view
        self._live = live
        self._access: tuple[LiveState, str] | None = None  # the live state read, its page

    @classmethod
    def of(cls, controller: Controller, settings: ControllerSettings) -> StatusPages:
        """The pages of ``controller``, run with ``settings`` (the repository and its web URL,
        the writer lock's kind)."""
        repository = RepositoryView(
            location=shown_repository(settings.repository),
            ref=settings.ref,
            path=settings.path,
            web_url=settings.repository_web_url,
        )

        def view() -> StatusView:
            live = controller.live
            region = getattr(getattr(controller.aws.sso_admin, "meta", None), "region_name", None)
            instance_arn = controller.instance_arn or (live[0].instance_arn if live else None)
            return collect_status(
                state=controller.state,
                records=controller.records,
                controller=ControllerFacts(
                    instance_arn=instance_arn,
                    region=region if isinstance(region, str) else None,
                    mode=controller.mode,
                    suspended=controller.suspended(),
                    ready=controller.ready,
                    lock=settings.lock,
                    lock_holder=controller.lock_holder,
                ),
                repository=repository,
                live_read=live is not None,
                now=datetime.now(UTC),
            )

        return cls(view=view, live=lambda: controller.access_state)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == JSON_PATH:
            body = json.dumps(status_json(self._view()), indent=2, ensure_ascii=False) + "\n"
            return _answer(
                start_response,
                "200 OK",
                body,
                content_type="application/json",
                policy="default-src 'none'",
            )
        if path == ACCESS_REPORT_PATH:
            page = self._access_page()
            if page is None:
                return _answer(
                    start_response,
                    "404 Not Found",
                    "no access report yet: live state has not been read\n",
                    content_type="text/plain; charset=utf-8",
                    policy="default-src 'none'",
                )
            return _answer(start_response, "200 OK", page, policy=access_html_policy())
        return _answer(start_response, "200 OK", status_html(self._view()), policy=status_policy())

    def _access_page(self) -> str | None:
        """The access report of the live state last read, made once per read."""
        live = self._live()
        if live is None:
            return None
        state, read_at = live
        cached = self._access
        if cached is not None and cached[0] is state:
            return cached[1]
        page = live_access_html(state, generated_at=read_at)
        self._access = (state, page)
        return page


def _answer(
    start_response: StartResponse,
    status: str,
    body: str,
    *,
    policy: str,
    content_type: str = "text/html; charset=utf-8",
) -> list[bytes]:
    data = body.encode()
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Content-Security-Policy", f"{policy}; {_HEADER_ONLY}"),
            *SECURITY_HEADERS,
        ],
    )
    return [data]
