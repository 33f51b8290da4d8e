"""IAM policy documents compared as documents, not strings.

Two documents that IAM evaluates the same way compare equal here, so that a policy whose keys
are reordered, whose whitespace differs, or that AWS hands back re-serialized never produces a
change. The canonical form follows the IAM JSON policy grammar
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html):

- object keys are sorted (JSON objects are unordered);
- ``Statement`` may be one object or a list of them: always a list, in a stable order
  (statement order does not affect evaluation);
- ``Action``, ``NotAction``, ``Resource``, ``NotResource`` and the values of each ``Principal``
  and ``Condition`` entry may be a string or a list of strings: always a sorted list without
  duplicates (the elements are sets in the grammar).

Everything else (``Sid``, ``Effect``, ``Version``, string case) is kept as written: the canonical
form only erases differences that the grammar defines as meaningless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from reconciler.model.state import PolicyDocument

_SET_VALUED = frozenset({"Action", "NotAction", "Resource", "NotResource"})
_SET_VALUED_MAPS = frozenset({"Principal", "NotPrincipal"})


def _as_sorted_set(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(set(value))
    return value


def _canonical_statement(statement: Any) -> Any:
    if not isinstance(statement, dict):
        return statement
    result: dict[str, Any] = {}
    for key, value in statement.items():
        if key in _SET_VALUED:
            result[key] = _as_sorted_set(value)
        elif key in _SET_VALUED_MAPS and isinstance(value, dict):
            result[key] = {name: _as_sorted_set(ids) for name, ids in value.items()}
        elif key == "Condition" and isinstance(value, dict):
            result[key] = {
                operator: (
                    {name: _as_sorted_set(v) for name, v in entries.items()}
                    if isinstance(entries, dict)
                    else entries
                )
                for operator, entries in value.items()
            }
        else:
            result[key] = value
    return result


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def canonical_policy(document: Any) -> str:
    """Return the canonical JSON text of an IAM policy document (a parsed JSON value).

    The result is compact, key-sorted JSON; two documents IAM treats as the same give the same
    text. A value that is not a policy-shaped object is canonicalized as plain JSON. Raises
    ``ValueError`` when ``document`` holds NaN or an infinity (not JSON: IAM refuses it).
    """
    if not isinstance(document, dict):
        return _dumps(document)
    result = dict(document)
    statements = result.get("Statement")
    if statements is not None:
        as_list = statements if isinstance(statements, list) else [statements]
        canonical = [_canonical_statement(statement) for statement in as_list]
        result["Statement"] = sorted(canonical, key=_dumps)
    return _dumps(result)


def policy_document(document: Any) -> PolicyDocument:
    """A ``PolicyDocument`` from a parsed JSON value, keeping the written key order for AWS.

    Raises ``ValueError`` when ``document`` holds NaN or an infinity (not JSON: IAM refuses it).
    """
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return PolicyDocument(canonical=canonical_policy(document), text=text)


def parse_policy_text(text: str) -> PolicyDocument:
    """Build a ``PolicyDocument`` from policy JSON text as AWS returns it.

    Raises ``ValueError`` when ``text`` is not JSON (``NaN`` and ``Infinity`` included).
    """
    return policy_document(json.loads(text, parse_constant=_refuse_constant))


BROAD_MANAGED_POLICIES = frozenset({"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"})
"""Names of AWS managed policies that give the run of an account (AdministratorAccess,
PowerUserAccess) or the means to take it (IAMFullAccess: create an administrator role)."""

_BROAD_ACTIONS = frozenset({"*", "*:*", "iam:*"})


def allows_broad_access(managed_policy_arns: Iterable[str], inline: PolicyDocument | None) -> bool:
    """True when a permission set's policies give the run of an account: an AWS managed policy
    named in ``BROAD_MANAGED_POLICIES`` (in any partition: ``arn:aws:iam::aws:policy/…``,
    ``arn:aws-us-gov:…``), or an inline statement that allows every action, or every IAM
    action (``"Action": "*"``, ``"*:*"``, ``"iam:*"``), or allows by ``NotAction``.

    A heuristic for highlighting in plans, not an access analysis: conditions and resources
    are not read, and a set without these can still be powerful.
    """
    if any(arn.rsplit("/", 1)[-1] in BROAD_MANAGED_POLICIES for arn in managed_policy_arns):
        return True
    if inline is None:
        return False
    document = json.loads(inline.canonical)
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            return True
        actions = statement.get("Action", [])
        if any(action in _BROAD_ACTIONS for action in _as_list(actions)):
            return True
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
