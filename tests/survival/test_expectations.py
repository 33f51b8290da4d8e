"""The survival tests' and fault campaign's own judge (``scripts.fault_campaign``): what must
exist and what must never disappear, read from the desired-state documents, not the planner."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from reconciler.sandbox.inventory import Inventory
from scripts.fault_campaign import access_gaps, expected_grants, unintended_deletions

ACCOUNTS = {"prod": "111111111111", "staging": "222222222222"}


def documents(*, prune: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "reconciler.json": {
            "prune": dict.fromkeys(
                ("users", "groups", "memberships", "permission_sets", "assignments"), prune
            ),
            "protected": {"permission_sets": ["AWSControlTower*"]},
        },
        "users.json": {"users": [{"user_name": "alice"}]},
        "groups.json": {"groups": [{"name": "Admins", "members": ["alice"]}]},
        "permission-sets/Admin.json": {"name": "Admin"},
        "assignments.json": {
            "assignments": [
                {
                    "permission_set": "Admin",
                    "groups": ["Admins"],
                    "users": ["alice"],
                    "accounts": ["prod", "333333333333"],
                }
            ]
        },
        **extra,
    }


def inventory(
    assignments: list[tuple[str, str, str, str]], users: tuple[str, ...] = ()
) -> Inventory:
    return Inventory(
        users=Counter(users),
        groups=Counter(),
        memberships=Counter(),
        permission_sets=Counter(),
        assignments=Counter(assignments),
    )


def test_grants_are_read_from_every_principal_and_account_of_an_entry() -> None:
    assert expected_grants(documents(), account_ids=ACCOUNTS) == {
        ("111111111111", "Admin", "GROUP", "Admins"),
        ("111111111111", "Admin", "USER", "alice"),
        ("333333333333", "Admin", "GROUP", "Admins"),
        ("333333333333", "Admin", "USER", "alice"),
    }


def test_an_entry_with_other_targets_is_refused_rather_than_under_counted() -> None:
    files = documents()
    files["assignments.json"]["assignments"][0]["organizational_units"] = ["Root"]

    with pytest.raises(ValueError, match="organizational_units"):
        expected_grants(files, account_ids=ACCOUNTS)


def test_a_grant_deleted_and_created_again_is_a_gap() -> None:
    grant = ("111111111111", "Admin", "USER", "alice")
    moved = ("111111111111", "Old", "USER", "alice")

    gaps = access_gaps([moved, grant], old={grant, moved}, new={grant})

    assert gaps == [str(grant)]


def test_a_declared_grant_gone_is_unintended_even_if_a_plan_deleted_it() -> None:
    grant = ("111111111111", "Admin", "USER", "alice")

    found = unintended_deletions(
        before=inventory([grant]), after=inventory([]), files=documents(), account_ids=ACCOUNTS
    )

    assert found == {"assignments": [str(grant)]}


@pytest.mark.parametrize(
    ("key", "prune", "unintended"),
    [
        (("111111111111", "Other", "USER", "bob"), True, False),  # undeclared, pruned kind
        (("111111111111", "Other", "USER", "bob"), False, True),  # kind not pruned
        (("111111111111", "AWSControlTowerAdmin", "USER", "bob"), True, True),  # protected
    ],
)
def test_an_undeclared_assignment_may_go_only_when_pruned_and_not_protected(
    key: tuple[str, str, str, str], prune: bool, unintended: bool
) -> None:
    found = unintended_deletions(
        before=inventory([key]),
        after=inventory([]),
        files=documents(prune=prune),
        account_ids=ACCOUNTS,
    )

    assert bool(found) is unintended
