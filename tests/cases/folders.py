"""A minimal valid desired-state folder, and the pure path from its files to a plan.

Case tests put one broken or changed file into ``base_folder()`` and run loading, resolving and
planning with no I/O: ``{relative path: bytes}`` in, ``Documents``/``DesiredState``/``Plan``
out, exactly as the engine hands them over.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.model.loading import load_documents
from reconciler.model.resolving import DesiredState, LiveDirectory, live_directory, resolve
from reconciler.model.state import Account, IdentityCenterState, LiveState

INVALID = Path(__file__).resolve().parent / "invalid"
PROD = Account(id="111111111111", name="prod")
STAGING = Account(id="222222222222", name="staging")
ACCOUNTS = (PROD, STAGING)
READ_ONLY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
REVISION = "fedcba9876543210fedcba9876543210fedcba98"


def encode(document: Any) -> bytes:
    """A document as a person writes it: indented JSON."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def user(user_name: str) -> dict[str, str]:
    return {
        "user_name": user_name,
        "display_name": user_name.replace(".", " ").title(),
        "given_name": "Given",
        "family_name": "Family",
        "email": f"{user_name}@example.com",
    }


def base_folder() -> dict[str, bytes]:
    """A valid revision: one user, one group holding them, one permission set assigned in prod."""
    return {
        "reconciler.json": encode({}),
        "users.json": encode({"users": [user("jane.doe")]}),
        "groups.json": encode(
            {"groups": [{"name": "AdminAccess", "description": "Admins", "members": ["jane.doe"]}]}
        ),
        "permission-sets/ReadOnly.json": encode(
            {"name": "ReadOnly", "session_duration": "PT1H", "managed_policies": [READ_ONLY_ARN]}
        ),
        "assignments.json": encode(
            {
                "assignments": [
                    {"permission_set": "ReadOnly", "groups": ["AdminAccess"], "accounts": ["prod"]}
                ]
            }
        ),
    }


def directory(*, user_names: Iterable[str] = (), group_names: Iterable[str] = ()) -> LiveDirectory:
    """The organization (accounts prod and staging) and the live principals given."""
    return LiveDirectory(
        accounts=ACCOUNTS, user_names=frozenset(user_names), group_names=frozenset(group_names)
    )


def resolve_folder(files: Mapping[str, bytes], live: LiveDirectory | None = None) -> DesiredState:
    """Load and resolve one revision; raises ``InvalidRevisionError`` like the engine does."""
    return resolve(load_documents(files), live or directory())


def directory_of(live: LiveState) -> LiveDirectory:
    """What resolving learns from ``live``: its accounts, user names and group names."""
    return live_directory(
        accounts=live.accounts, user_names=live.state.users, group_names=live.state.groups
    )


def live_state(
    current: IdentityCenterState,
    *,
    provisioned: Mapping[str, Iterable[str]] | None = None,
) -> LiveState:
    """``current`` as read from AWS; each set provisioned where it is assigned unless given."""
    if provisioned is None:
        accounts: dict[str, set[str]] = defaultdict(set)
        for key in current.assignments:
            accounts[key.permission_set].add(key.account_id)
        provisioned = accounts
    return LiveState(
        state=current,
        instance_arn="arn:aws:sso:::instance/ssoins-1111111111111111",
        identity_store_id="d-1111111111",
        accounts={account.id: account for account in ACCOUNTS},
        provisioned_accounts={name: frozenset(ids) for name, ids in provisioned.items()},
    )


def applied(files: Mapping[str, bytes]) -> LiveState:
    """The live state after a revision was applied: what it declares, nothing more."""
    return live_state(resolve_folder(files).state)
