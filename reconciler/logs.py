"""Logging: structlog, one stream (standard error), JSON off a terminal, readable on one.

Standard output is the CLI's channel for machine-readable JSON documents (plans, reports), so
logs never go there. Every event carries an ISO-8601 UTC ``timestamp`` and a ``level``, plus
whatever is bound in the context: the engine binds a per-pass id once and every line of that
pass carries it::

    configure_logging(level="info")
    log = structlog.get_logger()
    with structlog.contextvars.bound_contextvars(pass_id="3f2a9c"):
        log.info("plan_built", operations=4)

gives, off a terminal, ``{"pass_id": "3f2a9c", "operations": 4, "event": "plan_built",
"level": "info", "timestamp": "2024-05-01T12:00:00.123456Z"}``.

Records of the standard library's ``logging`` (botocore, GitPython, urllib3) and Python's
``warnings`` at ``WARNING`` or above (or ``level``, if higher) go through the same renderer to the
same stream, so the stream is one format throughout.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import Processor

__all__ = ["LEVELS", "configure_logging"]

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
"""The level names ``configure_logging`` accepts (case-insensitive), with their numbers."""

_HANDLER_NAME = "reconciler"
"""Name of the handler this module puts on the root logger, so a second call replaces it."""


def configure_logging(
    *, level: str = "info", json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog (and route the standard library's warnings) to ``stream``.

    ``level`` is one of :data:`LEVELS`; events below it are dropped. ``json`` chooses the
    renderer: ``True`` one JSON object a line, ``False`` the console renderer (colours on a
    terminal), ``None`` JSON unless ``stream`` is a terminal. ``stream`` defaults to
    ``sys.stderr`` as it is at the time of the call.

    Calling it again replaces the previous configuration. Loggers are not cached on first use,
    so a logger made at import time (``log = structlog.get_logger()``) follows it.

    Raises :class:`ValueError` for an unknown level, and for ``sys.stdout`` as ``stream``
    (standard output carries the CLI's JSON documents).
    """
    number = LEVELS.get(level.lower())
    if number is None:
        choices = ", ".join(LEVELS)
        raise ValueError(f"unknown log level {level!r}: expected one of {choices}")
    target = sys.stderr if stream is None else stream
    if target is sys.stdout or target is sys.__stdout__:
        raise ValueError("logs go to standard error: standard output carries the JSON documents")
    on_terminal = _isatty(target)
    as_json = not on_terminal if json is None else json

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    if as_json:
        shared.append(structlog.processors.dict_tracebacks)
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=on_terminal)

    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.WriteLoggerFactory(file=target),
        context_class=dict,
        # Not cached: a logger bound at import time must follow a later configure_logging call.
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(
        shared=shared, renderer=renderer, stream=target, level=max(number, logging.WARNING)
    )


def _route_standard_logging(
    *, shared: list[Processor], renderer: Processor, stream: TextIO, level: int
) -> None:
    """Render ``logging`` records with ``renderer`` on ``stream``; replace our earlier handler."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            *shared,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings too: the ``py.warnings`` logger, WARNING


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
