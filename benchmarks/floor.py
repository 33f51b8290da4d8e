"""The honest read floor: the fewest pages any correct reader must fetch for the data.

Computed from the sandbox's data and the APIs' page sizes only, never from what a reader does.
The page sizes are the ``MaxResults`` maxima of botocore's service models (``page_limits``):
100 items for every sso-admin and identitystore List call, 20 for Organizations ListAccounts;
sso-admin ListTagsForResource takes no ``MaxResults`` (the server pages it; 50 tags a resource
is AWS's quota, so one page a permission set). ``pages(n, size) = max(1, ceil(n / size))``:
an empty answer is still one call. A correct reader sees everything the planner compares,
including account assignments whose principal was deleted from the identity store (the AWS
user guide, "Remove user and group access": deleting a user or group leaves its assignments).

Derivation, kind by kind (A accounts, S permission sets, U users, G groups):

- **instance**: ListInstances, one page.
- **caller**: STS GetCallerIdentity, once: which account reads (the management account or a
  delegated administrator, whose limits differ); no sso-admin call returns the caller.
- **accounts**: Organizations ListAccounts, ``pages(A, 20)``: no other call lists them.
- **users, groups**: ListUsers ``pages(U)``, ListGroups ``pages(G)``.
- **memberships**: ListGroupMemberships needs a GroupId, ListGroupMembershipsForMember a
  MemberId (both required). A membership (g, u) is seen only through g's list or u's list, so
  a reader that skips some group g and some user u cannot see (g, u): it must list every group
  or every user. Floor: ``min(Σ_g pages(members of g), Σ_u pages(groups of u))``.
- **permission sets**: ListPermissionSets ``pages(S)``; per set, calls with no list
  alternative: DescribePermissionSet, GetInlinePolicyForPermissionSet,
  GetPermissionsBoundaryForPermissionSet (one each), ListManagedPoliciesInPermissionSet and
  ListCustomerManagedPolicyReferencesInPermissionSet (``pages`` of each), ListTagsForResource.
- **provisioned and stale copies**: ListAccountsForProvisionedPermissionSet (by set) or
  ListPermissionSetsProvisionedToAccount (by account), the same argument as memberships: every
  set or every account, each for the unfiltered list and for the
  ``LATEST_PERMISSION_SET_NOT_PROVISIONED`` one. Floor: the cheaper side, each.
- **account assignments**: ListAccountAssignments needs AccountId and PermissionSetArn;
  ListAccountAssignmentsForPrincipal needs a PrincipalId. A deleted principal's id is listed by
  no call, so its assignments are seen only through ListAccountAssignments of their (set,
  account); and since any (set, account) may hold one, a correct reader must read every (set,
  account) that may hold an assignment: those where the set is provisioned (an assignment
  provisions its set to its account: CreateAccountAssignment, API reference). Reading per
  principal on top never removes one of those calls. Floor: ``Σ pages(n_sa)`` over provisioned
  (set, account), plus the unfiltered provisioned lists above (or every account x every set,
  when cheaper).

The floor of a reader that reads fewer kinds (a peer that reads assignments only) is the sum
over the kinds it reads, with what those need to be found: assignments alone need the instance
and either the set list and per-set provisioned lists, or the account list and per-account
ones, whichever is cheaper (``floor(ASSIGNMENTS_ONLY)``).

A reader given an earlier read (``read_live_state(..., assignments_by="hybrid", previous=...)``)
solves a different problem and may go below this floor; it is not complete (see its docstring).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache

import botocore.session
from moto.identitystore.models import IdentityStoreData, identitystore_backends
from moto.organizations.models import organizations_backends

from reconciler.sandbox import Sandbox

KINDS = (
    "instance",
    "caller",
    "accounts",
    "users",
    "groups",
    "memberships",
    "permission_sets",
    "provisioning",
    "assignments",
)
"""Every kind of data a complete read returns."""
EVERY_KIND = frozenset(KINDS)
ASSIGNMENTS_ONLY = frozenset({"assignments"})
STALE = "LATEST_PERMISSION_SET_NOT_PROVISIONED"
TAGS_PER_PAGE = 50
"""ListTagsForResource has no MaxResults; 50 tags a resource is AWS's quota: one page."""

