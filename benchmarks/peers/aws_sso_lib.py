"""aws-sso-lib's ``list_assignments`` as a peer: the calls and seconds it takes to list every
account assignment of a sandbox's instance.

Needs the ``bench`` extra (``pip install -c constraints.txt '.[bench]'``); ``available()`` says
why not when it is missing. aws-sso-lib reads Organizations ListAccounts, then per account
ListPermissionSetsProvisionedToAccount, then ListAccountAssignments per (account, provisioned
set): assignments only, no identities, memberships, set attributes or provisioning status.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import boto3

from reconciler.sandbox import Sandbox


def available() -> str | None:
    """``None`` when aws-sso-lib is installed, else why not (one line)."""
    try:
        import aws_sso_lib  # noqa: F401, PLC0415
    except ImportError:
        return "aws-sso-lib is not installed (pip install -c constraints.txt '.[bench]')"
    return None


@dataclass(frozen=True)
class PeerRead:
    """Calls (operation -> count), seconds and the assignments a peer read:
    (account id, permission set ARN, principal type, principal id)."""

    calls: dict[str, int]
    seconds: float
    assignments: frozenset[tuple[str, str, str, str]]

    @property
    def call_count(self) -> int:
        return sum(self.calls.values())


def measure(sandbox: Sandbox) -> PeerRead:
    """Run ``aws_sso_lib.list_assignments`` over ``sandbox``'s only instance (the process's AWS
    environment must point at the sandbox: ``Sandbox.process_environment``)."""
    from aws_sso_lib import list_assignments  # type: ignore[import-untyped]  # noqa: PLC0415

    session = boto3.Session()
    mark = len(sandbox.calls)
    started = time.perf_counter()
    found = frozenset(
        (a.target_id, a.permission_set_arn, a.principal_type, a.principal_id)
        for a in list_assignments(session)
    )
    seconds = time.perf_counter() - started
    calls = Counter(call.operation for call in sandbox.calls[mark:])
    return PeerRead(calls=dict(sorted(calls.items())), seconds=seconds, assignments=found)
