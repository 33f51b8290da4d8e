"""The plan: an ordered, immutable sequence of typed operations.

``plan`` prints it, ``apply`` executes it, tests assert on it. Every operation has an
``action`` (create, update, delete, provision), a ``kind`` (user, group, membership,
permission_set, assignment, access_control_attributes) and a ``key`` that is stable across
runs and readable (``assignment/111122223333/AdministratorAccess/GROUP/AdminAccess``), so
reports can be compared and deduplicated. Updates carry the attribute-level ``diff``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from reconciler.model.state import AssignmentKey, Group, Membership, PermissionSet, User
from reconciler.planning.access import AccessChanges


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    PROVISION = "provision"


class Kind(StrEnum):
    USER = "user"
    GROUP = "group"
    MEMBERSHIP = "membership"
    PERMISSION_SET = "permission_set"
    ASSIGNMENT = "assignment"
    ACCESS_CONTROL_ATTRIBUTES = "access_control_attributes"


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeChange:
    """One attribute of an updated object: JSON-ready ``old`` and ``new`` values.

    For set-valued attributes (policies, tags) ``added`` and ``removed`` list the members that
    change; ``old`` and ``new`` hold the whole values.
    """

    attribute: str
    old: Any
    new: Any
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUser:
    action: ClassVar[Action] = Action.CREATE
    kind: ClassVar[Kind] = Kind.USER
    user: User

    @property
    def key(self) -> str:
        return f"user/{self.user.user_name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUser:
    action: ClassVar[Action] = Action.UPDATE
    kind: ClassVar[Kind] = Kind.USER
    user: User
    diff: tuple[AttributeChange, ...]

    @property
    def key(self) -> str:
        return f"user/{self.user.user_name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteUser:
    action: ClassVar[Action] = Action.DELETE
    kind: ClassVar[Kind] = Kind.USER
    user_name: str

    @property
    def key(self) -> str:
        return f"user/{self.user_name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateGroup:
    action: ClassVar[Action] = Action.CREATE
    kind: ClassVar[Kind] = Kind.GROUP
    group: Group

    @property
    def key(self) -> str:
        return f"group/{self.group.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateGroup:
    action: ClassVar[Action] = Action.UPDATE
    kind: ClassVar[Kind] = Kind.GROUP
    group: Group
    diff: tuple[AttributeChange, ...]

    @property
    def key(self) -> str:
        return f"group/{self.group.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteGroup:
    action: ClassVar[Action] = Action.DELETE
    kind: ClassVar[Kind] = Kind.GROUP
    name: str

    @property
    def key(self) -> str:
        return f"group/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AddMembership:
    action: ClassVar[Action] = Action.CREATE
    kind: ClassVar[Kind] = Kind.MEMBERSHIP
    membership: Membership

    @property
    def key(self) -> str:
        return f"membership/{self.membership.group}/{self.membership.user}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveMembership:
    action: ClassVar[Action] = Action.DELETE
    kind: ClassVar[Kind] = Kind.MEMBERSHIP
    membership: Membership

    @property
    def key(self) -> str:
        return f"membership/{self.membership.group}/{self.membership.user}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePermissionSet:
    action: ClassVar[Action] = Action.CREATE
    kind: ClassVar[Kind] = Kind.PERMISSION_SET
    permission_set: PermissionSet

    @property
    def key(self) -> str:
        return f"permission-set/{self.permission_set.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdatePermissionSet:
    """Bring a live permission set to ``permission_set``; ``live`` is what was read."""

    action: ClassVar[Action] = Action.UPDATE
    kind: ClassVar[Kind] = Kind.PERMISSION_SET
    permission_set: PermissionSet
    live: PermissionSet
    diff: tuple[AttributeChange, ...]

    @property
    def key(self) -> str:
        return f"permission-set/{self.permission_set.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvisionPermissionSet:
    """Push the current copy of a permission set to the accounts it is provisioned to.

    ``accounts`` are the 12-digit ids known at planning time (for the report); applying uses
    ``ALL_PROVISIONED_ACCOUNTS`` so an account provisioned meanwhile is not missed.
    """

    action: ClassVar[Action] = Action.PROVISION
    kind: ClassVar[Kind] = Kind.PERMISSION_SET
    name: str
    accounts: frozenset[str]

    @property
    def key(self) -> str:
        return f"permission-set/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeletePermissionSet:
    action: ClassVar[Action] = Action.DELETE
    kind: ClassVar[Kind] = Kind.PERMISSION_SET
    name: str

    @property
    def key(self) -> str:
        return f"permission-set/{self.name}"


def _assignment_key(key: AssignmentKey) -> str:
    return (
        f"assignment/{key.account_id}/{key.permission_set}/"
        f"{key.principal_type.value}/{key.principal_name}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAssignment:
    """Create one account assignment; ``rule`` says which file, entry and targeting rule asked
    for it (``assignments.json $.assignments[2]: OU Root/Workloads (recursive)``), or None when
    unknown; ``reason`` is the entry's free-text ``reason`` (a ticket reference), if any. Both
    are for readers only: two operations differing only in ``rule`` or ``reason`` are equal."""

    action: ClassVar[Action] = Action.CREATE
    kind: ClassVar[Kind] = Kind.ASSIGNMENT
    assignment: AssignmentKey
    rule: str | None = field(default=None, compare=False)
    reason: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return _assignment_key(self.assignment)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteAssignment:
    action: ClassVar[Action] = Action.DELETE
    kind: ClassVar[Kind] = Kind.ASSIGNMENT
    assignment: AssignmentKey

    @property
    def key(self) -> str:
        return _assignment_key(self.assignment)


ACCESS_CONTROL_ATTRIBUTES_KEY = "access-control-attributes"
"""The key of every operation on the instance's one ABAC configuration."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAccessControlAttributes:
    """Enable attributes for access control with ``attributes`` (key → source; sso-admin
    CreateInstanceAccessControlAttributeConfiguration)."""

    action: ClassVar[Action] = Action.CREATE
    kind: ClassVar[Kind] = Kind.ACCESS_CONTROL_ATTRIBUTES
    attributes: Mapping[str, str]

    @property
    def key(self) -> str:
        return ACCESS_CONTROL_ATTRIBUTES_KEY


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateAccessControlAttributes:
    """Replace the live attributes ``live`` with ``attributes`` (key → source; sso-admin
    UpdateInstanceAccessControlAttributeConfiguration sends the whole list). ``diff`` holds
    one change per attribute key added (``old`` None), removed (``new`` None) or re-sourced."""

    action: ClassVar[Action] = Action.UPDATE
    kind: ClassVar[Kind] = Kind.ACCESS_CONTROL_ATTRIBUTES
    attributes: Mapping[str, str]
    live: Mapping[str, str]
    diff: tuple[AttributeChange, ...]

    @property
    def key(self) -> str:
        return ACCESS_CONTROL_ATTRIBUTES_KEY


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteAccessControlAttributes:
    """Disable attributes for access control, deleting the live ``live`` attributes (sso-admin
    DeleteInstanceAccessControlAttributeConfiguration); planned only when the revision declares
    an empty list."""

    action: ClassVar[Action] = Action.DELETE
    kind: ClassVar[Kind] = Kind.ACCESS_CONTROL_ATTRIBUTES
    live: Mapping[str, str]

    @property
    def key(self) -> str:
        return ACCESS_CONTROL_ATTRIBUTES_KEY