_LISTS = {
    "sso-admin": (
        "ListInstances",
        "ListPermissionSets",
        "ListManagedPoliciesInPermissionSet",
        "ListCustomerManagedPolicyReferencesInPermissionSet",
        "ListAccountsForProvisionedPermissionSet",
        "ListPermissionSetsProvisionedToAccount",
        "ListAccountAssignments",
        "ListAccountAssignmentsForPrincipal",
    ),
    "identitystore": (
        "ListUsers",
        "ListGroups",
        "ListGroupMemberships",
        "ListGroupMembershipsForMember",
    ),
    "organizations": ("ListAccounts",),
}


@cache
def page_limits() -> Mapping[str, int]:
    """Largest ``MaxResults`` of each List call the floor uses, from botocore's service models
    (operation name -> items per page)."""
    session = botocore.session.get_session()
    limits: dict[str, int] = {}
    for service, operations in _LISTS.items():
        model = session.get_service_model(service)
        for operation in operations:
            shape = model.operation_model(operation).input_shape
            if shape is None:
                raise LookupError(f"{service} {operation} has no input in botocore's model")
            limits[operation] = int(shape.members["MaxResults"].metadata["max"])
    return limits


def pages(items: int, operation: str) -> int:
    """Calls to list ``items`` items with ``operation`` at its largest page size (at least 1)."""
    return max(1, math.ceil(items / page_limits()[operation]))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationData:
    """What the floor is computed from: counts read from the sandbox's data, no AWS call."""

    accounts: int
    users: int
    groups: int
    permission_sets: int
    members_of: tuple[int, ...]
    """Memberships of each group."""
    groups_of: tuple[int, ...]
    """Memberships of each user."""
    managed: tuple[int, ...]
    customer: tuple[int, ...]
    tags: tuple[int, ...]
    provisioned_by_set: tuple[int, ...]
    provisioned_by_account: tuple[int, ...]
    stale_by_set: tuple[int, ...]
    stale_by_account: tuple[int, ...]
    assignments_by_pair: tuple[int, ...]
    """Assignments of each provisioned (set, account), zeros included."""
    assignments_by_every_pair: tuple[int, ...]
    """Assignments of each of the A x S (set, account), for the blind reader's bound."""


def organization_data(sandbox: Sandbox, *, instance_arn: str) -> OrganizationData:
    """Counts of ``sandbox``'s instance and organization (the simulator's own data)."""
    center = sandbox.identity_center
    with center.lock:
        instance = center.instance(instance_arn)
        sets = center.list_permission_sets(instance_arn)
        versions = {ps.arn: ps.version for ps in sets}
        provisioned = {
            key: version for key, version in center.provisioned.items() if key[0] in versions
        }
        per_pair: Counter[tuple[str, str]] = Counter(
            (a.permission_set_arn, a.account_id)
            for a in center.assignments
            if a.permission_set_arn in versions
        )
        managed = tuple(len(ps.managed_policies) for ps in sets)
        customer = tuple(len(ps.customer_managed_policies) for ps in sets)
        tags = tuple(len(ps.tags) for ps in sets)
    store: IdentityStoreData = identitystore_backends[sandbox.management_account_id][
        sandbox.settings.region
    ].identity_stores[instance.identity_store_id]
    accounts = [a.id for a in organizations_backends[sandbox.management_account_id]["aws"].accounts]
    members_of: Counter[str] = Counter()
    groups_of: Counter[str] = Counter()
    for membership in store.group_memberships.values():
        if membership["GroupId"] in store.groups:
            members_of[membership["GroupId"]] += 1
            groups_of[membership["MemberId"]["UserId"]] += 1
    stale = {key for key, version in provisioned.items() if version != versions[key[0]]}
    return OrganizationData(
        accounts=len(accounts),
        users=len(store.users),
        groups=len(store.groups),
        permission_sets=len(sets),
        members_of=tuple(members_of[g] for g in store.groups),
        groups_of=tuple(groups_of[u] for u in store.users),
        managed=managed,
        customer=customer,
        tags=tags,
        provisioned_by_set=tuple(sum(1 for s, _ in provisioned if s == ps.arn) for ps in sets),
        provisioned_by_account=tuple(
            sum(1 for _, a in provisioned if a == acc) for acc in accounts
        ),
        stale_by_set=tuple(sum(1 for s, _ in stale if s == ps.arn) for ps in sets),
        stale_by_account=tuple(sum(1 for _, a in stale if a == acc) for acc in accounts),
        assignments_by_pair=tuple(per_pair[key] for key in provisioned),
        assignments_by_every_pair=tuple(
            per_pair[(ps.arn, account)] for ps in sets for account in accounts
        ),
    )


