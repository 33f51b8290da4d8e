"""The normalized shape of Identity Center state, shared by desired and live state.

Both sides of a reconcile are reduced to these values before planning, so that planning is
plain comparison: every object is keyed by what a person writes (user name, group display
name, permission set name, account id), never by list position or by an ARN unknown before
apply. Collections are frozensets or mappings, so order never makes a difference.

``DesiredState`` and ``LiveState`` both hold an ``IdentityCenterState``; ``LiveState`` adds
the AWS identifiers (user ids, permission set ARNs, ...) that applying needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from reconciler.model.administration import Caller

MANAGED_TAG_KEY = "managed-by"
"""Tag the reconciler puts on every permission set it creates or adopts."""
MANAGED_TAG_VALUE = "identity-center-reconciler"


class PrincipalType(StrEnum):
    """Who an account assignment grants access to (sso-admin ``PrincipalType``)."""

    USER = "USER"
    GROUP = "GROUP"


class AssignmentKey(NamedTuple):
    """One account assignment: this permission set, for this principal, in this account.

    ``account_id`` is the 12-digit AWS account id; ``principal_name`` is the user name of a
    user or the display name of a group.

    A named tuple, not a dataclass: immutable and ordered by its fields alike, but hashed and
    compared in C. A plan of 100,000 assignments hashes and compares each key several times
    (set arithmetic between desired and live state, scope, access); as a dataclass that was a
    fifth of the plan's time.
    """

    account_id: str
    permission_set: str
    principal_type: PrincipalType
    principal_name: str

    def __str__(self) -> str:
        return (
            f"{self.permission_set} for {self.principal_type.value.lower()} "
            f"{self.principal_name} in {self.account_id}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """An identity-store user, keyed by ``user_name``."""

    user_name: str
    display_name: str
    given_name: str
    family_name: str
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """An identity-store group, keyed by its display name ``name``."""

    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class Membership:
    """User ``user`` (a user name) is a member of group ``group`` (a display name)."""

    group: str
    user: str

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


@dataclass(frozen=True, slots=True, order=True)
class CustomerManagedPolicyRef:
    """A customer-managed IAM policy, by name and path, expected in every target account."""

    name: str
    path: str = "/"

    def __str__(self) -> str:
        return f"{self.path}{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionsBoundary:
    """A permissions boundary: one of an AWS managed policy ARN or a customer-managed policy."""

    managed_policy_arn: str | None = None
    customer_managed_policy: CustomerManagedPolicyRef | None = None

    def __str__(self) -> str:
        if self.managed_policy_arn is not None:
            return self.managed_policy_arn
        return f"customer-managed {self.customer_managed_policy}"


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """An IAM policy document.

    ``canonical`` is the document in canonical form (see ``reconciler.model.policies``) and is
    the only field compared, so key order, whitespace and equivalent spellings never make a
    change. ``text`` is the document as it is sent to AWS (compact JSON of what was written).
    """

    canonical: str
    text: str = field(compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionSet:
    """A permission set and everything that defines what its role may do.

    ``session_duration`` is an ISO-8601 duration in canonical form (``PT1H``, ``PT1H30M``);
    ``managed_policies`` are AWS managed policy ARNs; ``tags`` include the managed-by tag when
    the reconciler owns the set.
    """

    name: str
    description: str | None = None
    session_duration: str = "PT1H"
    relay_state: str | None = None
    managed_policies: frozenset[str] = frozenset()
    customer_managed_policies: frozenset[CustomerManagedPolicyRef] = frozenset()
    inline_policy: PolicyDocument | None = None
    permissions_boundary: PermissionsBoundary | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_managed(self) -> bool:
        """True when the set carries the reconciler's managed-by tag."""
        return self.tags.get(MANAGED_TAG_KEY) == MANAGED_TAG_VALUE


class AccountStatus(StrEnum):
    """Organizations account status (``Account.Status``)."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    PENDING_CLOSURE = "PENDING_CLOSURE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An AWS account of the organization: 12-digit ``id``, ``name`` and ``status``."""

    id: str
    name: str
    status: str = AccountStatus.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationalUnit:
    """A node of the Organizations tree: the root (``r-…``, ``parent_id`` None, named ``Root``
    by AWS) or an organizational unit (``ou-…``) under ``parent_id``."""

    id: str
    name: str
    parent_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    """The Organizations tree as read in one pass.

    ``units`` holds the root and every organizational unit by id; ``account_parents`` maps each
    account id to the id of the root or OU directly above it; ``management_account_id`` is the
    organization's management account (DescribeOrganization ``MasterAccountId``).
    """

    root_id: str
    units: Mapping[str, OrganizationalUnit] = field(default_factory=dict)
    account_parents: Mapping[str, str] = field(default_factory=dict)
    management_account_id: str | None = None

    def path(self, unit_id: str) -> str:
        """The unit's path from the root, names joined by ``/``: ``Root/Workloads/Prod``."""
        names = []
        current: str | None = unit_id
        while current is not None and current in self.units:
            unit = self.units[current]
            names.append(unit.name)
            current = unit.parent_id
        return "/".join(reversed(names))


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityCenterState:
    """The comparable content of Identity Center, desired or live.

    Keys: ``users`` by user name, ``groups`` by display name, ``permission_sets`` by name,
    ``access_control_attributes`` by attribute key.
    """

    users: Mapping[str, User] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    memberships: frozenset[Membership] = frozenset()
    permission_sets: Mapping[str, PermissionSet] = field(default_factory=dict)
    assignments: frozenset[AssignmentKey] = frozenset()
    access_control_attributes: Mapping[str, str] | None = None
    """The instance's attributes for access control (ABAC), attribute key → source
    (``CostCenter`` → ``${path:enterprise.costCenter}``). Desired: None when the revision does
    not declare them (left alone), an empty mapping for no configuration. Live: None when the
    instance has no configuration (or it was not read), else what it holds, maybe nothing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveState:
    """What was read from AWS in one pass, with the identifiers applying needs.

    ``accounts`` by account id; ``user_ids`` and ``group_ids`` map names to identity-store ids;
    ``membership_ids`` maps each membership to its identity-store membership id;
    ``permission_set_arns`` maps names to ARNs; ``provisioned_accounts`` maps a permission set
    name to the accounts it is provisioned to; ``stale_accounts`` to the accounts that run an
    outdated copy of it (ProvisioningStatus ``LATEST_PERMISSION_SET_NOT_PROVISIONED``).
    """

    state: IdentityCenterState
    instance_arn: str
    identity_store_id: str
    accounts: Mapping[str, Account] = field(default_factory=dict)
    user_ids: Mapping[str, str] = field(default_factory=dict)
    group_ids: Mapping[str, str] = field(default_factory=dict)
    membership_ids: Mapping[Membership, str] = field(default_factory=dict)
    permission_set_arns: Mapping[str, str] = field(default_factory=dict)
    provisioned_accounts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    stale_accounts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    organization: Organization | None = None
    """The OU tree; None when the pass did not need it (no assignment targets an OU or all
    accounts)."""
    account_tags: Mapping[str, Mapping[str, str]] | None = None
    """Organizations tags by account id; None when the pass did not need them (no assignment
    targets accounts by tag)."""
    caller: Caller | None = None
    """The account the pass calls from and how it administers the instance (management
    account, delegated administrator); None when it was not read."""
