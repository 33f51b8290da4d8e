"""Killing ``reconciler apply`` (SIGKILL) at any point, then applying again, converges with no
duplicate, no unintended deletion and no gap in anyone's access (DESIGN.md, safety rules:
"every write is idempotent", "create before delete").

Judged against the two revisions' documents (``scripts.fault_campaign``'s own small reading of
them), not against the product's plans: a grant both revisions declare must never be deleted,
not even for a while (every DeleteAccountAssignment request the sandbox accepted is checked).

The sandbox runs in the test process; ``python -m reconciler apply`` runs as a subprocess and
is killed after its N-th write call reaches the sandbox (seen through the sandbox's call
recorder). Account assignment requests stay IN_PROGRESS for 0.4 s, so most kills leave
requests in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.inventory import assignment_deletions, take_inventory
from scripts.fault_campaign import (
    access_gaps,
    expected_grants,
    missing,
    read_desired_state,
    unintended_deletions,
)
from tests import cli_zygote
from tests.survival.conftest import evolve_example, pass_on

pytestmark = pytest.mark.usefixtures("aws_environment", "quick_apply")

MAX_RUNS_AFTER_A_KILL = 4


def start_apply(repository: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--repo", str(repository)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def kill_after_writes(
    process: subprocess.Popen[str], sandbox: Sandbox, *, writes: int, operation: str | None
) -> int | None:
    """SIGKILL ``process`` once ``writes`` more write calls (of ``operation`` only, if given)
    reached the sandbox; returns the asynchronous requests it left IN_PROGRESS, or None if it
    ended first."""
    baseline = len(sandbox.recorder.write_calls())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            process.communicate(timeout=10)
            return None
        seen = sandbox.recorder.write_calls()[baseline:]
        if len([c for c in seen if operation in (None, c.operation)]) >= writes:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
            with sandbox.identity_center.lock:
                return len(sandbox.identity_center.pending)
        time.sleep(0.002)
    process.kill()
    process.communicate(timeout=10)
    raise AssertionError(f"apply made fewer than {writes} writes in 60 s")


# Kill points: among user creations (1 write), memberships (16), the provisioning of a
# changed set (26: a request in flight), assignment creations (40: requests in flight), the
# deletions of the renamed set's assignments, the renamed set itself, and the memberships of a
# removed user.
KILL_POINTS: dict[str, tuple[str | None, int, bool]] = {
    "write-1": (None, 1, False),
    "write-16": (None, 16, False),
    "write-26": (None, 26, True),
    "write-40": (None, 40, True),
    "first-assignment-deletion": ("DeleteAccountAssignment", 1, True),
    "permission-set-deletion": ("DeletePermissionSet", 1, False),
    "first-membership-removal": ("DeleteGroupMembership", 1, False),
}
"""name → (operation counted or None for any write, count, whether asynchronous requests
must be in flight at the kill)."""


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_apply_killed_at_any_point_converges_on_the_next_runs(
    access_repo: Path, sandbox: Sandbox, organization: SeededOrganization, kill_point: str
) -> None:
    operation, writes, requests_in_flight = KILL_POINTS[kill_point]
    first = pass_on(access_repo, apply=True)
    assert first.outcome is not None
    assert first.outcome.succeeded
    old = read_desired_state(access_repo / "desired-state")
    evolve_example(access_repo)
    new = read_desired_state(access_repo / "desired-state")
    before = take_inventory(sandbox)
    deletions_before = len(assignment_deletions(sandbox))

    in_flight = kill_after_writes(
        start_apply(access_repo), sandbox, writes=writes, operation=operation
    )
    assert in_flight is not None, "the apply ended before the kill point: choose a smaller one"
    if requests_in_flight:
        assert in_flight > 0, "the kill was meant to leave requests IN_PROGRESS"

    for _ in range(MAX_RUNS_AFTER_A_KILL):
        # A fresh process after the crash (forked from the helper: only the killed one must
        # be a real `python -m reconciler`).
        result = cli_zygote.run(["apply", "--repo", str(access_repo)], env=os.environ, timeout=120)
        if result.returncode == 0:
            break
    else:
        pytest.fail(f"apply never exited 0:\n{result.stdout}\n{result.stderr}")

    after = take_inventory(sandbox)
    final = pass_on(access_repo, apply=False)
    assert final.plan.is_empty, [operation.key for operation in final.plan.operations]
    accounts = organization.accounts
    assert after.duplicates() == {}
    assert missing(files=new, account_ids=accounts, after=after) == {}
    assert unintended_deletions(before=before, after=after, files=new, account_ids=accounts) == {}
    assert (
        access_gaps(
            assignment_deletions(sandbox)[deletions_before:],
            old=expected_grants(old, account_ids=accounts),
            new=expected_grants(new, account_ids=accounts),
        )
        == []
    )
