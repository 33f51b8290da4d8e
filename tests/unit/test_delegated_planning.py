"""Planning for a delegated administrator: pure units.

AWS (IAM Identity Center user guide, "Delegated administration"): a delegated administrator
cannot delete account assignments in the management account nor permission sets provisioned
there. Declared ones are revision problems (``resolving``); pruning leaves the others alone,
with a note, instead of meeting AccessDeniedException at every pass.
"""

from __future__ import annotations

import dataclasses

from reconciler.model.administration import AdministrationRole, Caller, administration_role
from reconciler.planning.diffing import plan
from reconciler.planning.plans import DeleteAssignment, DeletePermissionSet, Plan
from tests.unit.states import (
    PROD,
    STAGING,
    desired,
    group,
    live,
    permission_set,
    state,
    to_group,
)

REVISION = "a" * 40


def test_a_caller_that_does_not_own_the_instance_is_its_delegated_administrator() -> None:
    role = administration_role(
        caller_account_id=STAGING.id, instance_owner_account_id=PROD.id, management_account_id=None
    )

    assert role is AdministrationRole.DELEGATED_ADMINISTRATOR


def test_the_owner_of_the_instance_is_the_management_account() -> None:
    role = administration_role(
        caller_account_id=PROD.id, instance_owner_account_id=PROD.id, management_account_id=PROD.id
    )

    assert role is AdministrationRole.MANAGEMENT_ACCOUNT


def test_a_member_account_owning_its_instance_has_an_account_instance() -> None:
    role = administration_role(
        caller_account_id=STAGING.id,
        instance_owner_account_id=STAGING.id,
        management_account_id=PROD.id,
    )

    assert role is AdministrationRole.ACCOUNT_INSTANCE


def _old_set_in(management: str, caller: str) -> Plan:
    """Plan of a repository that dropped Old, assigned to Ops in prod (the management account)."""
    have = live(
        state(
            groups=[group("Ops")],
            permission_sets=[permission_set("Old")],
            assignments=[to_group("Ops", "Old", PROD)],
        )
    )
    have = dataclasses.replace(
        have, caller=Caller(account_id=caller, instance_owner_account_id=management)
    )
    return plan(desired(state(groups=[group("Ops")])), have, revision=REVISION)


def test_a_delegated_administrator_leaves_a_set_provisioned_to_the_management_account() -> None:
    result = _old_set_in(management=PROD.id, caller=STAGING.id)

    assert not [
        op for op in result.operations if isinstance(op, DeletePermissionSet | DeleteAssignment)
    ]
    assert any("permission set Old is not deleted" in note for note in result.notes)
    assert any("in the management account" in note for note in result.notes)


def test_the_management_account_prunes_a_set_provisioned_to_itself() -> None:
    result = _old_set_in(management=PROD.id, caller=PROD.id)

    assert DeletePermissionSet(name="Old") in result.operations
    assert any(isinstance(op, DeleteAssignment) for op in result.operations)
