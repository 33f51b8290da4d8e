"""The attribute detail of an operation, as a reviewer reads it: what a create sets, what an
update changes.

Pure. :func:`detail_lines` gives the lines shown under an operation in every rendering (plan
text and Markdown, the controller's reports, Slack), plain text without markup, so that each
renderer only indents, escapes and bounds them:

- a created user, group or permission set lists its attributes, one a line
  (``session_duration: PT4H (4 hours)``, ``managed_policies: arn:…``), the inline policy
  pretty-printed under ``inline_policy:``;
- an update lists its changed attributes: set-valued ones as ``+added, -removed``, short values
  as ``old → new``, the inline policy and long or multi-line strings as a line-level unified
  diff (difflib) under the attribute's name;
- a created assignment shows the rule that asked for it (``rule: assignments.json
  $.assignments[2]: …``) and the reason its entry gives (``reason: JIRA-123``);
- the attributes for access control list each attribute as ``key: source`` when created or
  deleted, and when updated each one added (``+ key: source``), removed (``- key: source``) or
  given another source (``key: old → new``).

:func:`attributes_json` gives a created object's attributes as JSON-ready values, the same
values the attribute diff of an update holds (:func:`json_value`).
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from reconciler.model.limits import duration_seconds
from reconciler.model.state import (
    CustomerManagedPolicyRef,
    Group,
    PermissionsBoundary,
    PermissionSet,
    PolicyDocument,
    User,
)
from reconciler.model.wording import count
from reconciler.planning.plans import (
    AttributeChange,
    CreateAccessControlAttributes,
    CreateAssignment,
    CreateGroup,
    CreatePermissionSet,
    CreateUser,
    DeleteAccessControlAttributes,
    Operation,
    UpdateAccessControlAttributes,
    UpdateGroup,
    UpdatePermissionSet,
    UpdateUser,
)

__all__ = [
    "LONG_VALUE_CHARS",
    "attributes_json",
    "detail_lines",
    "diff_lines",
    "human_duration",
    "json_value",
    "policy_lines",
    "statement_changes",
]

LONG_VALUE_CHARS = 60
"""A string attribute longer than this many characters is shown as ``-old`` / ``+new`` lines
(a line-level diff when it has several lines) instead of ``old → new`` on one line."""

_INDENT = "  "
_CONTEXT_LINES = 2
"""Unchanged lines shown around each changed part of a policy's unified diff."""


