"""A fault campaign: reconcile a mid-size organization through many passes under injected
faults and random kills, then check that it converged with no duplicate and no unintended
deletion.

Run ``make faults`` (or ``python scripts/fault_campaign.py --help``). What it does:

1. starts a sandbox in this process (AWS's request rates, asynchronous operations of 0.3 s,
   every response checked against botocore's output shape) with ``--accounts`` accounts;
2. generates desired-state revisions from ``--seed`` (``--users`` users in one to three of
   ``--groups`` groups, ``--permission-sets`` sets, ``--assignments`` distinct assignments;
   each later revision renames a set, changes two, removes one user in twenty and one
   assignment in ten) and commits them one after the other to a Git repository;
3. runs ``python -m reconciler apply`` as a subprocess, ``--passes`` times spread over the
   revisions, under ``--faults`` (throttling, HTTP 500/503, connection resets, read timeouts,
   lost responses); a ``--kill-rate`` share of the passes is killed with SIGKILL after a
   random number of its write calls; then passes without kills until one exits 0;
4. judges every pass against the generated documents themselves (small code of its own, not
   the product's planner): an object held before the pass and gone after it that the target
   revision declares, does not prune or protects is an unintended deletion; a
   DeleteAccountAssignment request (the sandbox's log, so a grant deleted and created again
   counts) for a grant declared by both the previous and the target revision is an access gap;
   at the end, the plan must be empty, every declared object present, and no object held twice.

It prints passes run, kills, exit codes, faults injected by type (the sandbox's recorder),
operations reported failed with their reasons, and last ``converged=yes duplicates=0
unintended_deletions=0 access_gaps=0`` when all is well (real values otherwise); the exit code
is 0 only then.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.adapters.aws.clients import RateLimits, make_clients
from reconciler.engine import PassResult, Revision, reconcile
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.inventory import Inventory, assignment_deletions, take_inventory

# --------------------------------------------------------------------------------------------
# Expectations: what must exist, what must never disappear, computed from the documents
# --------------------------------------------------------------------------------------------
#
# Judged against the desired-state documents themselves, with this small code and not the
# product's loader or planner: a planner that deletes too much, or deletes a grant and creates
# it again, cannot pass by construction.

KINDS = ("users", "groups", "memberships", "permission_sets", "assignments")
Grant = tuple[str, str, str, str]
"""(account id, permission set name, ``USER`` or ``GROUP``, principal name): one grant of
access, keyed as ``Inventory.assignments``."""
_ENTRY_KEYS = frozenset({"permission_set", "groups", "users", "accounts"})


def read_desired_state(folder: Path) -> dict[str, Any]:
    """The JSON documents under ``folder`` as ``{relative path: document}``."""
    return {
        path.relative_to(folder).as_posix(): json.loads(path.read_text())
        for path in sorted(folder.rglob("*.json"))
    }


def expected_grants(files: Mapping[str, Any], *, account_ids: Mapping[str, str]) -> set[Grant]:
    """Every grant ``assignments.json`` declares: each principal of an entry in each of its
    accounts (names mapped through ``account_ids``, 12-digit ids kept). Raises ``ValueError``
    for an entry with other targets (OUs, tags), which this small reading does not resolve."""
    grants: set[Grant] = set()
    for entry in files.get("assignments.json", {}).get("assignments", []):
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise ValueError(f"expected_grants reads account lists only, not {sorted(unknown)}")
        for account in entry.get("accounts", []):
            account_id = account_ids.get(account, account)
            for kind, names in (
                ("GROUP", entry.get("groups", [])),
                ("USER", entry.get("users", [])),
            ):
                grants |= {(account_id, entry["permission_set"], kind, name) for name in names}
    return grants


def expected_keys(
    files: Mapping[str, Any], *, account_ids: Mapping[str, str]
) -> dict[str, set[object]]:
    """The inventory keys (see ``reconciler.sandbox.inventory``) of every object the documents
    declare, by kind."""
    groups = files.get("groups.json", {}).get("groups", [])
    return {
        "users": {user["user_name"] for user in files.get("users.json", {}).get("users", [])},
        "groups": {group["name"] for group in groups},
        "memberships": {
            (group["name"], member) for group in groups for member in group.get("members", [])
        },
        "permission_sets": {
            document["name"]
            for path, document in files.items()
            if path.startswith("permission-sets/")
        },
        "assignments": set(expected_grants(files, account_ids=account_ids)),
    }


def _protected(files: Mapping[str, Any], kind: str, key: Any) -> bool:
    """Whether ``key`` of ``kind`` names a protected permission set, group or user."""
    patterns = files.get("reconciler.json", {}).get("protected", {})

    def matches(section: str, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns.get(section, []))

    if kind in ("users", "groups", "permission_sets"):
        return matches(kind, str(key))
    if kind == "memberships":
        return matches("groups", key[0]) or matches("users", key[1])
    section = "groups" if key[2] == "GROUP" else "users"
    return matches("permission_sets", key[1]) or matches(section, key[3])


def unintended_deletions(
    *,
    before: Inventory,
    after: Inventory,
    files: Mapping[str, Any],
    account_ids: Mapping[str, str],
) -> dict[str, list[str]]:
    """Objects held ``before`` and gone ``after`` that the target documents ``files`` keep:
    declared there, of a kind their ``reconciler.json`` does not prune, or protected; by kind
    (kinds with none are left out)."""
    declared = expected_keys(files, account_ids=account_ids)
    prune = files.get("reconciler.json", {}).get("prune", {})
    found: dict[str, list[str]] = {}
    before_keys, after_keys = before.keys(), after.keys()
    for kind in KINDS:
        kept = [
            key
            for key in before_keys[kind] - after_keys[kind]
            if key in declared[kind] or not prune.get(kind, False) or _protected(files, kind, key)
        ]
        if kept:
            found[kind] = sorted(str(key) for key in kept)
    return found


def access_gaps(
    deletions: Iterable[Grant], *, old: Iterable[Grant], new: Iterable[Grant]
) -> list[str]:
    """Deletions (the sandbox's DeleteAccountAssignment requests, see
    ``inventory.assignment_deletions``) of grants that both the old and the new desired state
    declare: each is a gap in someone's access, even when a later pass creates it again."""
    staying = set(old) & set(new)
    return [str(grant) for grant in deletions if grant in staying]


