"""Saved plans: the plan a reviewer approved, written to a file and applied later as it is.

``reconciler plan --out FILE`` writes :func:`saved_plan_bytes`; ``reconciler apply FILE`` reads
it back with :func:`parse_saved_plan` and the engine refuses to apply (:func:`differences`)
unless re-planning the same revision against the live state of now gives the same operations,
the live objects those operations touch have the fingerprints they had when the plan was
made, and the settings that change a plan are the same.

The file is untrusted input when applied (anyone may edit it between review and apply), so:

- it is bounded (:data:`MAX_SAVED_PLAN_BYTES`) and versioned (:data:`SAVED_PLAN_VERSION`);
- it carries ``digest``, ``sha256:<hex>`` of the canonical encoding (sorted keys, no
  whitespace, UTF-8) of everything else in it, so an edit made by hand is refused;
- the digest is not a signature (anyone who edits the file can recompute it): what makes an
  operation added to the file harmless is that nothing is applied from the file. The
  operations applied are those of re-planning the revision the file names, and they must be
  exactly the file's, or the apply is refused with the list of what differs.

Shape of the file (JSON, one object)::

    {"format": "identity-center-reconciler/saved-plan", "version": 1,
     "revision": "<40-hex commit SHA>", "instance_arn": "arn:aws:sso:::instance/...",
     "created_at": "2026-12-01T13:00:00+00:00",
     "settings": {"path": "desired-state", "allow_deletions": false},
     "operations": [{"action": "create", "kind": "user", "key": "user/jane.doe", ...}],
     "fingerprints": {"user/jane.doe": "sha256:<hex>" | null, ...},
     "objects": {"user/jane.doe": {"user": {...}, "id": "..."} | null, ...},
     "summary": {"create": 1, "update": 0, "delete": 0, "provision": 0},
     "access": {"gained": [{"user": "jane.doe", "account_id": "111111111111",
                            "permission_set": "ReadOnlyAccess", "via": "Auditors" | null}],
                "lost": [...]},
     "digest": "sha256:<hex>"}

A fingerprint is the sha256 of the canonical encoding of the live object an operation touches
(with its AWS identifier, so an object deleted and made again by hand is a change), ``null``
when it did not exist; ``objects`` holds those live objects themselves (canonical encodings),
only to say in a refusal which attributes changed (the fingerprints decide). ``access`` is
the plan's effect on access (``Plan.access``) as the reviewer saw it: applying is refused when
re-planning gives another effect, so a grant the reviewed plan did not show (a group's
assignment made by hand since, that a member the plan adds would inherit) is never given by
``apply FILE``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

from reconciler.errors import PlanRefusedError
from reconciler.model.state import (
    AssignmentKey,
    LiveState,
    Membership,
    PolicyDocument,
    PrincipalType,
)
from reconciler.planning.access import AccessChanges, Grant
from reconciler.planning.plans import Operation, Plan

SAVED_PLAN_FORMAT = "identity-center-reconciler/saved-plan"
SAVED_PLAN_VERSION = 2
"""Version 2 added ``access``; a version 1 file is refused (make the plan again)."""
MAX_SAVED_PLAN_BYTES = 64 * 1024 * 1024
"""The largest saved plan read (bytes): the bound of a whole revision's files
(``ReadLimits.total_bytes``), which no plan of one revision needs to exceed."""
MAX_LISTED = 20
"""How many differences a refusal lists before saying how many more there are."""
MAX_NUMBER_DIGITS = 100
"""The longest number (digits) a saved plan may hold; it holds only small counts and a version."""


class SavedPlanFileError(PlanRefusedError):
    """The saved plan file cannot be used: not JSON, truncated, too large, of another format
    or version, or edited since it was written (digest mismatch). Nothing is applied."""


class SavedPlanRefusedError(PlanRefusedError):
    """The saved plan no longer describes what applying would do; nothing is applied.

    ``differences`` lists each reason in words (``user/jane.doe changed since the plan``,
    ``revision changed: ...``, ``operation not in the saved plan: delete assignment/...``), all
    of them; ``listed`` the first :data:`MAX_LISTED` and ``more`` how many are left out of it.
    The message counts them all.
    """

    def __init__(self, differences: Sequence[str]) -> None:
        self.differences = tuple(differences)
        self.listed = self.differences[:MAX_LISTED]
        self.more = len(self.differences) - len(self.listed)
        count = len(self.differences)
        super().__init__(
            f"the saved plan was not applied: {count} "
            f"difference{'s' if count != 1 else ''} since it was made (make a new plan and "
            "review it). Nothing was applied."
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedSettings:
    """The settings that change what a plan is or whether it may be applied: the desired-state
    folder ``path`` inside the repository and ``allow_deletions`` (the deletion guard)."""

    path: str
    allow_deletions: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedPlan:
    """A saved plan as read: ``operations`` are their canonical encodings (JSON-ready) and
    ``fingerprints`` map each touched object's key to its digest (None: it did not exist)."""

    revision: str
    instance_arn: str
    created_at: str
    settings: SavedSettings
    operations: tuple[Mapping[str, Any], ...]
    fingerprints: Mapping[str, str | None]
    objects: Mapping[str, Any]
    """The touched live objects as the plan saw them (canonical encodings, None: absent),
    by operation key: for naming what changed, never for deciding."""
    access: Mapping[str, Any]
    """``{"gained": [grant encoding], "lost": [grant encoding]}`` (:func:`access_encoding`)."""


