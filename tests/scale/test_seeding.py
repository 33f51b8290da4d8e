"""The synthetic organization generator and its desired-state folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.adapters.aws.clients import RateLimits, make_clients
from reconciler.engine import Revision, reconcile
from reconciler.sandbox import Sandbox
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.seeding import ScaleSpec, generate, seed_organization

SPEC = ScaleSpec(accounts=15, permission_sets=6, groups=10, users=30, assignments=120, seed=11)


@pytest.fixture
def unlimited_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A sandbox without rate limits, the AWS environment pointing at it."""
    with Sandbox(faults=FaultConfig.parse("none")) as sandbox:
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        for key, value in sandbox.client_environment().items():
            monkeypatch.setenv(key, value)
        yield sandbox


def test_generation_is_deterministic_for_a_seed() -> None:
    assert generate(SPEC) == generate(SPEC)


def test_another_seed_gives_another_organization() -> None:
    assert generate(replace(SPEC, seed=12)) != generate(SPEC)


def test_generation_makes_exactly_the_assignments_asked_for() -> None:
    organization = generate(SPEC)

    assert len(organization.assignments) == 120
    assert len(set(organization.assignments)) == 120


def test_most_assignments_go_to_groups() -> None:
    kinds = Counter(kind for _, _, kind, _ in generate(SPEC).assignments)

    assert kinds["GROUP"] > 0.8 * SPEC.assignments
    assert kinds["USER"] > 0


def test_a_few_permission_sets_cover_most_accounts_and_most_cover_few() -> None:
    spec = ScaleSpec(accounts=100, permission_sets=20, groups=30, users=50, assignments=2000)
    accounts_of: dict[str, set[str]] = {}
    for account, set_name, _, _ in generate(spec).assignments:
        accounts_of.setdefault(set_name, set()).add(account)
    coverage = sorted((len(accounts) for accounts in accounts_of.values()), reverse=True)

    assert coverage[0] > 80
    assert sorted(coverage)[len(coverage) // 2] < 50


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="--assignments 5 does not fit"):
        generate(ScaleSpec(accounts=1, permission_sets=1, groups=1, users=1, assignments=5))


def test_a_seeded_organization_and_its_folder_make_a_no_op_pass(
    unlimited_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "desired-state"
    seed_organization(unlimited_sandbox, SPEC, folder=folder)
    clients = make_clients(rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0))
    mark = len(unlimited_sandbox.calls)

    result = reconcile(revision=Revision(revision=None, folder=folder), aws=clients, apply=True)

    assert len(result.live.state.assignments) == 120
    assert result.plan.operations == ()
    assert [c for c in unlimited_sandbox.calls[mark:] if c.is_write] == []


def test_an_empty_seed_leaves_only_accounts_and_plans_a_converge_from_empty(
    unlimited_sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "desired-state"
    spec = replace(SPEC, populate_live=False)
    seed_organization(unlimited_sandbox, spec, folder=folder)
    clients = make_clients(rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0))

    result = reconcile(revision=Revision(revision=None, folder=folder), aws=clients, apply=False)

    assert len(result.live.accounts) == 16  # 15 members and the management account
    assert result.live.state.assignments == frozenset()
    assert result.plan.summary()["create"] == 30 + 10 + 6 + 120 + len(generate(SPEC).memberships)


def test_the_seed_command_serves_the_organization_and_writes_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "scale"
    command = [sys.executable, "-m", "reconciler", "sandbox", "seed", "--port", "0"]
    command += ["--accounts", "5", "--permission-sets", "3", "--groups", "4", "--users", "6"]
    command += ["--assignments", "20", "--out", str(folder)]
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    ) as process:
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if line.startswith("# Ctrl-C"):
                    break
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)

    assert lines[0].startswith("Sandbox listening on http://127.0.0.1:")
    assert any("20 assignments" in line for line in lines)
    assert sorted(p.name for p in (folder / "permission-sets").iterdir()) == [
        "Role000.json",
        "Role001.json",
        "Role002.json",
    ]
    assert process.returncode == 0
