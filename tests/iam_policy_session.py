"""A pytest plugin (``tests/conftest.py`` loads it): the least-privilege IAM policies of
``reconciler.adapters.aws.permissions`` checked against every AWS call the product made to the
sandbox over the whole test session.

The product's clients name their role in the User-Agent (``plan``, ``apply``, ``lease``); every
sandbox of the process keeps what they called (``product_operations_seen``). At the end of the
session:

- a call missing from its role's policy fails the session (always);
- a grant that no call used fails the session, but only for a full run: a subset of the tests
  does not reach every code path. A full run is one with ``FULL_TEST_SESSION=1`` (the
  Makefile's ``unit`` target sets it); otherwise that direction is skipped with a printed
  reason.

Under pytest-xdist each worker hands what its sandboxes saw to the controller, which judges the
whole run (``tests.worker_reports``, as for the sandbox's shape violations).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.permissions import missing_grants, unused_grants
from reconciler.sandbox.server import product_operations_seen
from tests.worker_reports import hand_over_or_gather, keep_worker_report

FULL_SESSION_VARIABLE = "FULL_TEST_SESSION"
"""``1`` when the session runs the whole suite (``make unit``): only then can a grant that no
call used be told apart from a code path this subset did not run. Not a ``RECONCILER_*`` name:
the controller refuses those that name no option, and tests run it in this environment."""

SEEN_FILE_VARIABLE = "IAM_POLICY_SEEN_FILE"
"""When set, the path of a file to write the product's calls to (one ``role service operation``
line each, sorted), for a look at what a session saw."""

PRODUCT_OPERATIONS_KEY = "product_aws_operations"
"""Key under which a pytest-xdist worker hands the product's calls (``[role, service,
operation]`` lists) to the controller (``tests.worker_reports``)."""


def full_session(config: pytest.Config) -> bool:
    """Whether this session runs the whole suite: ``FULL_SESSION_VARIABLE`` is ``1``, and no
    path, ``-k`` or ``-m`` narrowed the collection (``pytest -q`` as ``make unit`` runs it)."""
    if os.environ.get(FULL_SESSION_VARIABLE, "") not in ("1", "true", "yes"):
        return False
    narrowed = bool(config.getoption("keyword", "")) or bool(config.getoption("markexpr", ""))
    paths = {str(arg).rstrip("/") for arg in config.args}
    return not narrowed and paths <= {"tests", str(config.rootpath / "tests")}


def _report(lines: list[str], title: str) -> None:
    sys.stderr.write(f"\n{title}\n" + "".join(f"  {line}\n" for line in lines))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session on a product call its role's IAM policy does not allow, and (in a full
    session) on a grant no call used. An xdist worker only hands its calls over."""
    mine = sorted(list(call) for call in set(product_operations_seen()))
    reported = hand_over_or_gather(session.config, PRODUCT_OPERATIONS_KEY, mine)
    if reported is None:  # an xdist worker: the controller judges the run
        return
    seen = {(str(role), str(service), str(operation)) for role, service, operation in reported}
    seen_file = os.environ.get(SEEN_FILE_VARIABLE)
    if seen_file:
        Path(seen_file).write_text("".join(f"{' '.join(call)}\n" for call in sorted(seen)))
    if not seen:
        return  # no test of this session reached the sandbox through the product's clients
    missing = missing_grants(seen)
    if missing:
        _report(
            missing,
            f"{len(missing)} AWS calls of the product are missing from their role's IAM policy "
            "(reconciler/adapters/aws/permissions.py):",
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if not full_session(session.config):
        sys.stderr.write(
            "\nIAM policy: grants that no call used are not checked: this session may run only "
            f"a subset of the suite ({FULL_SESSION_VARIABLE}=1 with no path, -k or -m: `make "
            "unit`)\n"
        )
        return
    unused = unused_grants(seen)
    if unused:
        _report(
            unused,
            f"{len(unused)} IAM grants were used by no AWS call of the product over the whole "
            "session (reconciler/adapters/aws/permissions.py):",
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: keep the product's calls a finished worker reported."""
    keep_worker_report(node, PRODUCT_OPERATIONS_KEY)
