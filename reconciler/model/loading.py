"""Parse one revision of the desired-state folder into validated documents.

Pure: ``load_documents`` takes the folder's files as ``{relative path: bytes}`` and returns
``Documents`` or raises ``InvalidRevisionError`` with every problem found, each naming the file
and the JSON path. Checks that need only the files happen here (JSON syntax with line and
column, the per-file models, names declared twice, references between declared objects);
checks against live state (accounts, existing users and groups) happen in
``reconciler.model.resolving``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model import documents as docs
from reconciler.model.limits import POLICIES_WARN_ABOVE

RECONCILER_FILE = "reconciler.json"
USERS_FILE = "users.json"
GROUPS_FILE = "groups.json"
ASSIGNMENTS_FILE = "assignments.json"
PERMISSION_SETS_DIR = "permission-sets"

_TOP_LEVEL = (RECONCILER_FILE, USERS_FILE, GROUPS_FILE, ASSIGNMENTS_FILE)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True, kw_only=True)
class Located(Generic[T]):
    """A value with the file and JSON path it was declared at."""

    value: T
    file: str
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Documents:
    """The validated content of one revision, every object located in its file.

    ``warnings`` are problems that do not stop the revision (for example more policies on a
    set than IAM's default per-role quota allows).
    """

    config: docs.ReconcilerFile
    users: tuple[Located[docs.User], ...]
    groups: tuple[Located[docs.Group], ...]
    permission_sets: tuple[Located[docs.PermissionSetFile], ...]
    assignments: tuple[Located[docs.Assignment], ...]
    warnings: tuple[Problem, ...] = ()


def json_path(location: Iterable[int | str]) -> str:
    """A pydantic error location as JSONPath: ``('users', 0, 'email')`` → ``$.users[0].email``."""
    path = "$"
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier() or part.replace("-", "_").isidentifier():
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def parse_json(file: str, content: bytes) -> tuple[Any, list[Problem]]:
    """Parse ``content`` as JSON; on failure return a problem with line and column (1-based)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [
            Problem(
                file=file,
                path="$",
                rule="encoding",
                message=f"not UTF-8 text (byte {exc.start}): save the file as UTF-8",
            )
        ]
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys), []
    except _DuplicateKeyError as exc:
        return None, [
            Problem(
                file=file,
                path="$",
                rule="duplicate_key",
                message=f"key {exc.args[0]!r} appears twice in one object; keep one",
            )
        ]
    except json.JSONDecodeError as exc:
        hint = ""
        before = text[: exc.pos].rstrip()
        if before.endswith(",") and text[exc.pos : exc.pos + 1] in "]}":
            hint = " (a trailing comma before a closing bracket is not allowed in JSON)"
        return None, [
            Problem(
                file=file,
                path="$",
                rule="json_syntax",
                message=f"invalid JSON: {exc.msg}{hint}",
                line=exc.lineno,
                column=exc.colno,
            )
        ]


_PLAIN_TYPE_MESSAGES = {
    "model_type": "expected a JSON object ({...})",
    "model_attributes_type": "expected a JSON object ({...})",
    "dict_type": "expected a JSON object ({...})",
    "list_type": "expected a JSON array ([...])",
    "string_type": "expected a string",
    "bool_type": "expected true or false (without quotes)",
    "timezone_aware": "give the time with its zone, e.g. 2026-12-31T18:00:00+01:00 or ...Z",
}
"""pydantic's wording for a wrong JSON type, rephrased for people editing JSON files."""


