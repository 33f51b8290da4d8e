"""What a running sandbox holds, keyed by what a person writes, with duplicates counted.

Read straight from the simulators' state (not through the API, so no call is recorded and no
fault applies): users by user name, groups by display name, memberships by (group, user name),
permission sets by name, account assignments by (account id, permission set name, principal
type, principal name). Used by the survival tests and the fault campaign to check that a run
left no duplicate and deleted nothing it should not have.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moto.identitystore.models import IdentityStoreData, identitystore_backends

if TYPE_CHECKING:
    from reconciler.sandbox.server import Sandbox

AssignmentTuple = tuple[str, str, str, str]
"""(account id, permission set name, ``USER`` or ``GROUP``, user name or group display name)."""


@dataclass(frozen=True, kw_only=True)
class Inventory:
    """Counts of every object by its natural key (a count above 1 is a duplicate).

    ``users``: user name → count; ``groups``: display name → count; ``memberships``:
    (group display name, user name) → count; ``permission_sets``: name → count;
    ``assignments``: ``AssignmentTuple`` → count (an assignment to a principal that no longer
    exists is keyed with the principal id in place of its name).
    """

    users: Counter[str]
    groups: Counter[str]
    memberships: Counter[tuple[str, str]]
    permission_sets: Counter[str]
    assignments: Counter[AssignmentTuple]

    def duplicates(self) -> dict[str, list[str]]:
        """Keys held more than once, by kind (``"assignments"``: ``["(…)", ...]``); empty
        kinds are left out."""
        found: dict[str, list[str]] = {}
        for kind in ("users", "groups", "memberships", "permission_sets", "assignments"):
            counter: Counter[object] = getattr(self, kind)
            repeated = sorted(str(key) for key, count in counter.items() if count > 1)
            if repeated:
                found[kind] = repeated
        return found

    def keys(self) -> dict[str, set[object]]:
        """The set of keys of each kind (``"users"``, ``"groups"``, ``"memberships"``,
        ``"permission_sets"``, ``"assignments"``)."""
        return {
            "users": set(self.users),
            "groups": set(self.groups),
            "memberships": set(self.memberships),
            "permission_sets": set(self.permission_sets),
            "assignments": set(self.assignments),
        }


def take_inventory(sandbox: Sandbox) -> Inventory:
    """Count what ``sandbox`` holds now, over every instance and its identity store.

    Completes no asynchronous operation: an assignment still IN_PROGRESS is not counted.
    Raises ``SandboxNotRunningError`` when the sandbox is not running.
    """
    center = sandbox.identity_center
    backend = identitystore_backends[sandbox.management_account_id][sandbox.settings.region]
    stores: dict[str, IdentityStoreData] = backend.identity_stores
    users: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    memberships: Counter[tuple[str, str]] = Counter()
    permission_sets: Counter[str] = Counter()
    assignments: Counter[AssignmentTuple] = Counter()
    with center.lock:
        center.advance()
        user_names: dict[str, str] = {}
        group_names: dict[str, str] = {}
        for store in stores.values():
            for user_id, user in store.users.items():
                user_names[user_id] = str(user.UserName)
                users[str(user.UserName)] += 1
            for group_id, group in store.groups.items():
                group_names[group_id] = str(group.DisplayName)
                groups[str(group.DisplayName)] += 1
            for membership in store.group_memberships.values():
                group_id = membership["GroupId"]
                user_id = membership["MemberId"]["UserId"]
                memberships[
                    (group_names.get(group_id, group_id), user_names.get(user_id, user_id))
                ] += 1
        set_names = {arn: found.name for arn, found in center.permission_sets.items()}
        for found in center.permission_sets.values():
            permission_sets[found.name] += 1
        for assignment in center.assignments:
            names = user_names if assignment.principal_type == "USER" else group_names
            assignments[
                (
                    assignment.account_id,
                    set_names.get(assignment.permission_set_arn, assignment.permission_set_arn),
                    assignment.principal_type,
                    names.get(assignment.principal_id, assignment.principal_id),
                )
            ] += 1
    return Inventory(
        users=users,
        groups=groups,
        memberships=memberships,
        permission_sets=permission_sets,
        assignments=assignments,
    )


def assignment_deletions(sandbox: Sandbox) -> list[AssignmentTuple]:
    """Every DeleteAccountAssignment request the sandbox accepted so far, in order, keyed as
    ``Inventory.assignments`` with the names as they were at the request (an assignment
    deleted and created again shows here, though no inventory taken before and after does).

    Raises ``SandboxNotRunningError`` when the sandbox is not running.
    """
    center = sandbox.identity_center
    with center.lock:
        return list(center.assignment_deletions)