def missing(
    *, files: Mapping[str, Any], account_ids: Mapping[str, str], after: Inventory
) -> dict[str, list[str]]:
    """Objects the documents ``files`` declare that ``after`` does not hold, by kind (empty
    kinds left out)."""
    found: dict[str, list[str]] = {}
    wanted, held = expected_keys(files, account_ids=account_ids), after.keys()
    for kind in KINDS:
        absent = wanted[kind] - held[kind]
        if absent:
            found[kind] = sorted(str(key) for key in absent)
    return found


# --------------------------------------------------------------------------------------------
# The organization and its desired state, generated from a seed
# --------------------------------------------------------------------------------------------

MANAGED_POLICIES = tuple(
    f"arn:aws:iam::aws:policy/{name}"
    for name in (
        "ReadOnlyAccess",
        "job-function/ViewOnlyAccess",
        "PowerUserAccess",
        "AdministratorAccess",
        "job-function/Billing",
        "SecurityAudit",
        "AmazonS3ReadOnlyAccess",
        "AmazonEC2ReadOnlyAccess",
        "job-function/DatabaseAdministrator",
        "job-function/NetworkAdministrator",
        "AWSCloudTrail_ReadOnlyAccess",
        "CloudWatchReadOnlyAccess",
        "IAMReadOnlyAccess",
        "job-function/SupportUser",
    )
)
"""AWS managed policies the sandbox knows (moto's copy of AWS's list), paths included."""