def _sum_pages(counts: Collection[int], operation: str) -> int:
    return sum(pages(n, operation) for n in counts)


def floor(data: OrganizationData, kinds: Collection[str] = EVERY_KIND) -> dict[str, int]:
    """The fewest calls, by operation, that a correct reader of ``kinds`` must make (see the
    module's docstring). Raises ``ValueError`` for an unknown kind."""
    unknown = set(kinds) - EVERY_KIND
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    calls: Counter[str] = Counter()
    need = set(kinds)
    if "provisioning" in need or "assignments" in need:
        need.add("instance")
    if "memberships" in need:
        need |= {"users", "groups"}
    if "instance" in need:
        calls["ListInstances"] = 1
    if "caller" in need:
        calls["GetCallerIdentity"] = 1
    if "accounts" in need:
        calls["ListAccounts"] = pages(data.accounts, "ListAccounts")
    if "users" in need:
        calls["ListUsers"] = pages(data.users, "ListUsers")
    if "groups" in need:
        calls["ListGroups"] = pages(data.groups, "ListGroups")
    if "memberships" in need:
        by_group = _sum_pages(data.members_of, "ListGroupMemberships") if data.groups else 0
        by_member = _sum_pages(data.groups_of, "ListGroupMembershipsForMember")
        if by_group <= by_member:
            calls["ListGroupMemberships"] = by_group
        else:
            calls["ListGroupMembershipsForMember"] = by_member
    if "permission_sets" in need:
        sets = data.permission_sets
        calls["ListPermissionSets"] = pages(sets, "ListPermissionSets")
        calls["DescribePermissionSet"] = sets
        calls["GetInlinePolicyForPermissionSet"] = sets
        calls["GetPermissionsBoundaryForPermissionSet"] = sets
        calls["ListManagedPoliciesInPermissionSet"] = _sum_pages(
            data.managed, "ListManagedPoliciesInPermissionSet"
        )
        calls["ListCustomerManagedPolicyReferencesInPermissionSet"] = _sum_pages(
            data.customer, "ListCustomerManagedPolicyReferencesInPermissionSet"
        )
        calls["ListTagsForResource"] = sum(max(1, math.ceil(n / TAGS_PER_PAGE)) for n in data.tags)
    if "provisioning" in need or "assignments" in need:
        # Which side to list: by set needs the set list, by account the account list; a side
        # already read for another kind costs nothing more.
        by_set = Counter(
            {
                "ListAccountsForProvisionedPermissionSet": _sum_pages(
                    data.provisioned_by_set, "ListAccountsForProvisionedPermissionSet"
                )
            }
        )
        by_account = Counter(
            {
                "ListPermissionSetsProvisionedToAccount": _sum_pages(
                    data.provisioned_by_account, "ListPermissionSetsProvisionedToAccount"
                )
            }
        )
        if "provisioning" in need:
            by_set["ListAccountsForProvisionedPermissionSet"] += _sum_pages(
                data.stale_by_set, "ListAccountsForProvisionedPermissionSet"
            )
            by_account["ListPermissionSetsProvisionedToAccount"] += _sum_pages(
                data.stale_by_account, "ListPermissionSetsProvisionedToAccount"
            )
        if "ListPermissionSets" not in calls:
            by_set["ListPermissionSets"] = pages(data.permission_sets, "ListPermissionSets")
        if "ListAccounts" not in calls:
            by_account["ListAccounts"] = pages(data.accounts, "ListAccounts")
        calls.update(min(by_set, by_account, key=lambda side: sum(side.values())))
    if "assignments" in need:
        calls["ListAccountAssignments"] = min(
            _sum_pages(data.assignments_by_pair, "ListAccountAssignments"),
            _sum_pages(data.assignments_by_every_pair, "ListAccountAssignments"),
        )
    return {operation: count for operation, count in sorted(calls.items()) if count}
