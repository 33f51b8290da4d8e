"""Values of desired and live state for planning tests, with the defaults a test does not care
about filled in. Shared by ``tests/unit`` and ``tests/cases``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model.documents import Pruning, ReconcilerFile
from reconciler.model.policies import policy_document
from reconciler.model.resolving import DesiredState
from reconciler.model.state import (
    MANAGED_TAG_KEY,
    MANAGED_TAG_VALUE,
    Account,
    AssignmentKey,
    Group,
    IdentityCenterState,
    LiveState,
    Membership,
    PermissionSet,
    PrincipalType,
    User,
)

PROD = Account(id="111111111111", name="prod")
STAGING = Account(id="222222222222", name="staging")
ACCOUNTS = {account.id: account for account in (PROD, STAGING)}
READ_ONLY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
VIEW_ONLY_ARN = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
MANAGED_TAGS = {MANAGED_TAG_KEY: MANAGED_TAG_VALUE}
INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-1111111111111111"


def user(user_name: str, **fields: Any) -> User:
    """A user whose other attributes follow from its name unless given."""
    defaults: dict[str, Any] = {
        "display_name": user_name.title(),
        "given_name": user_name.title(),
        "family_name": "Example",
        "email": f"{user_name}@example.com",
    }
    return User(user_name=user_name, **{**defaults, **fields})


def group(name: str, description: str | None = None) -> Group:
    return Group(name=name, description=description)


def permission_set(name: str, *, managed: bool = True, **fields: Any) -> PermissionSet:
    """A permission set; ``managed`` adds the reconciler's managed-by tag to ``tags``.

    ``inline_policy`` may be given as a parsed JSON document.
    """
    tags = dict(fields.pop("tags", {}))
    if managed:
        tags.update(MANAGED_TAGS)
    if isinstance(fields.get("inline_policy"), dict):
        fields["inline_policy"] = policy_document(fields["inline_policy"])
    fields.setdefault("managed_policies", frozenset({READ_ONLY_ARN}))
    fields["managed_policies"] = frozenset(fields["managed_policies"])
    return PermissionSet(name=name, tags=tags, **fields)


def to_group(name: str, set_name: str, account: Account = PROD) -> AssignmentKey:
    return AssignmentKey(
        account_id=account.id,
        permission_set=set_name,
        principal_type=PrincipalType.GROUP,
        principal_name=name,
    )


def to_user(name: str, set_name: str, account: Account = PROD) -> AssignmentKey:
    return AssignmentKey(
        account_id=account.id,
        permission_set=set_name,
        principal_type=PrincipalType.USER,
        principal_name=name,
    )


def member(group_name: str, user_name: str) -> Membership:
    return Membership(group=group_name, user=user_name)


def state(
    *,
    users: Iterable[User] = (),
    groups: Iterable[Group] = (),
    memberships: Iterable[Membership] = (),
    permission_sets: Iterable[PermissionSet] = (),
    assignments: Iterable[AssignmentKey] = (),
) -> IdentityCenterState:
    return IdentityCenterState(
        users={item.user_name: item for item in users},
        groups={item.name: item for item in groups},
        memberships=frozenset(memberships),
        permission_sets={item.name: item for item in permission_sets},
        assignments=frozenset(assignments),
    )


def config(*, protected: Mapping[str, list[str]] | None = None, **prune: bool) -> ReconcilerFile:
    """``reconciler.json`` with the given pruning flags (``users=True``...) and protected names
    (defaults kept for kinds not given)."""
    fields: dict[str, Any] = {"prune": Pruning(**prune)}
    if protected is not None:
        fields["protected"] = ReconcilerFile().protected.model_copy(update=dict(protected))
    return ReconcilerFile(**fields)


def desired(wanted: IdentityCenterState, settings: ReconcilerFile | None = None) -> DesiredState:
    return DesiredState(state=wanted, config=settings or ReconcilerFile())


def live(
    current: IdentityCenterState,
    *,
    provisioned: Mapping[str, Iterable[str]] | None = None,
    stale: Mapping[str, Iterable[str]] | None = None,
) -> LiveState:
    """A ``LiveState`` of ``current``; unless given, each set is provisioned to the accounts of
    its assignments and no account runs a stale copy."""
    if provisioned is None:
        accounts: dict[str, set[str]] = defaultdict(set)
        for key in current.assignments:
            accounts[key.permission_set].add(key.account_id)
        provisioned = accounts
    return LiveState(
        state=current,
        instance_arn=INSTANCE_ARN,
        identity_store_id="d-1111111111",
        accounts=ACCOUNTS,
        user_ids={name: f"u-{name}" for name in current.users},
        group_ids={name: f"g-{name}" for name in current.groups},
        permission_set_arns={
            name: f"arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-{name}"
            for name in current.permission_sets
        },
        provisioned_accounts={name: frozenset(ids) for name, ids in provisioned.items()},
        stale_accounts={name: frozenset(ids) for name, ids in (stale or {}).items()},
    )