# -- canonical encodings ---------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """A JSON-ready value equal for equal model values: sets sorted, mappings by key, policy
    documents by their canonical form, fields that take no part in equality left out."""
    if isinstance(value, PolicyDocument):
        return value.canonical
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: _canonical(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if item.compare
        }
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in sorted(value.items())}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple: AssignmentKey
        return {name: _canonical(getattr(value, name)) for name in value._fields}
    if isinstance(value, frozenset | set):
        return sorted((_canonical(item) for item in value), key=_dumps)
    if isinstance(value, tuple | list):
        return [_canonical(item) for item in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(value: Any) -> str:
    return "sha256:" + hashlib.sha256(_dumps(value).encode()).hexdigest()


def operation_encoding(operation: Operation) -> dict[str, Any]:
    """The canonical encoding of ``operation``: ``action``, ``kind``, ``key`` and its compared
    fields (two operations encode alike exactly when they are equal)."""
    return {
        "action": operation.action.value,
        "kind": operation.kind.value,
        "key": operation.key,
        **_canonical(operation),
    }


def access_encoding(access: AccessChanges | None) -> dict[str, list[dict[str, Any]]]:
    """The canonical encoding of a plan's effect on access: ``{"gained": [...], "lost":
    [...]}``, each grant ``{"user", "account_id", "permission_set", "via"}`` (None: empty)."""
    if access is None:
        return {"gained": [], "lost": []}
    return {
        "gained": [_canonical(grant) for grant in access.gained],
        "lost": [_canonical(grant) for grant in access.lost],
    }


def _touched(live: LiveState, encoding: Mapping[str, Any]) -> Any:
    """The live object the operation encoded as ``encoding`` touches, with its AWS identifier;
    None when absent. Raises ``KeyError``, ``TypeError`` or ``ValueError`` for an encoding not
    of an operation."""
    kind = encoding["kind"]
    if kind == "user":
        return _user(
            live,
            str(encoding["user"]["user_name"] if "user" in encoding else encoding["user_name"]),
        )
    if kind == "group":
        return _group(
            live, str(encoding["group"]["name"] if "group" in encoding else encoding["name"])
        )
    if kind == "membership":
        member = encoding["membership"]
        return _membership(live, Membership(group=str(member["group"]), user=str(member["user"])))
    if kind == "permission_set":
        name = (
            encoding["permission_set"]["name"] if "permission_set" in encoding else encoding["name"]
        )
        return _permission_set(live, str(name))
    if kind == "assignment":
        key = encoding["assignment"]
        return _assignment(
            live,
            AssignmentKey(
                account_id=str(key["account_id"]),
                permission_set=str(key["permission_set"]),
                principal_type=PrincipalType(key["principal_type"]),
                principal_name=str(key["principal_name"]),
            ),
        )
    if kind == "access_control_attributes":
        attributes = live.state.access_control_attributes
        return None if attributes is None else {"access_control_attributes": _canonical(attributes)}
    raise ValueError(f"unknown kind {kind!r}")


def _user(live: LiveState, name: str) -> Any:
    user = live.state.users.get(name)
    return None if user is None else {"user": _canonical(user), "id": live.user_ids.get(name)}


def _group(live: LiveState, name: str) -> Any:
    group = live.state.groups.get(name)
    return None if group is None else {"group": _canonical(group), "id": live.group_ids.get(name)}


def _membership(live: LiveState, membership: Membership) -> Any:
    if membership not in live.state.memberships:
        return None
    return {"membership": _canonical(membership), "id": live.membership_ids.get(membership)}


def _permission_set(live: LiveState, name: str) -> Any:
    permission_set = live.state.permission_sets.get(name)
    if permission_set is None:
        return None
    return {
        "permission_set": _canonical(permission_set),
        "arn": live.permission_set_arns.get(name),
        "provisioned_accounts": sorted(live.provisioned_accounts.get(name, ())),
        "stale_accounts": sorted(live.stale_accounts.get(name, ())),
    }


def _assignment(live: LiveState, key: AssignmentKey) -> Any:
    return _canonical(key) if key in live.state.assignments else None


def fingerprint(live: LiveState, encoding: Mapping[str, Any]) -> str | None:
    """The digest (``sha256:<hex>``) of the live object the operation encoded as ``encoding``
    (:func:`operation_encoding`) touches, as ``live`` holds it; None when it does not exist.
    Raises ``KeyError``, ``TypeError`` or ``ValueError`` for an encoding not of an operation."""
    touched = _touched(live, encoding)
    return None if touched is None else _sha256(touched)


def touched_objects(plan: Plan, live: LiveState) -> dict[str, Any]:
    """Per object the operations of ``plan`` touch, by operation key: its canonical encoding
    with its AWS identifier (None when absent), whose digest is its :func:`fingerprint`."""
    return {
        operation.key: _touched(live, operation_encoding(operation))
        for operation in plan.operations
    }


def fingerprints(plan: Plan, live: LiveState) -> dict[str, str | None]:
    """Per object the operations of ``plan`` touch, by operation key: :func:`fingerprint`."""
    return {
        operation.key: fingerprint(live, operation_encoding(operation))
        for operation in plan.operations
    }


# -- writing and reading ---------------------------------------------------------------------


def saved_plan_bytes(
    plan: Plan, live: LiveState, *, settings: SavedSettings, created_at: str
) -> bytes:
    """The saved plan file of ``plan`` (made against ``live``), UTF-8 JSON with its digest.

    Raises ``SavedPlanFileError`` when ``plan`` has no revision (a folder outside Git, or
    uncommitted edits: ``apply FILE`` re-reads the revision from Git, so it must be a commit).
    """
    if plan.revision is None:
        raise SavedPlanFileError(
            "a saved plan needs a committed revision: the desired state is not in Git"
        )
    objects = touched_objects(plan, live)
    body: dict[str, Any] = {
        "format": SAVED_PLAN_FORMAT,
        "version": SAVED_PLAN_VERSION,
        "revision": plan.revision,
        "instance_arn": live.instance_arn,
        "created_at": created_at,
        "settings": _canonical(settings),
        "operations": [operation_encoding(operation) for operation in plan.operations],
        "fingerprints": {
            key: None if touched is None else _sha256(touched) for key, touched in objects.items()
        },
        "objects": objects,
        "summary": plan.summary(),
        "access": access_encoding(plan.access),
    }
    document = {**body, "digest": _sha256(body)}
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _field(document: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise SavedPlanFileError(f"the saved plan has no valid {name!r}: it is not one we wrote")
    return value


def _parse_int(digits: str, *, name: str) -> int:
    """``int(digits)`` for the JSON reader, refusing a number longer than
    :data:`MAX_NUMBER_DIGITS` digits (``SavedPlanFileError``)."""
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise SavedPlanFileError(
            f"{name} is not a saved plan: it holds a number longer than {MAX_NUMBER_DIGITS} digits"
        )
    return int(digits)


def parse_saved_plan(content: bytes, *, name: str) -> SavedPlan:
    """Read a saved plan file's ``content`` (``name`` is for messages).

    Raises ``SavedPlanFileError`` when it is larger than :data:`MAX_SAVED_PLAN_BYTES`, not
    UTF-8 JSON (truncated, garbage, nested too deep, a number longer than
    :data:`MAX_NUMBER_DIGITS` digits), of another format or version, or when its
    digest is not that of its content (edited by hand).
    """
    if len(content) > MAX_SAVED_PLAN_BYTES:
        raise SavedPlanFileError(
            f"{name} is larger than {MAX_SAVED_PLAN_BYTES} bytes: it is not a saved plan"
        )
    try:
        document = json.loads(content.decode("utf-8"), parse_int=partial(_parse_int, name=name))
    except RecursionError as exc:
        raise SavedPlanFileError(
            f"{name} is not a saved plan: its JSON is nested too deeply (hundreds of levels; a "
            "saved plan nests fewer than 10)"
        ) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise SavedPlanFileError(
            f"{name} is not a saved plan (not whole, valid JSON: truncated or another file?): {exc}"
        ) from exc
    if not isinstance(document, dict) or document.get("format") != SAVED_PLAN_FORMAT:
        raise SavedPlanFileError(
            f"{name} is not a saved plan (write one with `reconciler plan --out FILE`)"
        )
    if document.get("version") != SAVED_PLAN_VERSION:
        raise SavedPlanFileError(
            f"{name} is a saved plan of version {document.get('version')!r}; this reconciler "
            f"reads version {SAVED_PLAN_VERSION}: make the plan again"
        )
    body = {key: value for key, value in document.items() if key != "digest"}
    if document.get("digest") != _sha256(body):
        raise SavedPlanFileError(
            f"{name} was changed after it was written (its digest does not match its content): "
            "make the plan again"
        )
    settings = _field(document, "settings", dict)
    operations = _field(document, "operations", list)
    prints = _field(document, "fingerprints", dict)
    access = _field(document, "access", dict)
    objects = _field(document, "objects", dict)
    if (
        not all(isinstance(item, dict) for item in operations)
        or not all(isinstance(value, str | None) for value in prints.values())
        or not all(isinstance(access.get(side), list) for side in ("gained", "lost"))
    ):
        raise SavedPlanFileError(
            f"{name} holds operations, fingerprints or access of the wrong shape"
        )
    return SavedPlan(
        revision=_field(document, "revision", str),
        instance_arn=_field(document, "instance_arn", str),
        created_at=_field(document, "created_at", str),
        settings=SavedSettings(
            path=_field(settings, "path", str),
            allow_deletions=_field(settings, "allow_deletions", bool),
        ),
        operations=tuple(operations),
        fingerprints=dict(prints),
        objects=dict(objects),
        access={"gained": access["gained"], "lost": access["lost"]},
    )


# -- comparing -------------------------------------------------------------------------------


def _operation_line(encoding: Mapping[str, Any]) -> str:
    return f"{encoding.get('action')} {encoding.get('key')}"


def differences(
    saved: SavedPlan, plan: Plan, live: LiveState, *, settings: SavedSettings
) -> list[str]:
    """Why ``plan`` (the revision re-planned against ``live``, now) is not ``saved``, in
    words; empty when it is exactly the saved plan, made against the same live objects.

    Checked: the revision, the instance, the settings, the fingerprint of every object the
    saved operations touch (each changed object named), then the operations themselves, in
    order (those only in one of the two are listed, then a difference of order or content).
    """
    found: list[str] = []
    if plan.revision != saved.revision:
        found.append(
            f"revision changed: the plan was made at {saved.revision}, the desired state is now "
            f"at {plan.revision}"
        )
    if live.instance_arn != saved.instance_arn:
        found.append(
            f"instance changed: the plan was made for {saved.instance_arn}, this is "
            f"{live.instance_arn}"
        )
    if settings.path != saved.settings.path:
        found.append(
            f"setting path changed: the plan was made with --path {saved.settings.path}, this "
            f"apply has --path {settings.path}: pass the same --path as `plan --out` had"
        )
    if settings.allow_deletions != saved.settings.allow_deletions:
        made, now = ("with", "without") if saved.settings.allow_deletions else ("without", "with")
        found.append(
            f"setting allow_deletions changed: the plan was made {made} --allow-deletions, this "
            f"apply is run {now} it: pass the same flags as `plan --out` had"
        )
    found.extend(_changed_objects(saved, live))
    found.extend(_changed_access(saved, plan, live))
    saved_lines = [_operation_line(item) for item in saved.operations]
    current = [operation_encoding(operation) for operation in plan.operations]
    if current != list(saved.operations):
        current_lines = [_operation_line(item) for item in current]
        found.extend(
            f"operation no longer planned: {line}"
            for line in saved_lines
            if line not in current_lines
        )
        found.extend(
            f"operation not in the saved plan: {line}"
            for line in current_lines
            if line not in saved_lines
        )
        if sorted(saved_lines) == sorted(current_lines):
            found.extend(
                f"operation differs from the saved plan: {line}"
                for line, before, after in zip(saved_lines, saved.operations, current, strict=True)
                if before != after or line != _operation_line(after)
            )
        elif not any(line.startswith("operation ") for line in found):  # duplicates
            found.append("the operations differ from the saved plan")
    return found


def _changed_objects(saved: SavedPlan, live: LiveState) -> list[str]:
    """Each object a saved operation touches whose fingerprint in ``live`` is not the saved
    one, named by its key (once, in the order of the operations), with what changed: created,
    deleted, or which attributes (from the saved ``objects``, when they allow it). An
    operation not of a plan as made (no fingerprint, or not an operation's shape) is named so.
    """
    seen: set[str] = set()
    found: list[str] = []
    for encoding in saved.operations:
        key = str(encoding.get("key"))
        if key in seen:
            continue
        seen.add(key)
        try:
            touched = _touched(live, encoding)
        except (KeyError, TypeError, ValueError):
            found.append(f"{key}: not an operation of the plan as made (no longer planned)")
            continue
        if key not in saved.fingerprints:
            found.append(f"{key}: not in the plan as made (it has no fingerprint)")
            continue
        before = saved.fingerprints[key]
        now = None if touched is None else _sha256(touched)
        if before == now:
            continue
        if before is None:
            found.append(f"{key} was created since the plan was made")
        elif now is None:
            found.append(f"{key} no longer exists (it existed when the plan was made)")
        else:
            what = _attribute_changes(saved.objects.get(key), touched)
            found.append(f"{key} changed since the plan was made" + (f": {what}" if what else ""))
    return found


MAX_SHOWN = 200
"""The longest value (characters) a refusal shows of an attribute."""


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else _dumps(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _attribute_changes(before: Any, now: Any) -> str:
    """What differs between two encodings of one live object, in words: per attribute (those
    of the object and of its identifiers), ``name +added -removed`` for lists, ``name before
    → now`` otherwise; empty when ``before`` is not an encoding of it (absent, forged)."""
    if not isinstance(before, Mapping) or not isinstance(now, Mapping):
        return ""
    flat_before, flat_now = _flatten(before), _flatten(now)
    parts: list[str] = []
    for name in sorted(flat_before.keys() | flat_now.keys()):
        old, new = flat_before.get(name), flat_now.get(name)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            old_items, new_items = {_dumps(i) for i in old}, {_dumps(i) for i in new}
            changes = [f"+{_shown(i)}" for i in new if _dumps(i) not in old_items]
            changes += [f"-{_shown(i)}" for i in old if _dumps(i) not in new_items]
            parts.append(f"{name} {' '.join(changes) or 'reordered'}")
        else:
            parts.append(f"{name} {_shown(old)} → {_shown(new)}")
    return "; ".join(parts)


def _flatten(encoding: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of an object's encoding: those of its object (``user``, ``group``,
    ``permission_set``, ...) by their own names, beside its identifiers."""
    flat: dict[str, Any] = {}
    for name, value in encoding.items():
        if isinstance(value, Mapping):
            flat.update({str(inner): item for inner, item in value.items()})
        else:
            flat[str(name)] = value
    return flat


def _grant_line(encoding: Any, live: LiveState) -> str:
    """A grant encoding in words, its account named as live state names it."""
    if not isinstance(encoding, Mapping):
        return repr(encoding)
    try:
        grant = Grant(
            user=str(encoding["user"]),
            account_id=str(encoding["account_id"]),
            permission_set=str(encoding["permission_set"]),
            via=None if encoding.get("via") is None else str(encoding["via"]),
        )
    except KeyError:
        return repr(dict(encoding))
    account = live.accounts.get(grant.account_id)
    where = grant.account_id if account is None else f"{account.name} ({grant.account_id})"
    route = f"via group {grant.via}" if grant.via is not None else "directly"
    return f"{grant.user}: {grant.permission_set} in {where} ({route})"


def _changed_access(saved: SavedPlan, plan: Plan, live: LiveState) -> list[str]:
    """Each grant the re-planned effect on access gains or loses that the saved (reviewed)
    effect does not, and each the saved one does that re-planning no longer does."""
    now = access_encoding(plan.access)
    found: list[str] = []
    for side, verb in (("gained", "gains"), ("lost", "loses")):
        before, after = list(saved.access[side]), now[side]
        before_keys, after_keys = {_dumps(g) for g in before}, {_dumps(g) for g in after}
        found.extend(
            f"access not in the plan as made: {_grant_line(grant, live)} {verb} it now"
            for grant in after
            if _dumps(grant) not in before_keys
        )
        found.extend(
            f"access in the plan as made but no longer: {_grant_line(grant, live)} no longer "
            f"{verb} it"
            for grant in before
            if _dumps(grant) not in after_keys
        )
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """What ``apply FILE`` asks the engine to hold a pass to: the ``saved`` plan, applied with
    ``settings`` (those of this run, compared with the saved ones)."""

    saved: SavedPlan
    settings: SavedSettings

    def check(self, plan: Plan, live: LiveState) -> None:
        """Return when ``plan`` is the saved plan (see :func:`differences`); else raise
        ``SavedPlanRefusedError`` listing every difference."""
        found = differences(self.saved, plan, live, settings=self.settings)
        if found:
            raise SavedPlanRefusedError(found)
