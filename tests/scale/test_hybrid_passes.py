"""Pinned API calls of the controller's passes on a small generated organization: a steady
hybrid pass reads the same state as a complete one in fewer calls.

The desired state is the organization itself (``export_files`` of a complete read), so every
pass is in sync and writes nothing; the calls counted are the read's, as the sandbox logs them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.controller.loop import Controller
from reconciler.controller.settings import load_settings
from reconciler.controller.wiring import build_controller
from reconciler.model.exporting import export_files
from reconciler.planning.reports import LiveRead, PassReport, PassStatus
from reconciler.sandbox import Sandbox
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.seeding import ScaleSpec, seed_organization
from tests.support import commit_all, git

WIDE = ScaleSpec(accounts=30, permission_sets=4, groups=3, users=4, assignments=150, seed=5)
"""More provisioned (set, account) pairs than principals: where the hybrid read pays off."""

COMPLETE_PASS = {
    "DescribePermissionSet": 4,
    "GetCallerIdentity": 1,
    "GetInlinePolicyForPermissionSet": 4,
    "GetPermissionsBoundaryForPermissionSet": 4,
    "ListAccountAssignments": 89,
    "ListAccounts": 2,
    "ListAccountsForProvisionedPermissionSet": 8,
    "ListCustomerManagedPolicyReferencesInPermissionSet": 4,
    "ListGroupMemberships": 3,
    "ListGroups": 1,
    "ListInstances": 1,
    "ListManagedPoliciesInPermissionSet": 4,
    "ListPermissionSets": 1,
    "ListTagsForResource": 4,
    "ListUsers": 1,
}
"""131 calls: ListAccountAssignments per provisioned (set, account), 89 of them."""
HYBRID_PASS = {
    **{name: n for name, n in COMPLETE_PASS.items() if name != "ListAccountAssignments"},
    "ListAccountAssignmentsForPrincipal": 7,
}
"""49 calls: ListAccountAssignmentsForPrincipal per user and group (7), and no (set, account)
left to read: every provisioned pair holds a live principal's assignment."""


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(faults=FaultConfig.parse("none")) as running, running.process_environment():
        yield running


def _clients() -> AwsClients:
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    return make_clients(rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0))


def _controller(clients: AwsClients, tmp_path: Path, **settings: object) -> Controller:
    """A controller whose repository declares the organization as it is."""
    repository = tmp_path / "access"
    folder = repository / "desired-state"
    for name, content in export_files(read_live_state(clients)).files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    git(repository, "init", "-q", "-b", "main")
    commit_all(repository, "The organization as it is")
    return build_controller(
        load_settings(
            overrides={
                "repository": str(repository),
                "ref": "main",
                "cache_dir": tmp_path / "cache",
                "state_file": tmp_path / "state.json",
                "listen": "off",
                **settings,
            }
        ),
        aws=clients,
    )


def _logged(sandbox: Sandbox, since: int) -> dict[str, int]:
    """The calls the sandbox received after the first ``since``, by operation."""
    return dict(sorted(Counter(call.operation for call in sandbox.calls[since:]).items()))


def _pass(controller: Controller, sandbox: Sandbox) -> tuple[PassReport, dict[str, int]]:
    before = len(sandbox.calls)
    report = controller.run_once()
    return report, _logged(sandbox, before)


def test_a_steady_hybrid_pass_reads_the_same_state_in_fewer_calls(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seed_organization(sandbox, WIDE)
    clients = _clients()
    controller = _controller(clients, tmp_path)

    complete, complete_calls = _pass(controller, sandbox)
    assert controller.live is not None
    complete_state = controller.live[0].state
    hybrid, hybrid_calls = _pass(controller, sandbox)
    assert controller.live is not None

    assert (complete.read, complete.status) == (LiveRead.COMPLETE, PassStatus.IN_SYNC)
    assert (hybrid.read, hybrid.status) == (LiveRead.HYBRID, PassStatus.IN_SYNC)
    assert controller.live[0].state == complete_state
    assert complete_calls == dict(complete.api_calls) == COMPLETE_PASS
    assert hybrid_calls == dict(hybrid.api_calls) == HYBRID_PASS
    assert (sum(complete_calls.values()), sum(hybrid_calls.values())) == (131, 49)
