"""Fixtures of the survival tests: a sandbox whose asynchronous operations last long enough
for a killed apply to leave requests in flight, and desired-state revisions to move between."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler import engine
from reconciler.adapters.aws.applying import ApplySettings, apply_plan
from reconciler.adapters.aws.clients import RateLimits, make_clients
from reconciler.engine import PassResult, Revision
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig
from tests.support import commit_all, git

SLOW_ENOUGH = SandboxSettings(assignment_delay_seconds=0.4, provisioning_delay_seconds=0.2)
"""Assignment requests stay IN_PROGRESS for 0.4 s: a kill lands while some are in flight."""


@pytest.fixture
def sandbox_settings() -> SandboxSettings:
    """Delays of the survival tests' sandbox (override in a module)."""
    return SLOW_ENOUGH


@pytest.fixture
def sandbox(sandbox_settings: SandboxSettings) -> Iterator[Sandbox]:
    """A sandbox with ``sandbox_settings``, no rate limit, every response's shape checked."""
    with Sandbox(sandbox_settings, faults=FaultConfig.parse("none"), shape_check=True) as running:
        yield running
        assert running.fault_layer.shape_violations == []


UNLIMITED = RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0)
"""In-process passes (arrangements and checks) skip the client-side rate limit: the sandbox
of these tests has none either, so they stay quick; the subprocess under test keeps its own."""


QUICK = ApplySettings(poll_interval_seconds=0.05, conflict_backoff_seconds=0.05)
"""Short pauses for in-process applies: the FAST sandbox's requests last 50 ms."""


@pytest.fixture
def quick_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process passes poll every 50 ms instead of every second (the engine's apply_plan
    with ``QUICK`` settings)."""
    monkeypatch.setattr(engine, "apply_plan", functools.partial(apply_plan, settings=QUICK))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def pass_on(repository: Path, *, apply: bool, allow_deletions: bool = False) -> PassResult:
    """One pass of the engine, in-process, on the working tree of ``repository``."""
    return engine.reconcile(
        revision=Revision(
            revision=git(repository, "rev-parse", "HEAD"), folder=repository / "desired-state"
        ),
        aws=make_clients(rates=UNLIMITED),
        apply=apply,
        allow_deletions=allow_deletions,
    )


def evolve_example(repository: Path) -> str:
    """Commit a second revision of the example: prune users and groups; rename DeveloperAccess
    to PlatformDevelopers; remove sam.lee (a member of two groups); add eight users, a group
    Oncall with them as members and assignments for them; change ReadOnlyAccess's session
    duration (a reprovision). Returns the new revision."""
    folder = repository / "desired-state"
    config = read_json(folder / "reconciler.json")
    config["prune"].update(users=True, groups=True)
    write_json(folder / "reconciler.json", config)

    new_users = [f"user{index:02d}" for index in range(8)]
    users = read_json(folder / "users.json")
    users["users"] = [u for u in users["users"] if u["user_name"] != "sam.lee"] + [
        {
            "user_name": name,
            "display_name": f"User {name}",
            "given_name": "User",
            "family_name": name,
            "email": f"{name}@example.com",
        }
        for name in new_users
    ]
    write_json(folder / "users.json", users)

    groups = read_json(folder / "groups.json")
    for group in groups["groups"]:
        group["members"] = [m for m in group["members"] if m != "sam.lee"]
        if group["name"] == "Auditors":
            group["members"] += new_users[:2]
    groups["groups"].append({"name": "Oncall", "description": "On call", "members": new_users})
    write_json(folder / "groups.json", groups)

    developer = read_json(folder / "permission-sets" / "DeveloperAccess.json")
    (folder / "permission-sets" / "DeveloperAccess.json").unlink()
    developer["name"] = "PlatformDevelopers"
    write_json(folder / "permission-sets" / "PlatformDevelopers.json", developer)
    read_only = read_json(folder / "permission-sets" / "ReadOnlyAccess.json")
    read_only["session_duration"] = "PT2H"
    write_json(folder / "permission-sets" / "ReadOnlyAccess.json", read_only)

    assignments = read_json(folder / "assignments.json")
    for entry in assignments["assignments"]:
        if entry["permission_set"] == "DeveloperAccess":
            entry["permission_set"] = "PlatformDevelopers"
            entry["accounts"] = ["prod", "staging"]
        if entry["permission_set"] == "ReadOnlyAccess":
            entry["groups"].append("Oncall")
    assignments["assignments"].append(
        {"permission_set": "AdministratorAccess", "users": new_users[:4], "accounts": ["staging"]}
    )
    assignments["assignments"].append(
        {"permission_set": "ReadOnlyAccess", "users": new_users, "accounts": ["prod"]}
    )
    write_json(folder / "assignments.json", assignments)
    return commit_all(repository, "Second revision")
