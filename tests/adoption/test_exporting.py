"""Pure units of ``reconciler.model.exporting``: live state → desired-state files."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from reconciler.model.exporting import Export, ExportKind, account_references, export_files
from reconciler.model.loading import load_documents
from reconciler.model.state import Account
from tests.unit.states import (
    PROD,
    STAGING,
    group,
    live,
    member,
    permission_set,
    state,
    to_group,
    to_user,
    user,
)


def _json(export: Export, file: str) -> Any:
    return json.loads(export.files[file])


def test_permission_set_file_leaves_out_the_managed_by_tag() -> None:
    export = export_files(
        live(state(permission_sets=[permission_set("Admin", tags={"team": "platform"})]))
    )

    assert _json(export, "permission-sets/Admin.json")["tags"] == {"team": "platform"}


def test_user_without_email_is_written_without_the_key() -> None:
    export = export_files(live(state(users=[user("bob", email=None)])))

    assert _json(export, "users.json") == {
        "users": [
            {
                "user_name": "bob",
                "display_name": "Bob",
                "given_name": "Bob",
                "family_name": "Example",
            }
        ]
    }


def test_user_without_names_is_left_out_with_a_note() -> None:
    export = export_files(live(state(users=[user("scim", given_name="")])))

    assert _json(export, "users.json") == {"users": []}
    assert any("scim" in note and "given_name" in note for note in export.notes)


def test_memberships_of_deleted_users_are_left_out_with_a_note() -> None:
    export = export_files(
        live(
            state(
                groups=[group("Ops")],
                memberships=[member("Ops", "<deleted user 42>"), member("Ops", "ann")],
            )
        )
    )

    assert _json(export, "groups.json") == {"groups": [{"name": "Ops", "members": ["ann"]}]}
    assert export.notes


def test_principals_sharing_accounts_share_one_entry() -> None:
    export = export_files(
        live(
            state(
                permission_sets=[permission_set("Admin")],
                assignments=[
                    to_group("Ops", "Admin", PROD),
                    to_group("Ops", "Admin", STAGING),
                    to_user("ann", "Admin", PROD),
                    to_user("ann", "Admin", STAGING),
                    to_user("bob", "Admin", PROD),
                ],
            )
        )
    )

    assert _json(export, "assignments.json")["assignments"] == [
        {
            "permission_set": "Admin",
            "groups": ["Ops"],
            "users": ["ann"],
            "accounts": ["prod", "staging"],
        },
        {"permission_set": "Admin", "users": ["bob"], "accounts": ["prod"]},
    ]


def test_account_shared_by_two_names_is_written_by_id() -> None:
    twin = Account(id="333333333333", name="prod")

    assert account_references([PROD, STAGING, twin]) == {
        PROD.id: PROD.id,
        STAGING.id: "staging",
        twin.id: twin.id,
    }


def test_assignments_without_permission_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="permission_sets"):
        export_files(live(state()), kinds=[ExportKind.ASSIGNMENTS])


def test_kinds_not_exported_are_not_pruned() -> None:
    export = export_files(live(state()), kinds=[ExportKind.USERS])

    assert set(export.files) == {
        "reconciler.json",
        "users.json",
        "groups.json",
        "assignments.json",
    }
    assert _json(export, "assignments.json") == {"assignments": []}
    assert _json(export, "groups.json") == {"groups": []}
    assert _json(export, "reconciler.json")["prune"] == {
        "users": False,
        "groups": False,
        "memberships": False,
        "permission_sets": False,
        "assignments": False,
    }


def test_export_of_a_rich_state_loads_without_problems() -> None:
    current = state(
        users=[user("ann"), user("bob", email=None)],
        groups=[group("Ops", "Operators"), group("Readers")],
        memberships=[member("Ops", "ann")],
        permission_sets=[
            permission_set(
                "Admin",
                description="Admins",
                relay_state="https://console.aws.amazon.com/",
                inline_policy={"Version": "2012-10-17", "Statement": []},
                managed=False,
            )
        ],
        assignments=[to_group("Ops", "Admin"), to_user("bob", "Admin", STAGING)],
    )

    documents = load_documents(dict(export_files(live(current)).files))

    assert [item.value.name for item in documents.permission_sets] == ["Admin"]
    assert len(documents.assignments) == 2


def test_same_live_state_exports_the_same_bytes() -> None:
    current = state(users=[user("ann"), user("bob")], groups=[group("Ops")])
    reordered = replace(current, users=dict(reversed(list(current.users.items()))))

    assert export_files(live(current)).files == export_files(live(reordered)).files


def test_external_identities_export_neither_users_nor_groups() -> None:
    current = state(users=[user("ann")], groups=[group("Ops")], memberships=[member("Ops", "ann")])

    export = export_files(live(current), identities="external")

    assert "users.json" not in export.files
    assert "groups.json" not in export.files
    assert _json(export, "reconciler.json")["identities"] == "external"


def test_live_value_the_format_refuses_is_noted_to_fix_before_committing() -> None:
    current = state(permission_sets=[permission_set("Admin", description="Admins ✓")])

    export = export_files(live(current))

    assert any(
        note.startswith("fix before committing: permission-sets/Admin.json")
        for note in export.notes
    )