@dataclass(frozen=True, kw_only=True)
class Size:
    """How big the generated organization is."""

    accounts: int = 20
    permission_sets: int = 15
    groups: int = 50
    users: int = 200
    assignments: int = 500


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def generate_desired_state(*, size: Size, accounts: Sequence[str], seed: int) -> dict[str, Any]:
    """A desired state as ``{relative path: JSON document}``, the same for the same inputs.

    ``accounts`` are the account names to assign in. Every user is in one to three groups;
    assignments are distinct (permission set, principal, account) triples, four in five to
    groups. Pruning is on for every kind; the deletion guard is opened wide (the campaign
    deletes on purpose).
    """
    chance = random.Random(seed)  # noqa: S311 - test data, not secrets
    users = [f"user{index:03d}" for index in range(size.users)]
    groups = [f"team{index:02d}" for index in range(size.groups)]
    members: dict[str, set[str]] = {group: set() for group in groups}
    for user in users:
        for group in chance.sample(groups, k=min(len(groups), chance.randint(1, 3))):
            members[group].add(user)
    sets = [f"Access{index:02d}" for index in range(size.permission_sets)]
    files: dict[str, Any] = {
        "reconciler.json": {
            "prune": dict.fromkeys(
                ("users", "groups", "memberships", "permission_sets", "assignments"), True
            ),
            "deletion_guard": {"max_deletions": 100_000, "max_fraction": 1.0},
        },
        "users.json": {
            "users": [
                {
                    "user_name": user,
                    "display_name": f"User {user}",
                    "given_name": "User",
                    "family_name": user,
                    "email": f"{user}@example.com",
                }
                for user in users
            ]
        },
        "groups.json": {
            "groups": [
                {"name": group, "description": f"Team {group}", "members": sorted(members[group])}
                for group in groups
            ]
        },
    }
    for index, name in enumerate(sets):
        document: dict[str, Any] = {
            "name": name,
            "description": f"Generated permission set {index}",
            "session_duration": f"PT{chance.randint(1, 12)}H",
            "managed_policies": sorted(chance.sample(MANAGED_POLICIES, k=chance.randint(1, 3))),
            "tags": {"team": chance.choice(("platform", "security", "data"))},
        }
        if index % 3 == 0:
            document["inline_policy"] = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "s3:DeleteBucket",
                        "Resource": f"arn:aws:s3:::b{index}",
                    }
                ],
            }
        if index % 4 == 1:
            document["relay_state"] = "https://console.aws.amazon.com/ec2/"
        files[f"permission-sets/{name}.json"] = document
    wanted = min(size.assignments, len(sets) * len(accounts) * (len(users) + len(groups)))
    triples: set[tuple[str, str, str, str]] = set()
    while len(triples) < wanted:
        principal_type = "groups" if chance.random() < 0.8 or not users else "users"
        principal = chance.choice(groups if principal_type == "groups" else users)
        triples.add((chance.choice(sets), principal_type, principal, chance.choice(accounts)))
    files["assignments.json"] = {"assignments": _assignment_entries(triples)}
    return files