def json_value(value: Any) -> Any:
    """A JSON-ready rendering of an attribute value, stable in order: a policy document as the
    parsed JSON it was written as, a set as a sorted list, a mapping with sorted keys. Raises
    ``TypeError`` for a type it does not know."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, PolicyDocument):
        return json.loads(value.text)
    if isinstance(value, CustomerManagedPolicyRef):
        return {"name": value.name, "path": value.path}
    if isinstance(value, PermissionsBoundary):
        if value.managed_policy_arn is not None:
            return {"managed_policy_arn": value.managed_policy_arn}
        return {"customer_managed_policy": json_value(value.customer_managed_policy)}
    if isinstance(value, frozenset | set):
        return sorted((json_value(item) for item in value), key=json.dumps)
    if isinstance(value, Mapping):
        return {str(key): json_value(value[key]) for key in sorted(value)}
    raise TypeError(f"no JSON rendering for {type(value).__name__}")


def attributes_json(value: User | Group | PermissionSet) -> dict[str, Any]:
    """Every attribute of a user, group or permission set as JSON-ready values, in field order
    (``{"name": ..., "session_duration": "PT1H", "managed_policies": [arn, ...], ...}``)."""
    return {
        attribute.name: json_value(getattr(value, attribute.name)) for attribute in fields(value)
    }


def human_duration(value: str) -> str:
    """``PT4H`` as "4 hours", ``PT1H30M`` as "1 hour 30 minutes"; ``value`` itself when it is
    not an ISO-8601 duration of hours, minutes and seconds."""
    seconds = duration_seconds(value)
    if seconds is None:
        return value
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        count(number, unit)
        for number, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if number
    ]
    return " ".join(parts) or "0 seconds"


_KEY_ORDER = {
    key: index
    for index, key in enumerate(
        (
            "Version",
            "Id",
            "Statement",
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        )
    )
}


def _ordered(value: Any) -> Any:
    """``value`` with the keys of every object in IAM's documented order (``Version``,
    ``Statement``; ``Sid``, ``Effect``, ``Action``, ``Resource``, ``Condition``...), other keys
    after them in alphabetical order."""
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda key: (_KEY_ORDER.get(str(key), len(_KEY_ORDER)), key))
        return {key: _ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def policy_lines(document: Any) -> list[str]:
    """A policy document (parsed JSON) pretty-printed, two spaces an indent, keys in IAM's
    usual order so that two copies of one policy print alike whatever order they were written
    in."""
    return json.dumps(_ordered(document), indent=2, ensure_ascii=False).splitlines()


def statement_changes(old: Any, new: Any) -> dict[str, list[str]]:
    """The statements of two policy documents (parsed JSON, either ``None``) that differ, by
    ``Sid``: ``{"added": [sid], "removed": [sid], "changed": [sid]}``, each sorted. A statement
    without a ``Sid`` has no identity: it is added or removed whole, named ``(no Sid)``."""
    before, before_unnamed = _statements(old)
    after, after_unnamed = _statements(new)
    return {
        "added": sorted(after.keys() - before.keys())
        + [_NO_SID] * sum((after_unnamed - before_unnamed).values()),
        "removed": sorted(before.keys() - after.keys())
        + [_NO_SID] * sum((before_unnamed - after_unnamed).values()),
        "changed": sorted(sid for sid in before.keys() & after.keys() if before[sid] != after[sid]),
    }


_NO_SID = "(no Sid)"


def _statements(document: Any) -> tuple[dict[str, str], Counter[str]]:
    """A policy's statements with a Sid, by Sid, and those without, counted; each as its JSON
    with sorted keys."""
    named: dict[str, str] = {}
    unnamed: Counter[str] = Counter()
    statements = document.get("Statement", []) if isinstance(document, Mapping) else []
    if isinstance(statements, Mapping):
        statements = [statements]
    for statement in statements if isinstance(statements, list) else []:
        text = json.dumps(statement, sort_keys=True)
        sid = statement.get("Sid") if isinstance(statement, Mapping) else None
        if isinstance(sid, str) and sid:
            named[sid] = text
        else:
            unnamed[text] += 1
    return named, unnamed


def _statement_summary(old: Any, new: Any) -> str:
    """``statements +B, ~A, -C`` (added, changed, removed), or "" when none differ by Sid."""
    changes = statement_changes(old, new)
    parts = (
        [f"+{sid}" for sid in changes["added"]]
        + [f"~{sid}" for sid in changes["changed"]]
        + [f"-{sid}" for sid in changes["removed"]]
    )
    return f" statements {', '.join(parts)}" if parts else ""


def detail_lines(operation: Operation) -> tuple[str, ...]:
    """The lines shown under ``operation`` (see the module docstring); none for operations
    whose one line says everything (deletions, memberships, provisioning)."""
    match operation:
        case CreateUser(user=user):
            return tuple(_attribute_lines(user, skip=("user_name",)))
        case CreateGroup(group=group):
            return tuple(_attribute_lines(group, skip=("name",)))
        case CreatePermissionSet(permission_set=permission_set):
            return tuple(_attribute_lines(permission_set, skip=("name",)))
        case UpdateUser(diff=diff) | UpdateGroup(diff=diff) | UpdatePermissionSet(diff=diff):
            return tuple(diff_lines(diff))
        case CreateAssignment(rule=rule, reason=reason):
            return tuple(
                f"{label}: {text}" for label, text in (("rule", rule), ("reason", reason)) if text
            )
        case CreateAccessControlAttributes(attributes=attributes):
            return tuple(f"{key}: {_source(attributes[key])}" for key in sorted(attributes))
        case DeleteAccessControlAttributes(live=live):
            return tuple(f"{key}: {_source(live[key])}" for key in sorted(live))
        case UpdateAccessControlAttributes(diff=diff):
            return tuple(_access_control_line(change) for change in diff)
    return ()


def _source(value: Any) -> str:
    """An attribute's source as shown: an empty source (AWS allows one) as ``""``."""
    return '""' if value == "" else _value(value)