Operation = (
    CreateUser
    | UpdateUser
    | DeleteUser
    | CreateGroup
    | UpdateGroup
    | DeleteGroup
    | AddMembership
    | RemoveMembership
    | CreatePermissionSet
    | UpdatePermissionSet
    | ProvisionPermissionSet
    | DeletePermissionSet
    | CreateAssignment
    | DeleteAssignment
    | CreateAccessControlAttributes
    | UpdateAccessControlAttributes
    | DeleteAccessControlAttributes
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmanaged:
    """A live object that the revision neither declares nor may prune: left alone, and reported.

    ``key`` is the key the operation deleting it would have (``user/<name>``,
    ``assignment/<account>/<set>/<type>/<name>``...); ``description`` names it for a person
    (``AdministratorAccess for user bob in prod (111111111111)``); ``reason`` says why the
    reconciler does not touch it (``prune.users is false``, ``permission set is
    protected``...); ``remedy`` how to bring it under management (declare it, turn the prune
    switch on, run ``export``...). ``planning.unmanaged`` computes them.
    """

    kind: Kind
    key: str
    reason: str
    remedy: str
    description: str = ""
    permission_set: str | None = None
    """The permission set of an unmanaged assignment or set (None for other kinds)."""
    privileged: bool = False
    """Whether that permission set is privileged (``Plan.access``'s rule): an unmanaged
    privileged assignment is the access a reviewer most needs to see."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What one pass will do, in order.

    ``revision`` is the Git commit SHA of the desired state (None when the folder is not in
    Git); ``notes`` are things a reader should know that are not operations (objects left alone
    because they are protected, warnings from validation); ``unmanaged`` the live objects
    that exist beside the desired state and are left alone; ``unmanaged_fail`` whether the
    revision treats them as a failure (``"unmanaged": "fail"`` in ``reconciler.json``);
    ``access`` the effect of the operations on who can sign in where (None when not computed).
    """

    revision: str | None
    operations: tuple[Operation, ...]
    notes: tuple[str, ...] = field(default=())
    unmanaged: tuple[Unmanaged, ...] = field(default=())
    access: AccessChanges | None = None
    unmanaged_fail: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.operations

    @property
    def failed_by_unmanaged(self) -> bool:
        """True when unmanaged objects exist and the revision says ``"unmanaged": "fail"``:
        the plan is not converged although it may have no operation (``plan`` exits 2)."""
        return self.unmanaged_fail and bool(self.unmanaged)

    def summary(self) -> dict[str, int]:
        """Counts by action: ``{"create": n, "update": n, "delete": n, "provision": n}``."""
        counts = Counter(operation.action.value for operation in self.operations)
        return {action.value: counts.get(action.value, 0) for action in Action}

    def deletions(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.action is Action.DELETE)
