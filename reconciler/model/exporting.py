"""Live state as desired-state files: how an existing Identity Center is adopted.

Pure: ``export_files`` takes a ``LiveState`` (as ``reconciler.adapters.aws.reading`` reads it)
and returns the files of a desired-state folder, ``{relative path: bytes}``, in this project's
format, so that committing them and running ``plan`` against the same live state shows no
change:

- ``permission-sets/<Name>.json``, one per permission set, every attribute written out (the
  managed-by tag is left out: the reconciler owns that tag, and validation refuses it in files);
- ``users.json`` and ``groups.json`` (with each group's members);
- ``assignments.json``, grouped the way a person writes it: one entry per permission set and
  set of principals that share exactly the same accounts, accounts by name when the name is
  unique in the organization, else by 12-digit id;
- ``access-control-attributes.json`` with the instance's attributes for access control, when
  it has a configuration (none: no file, so the configuration stays unmanaged);
- ``reconciler.json`` with safe defaults (nothing pruned that was not exported).

Files are always written in the single-file form (``users.json``...), never split into
``users/`` and the other folders of files per team: how a team divides its access is not in
AWS. The ``reason`` of an assignment is not in AWS either: ``reasons`` given from the files
being replaced are written back.

What cannot be written as a valid file is left out with a note (``Export.notes``): memberships
and assignments of principals the identity store no longer knows, assignments in accounts that
are no longer in the organization, users without the names the file format requires. The files
are then validated like any revision; every problem (a live value the format refuses, such as a
description outside Latin-1) is a note too, to fix before committing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from reconciler.errors import InvalidRevisionError
from reconciler.model import documents as docs
from reconciler.model.limits import ACCOUNT_NAME_MAX
from reconciler.model.loading import (
    ACCESS_CONTROL_ATTRIBUTES_FILE,
    ASSIGNMENTS_FILE,
    GROUPS_FILE,
    PERMISSION_SETS_DIR,
    RECONCILER_FILE,
    USERS_FILE,
    load_documents,
)
from reconciler.model.state import (
    MANAGED_TAG_KEY,
    Account,
    AssignmentKey,
    CustomerManagedPolicyRef,
    IdentityCenterState,
    LiveState,
    PermissionSet,
    PrincipalType,
)
from reconciler.model.wording import count, noun, suggestion_clause


class ExportKind(StrEnum):
    """What ``export`` can write; the ``--kinds`` values of ``reconciler export``."""

    USERS = "users"
    GROUPS = "groups"
    PERMISSION_SETS = "permission_sets"
    ASSIGNMENTS = "assignments"
    ACCESS_CONTROL_ATTRIBUTES = "access_control_attributes"


ALL_KINDS = frozenset(ExportKind)


def parse_kinds(text: str) -> list[ExportKind]:
    """The kinds of a comma-separated ``--kinds`` value (``"users,groups"``), blanks ignored.

    Raises ``ValueError`` naming the first unknown kind, with the closest valid kinds and the
    list of valid kinds, or saying that no kind is given (an empty value would write files
    that declare nothing).
    """
    kinds: list[ExportKind] = []
    for word in (part.strip() for part in text.split(",")):
        if not word:
            continue
        try:
            kinds.append(ExportKind(word))
        except ValueError:
            valid = [kind.value for kind in ExportKind]
            raise ValueError(
                f"unknown kind {word!r}" + suggestion_clause(word, valid, kind="kind")
            ) from None
    if not kinds:
        names = ", ".join(kind.value for kind in ExportKind)
        raise ValueError(f"no kind given: name one or more of {names}, or leave --kinds out")
    return kinds


@dataclass(frozen=True, slots=True, kw_only=True)
class Export:
    """The files of a desired-state folder (``{"users.json": b"...", ...}``, paths relative to
    the folder, POSIX separators, UTF-8 JSON ending in a newline) and notes on what was left
    out."""

    files: Mapping[str, bytes]
    notes: tuple[str, ...] = ()


def _dump(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _is_placeholder(name: str) -> bool:
    """True for ``<deleted user ...>`` names the reader gives principals that no longer exist."""
    return name.startswith("<deleted ")


def _customer_policy(reference: CustomerManagedPolicyRef) -> dict[str, str]:
    return {"name": reference.name, "path": reference.path}


def permission_set_document(permission_set: PermissionSet) -> dict[str, Any]:
    """The ``permission-sets/<Name>.json`` document of a live permission set.

    Keys are written in the documented order; empty and default-less attributes are left out;
    the managed-by tag is dropped (the reconciler adds it itself).
    """
    document: dict[str, Any] = {"name": permission_set.name}
    if permission_set.description:
        document["description"] = permission_set.description
    document["session_duration"] = permission_set.session_duration
    if permission_set.relay_state:
        document["relay_state"] = permission_set.relay_state
    if permission_set.managed_policies:
        document["managed_policies"] = sorted(permission_set.managed_policies)
    if permission_set.customer_managed_policies:
        document["customer_managed_policies"] = [
            _customer_policy(reference)
            for reference in sorted(permission_set.customer_managed_policies)
        ]
    if permission_set.inline_policy is not None:
        try:
            document["inline_policy"] = json.loads(permission_set.inline_policy.text)
        except ValueError:  # not JSON (AWS would not store it): keep the text, refused on load
            document["inline_policy"] = permission_set.inline_policy.text
    boundary = permission_set.permissions_boundary
    if boundary is not None:
        if boundary.managed_policy_arn is not None:
            document["permissions_boundary"] = {"managed_policy_arn": boundary.managed_policy_arn}
        elif boundary.customer_managed_policy is not None:
            document["permissions_boundary"] = {
                "customer_managed_policy": _customer_policy(boundary.customer_managed_policy)
            }
    tags = {key: value for key, value in permission_set.tags.items() if key != MANAGED_TAG_KEY}
    if tags:
        document["tags"] = dict(sorted(tags.items()))
    return document


def _users_document(state: IdentityCenterState, notes: list[str]) -> dict[str, Any]:
    users = []
    for name in sorted(state.users):
        user = state.users[name]
        missing = [
            field
            for field in ("display_name", "given_name", "family_name")
            if not getattr(user, field)
        ]
        if missing:
            notes.append(
                f"user {name} is not exported: it has no {', '.join(missing)}, which "
                "users.json requires; it stays as it is and may still be referenced by name"
            )
            continue
        document = {
            "user_name": user.user_name,
            "display_name": user.display_name,
            "given_name": user.given_name,
            "family_name": user.family_name,
        }
        if user.email:
            document["email"] = user.email
        users.append(document)
    return {"users": users}


def _groups_document(state: IdentityCenterState, notes: list[str]) -> dict[str, Any]:
    members: dict[str, list[str]] = defaultdict(list)
    skipped = 0
    for membership in state.memberships:
        if _is_placeholder(membership.user):
            skipped += 1
            continue
        members[membership.group].append(membership.user)
    if skipped:
        notes.append(
            f"{count(skipped, 'group membership')} of users the identity store no longer knows "
            f"{noun(skipped, 'is')} not exported (the first apply removes "
            f"{noun(skipped, 'it', 'them')})"
        )
    groups = []
    for name in sorted(state.groups):
        group = state.groups[name]
        document: dict[str, Any] = {"name": name}
        if group.description:
            document["description"] = group.description
        document["members"] = sorted(members.get(name, []))
        groups.append(document)
    return {"groups": groups}


def account_references(accounts: Iterable[Account]) -> dict[str, str]:
    """How to write each account in a file: ``{account id: name}`` when the name is unique in
    the organization (and is not itself 12 digits), else ``{account id: account id}``."""
    listed = list(accounts)
    counts = Counter(account.name for account in listed)
    return {
        account.id: (
            account.name
            if account.name
            and counts[account.name] == 1
            and not (account.name.isdigit() and len(account.name) == 12)
            and len(account.name) <= ACCOUNT_NAME_MAX
            else account.id
        )
        for account in listed
    }


def _assignments_document(
    live: LiveState, notes: list[str], reasons: Mapping[AssignmentKey, str]
) -> dict[str, Any]:
    account_refs = account_references(live.accounts.values())
    # (permission set, principal type, principal name, reason) → account references
    targets: dict[tuple[str, PrincipalType, str, str | None], set[str]] = defaultdict(set)
    unknown_principals = 0
    unknown_accounts: set[str] = set()
    for key in live.state.assignments:
        if _is_placeholder(key.principal_name):
            unknown_principals += 1
            continue
        reference = account_refs.get(key.account_id)
        if reference is None:
            unknown_accounts.add(key.account_id)
            continue
        targets[(key.permission_set, key.principal_type, key.principal_name, reasons.get(key))].add(
            reference
        )
    if unknown_principals:
        notes.append(
            f"{count(unknown_principals, 'account assignment')} of principals the identity "
            f"store no longer knows {noun(unknown_principals, 'is')} not exported (the first "
            f"apply removes {noun(unknown_principals, 'it', 'them')})"
        )
    if unknown_accounts:
        notes.append(
            "account assignments in accounts that are not in the organization are not "
            f"exported: {', '.join(sorted(unknown_accounts))}"
        )
    # Principals of one permission set that share exactly the same accounts (and reason) form
    # one entry.
    entries: dict[tuple[str, tuple[str, ...], str | None], dict[PrincipalType, list[str]]] = (
        defaultdict(lambda: {PrincipalType.GROUP: [], PrincipalType.USER: []})
    )
    for (permission_set, principal_type, name, reason), references in targets.items():
        entries[(permission_set, tuple(sorted(references)), reason)][principal_type].append(name)
    assignments = []
    for (permission_set, accounts, reason), principals in sorted(
        entries.items(),
        key=lambda item: (
            item[0][0],
            not item[1][PrincipalType.GROUP],
            sorted(item[1][PrincipalType.GROUP]),
            sorted(item[1][PrincipalType.USER]),
            item[0][1],
            item[0][2] or "",
        ),
    ):
        document: dict[str, Any] = {"permission_set": permission_set}
        if principals[PrincipalType.GROUP]:
            document["groups"] = sorted(principals[PrincipalType.GROUP])
        if principals[PrincipalType.USER]:
            document["users"] = sorted(principals[PrincipalType.USER])
        document["accounts"] = list(accounts)
        if reason is not None:
            document["reason"] = reason
        assignments.append(document)
    return {"assignments": assignments}


def access_control_attributes_document(attributes: Mapping[str, str]) -> dict[str, Any]:
    """The ``access-control-attributes.json`` document of live attributes (key → source),
    sorted by key."""
    return {
        "access_control_attributes": [
            {"key": key, "source": attributes[key]} for key in sorted(attributes)
        ]
    }


def _reconciler_document(
    kinds: frozenset[ExportKind], identities: Literal["managed", "external"]
) -> dict[str, Any]:
    config = docs.ReconcilerFile(identities=identities).model_dump(
        mode="json", by_alias=True, exclude={"schema_"}
    )
    prune = config["prune"]
    # Never prune what was not exported: an absent file must not read as "delete everything".
    prune["users"] = False
    prune["groups"] = False
    prune["memberships"] = ExportKind.GROUPS in kinds
    prune["assignments"] = ExportKind.ASSIGNMENTS in kinds
    prune["permission_sets"] = ExportKind.PERMISSION_SETS in kinds
    return config


def export_files(
    live: LiveState,
    *,
    kinds: Iterable[ExportKind] = ALL_KINDS,
    identities: Literal["managed", "external"] = "managed",
    reasons: Mapping[AssignmentKey, str] | None = None,
) -> Export:
    """The desired-state folder that declares ``live`` as it is (see the module docstring).

    ``kinds`` limits what is declared; ``reconciler.json`` is always written, with pruning
    switched off for every kind not exported, and so are the other required files (an empty
    list for a kind not exported). With ``identities="external"`` (users and groups
    owned by an identity provider) users and groups are never written, whatever ``kinds`` says,
    and ``reconciler.json`` says so. Raises ``ValueError`` when ``assignments`` is asked for
    without ``permission_sets`` (an assignment must name a declared permission set).

    ``reasons`` (``DesiredState.reasons`` of the files being replaced) are written back on the
    entries of the assignments they belong to: AWS keeps no reason, so only the files can give
    them (an entry per permission set, accounts and reason).
    """
    selected = frozenset(ExportKind(kind) for kind in kinds)
    if identities == "external":
        selected -= {ExportKind.USERS, ExportKind.GROUPS}
    if ExportKind.ASSIGNMENTS in selected and ExportKind.PERMISSION_SETS not in selected:
        raise ValueError(
            "exporting assignments needs permission_sets too: an assignment names a permission "
            "set declared in permission-sets/"
        )
    notes: list[str] = []
    files: dict[str, bytes] = {RECONCILER_FILE: _dump(_reconciler_document(selected, identities))}
    state = live.state
    # Required files are written for every kind, empty when not exported (pruning is off for
    # those kinds, so an empty list deletes nothing): a missing file is a validation problem.
    if identities == "managed":
        files[USERS_FILE] = _dump(
            _users_document(state, notes) if ExportKind.USERS in selected else {"users": []}
        )
        files[GROUPS_FILE] = _dump(
            _groups_document(state, notes) if ExportKind.GROUPS in selected else {"groups": []}
        )
    if ExportKind.PERMISSION_SETS in selected:
        for name in sorted(state.permission_sets):
            files[f"{PERMISSION_SETS_DIR}/{name}.json"] = _dump(
                permission_set_document(state.permission_sets[name])
            )
    files[ASSIGNMENTS_FILE] = _dump(
        _assignments_document(live, notes, reasons or {})
        if ExportKind.ASSIGNMENTS in selected
        else {"assignments": []}
    )
    attributes = state.access_control_attributes
    if ExportKind.ACCESS_CONTROL_ATTRIBUTES in selected and attributes is not None:
        document = access_control_attributes_document(attributes)
        files[ACCESS_CONTROL_ATTRIBUTES_FILE] = _dump(document)
    try:
        load_documents(files)
    except InvalidRevisionError as invalid:
        # Live values the file format refuses (for example a description outside Latin-1):
        # written as they are, so the person adopting sees and fixes them before committing.
        notes.extend(f"fix before committing: {problem}" for problem in invalid.problems)
    return Export(files=files, notes=tuple(notes))
