"""Session-wide checks under pytest-xdist: each worker hands what it saw to the controller,
which judges the whole run (``tests/conftest.py``'s response shapes, ``tests/loopback_session``'s
connections, ``tests/iam_policy_session``'s product calls). What is handed over is a list of
JSON values (xdist sends ``workeroutput`` through execnet).

A worker puts its list in ``config.workeroutput[key]`` at the end of its session; the
controller's ``pytest_testnodedown`` keeps each finished worker's list in ``config.stash`` (a
worker that crashed reports nothing, and its crash fails the run already).
"""

from __future__ import annotations

from typing import Any

import pytest

_REPORTS = pytest.StashKey[dict[str, dict[str, list[Any]]]]()
"""What the finished workers reported: by key, then by worker id (gw0, gw1, ...)."""


def hand_over_or_gather(config: pytest.Config, key: str, seen: list[Any]) -> list[Any] | None:
    """In a worker: hand ``seen`` to the controller under ``key``, and return None (the
    controller judges). Elsewhere (the controller, or a serial run): ``seen`` with what every
    worker reported under ``key``."""
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[key] = seen
        return None
    gathered = list(seen)
    for reported in config.stash.get(_REPORTS, {}).get(key, {}).values():
        gathered += reported
    return gathered


def keep_worker_report(node: Any, key: str) -> None:
    """In the controller's ``pytest_testnodedown``: keep what the finished worker ``node``
    reported under ``key``."""
    reported = getattr(node, "workeroutput", {}).get(key)
    if reported is not None:
        reports = node.config.stash.setdefault(_REPORTS, {})
        reports.setdefault(key, {})[node.gateway.id] = list(reported)
