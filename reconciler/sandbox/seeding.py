"""Synthetic organizations at scale: seed a sandbox in-process and write the matching desired state.

``seed_organization(sandbox, spec)`` fills a running ``Sandbox`` directly (moto's organizations
and identity-store objects, the Identity Center simulator's own methods; no HTTP), so that
100,000 account assignments are seeded in seconds, and writes the desired-state folder that
declares exactly what it seeded (a no-op for the reconciler). With ``populate_live=False`` only
the organization's accounts and the instance exist: the folder then describes a converge from
empty.

The generator is deterministic for a given ``ScaleSpec`` (``seed`` feeds ``random.Random``)
and spreads access the way real organizations do:

- most account assignments go to groups (``group_fraction``, default 0.9), the rest to users;
- permission-set popularity follows a Zipf law (exponent ``set_skew``): a few sets sit on most
  accounts, most sets on a few;
- account popularity follows a milder Zipf law (``account_skew``): a few accounts (shared
  services, security) carry many sets;
- every user belongs to one to three groups, larger groups being likelier.

``read_floor(sandbox)`` counts, from the simulator's data, the least number of calls any
complete reader of live state must make (see its docstring).
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

from moto.identitystore.models import Group, IdentityStoreData, Name, User, identitystore_backends
from moto.organizations.models import organizations_backends

from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.identity_center import AccountAssignment
from reconciler.sandbox.server import Sandbox, serve
from reconciler.sandbox.settings import SandboxSettings

MANAGED_TAG = {"managed-by": "identity-center-reconciler"}
"""The reconciler's managed-by tag (``reconciler.model.state``), put on every seeded set."""
LIST_PAGE = 100
"""Items per page of sso-admin and identitystore List calls (API models: MaxResults 1-100)."""
ACCOUNTS_PAGE = 20
"""Items per page of Organizations ListAccounts (API model: MaxResults 1-20)."""
TAGS_PAGE = 50
"""Items per page of sso-admin ListTagsForResource (the sandbox's page size)."""
_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/SecurityAudit",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/job-function/Billing",
)
_DURATIONS = ("PT1H", "PT2H", "PT4H", "PT8H", "PT12H")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleSpec:
    """Shape of a synthetic organization.

    Counts: ``accounts`` member accounts (the management account comes on top),
    ``permission_sets``, ``groups``, ``users`` and ``assignments`` (distinct account
    assignments). ``seed`` makes the organization reproducible. ``populate_live`` False seeds
    only the accounts and the instance (the desired state then describes a converge from
    empty). Raises ``ValueError`` from ``seed_organization`` when the counts cannot hold
    ``assignments`` distinct assignments.
    """

    accounts: int = 20
    permission_sets: int = 10
    groups: int = 20
    users: int = 100
    assignments: int = 200
    seed: int = 1
    populate_live: bool = True
    group_fraction: float = 0.9
    set_skew: float = 1.2
    account_skew: float = 0.6
    group_skew: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedOrganization:
    """The content of a synthetic organization, by name (no AWS identifier).

    ``accounts`` are account names; ``users`` user names; ``groups`` group names;
    ``memberships`` (group, user) pairs; ``permission_sets`` the desired-state documents of
    each set (JSON-ready dicts); ``assignments`` (account name, permission set, ``"GROUP"`` or
    ``"USER"``, principal name) tuples, sorted.
    """

    accounts: tuple[str, ...]
    users: tuple[str, ...]
    groups: tuple[str, ...]
    memberships: tuple[tuple[str, str], ...]
    permission_sets: tuple[dict[str, Any], ...]
    assignments: tuple[tuple[str, str, str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SeededScale:
    """What ``seed_organization`` made.

    ``accounts`` maps account name to 12-digit id (management account ``management``
    included); ``folder`` is the desired-state folder written (None when none was asked);
    ``organization`` the generated content; ``seconds`` the wall time of seeding.
    """

    spec: ScaleSpec
    instance_arn: str
    identity_store_id: str
    accounts: dict[str, str]
    organization: GeneratedOrganization
    folder: Path | None
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def _zipf_cumulative(count: int, exponent: float) -> list[float]:
    return list(accumulate(1.0 / (rank + 1) ** exponent for rank in range(count)))


def generate(spec: ScaleSpec) -> GeneratedOrganization:
    """The organization ``spec`` describes, deterministically (pure: no sandbox needed).

    Raises ``ValueError`` when a count is negative, or when fewer than ``assignments`` distinct
    assignments are possible with the principals, sets and accounts asked for.
    """
    counts = (spec.accounts, spec.permission_sets, spec.groups, spec.users, spec.assignments)
    names = ("--accounts", "--permission-sets", "--groups", "--users", "--assignments")
    negative = [f"{name} {value}" for name, value in zip(names, counts, strict=True) if value < 0]
    if negative:
        raise ValueError(f"{', '.join(negative)}: counts must not be negative")
    principals = spec.groups + spec.users
    possible = spec.accounts * spec.permission_sets * principals
    if spec.assignments and (spec.accounts == 0 or spec.permission_sets == 0 or principals == 0):
        raise ValueError(
            "--assignments needs at least one account, permission set and principal: give "
            "--accounts, --permission-sets and --groups or --users above 0, or --assignments 0"
        )
    if spec.assignments > possible // 2:
        raise ValueError(
            f"--assignments {spec.assignments} does not fit: at most half of the {possible} "
            "(account, permission set, principal) combinations may be drawn; give fewer "
            "--assignments, or more --accounts, --permission-sets, --groups or --users"
        )
    rng = random.Random(spec.seed)  # noqa: S311 - synthetic data, not cryptography
    accounts = tuple(f"account-{i:04d}" for i in range(spec.accounts))
    users = tuple(f"user{i:05d}" for i in range(spec.users))
    groups = tuple(f"team-{i:04d}" for i in range(spec.groups))
    group_weights = _zipf_cumulative(spec.groups, spec.group_skew)
    memberships: set[tuple[str, str]] = set()
    if groups:
        for user in users:
            for group in rng.choices(groups, cum_weights=group_weights, k=rng.randint(1, 3)):
                memberships.add((group, user))
    permission_sets = tuple(
        _permission_set_document(index, rng) for index in range(spec.permission_sets)
    )
    set_names = [document["name"] for document in permission_sets]
    set_weights = _zipf_cumulative(spec.permission_sets, spec.set_skew)
    account_weights = _zipf_cumulative(spec.accounts, spec.account_skew)
    # Shuffle which accounts are popular, so popularity does not follow the name order.
    popular_accounts = list(accounts)
    rng.shuffle(popular_accounts)
    assignments: set[tuple[str, str, str, str]] = set()
    while len(assignments) < spec.assignments:
        batch = spec.assignments - len(assignments)
        chosen_sets = rng.choices(set_names, cum_weights=set_weights, k=batch)
        chosen_accounts = rng.choices(popular_accounts, cum_weights=account_weights, k=batch)
        for set_name, account in zip(chosen_sets, chosen_accounts, strict=True):
            if groups and (not users or rng.random() < spec.group_fraction):
                principal = ("GROUP", rng.choices(groups, cum_weights=group_weights)[0])
            else:
                principal = ("USER", rng.choice(users))
            assignments.add((account, set_name, *principal))
    return GeneratedOrganization(
        accounts=accounts,
        users=users,
        groups=groups,
        memberships=tuple(sorted(memberships)),
        permission_sets=permission_sets,
        assignments=tuple(sorted(assignments)),
    )


def _permission_set_document(index: int, rng: random.Random) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": f"Role{index:03d}",
        "description": f"Synthetic permission set {index}",
        "session_duration": rng.choice(_DURATIONS),
        "managed_policies": sorted(rng.sample(_MANAGED_POLICIES, k=rng.randint(1, 2))),
        "tags": {"cost-center": f"cc-{index % 7}"},
    }
    if index % 3 == 0:
        document["inline_policy"] = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*", "Sid": f"S{index}"}
            ],
        }
    return document