def _assignment_entries(triples: Iterable[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    """assignments.json entries: one per (permission set, principal), listing its accounts."""
    accounts: dict[tuple[str, str, str], set[str]] = {}
    for permission_set, principal_type, principal, account in triples:
        accounts.setdefault((permission_set, principal_type, principal), set()).add(account)
    return [
        {"permission_set": permission_set, principal_type: [principal], "accounts": sorted(names)}
        for (permission_set, principal_type, principal), names in sorted(accounts.items())
    ]


def evolve_desired_state(original: Mapping[str, Any], *, seed: int) -> dict[str, Any]:
    """The next revision of ``original``: a permission set renamed (its assignments follow), two
    sets' session duration and policies changed, one user in twenty removed (memberships
    and assignments with them), one assignment in ten removed."""
    chance = random.Random(seed + 1)  # noqa: S311 - test data, not secrets
    files: dict[str, Any] = json.loads(json.dumps(original))  # a deep copy
    set_paths = sorted(path for path in files if path.startswith("permission-sets/"))
    renamed_from = files[set_paths[0]]["name"]
    renamed_to = f"{renamed_from[:24]}R{seed % 1000}"
    files[f"permission-sets/{renamed_to}.json"] = {**files.pop(set_paths[0]), "name": renamed_to}
    for path in set_paths[1:3]:
        document = files[path]
        document["session_duration"] = "PT2H" if document["session_duration"] != "PT2H" else "PT3H"
        document["managed_policies"] = sorted(
            set(document["managed_policies"][1:]) | {chance.choice(MANAGED_POLICIES)}
        )
    users = [user["user_name"] for user in files["users.json"]["users"]]
    removed = set(chance.sample(users, k=len(users) // 20))
    files["users.json"]["users"] = [
        user for user in files["users.json"]["users"] if user["user_name"] not in removed
    ]
    for group in files["groups.json"]["groups"]:
        group["members"] = [member for member in group["members"] if member not in removed]
    triples = set()
    for entry in files["assignments.json"]["assignments"]:
        principal_type = "groups" if entry.get("groups") else "users"
        principal = entry[principal_type][0]
        permission_set = (
            renamed_to if entry["permission_set"] == renamed_from else entry["permission_set"]
        )
        if principal in removed and principal_type == "users":
            continue
        for account in entry["accounts"]:
            if chance.random() >= 0.1:
                triples.add((permission_set, principal_type, principal, account))
    files["assignments.json"] = {"assignments": _assignment_entries(triples)}
    return files


def write_revision(repository: Path, files: Mapping[str, Any], *, message: str) -> None:
    """Replace ``desired-state/`` in ``repository`` with ``files`` and commit."""
    folder = repository / "desired-state"
    if folder.exists():
        shutil.rmtree(folder)
    for relative, document in files.items():
        _write(folder / relative, document)
    _git(repository, "add", "-A")
    _git(repository, "commit", "-q", "--allow-empty", "-m", message)


GIT: tuple[str, ...] = ("git", "-c", "user.name=Campaign", "-c", "user.email=c@x.example")
GIT += ("-c", "commit.gpgsign=false")


def _git(repository: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, *args],
        cwd=repository,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


# --------------------------------------------------------------------------------------------
# The campaign
# --------------------------------------------------------------------------------------------

DEFAULT_FAULTS = (
    "throttle=0.03,http500=0.02,http503=0.02,reset=0.01,timeout=0.005,lost=0.02,timeout-seconds=1"
)
"""Injected on top of AWS's request rates (sso-admin 20/s, identitystore 20/s per API)."""
APPLY: tuple[str, ...] = (sys.executable, "-m", "reconciler", "--log-level", "error", "apply")
APPLY += ("--format", "json")
APPLY += ("--repo",)
UNLIMITED = RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0)


@dataclass(kw_only=True)
class Figures:
    """What a campaign measured."""

    passes: int = 0
    kills: int = 0
    exits: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    converged: bool = False
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    unintended: dict[str, list[str]] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)
    assignment_deletions: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def duplicate_count(self) -> int:
        return sum(len(keys) for keys in self.duplicates.values())

    @property
    def unintended_count(self) -> int:
        return sum(len(keys) for keys in self.unintended.values())

    @property
    def ok(self) -> bool:
        return self.converged and not self.duplicates and not self.unintended and not self.gaps

    def verdict(self) -> str:
        """The last line: ``converged=yes duplicates=0 unintended_deletions=0 access_gaps=0``
        when all is well."""
        return (
            f"converged={'yes' if self.converged else 'no'} duplicates={self.duplicate_count} "
            f"unintended_deletions={self.unintended_count} access_gaps={len(self.gaps)}"
        )


@dataclass(frozen=True, kw_only=True)
class Campaign:
    """Settings of one campaign (see ``main``'s options)."""

    size: Size
    passes: int
    kill_rate: float
    faults: str
    seed: int
    recovery_passes: int = 6
    revisions: int = 3
    assignment_delay_seconds: float = 0.3
    verbose: bool = True


class _Run:
    def __init__(
        self,
        campaign: Campaign,
        sandbox: Sandbox,
        repository: Path,
        *,
        revisions: Sequence[Mapping[str, Any]],
        account_ids: Mapping[str, str],
    ) -> None:
        self.campaign = campaign
        self.sandbox = sandbox
        self.repository = repository
        self.revisions = revisions
        self.account_ids = account_ids
        self.chance = random.Random(campaign.seed + 2)  # noqa: S311 - kill timing, not secrets
        self.figures = Figures()
        self.fault_config = FaultConfig.parse(f"{campaign.faults},seed={campaign.seed}")
        self.target = 0
        """Index in ``revisions`` of the revision committed last (the passes' target)."""
        self.environment = {**os.environ, **sandbox.client_environment()}
        self.environment.pop("AWS_PROFILE", None)

    def say(self, text: str) -> None:
        if self.campaign.verbose:
            print(text, flush=True)

    def plan_now(self) -> PassResult:
        """Plan in-process with faults off (the campaign's own view, not part of the test)."""
        self.sandbox.configure_faults(FaultConfig.parse("none"))
        try:
            folder = self.repository / "desired-state"
            return reconcile(
                revision=Revision(
                    revision=_git(self.repository, "rev-parse", "HEAD"), folder=folder
                ),
                aws=make_clients(rates=UNLIMITED),
                apply=False,
            )
        finally:
            self.sandbox.configure_faults(self.fault_config)

    def one_pass(self, *, may_kill: bool) -> int | None:
        """Run ``reconciler apply`` once under faults; returns its exit code, None if killed."""
        before = take_inventory(self.sandbox)
        deletions_before = len(assignment_deletions(self.sandbox))
        planned = self.plan_now()
        self.figures.passes += 1
        operations = len(planned.plan.operations)
        kill_after = (
            self.chance.randint(1, operations)
            if may_kill and operations and self.chance.random() < self.campaign.kill_rate
            else None
        )
        code, stdout = self._apply(kill_after=kill_after)
        if code is None:
            self.figures.kills += 1
            self.say(
                f"pass {self.figures.passes}: {operations} operations planned, "
                f"killed after {kill_after} write calls"
            )
            self._check_deletions(before, deletions_before)
            return None
        self.figures.exits[code] += 1
        failed = []
        try:
            document = json.loads(stdout)
        except json.JSONDecodeError:
            document = {}
        for change in document.get("changes", []):
            if change.get("status") == "failed":
                reason = str(change.get("reason", ""))
                failed.append(reason)
                self.figures.failed[
                    f"{change.get('action')} {change.get('kind', '')}: {reason}"
                ] += 1
        self.say(
            f"pass {self.figures.passes}: {len(planned.plan.operations)} operations planned, "
            f"exit {code}, {len(failed)} reported failed"
        )
        self._check_deletions(before, deletions_before)
        return code

    def _apply(self, *, kill_after: int | None) -> tuple[int | None, str]:
        """Run ``reconciler apply`` (JSON output); with ``kill_after``, SIGKILL it once that
        many write calls reached the sandbox. Returns (exit code or None if killed, stdout)."""
        baseline = len(self.sandbox.recorder.calls)
        with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
            process = subprocess.Popen(
                [*APPLY, str(self.repository)],
                stdout=out,
                stderr=err,
                text=True,
                env=self.environment,
            )
            while process.poll() is None:
                if kill_after is not None:
                    calls = self.sandbox.recorder.calls[baseline:]
                    if sum(1 for call in calls if call.is_write) >= kill_after:
                        process.send_signal(signal.SIGKILL)
                        process.wait()
                        return None, ""
                time.sleep(0.01)
            out.seek(0)
            return process.returncode, out.read()

    def _check_deletions(self, before: Inventory, deletions_before: int) -> None:
        """Judge one pass against the documents: objects the target keeps that are gone, and
        DeleteAccountAssignment requests for grants both the previous and the target revision
        declare (access gaps, even if created again later)."""
        self.sandbox.complete_operations()
        target = self.revisions[self.target]
        for kind, keys in unintended_deletions(
            before=before,
            after=take_inventory(self.sandbox),
            files=target,
            account_ids=self.account_ids,
        ).items():
            self.figures.unintended.setdefault(kind, []).extend(keys)
        previous = self.revisions[self.target - 1] if self.target else {}
        deletions = assignment_deletions(self.sandbox)[deletions_before:]
        self.figures.assignment_deletions += len(deletions)
        self.figures.gaps += access_gaps(
            deletions,
            old=expected_grants(previous, account_ids=self.account_ids),
            new=expected_grants(target, account_ids=self.account_ids),
        )

    def run(self) -> Figures:
        started = time.monotonic()
        self.sandbox.configure_faults(self.fault_config)
        per_revision = max(1, self.campaign.passes // len(self.revisions))
        for number, files in enumerate(self.revisions, start=1):
            write_revision(self.repository, files, message=f"Revision {number}")
            self.target = number - 1
            self.say(f"revision {number} committed")
            for _ in range(per_revision):
                self.one_pass(may_kill=True)
        for _ in range(self.campaign.recovery_passes):
            if self.one_pass(may_kill=False) == 0:
                break
        final = self.plan_now()
        self.sandbox.configure_faults(FaultConfig.parse("none"))
        held = take_inventory(self.sandbox)
        self.figures.converged = final.plan.is_empty
        self.figures.duplicates = held.duplicates()
        self.figures.missing = missing(
            files=self.revisions[-1], account_ids=self.account_ids, after=held
        )
        self.figures.converged = self.figures.converged and not self.figures.missing
        self.figures.faults = Counter(
            call.fault for call in self.sandbox.recorder.calls if call.fault is not None
        )
        self.figures.calls = len(self.sandbox.recorder.calls)
        self.figures.seconds = time.monotonic() - started
        return self.figures


def run_campaign(campaign: Campaign) -> Figures:
    """Seed a sandbox, generate two revisions, run the passes; returns the figures.

    Runs a sandbox in this process (only one may run per process) and ``reconciler apply`` as
    subprocesses against it. Temporary files go to a fresh temporary folder, removed after.
    """
    settings = SandboxSettings(
        assignment_delay_seconds=campaign.assignment_delay_seconds,
        provisioning_delay_seconds=campaign.assignment_delay_seconds,
    )
    with (
        Sandbox(settings, faults=FaultConfig.parse("none"), shape_check=True) as sandbox,
        tempfile.TemporaryDirectory(prefix="fault-campaign-") as temporary,
        sandbox.process_environment(),  # the in-process plans use it too
    ):
        return _campaign_in(campaign, sandbox, Path(temporary))


def _campaign_in(campaign: Campaign, sandbox: Sandbox, temporary: Path) -> Figures:
    names = [f"account-{index:02d}" for index in range(campaign.size.accounts)]
    account_ids = {name: sandbox.add_account(name=name) for name in names}
    sandbox.create_instance(name="campaign")
    repository = temporary / "access"
    repository.mkdir()
    _git(repository, "init", "-q", "-b", "main")
    revisions = [generate_desired_state(size=campaign.size, accounts=names, seed=campaign.seed)]
    while len(revisions) < campaign.revisions:
        revisions.append(evolve_desired_state(revisions[-1], seed=campaign.seed + len(revisions)))
    figures = _Run(
        campaign, sandbox, repository, revisions=revisions, account_ids=account_ids
    ).run()
    violations = sandbox.fault_layer.shape_violations
    if violations:
        figures.faults["shape_violation (sandbox bug)"] += len(violations)
    return figures


def report(figures: Figures, *, out: Any = None) -> None:
    """Print the figures; the last line is ``Figures.verdict()``."""
    out = out or sys.stdout
    lines = [
        f"passes run:            {figures.passes}",
        f"kills:                 {figures.kills}",
        "exit codes:            "
        + (", ".join(f"{code}: {count}" for code, count in sorted(figures.exits.items())) or "-"),
        f"AWS calls:             {figures.calls} (the campaign's own checks included)",
        "faults injected:       "
        + (", ".join(f"{kind} {count}" for kind, count in sorted(figures.faults.items())) or "-"),
        f"operations failed:     {sum(figures.failed.values())}",
    ]
    lines += [f"  {count} x {reason}" for reason, count in figures.failed.most_common(10)]
    lines += [
        f"missing objects:       {sum(len(v) for v in figures.missing.values())}",
        f"duplicates:            {json.dumps(figures.duplicates)[:500]}",
        f"unintended deletions:  {json.dumps(figures.unintended)[:500]}",
        f"assignment deletions:  {figures.assignment_deletions} (DeleteAccountAssignment requests)",
        f"access gaps:           {json.dumps(figures.gaps)[:500]}",
        f"seconds:               {figures.seconds:.0f}",
        figures.verdict(),
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a campaign from the command line; 0 only when converged with no duplicate, no
    unintended deletion and no access gap."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--permission-sets", type=int, default=15)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--assignments", type=int, default=500)
    parser.add_argument("--passes", type=int, default=10, help="passes with random kills")
    parser.add_argument(
        "--kill-rate",
        type=float,
        default=0.5,
        help="fraction of passes killed, each after a random number of its write calls",
    )
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="FaultConfig spec (--faults)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--recovery-passes", type=int, default=6)
    parser.add_argument(
        "--revisions", type=int, default=3, help="desired-state revisions, each evolving the last"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the figures")
    args = parser.parse_args(argv)
    figures = run_campaign(
        Campaign(
            size=Size(
                accounts=args.accounts,
                permission_sets=args.permission_sets,
                groups=args.groups,
                users=args.users,
                assignments=args.assignments,
            ),
            passes=args.passes,
            kill_rate=args.kill_rate,
            faults=args.faults,
            seed=args.seed,
            recovery_passes=args.recovery_passes,
            revisions=max(1, args.revisions),
            verbose=not args.quiet,
        )
    )
    report(figures)
    return 0 if figures.ok else 1


if __name__ == "__main__":
    from reconciler.logs import configure_logging

    configure_logging(level="error")  # the in-process plans' logs would drown the report
    sys.exit(main())