def _access_control_line(change: AttributeChange) -> str:
    if change.old is None:
        return f"+ {change.attribute}: {_source(change.new)}"
    if change.new is None:
        return f"- {change.attribute}: {_source(change.old)}"
    return f"{change.attribute}: {_source(change.old)} → {_source(change.new)}"


def _attribute_lines(value: User | Group | PermissionSet, *, skip: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    for attribute, shown in attributes_json(value).items():
        if attribute in skip or shown is None or shown in ([], {}):
            continue
        if attribute == "inline_policy":
            lines.append(f"{attribute}:")
            lines.extend(_INDENT + line for line in policy_lines(shown))
        elif attribute == "session_duration":
            lines.append(f"{attribute}: {shown} ({human_duration(shown)})")
        elif attribute == "permissions_boundary":
            lines.append(f"{attribute}: {getattr(value, attribute)}")
        elif attribute == "tags":
            lines.append(f"{attribute}: {', '.join(f'{k}={v}' for k, v in shown.items())}")
        elif isinstance(shown, list):
            lines.append(f"{attribute}: {', '.join(_item(item) for item in shown)}")
        else:
            lines.append(f"{attribute}: {_value(shown)}")
    return lines


def _item(item: Any) -> str:
    """One member of a set-valued attribute: a customer-managed policy as ``/path/name``."""
    if isinstance(item, Mapping) and set(item) == {"name", "path"}:
        return f"{item['path']}{item['name']}"
    return _value(item)


def diff_lines(diff: Iterable[AttributeChange]) -> list[str]:
    """The lines of an update's attribute diff (see the module docstring)."""
    lines: list[str] = []
    for change in diff:
        if change.added or change.removed:
            parts = [f"+{item}" for item in change.added] + [f"-{item}" for item in change.removed]
            lines.append(f"{change.attribute}: {', '.join(parts)}")
        elif change.attribute == "inline_policy":
            lines.append(f"{change.attribute}:{_statement_summary(change.old, change.new)}")
            lines.extend(_unified(_policy_or_none(change.old), _policy_or_none(change.new)))
        elif change.attribute == "session_duration":
            lines.append(f"{change.attribute}: {_duration(change.old)} → {_duration(change.new)}")
        elif _is_long_text(change.old) or _is_long_text(change.new):
            lines.append(f"{change.attribute}:")
            lines.extend(_text_diff(change.old, change.new))
        else:
            lines.append(f"{change.attribute}: {_value(change.old)} → {_value(change.new)}")
    return lines


def _duration(value: Any) -> str:
    return f"{value} ({human_duration(value)})" if isinstance(value, str) else _value(value)


def _policy_or_none(document: Any) -> list[str]:
    return [] if document is None else policy_lines(document)


def _unified(old: list[str], new: list[str]) -> list[str]:
    """``old`` to ``new`` as a unified diff without its file headers, indented."""
    diff = difflib.unified_diff(old, new, lineterm="", n=_CONTEXT_LINES)
    return [_INDENT + line for line in diff if not line.startswith(("---", "+++"))]


def _is_long_text(value: Any) -> bool:
    return isinstance(value, str) and (len(value) > LONG_VALUE_CHARS or "\n" in value)


def _text_diff(old: Any, new: Any) -> list[str]:
    """A long or multi-line string attribute's change: the whole old and new values on lines of
    their own (``- old``, ``+ new``), or a line-level diff when either has several lines."""
    old_lines, new_lines = _text_lines(old), _text_lines(new)
    if len(old_lines) <= 1 and len(new_lines) <= 1:
        return [
            *(f"{_INDENT}- {_value(line)}" for line in old_lines or ["(none)"]),
            *(f"{_INDENT}+ {_value(line)}" for line in new_lines or ["(none)"]),
        ]
    return _unified(old_lines, new_lines)


def _text_lines(value: Any) -> list[str]:
    """A string attribute's lines, each made printable; none for no value."""
    if value is None:
        return []
    if not isinstance(value, str):
        return [_value(value)]
    return [_value(line) for line in value.splitlines()]


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        # A value on one line: a newline or carriage return in a description would otherwise
        # start what looks like another line of the plan.
        return value if value.isprintable() else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, sort_keys=True)