def write_desired_state(organization: GeneratedOrganization, folder: Path) -> Path:
    """Write ``organization`` as a desired-state folder (``reconciler.json``, ``users.json``,
    ``groups.json``, ``permission-sets/<Name>.json``, ``assignments.json``); returns ``folder``.

    Account assignments are grouped per (permission set, principal) with their account names,
    so 100,000 assignments take about 2 MB. The deletion guard allows the whole organization to
    be pruned (synthetic data only).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "permission-sets").mkdir(exist_ok=True)
    total = len(organization.assignments) + len(organization.memberships)
    _write_json(
        folder / "reconciler.json",
        {"deletion_guard": {"max_deletions": max(20, total), "max_fraction": 1.0}},
    )
    _write_json(
        folder / "users.json",
        {
            "users": [
                {
                    "user_name": user,
                    "display_name": f"User {user}",
                    "given_name": "User",
                    "family_name": user,
                    "email": f"{user}@example.com",
                }
                for user in organization.users
            ]
        },
    )
    members: dict[str, list[str]] = defaultdict(list)
    for group, user in organization.memberships:
        members[group].append(user)
    _write_json(
        folder / "groups.json",
        {
            "groups": [
                {"name": group, "description": f"Team {group}", "members": members[group]}
                for group in organization.groups
            ]
        },
    )
    for document in organization.permission_sets:
        _write_json(folder / "permission-sets" / f"{document['name']}.json", document)
    by_grant: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for account, set_name, principal_type, principal in organization.assignments:
        by_grant[(set_name, principal_type, principal)].append(account)
    _write_json(
        folder / "assignments.json",
        {
            "assignments": [
                {
                    "permission_set": set_name,
                    ("groups" if principal_type == "GROUP" else "users"): [principal],
                    "accounts": sorted(accounts),
                }
                for (set_name, principal_type, principal), accounts in sorted(by_grant.items())
            ]
        },
    )
    return folder


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=1) + "\n")


def seed_organization(
    sandbox: Sandbox, spec: ScaleSpec, *, folder: Path | None = None
) -> SeededScale:
    """Fill the running ``sandbox`` with the organization ``spec`` describes; with ``folder``,
    also write its desired state there (see ``write_desired_state``).

    Creates the organization's accounts and one Identity Center instance; with
    ``spec.populate_live`` also users, groups, memberships, permission sets (tagged managed-by
    the reconciler) and account assignments, each assignment provisioning its set to its
    account as a completed CreateAccountAssignment would. The simulator's log of asynchronous
    requests is cleared afterwards, as AWS's status lists are empty for an idle instance.

    Raises ``ValueError`` for an impossible spec and ``SandboxNotRunningError`` when the sandbox
    is not running.
    """
    started = time.monotonic()
    organization = generate(spec)
    center = sandbox.identity_center
    accounts = {"management": sandbox.management_account_id}
    for name in organization.accounts:
        accounts[name] = sandbox.add_account(name=name)
    instance = sandbox.create_instance(name="scale")
    counts: dict[str, int] = {"accounts": len(organization.accounts)}
    if spec.populate_live:
        store: IdentityStoreData = identitystore_backends[sandbox.management_account_id][
            sandbox.settings.region
        ].identity_stores[instance.identity_store_id]
        user_ids, group_ids = _seed_identities(store, instance.identity_store_id, organization)
        with center.lock:
            set_arns = _seed_permission_sets(sandbox, instance.arn, organization)
            limit = sandbox.settings.max_outstanding_assignment_operations
            for index, (account, set_name, principal_type, principal) in enumerate(
                organization.assignments
            ):
                center.create_account_assignment(
                    instance_arn=instance.arn,
                    assignment=AccountAssignment(
                        account_id=accounts[account],
                        permission_set_arn=set_arns[set_name],
                        principal_type=principal_type,
                        principal_id=(user_ids if principal_type == "USER" else group_ids)[
                            principal
                        ],
                    ),
                )
                if (index + 1) % limit == 0:
                    center.complete_in_progress()
            center.complete_in_progress()
            failed = [op for op in center.operations.values() if op.status != "SUCCEEDED"]
            if failed:
                raise RuntimeError(f"seeding failed: {failed[0].failure_reason}")
            center.operations.clear()
        counts.update(
            users=len(organization.users),
            groups=len(organization.groups),
            memberships=len(organization.memberships),
            permission_sets=len(organization.permission_sets),
            assignments=len(organization.assignments),
        )
    written = write_desired_state(organization, folder) if folder is not None else None
    return SeededScale(
        spec=spec,
        instance_arn=instance.arn,
        identity_store_id=instance.identity_store_id,
        accounts=accounts,
        organization=organization,
        folder=written,
        seconds=time.monotonic() - started,
        counts=counts,
    )


def _new_id(identity_store_id: str) -> str:
    """An identity-store id as the sandbox makes them (``<store suffix>-<uuid>``)."""
    return f"{identity_store_id.removeprefix('d-')}-{uuid.uuid4()}"


def _seed_identities(
    store: IdentityStoreData, store_id: str, organization: GeneratedOrganization
) -> tuple[dict[str, str], dict[str, str]]:
    user_ids: dict[str, str] = {}
    for user in organization.users:
        user_id = user_ids[user] = _new_id(store_id)
        emails: Any = [{"Value": f"{user}@example.com", "Type": "work", "Primary": True}]
        absent: Any = None  # moto types optional user attributes as str; they are absent
        store.users[user_id] = User(
            user_id,
            store_id,
            user,
            Name.from_dict({"GivenName": "User", "FamilyName": user}),
            f"User {user}",
            absent,
            absent,
            emails,
            [],
            [],
            absent,
            absent,
            absent,
            absent,
            absent,
        )
    group_ids: dict[str, str] = {}
    for group in organization.groups:
        group_id = group_ids[group] = _new_id(store_id)
        store.groups[group_id] = Group(group_id, group, [], f"Team {group}", store_id)
    for group, user in organization.memberships:
        membership_id = _new_id(store_id)
        store.group_memberships[membership_id] = {
            "IdentityStoreId": store_id,
            "MembershipId": membership_id,
            "GroupId": group_ids[group],
            "MemberId": {"UserId": user_ids[user]},
        }
    return user_ids, group_ids


def _seed_permission_sets(
    sandbox: Sandbox, instance_arn: str, organization: GeneratedOrganization
) -> dict[str, str]:
    center = sandbox.identity_center
    arns: dict[str, str] = {}
    for document in organization.permission_sets:
        tags = {**document["tags"], **MANAGED_TAG}
        created = center.create_permission_set(
            instance_arn=instance_arn,
            name=document["name"],
            description=document["description"],
            session_duration=document["session_duration"],
            relay_state=None,
            tags=[{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        )
        for policy_arn in document["managed_policies"]:
            center.attach_managed_policy(
                instance_arn=instance_arn,
                permission_set_arn=created.arn,
                managed_policy_arn=policy_arn,
            )
        if "inline_policy" in document:
            center.put_inline_policy(
                instance_arn=instance_arn,
                permission_set_arn=created.arn,
                inline_policy=json.dumps(document["inline_policy"]),
            )
        arns[document["name"]] = created.arn
    return arns


def _pages(items: int, size: int = LIST_PAGE) -> int:
    """Calls to list ``items`` items: one even for none (the empty answer must be fetched)."""
    return max(1, math.ceil(items / size))


def read_floor(sandbox: Sandbox, *, instance_arn: str) -> dict[str, int]:
    """The least calls, by operation, that any reader needs to see all of the instance's live
    state that the reconciler compares, counted from the simulator's data.

    Per list API: one call per page of its items (``ceil(items / page size)``, at least one),
    taking for each kind of data the cheaper direction the APIs offer (memberships by group or
    by member; provisioned and stale copies by permission set or by account); plus the calls
    that have no list alternative (one DescribePermissionSet, GetInlinePolicy... and
    GetPermissionsBoundary... per set), and STS GetCallerIdentity once (which account reads:
    the limits of a delegated administrator depend on it). Account assignments are counted
    for a complete reader (one that also sees assignments of principals deleted from the
    identity store): one ListAccountAssignments page per (set, account) where the set is
    provisioned. The cheaper but incomplete per-principal count is returned as
    ``ListAccountAssignmentsForPrincipal`` under the key
    ``alternative:ListAccountAssignmentsForPrincipal`` (not part of the floor).
    """
    center = sandbox.identity_center
    with center.lock:
        instance = center.instance(instance_arn)
        sets = center.list_permission_sets(instance_arn)
        set_arns = {ps.arn for ps in sets}
        by_set: Counter[str] = Counter()
        by_account: Counter[str] = Counter()
        stale_by_set: Counter[str] = Counter()
        stale_by_account: Counter[str] = Counter()
        versions = {ps.arn: ps.version for ps in sets}
        for (arn, account), version in center.provisioned.items():
            if arn in set_arns:
                by_set[arn] += 1
                by_account[account] += 1
                if version != versions[arn]:
                    stale_by_set[arn] += 1
                    stale_by_account[account] += 1
        per_target: Counter[tuple[str, str]] = Counter()
        per_principal: Counter[tuple[str, str]] = Counter()
        for assignment in center.assignments:
            if assignment.permission_set_arn in set_arns:
                per_target[(assignment.permission_set_arn, assignment.account_id)] += 1
                per_principal[(assignment.principal_type, assignment.principal_id)] += 1
        tags = {ps.arn: len(ps.tags) for ps in sets}
        managed = {ps.arn: len(ps.managed_policies) for ps in sets}
        customer = {ps.arn: len(ps.customer_managed_policies) for ps in sets}
    store: IdentityStoreData = identitystore_backends[sandbox.management_account_id][
        sandbox.settings.region
    ].identity_stores[instance.identity_store_id]
    backend = organizations_backends[sandbox.management_account_id]["aws"]
    members_of: Counter[str] = Counter()
    groups_of: Counter[str] = Counter()
    for membership in store.group_memberships.values():
        if membership["GroupId"] in store.groups:
            members_of[membership["GroupId"]] += 1
            groups_of[membership["MemberId"]["UserId"]] += 1
    by_group = sum(_pages(members_of[group]) for group in store.groups)
    by_member = sum(_pages(groups_of[user]) for user in store.users)
    accounts = [a.id for a in backend.accounts]
    provisioned_by_set = sum(_pages(by_set[arn]) for arn in set_arns)
    provisioned_by_account = sum(_pages(by_account[a]) for a in accounts)
    stale_by_set_calls = sum(_pages(stale_by_set[arn]) for arn in set_arns)
    stale_by_account_calls = sum(_pages(stale_by_account[a]) for a in accounts)
    floor = {
        "ListInstances": 1,
        "GetCallerIdentity": 1,  # who calls: the management account or a delegated administrator
        "ListAccounts": _pages(len(accounts), ACCOUNTS_PAGE),
        "ListUsers": _pages(len(store.users)),
        "ListGroups": _pages(len(store.groups)),
        ("ListGroupMemberships" if by_group <= by_member else "ListGroupMembershipsForMember"): (
            min(by_group, by_member) if store.groups else 0
        ),
        "ListPermissionSets": _pages(len(sets)),
        "DescribePermissionSet": len(sets),
        "ListManagedPoliciesInPermissionSet": sum(_pages(n) for n in managed.values()),
        "ListCustomerManagedPolicyReferencesInPermissionSet": sum(
            _pages(n) for n in customer.values()
        ),
        "GetInlinePolicyForPermissionSet": len(sets),
        "GetPermissionsBoundaryForPermissionSet": len(sets),
        "ListTagsForResource": sum(_pages(n, TAGS_PAGE) for n in tags.values()),
        "ListAccountsForProvisionedPermissionSet": 0,
        "ListPermissionSetsProvisionedToAccount": 0,
        "ListAccountAssignments": sum(_pages(n) for n in per_target.values()),
    }
    # Provisioned copies and stale copies: each from the cheaper side.
    for by_set_calls, by_account_calls in (
        (provisioned_by_set, provisioned_by_account),
        (stale_by_set_calls, stale_by_account_calls),
    ):
        if by_set_calls <= by_account_calls:
            floor["ListAccountsForProvisionedPermissionSet"] += by_set_calls
        else:
            floor["ListPermissionSetsProvisionedToAccount"] += by_account_calls
    floor = {name: count for name, count in floor.items() if count}
    principals = len(store.users) + len(store.groups)
    floor["alternative:ListAccountAssignmentsForPrincipal"] = principals + sum(
        _pages(n) - 1 for n in per_principal.values()
    )
    return floor


def serve_seeded(
    spec: ScaleSpec,
    *,
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultConfig | None = None,
    settings: SandboxSettings | None = None,
) -> None:
    """Run a sandbox seeded with ``spec`` until SIGINT or SIGTERM, having written the desired
    state to ``folder`` and printed the environment to export and the counts seeded."""

    def prepare(sandbox: Sandbox) -> list[str]:
        seeded = seed_organization(sandbox, spec, folder=folder)
        counts = ", ".join(f"{count} {kind}" for kind, count in seeded.counts.items())
        return [
            f"instance:       {seeded.instance_arn}",
            f"identity store: {seeded.identity_store_id}",
            f"seeded in {seeded.seconds:.1f} s: {counts}",
            f"desired state:  {folder}",
        ]

    serve(settings, host=host, port=port, faults=faults, prepare=prepare)