def _validate(file: str, data: Any, model: type[M]) -> tuple[M | None, list[Problem]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key; check its spelling against the documented format"
            elif error["type"] == "missing":
                message = "required key is missing"
            elif error["type"] in _PLAIN_TYPE_MESSAGES:
                message = _PLAIN_TYPE_MESSAGES[error["type"]]
            problems.append(
                Problem(
                    file=file, path=json_path(error["loc"]), rule=error["type"], message=message
                )
            )
        return None, problems


def _load_file(
    files: Mapping[str, bytes], file: str, model: type[M], problems: list[Problem]
) -> M | None:
    if file not in files:
        return None
    data, syntax = parse_json(file, files[file])
    problems.extend(syntax)
    if syntax:
        return None
    document, invalid = _validate(file, data, model)
    problems.extend(invalid)
    return document


def _locate(file: str, key: str, items: Iterable[T]) -> tuple[Located[T], ...]:
    return tuple(
        Located(value=item, file=file, path=f"$.{key}[{index}]") for index, item in enumerate(items)
    )


def _duplicates(
    items: Iterable[Located[T]], name: Callable[[T], str], what: str, field: str
) -> list[Problem]:
    seen: dict[str, Located[T]] = {}
    problems = []
    for item in items:
        key = name(item.value)
        first = seen.setdefault(key, item)
        if first is not item:
            problems.append(
                Problem(
                    file=item.file,
                    path=f"{item.path}{field}",
                    rule=f"duplicate_{what}",
                    message=f"{what.replace('_', ' ')} {key!r} is already declared in "
                    f"{first.file} at {first.path} (names are compared ignoring case where "
                    "AWS does)",
                )
            )
    return problems


_NOT_EMPTY = "a missing file is never read as empty, so losing it cannot delete what it declared"
_EXTERNAL = 'or set "identities": "external" in reconciler.json, where it must be absent'
_MISSING = {
    RECONCILER_FILE: "required file is missing: it says what may be pruned (by default "
    "assignments, memberships and permission sets); write {} to take the defaults",
    USERS_FILE: f'required file is missing: write {{"users": []}} to declare none ({_NOT_EMPTY}), '
    f"{_EXTERNAL}",
    GROUPS_FILE: f'required file is missing: write {{"groups": []}} to declare none '
    f"({_NOT_EMPTY}), {_EXTERNAL}",
    ASSIGNMENTS_FILE: f'required file is missing: write {{"assignments": []}} to declare none '
    f"({_NOT_EMPTY})",
}
"""Why each required file must be there, and what to write to declare nothing."""


def _missing_files(files: Mapping[str, bytes], config: docs.ReconcilerFile | None) -> list[Problem]:
    """One problem per required file that is missing.

    ``reconciler.json`` (its defaults prune assignments, memberships and permission sets) and
    ``assignments.json`` are always required; ``users.json`` and ``groups.json`` with managed
    identities (the default, so also when ``reconciler.json`` is missing; not checked when it
    is invalid). A missing file would otherwise read as "delete everything it declared".
    """
    required = [RECONCILER_FILE, ASSIGNMENTS_FILE]
    identities = config.identities if config is not None else None
    if identities == "managed" or (identities is None and RECONCILER_FILE not in files):
        required += [USERS_FILE, GROUPS_FILE]
    return [
        Problem(file=file, path="$", rule="missing_file", message=_MISSING[file])
        for file in sorted(required)
        if file not in files
    ]


def _is_permission_set_file(file: str) -> bool:
    """True for ``permission-sets/<Name>.json`` (not for files in folders below it)."""
    return (
        file.startswith(f"{PERMISSION_SETS_DIR}/")
        and file.count("/") == 1
        and file.endswith(".json")
    )


def load_documents(files: Mapping[str, bytes]) -> Documents:
    """Validate one revision of the desired-state folder.

    ``files`` maps paths relative to the folder (``users.json``, ``permission-sets/Admin.json``)
    to their bytes; files that are not JSON are ignored. Returns the ``Documents``; raises
    ``InvalidRevisionError`` listing every problem when anything is wrong.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for file in sorted(files):
        if not file.endswith(".json"):
            continue
        if not (file in _TOP_LEVEL or _is_permission_set_file(file)):
            problems.append(
                Problem(
                    file=file,
                    path="$",
                    rule="unknown_file",
                    message=f"not a desired-state file; expected {', '.join(_TOP_LEVEL)} "
                    f"or {PERMISSION_SETS_DIR}/<Name>.json",
                )
            )

    config = _load_file(files, RECONCILER_FILE, docs.ReconcilerFile, problems)
    users_file = _load_file(files, USERS_FILE, docs.UsersFile, problems)
    groups_file = _load_file(files, GROUPS_FILE, docs.GroupsFile, problems)
    assignments_file = _load_file(files, ASSIGNMENTS_FILE, docs.AssignmentsFile, problems)

    problems.extend(_missing_files(files, config))

    if config is not None and config.identities == "external":
        problems.extend(
            Problem(
                file=file,
                path="$",
                rule="external_identities",
                message=f'{RECONCILER_FILE} says "identities": "external": users, groups and '
                f"memberships come from the identity provider, so {file} must not exist; "
                "delete it and reference users and groups by name in assignments",
            )
            for file in (USERS_FILE, GROUPS_FILE)
            if file in files
        )

    permission_sets: list[Located[docs.PermissionSetFile]] = []
    # Sets whose file is invalid (already reported): assignments naming them are not reported
    # again as naming an undeclared set.
    invalid_sets: set[str] = set()
    for file in sorted(files):
        if _is_permission_set_file(file):
            stem = file.removeprefix(f"{PERMISSION_SETS_DIR}/").removesuffix(".json")
            permission_set = _load_file(files, file, docs.PermissionSetFile, problems)
            if permission_set is None:
                invalid_sets.add(stem)
                data, _ = parse_json(file, files[file])
                if isinstance(data, dict) and isinstance(data.get("name"), str):
                    invalid_sets.add(data["name"])
                continue
            permission_sets.append(Located(value=permission_set, file=file, path="$"))
            if stem != permission_set.name:
                warnings.append(
                    Problem(
                        file=file,
                        path="$.name",
                        rule="file_name",
                        message=f"permission set {permission_set.name!r} is declared in a "
                        f"file named {stem!r}.json; name the file after the set",
                    )
                )
            count = len(permission_set.managed_policies) + len(
                permission_set.customer_managed_policies
            )
            if count > POLICIES_WARN_ABOVE:
                warnings.append(
                    Problem(
                        file=file,
                        path="$",
                        rule="policies_above_default_quota",
                        message=f"{count} managed policies: provisioning fails in any account "
                        f"whose IAM quota of managed policies per role is still the default "
                        f"({POLICIES_WARN_ABOVE})",
                    )
                )

    users = _locate(USERS_FILE, "users", users_file.users if users_file else ())
    groups = _locate(GROUPS_FILE, "groups", groups_file.groups if groups_file else ())
    assignments = _locate(
        ASSIGNMENTS_FILE, "assignments", assignments_file.assignments if assignments_file else ()
    )

    # The identity store keeps user names and group names unique ignoring case.
    problems += _duplicates(users, lambda user: user.user_name.casefold(), "user", ".user_name")
    problems += _duplicates(groups, lambda group: group.name.casefold(), "group", ".name")
    problems += _duplicates(
        permission_sets, lambda permission_set: permission_set.name, "permission_set", ".name"
    )
    declared_sets = {item.value.name for item in permission_sets} | invalid_sets
    for item in assignments:
        if item.value.permission_set not in declared_sets:
            problems.append(
                Problem(
                    file=item.file,
                    path=f"{item.path}.permission_set",
                    rule="unknown_permission_set",
                    message=f"permission set {item.value.permission_set!r} is not declared "
                    f"in {PERMISSION_SETS_DIR}/",
                )
            )

    if problems:
        raise InvalidRevisionError(problems)
    return Documents(
        config=config or docs.ReconcilerFile(),
        users=users,
        groups=groups,
        permission_sets=tuple(permission_sets),
        assignments=assignments,
        warnings=tuple(warnings),
    )


def is_protected(name: str, patterns: Iterable[str]) -> bool:
    """True when ``name`` matches one of the shell-style ``patterns`` (case-sensitive)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
