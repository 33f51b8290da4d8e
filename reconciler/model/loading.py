"""Parse one revision of the desired-state folder into validated documents.

Pure: ``load_documents`` takes the folder's files as ``{relative path: bytes}`` and returns
``Documents`` or raises ``InvalidRevisionError`` with every problem found, each naming the file
and the JSON path. Checks that need only the files happen here (JSON syntax with line and
column, the per-file models, names declared twice, references between declared objects);
checks against live state (accounts, existing users and groups) happen in
``reconciler.model.resolving``.

No input makes loading raise anything but ``InvalidRevisionError``: nesting is bounded
(``MAX_JSON_DEPTH``) before parsing, numbers and strings that JSON or AWS do not have are
problems, and any exception met while checking one file is a problem (``unreadable``) naming
that file, after which the other files are still checked.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import sys
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.errors import InvalidRevisionError, Problem
from reconciler.model import documents as docs
from reconciler.model.collection import collection_paused
from reconciler.model.limits import POLICIES_WARN_ABOVE
from reconciler.model.wording import suggestion_clause

RECONCILER_FILE = "reconciler.json"
USERS_FILE = "users.json"
GROUPS_FILE = "groups.json"
ASSIGNMENTS_FILE = "assignments.json"
PERMISSION_SETS_DIR = "permission-sets"
USERS_DIR = "users"
GROUPS_DIR = "groups"
ASSIGNMENTS_DIR = "assignments"
ACCESS_CONTROL_ATTRIBUTES_FILE = "access-control-attributes.json"
"""Optional: absent, the instance's attributes for access control are left alone."""

_TOP_LEVEL: tuple[str, ...] = (RECONCILER_FILE, USERS_FILE, GROUPS_FILE, ASSIGNMENTS_FILE)
_TOP_LEVEL += (ACCESS_CONTROL_ATTRIBUTES_FILE,)  # optional (see ``_missing_files``)

SPLIT_FOLDERS: Mapping[str, str] = {
    USERS_FILE: USERS_DIR,
    GROUPS_FILE: GROUPS_DIR,
    ASSIGNMENTS_FILE: ASSIGNMENTS_DIR,
}
"""Single file → the folder that may hold the same kind split into many files.

``users/<any>.json``, ``groups/<any>.json`` and ``assignments/<any>.json`` have the format of
the single file (``{"users": [...]}``...), directly in the folder (not in folders below it, as
for ``permission-sets/``), so that CODEOWNERS can give each team its own file. Both forms may
coexist; the entries of every file of a kind are one list (the single file first, then the
folder's files by name), and a user or group declared twice, in one file or two, is a problem
naming both files."""

MAX_FILES_PER_FOLDER = 1_000
"""Most ``*.json`` files one split folder (``users/``...) may hold: a folder with more is a
``too_many_files`` problem and none of its files is loaded. (The source adapter's read limits,
10,000 entries and 64 MiB for the whole desired-state folder, bound what is read at all.)"""

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
    invalid_names: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    """Only in documents returned with problems (``check_documents``): the names declared by
    entries that did not validate, by kind (``"user"``, ``"group"``), so that resolution does
    not report references to them as unknown; ``None`` for a kind whose file could not be read
    at all (no reference of that kind can be checked)."""
    access_control_attributes: tuple[Located[docs.AccessControlAttribute], ...] | None = None
    """The attributes of ``access-control-attributes.json``; None when the file is absent (the
    live configuration is then left alone), ``()`` when it declares none."""


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


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a desired-state file may have (``{"a": [1]}`` is 2).

The deepest legitimate file (an inline policy's ``Statement`` → ``Condition`` → operator →
key → values) nests 7 levels; the limit is checked by a scan of the text before parsing, so a
file nested thousands deep is a ``json_depth`` problem instead of a ``RecursionError``.
"""

_STRUCTURE = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]', re.DOTALL)
"""A JSON string (skipped whole, escapes included) or one bracket."""

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters other than tab, line feed and carriage return, refused in every string
and key: no sso-admin, identitystore or Organizations pattern accepts C0 controls, only the
policy document pattern accepts DEL and C1 (no policy needs them), and printed in a plan, a
report or a pull-request comment they could drive the reader's terminal."""

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _DuplicateKeyError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _NonStandardNumber:
    """Stands in, while parsing, for a number JSON does not have or Python cannot hold:
    ``NaN``, ``Infinity``, ``-Infinity``, a float beyond ±1.8e308, an integer longer than
    ``sys.get_int_max_str_digits()``. Found afterwards by ``_value_problems`` with its path."""

    text: str


def _constant(text: str) -> _NonStandardNumber:
    return _NonStandardNumber(text)


def _float(text: str) -> float | _NonStandardNumber:
    value = float(text)
    return value if math.isfinite(value) else _NonStandardNumber(text)


def _int(text: str) -> int | _NonStandardNumber:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return _NonStandardNumber(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # a key repeated: name the first one repeated
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


def _line_and_column(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - text.rfind("\n", 0, position)


_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
"""A JSON string, escapes included: ``_STRUCTURE`` without the brackets."""
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"[\[{][\]}]")


def _within_depth(text: str) -> bool:
    """True when ``_depth_scan`` would find no bracket deeper than ``MAX_JSON_DEPTH``, decided
    with a few passes of regular expressions instead of a Python step per string and bracket
    (a 100,000-assignment file holds 300,000 strings).

    The brackets outside strings (the tokens ``_depth_scan`` counts: strings are skipped the
    same way, left to right) are kept alone; each pass removes every adjacent opening and
    closing pair, which empties a sequence nested ``d`` deep in exactly ``d`` passes. Anything
    left after ``MAX_JSON_DEPTH`` passes (deeper nesting, or brackets that do not balance)
    answers False, and the scan decides."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return True
        brackets = _INNERMOST.sub("", brackets)
    return not brackets


def _depth_problem(file: str, text: str) -> Problem | None:
    """A ``json_depth`` problem, at the first bracket nested deeper than ``MAX_JSON_DEPTH`` and
    naming the deepest nesting found; ``None`` when the file stays within the limit.

    No parse, no recursion: linear in the text, whatever the nesting."""
    if _within_depth(text):
        return None
    return _depth_scan(file, text)


def _depth_scan(file: str, text: str) -> Problem | None:
    """``_depth_problem`` by a scan of every string and bracket."""
    depth = deepest = 0
    first_too_deep: int | None = None
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH and first_too_deep is None:
                first_too_deep = match.start()
        elif token in ("]", "}"):
            depth -= 1
    if first_too_deep is None:
        return None
    line, column = _line_and_column(text, first_too_deep)
    return Problem(
        file=file,
        path="$",
        rule="json_depth",
        message=f"arrays and objects nested {deepest} deep; at most {MAX_JSON_DEPTH} levels "
        "are allowed (no desired-state file needs more)",
        line=line,
        column=column,
    )


def _string_problem(file: str, path: str, text: str, what: str) -> Problem | None:
    surrogate = _LONE_SURROGATE.search(text)
    if surrogate is not None:
        return Problem(
            file=file,
            path=path,
            rule="json_string",
            message=f"{what} holds a lone surrogate \\u{ord(surrogate.group()):04x}, which is "
            "not a character and cannot be sent to AWS; write the character itself or its "
            "complete surrogate pair",
        )
    control = _CONTROL_CHARACTERS.search(text)
    if control is not None:
        return Problem(
            file=file,
            path=path,
            rule="control_character",
            message=f"{what} holds the control character U+{ord(control.group()):04X}; "
            "remove it (tab, line feed and carriage return are the only ones allowed)",
        )
    return None


def _value_problems(file: str, data: Any) -> list[Problem]:
    """Numbers JSON does not have and strings AWS cannot take, anywhere in ``data``, in
    document order (at most ``_MAX_VALUE_PROBLEMS``).

    Walks with an explicit stack, not recursion; ``data`` is already bounded in depth."""
    problems: list[Problem] = []
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    while stack and len(problems) < _MAX_VALUE_PROBLEMS:
        location, value = stack.pop()
        problem: Problem | None = None
        if isinstance(value, _NonStandardNumber):
            shown = value.text if len(value.text) <= 40 else value.text[:40] + "…"
            problem = Problem(
                file=file,
                path=json_path(location),
                rule="json_number",
                message=f"{shown} is not a number JSON and AWS accept: no NaN or Infinity, "
                f"at most ±1.8e308, at most {sys.get_int_max_str_digits()} digits",
            )
        elif isinstance(value, str):
            problem = _string_problem(file, json_path(location), value, "the string")
        elif isinstance(value, dict):
            for key in value:
                key_problem = _string_problem(file, json_path((*location, key)), key, "the key")
                if key_problem is not None:
                    problems.append(key_problem)
            stack.extend(((*location, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(
                ((*location, index), item) for index, item in reversed(list(enumerate(value)))
            )
        if problem is not None:
            problems.append(problem)
    return problems[:_MAX_VALUE_PROBLEMS]


_MAX_VALUE_PROBLEMS = 100
"""At most this many number and string problems are reported per file."""


def parse_json(file: str, content: bytes) -> tuple[Any, list[Problem]]:
    """Parse ``content`` as a desired-state file's JSON; never raises.

    Returns ``(value, [])``, or ``(None, problems)`` when the file is not UTF-8 (``encoding``),
    not JSON (``json_syntax``, with line and column, 1-based), repeats a key in one object
    (``duplicate_key``), nests deeper than ``MAX_JSON_DEPTH`` (``json_depth``), holds a number
    JSON or AWS does not have (``json_number``: NaN, Infinity, out of range), a lone surrogate
    (``json_string``) or a control character (``control_character``), or cannot be parsed for
    any other reason (``unreadable``).
    """
    try:
        return _parse_json(file, content)
    except Exception as exc:  # any input must give a problem, never a traceback
        return None, [_unreadable(file, "$", exc)]


def _parse_json(file: str, content: bytes) -> tuple[Any, list[Problem]]:
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
    too_deep = _depth_problem(file, text)
    if too_deep is not None:
        return None, [too_deep]
    numbers = _Numbers()
    try:
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=numbers.constant,
            parse_float=numbers.float,
            parse_int=numbers.int,
        )
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
    if not numbers.found and not _may_hold_bad_string(text):
        return data, []  # nothing _value_problems could find: skip the walk
    problems = _value_problems(file, data)
    return (None, problems) if problems else (data, [])


_SUSPECT_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SUSPECT_ESCAPE = re.compile(r"\\[bfu]")


def _may_hold_bad_string(text: str) -> bool:
    """False when no string or key parsed from ``text`` can hold a lone surrogate or a refused
    control character (so ``_value_problems`` would find no string problem).

    Suspect are: a control character written as itself, a surrogate (UTF-8 decoding never
    yields one, but the text may come from elsewhere), and an escape that decodes to one of
    them (``\\b``, ``\\f``, ``\\uXXXX``). An escaped backslash before ``b``, ``f`` or ``u`` is
    suspect too: a false alarm only costs the walk."""
    if _SUSPECT_CHARACTER.search(text) is not None:
        return True
    return "\\" in text and _SUSPECT_ESCAPE.search(text) is not None


class _Numbers:
    """The parse hooks for numbers, remembering whether any stood in for one JSON or Python
    does not have (``_NonStandardNumber``)."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        self.found = False

    def constant(self, text: str) -> _NonStandardNumber:
        self.found = True
        return _constant(text)

    def float(self, text: str) -> float | _NonStandardNumber:
        value = _float(text)
        self.found = self.found or isinstance(value, _NonStandardNumber)
        return value

    def int(self, text: str) -> int | _NonStandardNumber:
        value = _int(text)
        self.found = self.found or isinstance(value, _NonStandardNumber)
        return value


def _unreadable(file: str, path: str, exc: BaseException) -> Problem:
    """The problem reported for an exception no rule foresaw while checking ``file``."""
    detail = str(exc)
    if len(detail) > 200:
        detail = detail[:200] + "…"
    return Problem(
        file=file,
        path=path,
        rule="unreadable",
        message=f"could not be checked ({type(exc).__name__}: {detail}); nothing from this "
        "revision is applied. Simplify the file, and report it if it looks valid",
    )


_PLAIN_TYPE_MESSAGES = {
    "model_type": "expected a JSON object ({...})",
    "model_attributes_type": "expected a JSON object ({...})",
    "dict_type": "expected a JSON object ({...})",
    "list_type": "expected a JSON array ([...])",
    "string_type": "expected a string",
    "bool_type": "expected true or false (without quotes)",
    "int_type": "expected a whole number (without quotes or a decimal point)",
    "float_type": "expected a number (without quotes)",
    "timezone_aware": "give the time with its zone, e.g. 2026-12-31T18:00:00+01:00 or ...Z",
}
"""pydantic's wording for a wrong JSON type, rephrased for people editing JSON files."""


def _validate(file: str, data: Any, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Validate parsed ``data`` against ``model``; never raises (see ``_unreadable``)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = _unknown_key_message(model, error["loc"])
            elif error["type"] == "missing" and error["loc"]:
                message = f"required key {str(error['loc'][-1])!r} is missing"
            elif error["type"] in _PLAIN_TYPE_MESSAGES:
                message = _PLAIN_TYPE_MESSAGES[error["type"]]
            problems.append(
                Problem(
                    file=file, path=json_path(error["loc"]), rule=error["type"], message=message
                )
            )
        return None, problems
    except Exception as exc:  # a validator meeting input no rule foresaw must not crash
        return None, [_unreadable(file, "$", exc)]


def _unknown_key_message(model: type[BaseModel], location: tuple[int | str, ...]) -> str:
    """The message for an unknown key at ``location`` in a file of ``model``: the keys allowed
    there, with the closest one suggested (``"unknown key 'acounts'; did you mean
    'accounts'? ..."``)."""
    key = str(location[-1]) if location else ""
    allowed = _allowed_keys(model, location[:-1])
    if not allowed:
        return f"unknown key {key!r}; check its spelling against the documented format"
    return f"unknown key {key!r}" + suggestion_clause(
        key, allowed, kind="allowed key", max_listed=20
    )


def _allowed_keys(model: type[BaseModel], location: tuple[int | str, ...]) -> list[str]:
    """The keys the object at ``location`` (a pydantic error location, below ``model``) may
    hold: its model's field names or aliases; ``[]`` when no model is found there."""
    annotation: Any = model
    for part in location:
        annotation = _object_type(annotation, item=isinstance(part, int))
        if annotation is None:
            return []
        if isinstance(part, str):
            fields = annotation.model_fields
            by_key = {info.alias or name: info for name, info in fields.items()}
            info = by_key.get(part)
            if info is None:
                return []
            annotation = info.annotation
    annotation = _object_type(annotation, item=False)
    if annotation is None:
        return []
    return [info.alias or name for name, info in annotation.model_fields.items()]


def _object_type(annotation: Any, *, item: bool) -> Any:
    """The model class ``annotation`` stands for (unwrapping ``Annotated`` and ``X | None``;
    with ``item``, the items of a ``list``), else ``None``."""
    for _ in range(8):  # annotations nest a few levels at most
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return None if item else annotation
        origin = typing.get_origin(annotation)
        arguments = typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation = arguments[0]
        elif origin is list and item and arguments:
            annotation, item = arguments[0], False
        elif arguments and origin is not list and origin is not dict:  # a union
            models = [each for each in arguments if _object_type(each, item=item) is not None]
            if len(models) != 1:
                return None
            annotation = models[0]
        else:
            return None
    return None


def _load_file(
    files: Mapping[str, bytes], file: str, model: type[M], problems: list[Problem]
) -> M | None:
    """Parse and validate one file; its problems are added to ``problems``. Never raises:
    whatever goes wrong is a problem naming ``file``, and the other files are still checked."""
    if file not in files:
        return None
    try:
        data, syntax = parse_json(file, files[file])
        problems.extend(syntax)
        if syntax:
            return None
        document, invalid = _validate(file, data, model)
    except Exception as exc:  # pragma: no cover - parse_json and _validate catch their own
        problems.append(_unreadable(file, "$", exc))
        return None
    problems.extend(invalid)
    return document


def load_config(files: Mapping[str, bytes]) -> docs.ReconcilerFile | None:
    """The ``reconciler.json`` of a revision's files alone, or ``None`` when it is absent or
    not valid: for reading another revision's deletion-guard limits (the other files of that
    revision may follow an older format, and do not matter here). Never raises."""
    problems: list[Problem] = []
    config = _load_file(files, RECONCILER_FILE, docs.ReconcilerFile, problems)
    return None if problems else config


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
            written = str(getattr(item.value, field.lstrip(".")))
            earlier = str(getattr(first.value, field.lstrip(".")))
            spelling = "" if earlier == written else f" as {earlier!r}"
            problems.append(
                Problem(
                    file=item.file,
                    path=f"{item.path}{field}",
                    rule=f"duplicate_{what}",
                    message=f"{what.replace('_', ' ')} {written!r} is already declared{spelling} "
                    f"in {first.file} at {first.path} (names are compared ignoring case where "
                    "AWS does)",
                )
            )
    return problems


_NOT_EMPTY = "a missing file is never read as empty, so losing it cannot delete what it declared"
_EXTERNAL = 'or set "identities": "external" in reconciler.json, where it must be absent'
_MISSING = {
    RECONCILER_FILE: "required file is missing: it says what may be pruned (by default "
    "assignments, memberships and permission sets); write {} to take the defaults",
    USERS_FILE: f"required file is missing (nor is any file in {USERS_DIR}/): write "
    f'{{"users": []}} to declare none ({_NOT_EMPTY}), {_EXTERNAL}',
    GROUPS_FILE: f"required file is missing (nor is any file in {GROUPS_DIR}/): write "
    f'{{"groups": []}} to declare none ({_NOT_EMPTY}), {_EXTERNAL}',
    ASSIGNMENTS_FILE: f"required file is missing (nor is any file in {ASSIGNMENTS_DIR}/): "
    f'write {{"assignments": []}} to declare none ({_NOT_EMPTY})',
}
"""Why each required file must be there, and what to write to declare nothing."""


def _declared(files: Mapping[str, bytes], single: str) -> bool:
    """Whether the revision declares the kind of ``single`` (``users.json``): the file itself,
    or for a kind that may be split, at least one file of its folder."""
    folder = SPLIT_FOLDERS.get(single)
    return single in files or (
        folder is not None and any(_is_split_file(file, folder) for file in files)
    )


def _missing_files(files: Mapping[str, bytes], config: docs.ReconcilerFile | None) -> list[Problem]:
    """One problem per required file that is missing.

    ``reconciler.json`` (its defaults prune assignments, memberships and permission sets) and
    ``assignments.json`` are always required; ``users.json`` and ``groups.json`` with managed
    identities (the default, so also when ``reconciler.json`` is missing; not checked when it
    is invalid). A missing file would otherwise read as "delete everything it declared". A
    kind that may be split (``SPLIT_FOLDERS``) is there when its single file or at least one
    file of its folder is.
    """
    required = [RECONCILER_FILE, ASSIGNMENTS_FILE]
    identities = config.identities if config is not None else None
    if identities == "managed" or (identities is None and RECONCILER_FILE not in files):
        required += [USERS_FILE, GROUPS_FILE]
    return [
        Problem(file=file, path="$", rule="missing_file", message=_MISSING[file])
        for file in sorted(required)
        if not _declared(files, file)
    ]


def _unknown_file_hint(file: str) -> str:
    """The end of an ``unknown_file`` message: the closest required file for a file at the
    top of the folder, where permission-set files go for one in a folder below
    ``permission-sets/``."""
    if "/" not in file:
        return suggestion_clause(file, _TOP_LEVEL, kind="file", max_listed=0)
    for folder, what in (
        (PERMISSION_SETS_DIR, "a permission-set file"),
        *((folder, f"a {single} file") for single, folder in SPLIT_FOLDERS.items()),
    ):
        if file.startswith(f"{folder}/"):
            return f"; {what} goes directly in {folder}/, not in a folder below it"
    return ""


def _is_split_file(file: str, folder: str) -> bool:
    """True for ``<folder>/<any>.json`` (not for files in folders below it)."""
    return file.startswith(f"{folder}/") and file.count("/") == 1 and file.endswith(".json")


def _is_desired_state_file(file: str) -> bool:
    return (
        file in _TOP_LEVEL
        or _is_permission_set_file(file)
        or any(_is_split_file(file, folder) for folder in SPLIT_FOLDERS.values())
    )


def _is_permission_set_file(file: str) -> bool:
    """True for ``permission-sets/<Name>.json`` (not for files in folders below it)."""
    return (
        file.startswith(f"{PERMISSION_SETS_DIR}/")
        and file.count("/") == 1
        and file.endswith(".json")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entries(Generic[T]):
    """The entries of one list file that validated, located at their own index, and the names
    declared by those that did not (``None``: the file could not be read as a list at all)."""

    items: tuple[Located[T], ...]
    invalid_names: frozenset[str] | None


def _load_entries(
    files: Mapping[str, bytes],
    file: str,
    *,
    model: type[BaseModel],
    key: str,
    entry: type[M],
    name_key: str,
    problems: list[Problem],
) -> _Entries[M]:
    """Load list file ``file`` (``{key: [entry, ...]}``) entry by entry: its problems are added
    to ``problems`` as ``_load_file`` reports them, and when the file as a whole is not valid,
    the entries that are still are kept, so that the checks across files (names declared twice,
    references) and resolution run on them. Never raises."""
    if file not in files:
        return _Entries(items=(), invalid_names=frozenset())
    document = _load_file(files, file, model, problems)
    if document is not None:
        items = tuple(getattr(document, key))
        return _Entries(items=_locate(file, key, items), invalid_names=frozenset())
    try:
        data, syntax = parse_json(file, files[file])
        if syntax or not isinstance(data, dict) or not isinstance(data.get(key), list):
            return _Entries(items=(), invalid_names=None)
        kept: list[Located[M]] = []
        invalid: set[str] = set()
        for index, raw in enumerate(data[key]):
            value, entry_problems = _validate(file, raw, entry)
            if value is not None and not entry_problems:
                kept.append(Located(value=value, file=file, path=f"$.{key}[{index}]"))
            elif isinstance(raw, dict) and isinstance(raw.get(name_key), str):
                invalid.add(raw[name_key])
        return _Entries(items=tuple(kept), invalid_names=frozenset(invalid))
    except Exception:  # pragma: no cover - parse_json and _validate catch their own
        return _Entries(items=(), invalid_names=None)


def _load_kind(
    files: Mapping[str, bytes],
    single: str,
    *,
    model: type[BaseModel],
    key: str,
    entry: type[M],
    name_key: str,
    problems: list[Problem],
) -> _Entries[M]:
    """Load every file of one kind: ``single`` (``users.json``) and the files of its folder
    (``users/*.json``, ``SPLIT_FOLDERS``), each as ``_load_entries`` does, as one list of
    entries, each located in its own file. A folder of more than ``MAX_FILES_PER_FOLDER``
    files is a ``too_many_files`` problem and none of them is loaded. Never raises."""
    folder = SPLIT_FOLDERS[single]
    split = sorted(file for file in files if _is_split_file(file, folder))
    if len(split) > MAX_FILES_PER_FOLDER:
        problems.append(
            Problem(
                file=f"{folder}/",
                path="$",
                rule="too_many_files",
                message=f"{len(split)} files in {folder}/; at most {MAX_FILES_PER_FOLDER} are "
                f"read, so none of them was: merge files (one per team is the intended use)",
            )
        )
        split = []
        unread = True
    else:
        unread = False
    items: list[Located[M]] = []
    invalid: set[str] | None = set()
    for file in ([single] if single in files else []) + split:
        entries: _Entries[M] = _load_entries(
            files, file, model=model, key=key, entry=entry, name_key=name_key, problems=problems
        )
        items.extend(entries.items)
        if entries.invalid_names is None or invalid is None:
            invalid = None
        else:
            invalid |= entries.invalid_names
    return _Entries(
        items=tuple(items),
        invalid_names=None if unread or invalid is None else frozenset(invalid),
    )


def load_documents(files: Mapping[str, bytes]) -> Documents:
    """Validate one revision of the desired-state folder.

    ``files`` maps paths relative to the folder (``users.json``, ``permission-sets/Admin.json``)
    to their bytes; files that are not JSON are ignored. Returns the ``Documents``; raises
    ``InvalidRevisionError`` listing every problem when anything is wrong.
    """
    documents, problems = check_documents(files)
    if problems:
        raise InvalidRevisionError(problems)
    return documents


@collection_paused
def check_documents(files: Mapping[str, bytes]) -> tuple[Documents, tuple[Problem, ...]]:
    """Validate one revision as far as it goes: ``(documents, problems)``; never raises.

    With no problems, ``documents`` is what ``load_documents`` returns. With problems, it holds
    what did validate (the valid entries of a file with invalid ones, the valid permission-set
    files; ``invalid_names`` says what was left out), so that validation can go on to resolve
    it against live state and report every problem of the revision in one run. Such documents
    must never be planned or applied.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for file in sorted(files):
        if not file.endswith(".json"):
            continue
        if not _is_desired_state_file(file):
            folders = ", ".join(f"{folder}/" for folder in SPLIT_FOLDERS.values())
            problems.append(
                Problem(
                    file=file,
                    path="$",
                    rule="unknown_file",
                    message=f"not a desired-state file; expected {', '.join(_TOP_LEVEL)}, "
                    f"{PERMISSION_SETS_DIR}/<Name>.json or files directly in {folders}"
                    + _unknown_file_hint(file),
                )
            )

    config = _load_file(files, RECONCILER_FILE, docs.ReconcilerFile, problems)
    user_entries = _load_kind(
        files,
        USERS_FILE,
        model=docs.UsersFile,
        key="users",
        entry=docs.User,
        name_key="user_name",
        problems=problems,
    )
    group_entries = _load_kind(
        files,
        GROUPS_FILE,
        model=docs.GroupsFile,
        key="groups",
        entry=docs.Group,
        name_key="name",
        problems=problems,
    )
    assignment_entries = _load_kind(
        files,
        ASSIGNMENTS_FILE,
        model=docs.AssignmentsFile,
        key="assignments",
        entry=docs.Assignment,
        name_key="permission_set",
        problems=problems,
    )

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
            for file in sorted(files)
            if file in (USERS_FILE, GROUPS_FILE)
            or _is_split_file(file, USERS_DIR)
            or _is_split_file(file, GROUPS_DIR)
        )

    permission_sets: list[Located[docs.PermissionSetFile]] = []
    # Sets whose file is invalid (already reported): assignments naming them are not reported
    # again as naming an undeclared set.
    invalid_sets: set[str] = set()
    # The file stem of each valid set whose name differs from it: an assignment naming the
    # stem is told which name the file declares.
    misnamed: dict[str, Located[docs.PermissionSetFile]] = {}
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
            located = Located(value=permission_set, file=file, path="$")
            permission_sets.append(located)
            if stem != permission_set.name:
                misnamed[stem] = located
                warnings.append(
                    Problem(
                        file=file,
                        path="$.name",
                        rule="file_name",
                        message=f"permission set {permission_set.name!r} is declared in "
                        f"{file}; name the file {permission_set.name}.json, after the set",
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

    users = user_entries.items
    groups = group_entries.items
    assignments = assignment_entries.items
    access_control_attributes = _load_access_control_attributes(files, problems)

    # The identity store keeps user names and group names unique ignoring case.
    problems += _duplicates(users, lambda user: user.user_name.casefold(), "user", ".user_name")
    problems += _duplicates(groups, lambda group: group.name.casefold(), "group", ".name")
    problems += _duplicates(
        permission_sets, lambda permission_set: permission_set.name, "permission_set", ".name"
    )
    declared_sets = {item.value.name for item in permission_sets} | invalid_sets
    for item in assignments:
        name = item.value.permission_set
        if name not in declared_sets:
            problems.append(_unknown_permission_set(item, misnamed.get(name), declared_sets))

    invalid_names: dict[str, frozenset[str] | None] = {}
    if problems:
        # A missing users.json or groups.json with managed identities (already a problem):
        # what it should declare is unknown, so references to its kind are not checked.
        managed = config is None or config.identities == "managed"
        invalid_names = {
            kind: None if managed and not _declared(files, file) else entries.invalid_names
            for kind, file, entries in (
                ("user", USERS_FILE, user_entries),
                ("group", GROUPS_FILE, group_entries),
            )
        }
    return (
        Documents(
            config=config or docs.ReconcilerFile(),
            users=users,
            groups=groups,
            permission_sets=tuple(permission_sets),
            assignments=assignments,
            warnings=tuple(warnings),
            invalid_names=invalid_names,
            access_control_attributes=access_control_attributes,
        ),
        tuple(problems),
    )


def _load_access_control_attributes(
    files: Mapping[str, bytes], problems: list[Problem]
) -> tuple[Located[docs.AccessControlAttribute], ...] | None:
    """The attributes of ``access-control-attributes.json``, located; None when the file is
    absent or not valid (its problems, and keys declared twice ignoring case, are added to
    ``problems``)."""
    file, key = ACCESS_CONTROL_ATTRIBUTES_FILE, "access_control_attributes"
    document = _load_file(files, file, docs.AccessControlAttributesFile, problems)
    if document is None:
        return None
    located = _locate(file, key, document.access_control_attributes)
    duplicates = _duplicates(
        located, lambda attribute: attribute.key.casefold(), "access_control_attribute", ".key"
    )
    problems.extend(duplicates)
    return None if duplicates else located


def _unknown_permission_set(
    item: Located[docs.Assignment],
    misnamed: Located[docs.PermissionSetFile] | None,
    declared: Iterable[str],
) -> Problem:
    """The problem for an assignment naming an undeclared permission set: the closest of the
    ``declared`` set names suggested; when a file is named after that set but declares another
    name, the problem names both and what to do."""
    name = item.value.permission_set
    if misnamed is None:
        message = (
            f"permission set {name!r} is not declared in {PERMISSION_SETS_DIR}/ (a set is "
            f"declared by {PERMISSION_SETS_DIR}/<Name>.json)"
            + suggestion_clause(name, declared, kind="declared permission set")
        )
    else:
        declared = misnamed.value.name
        message = (
            f"permission set {name!r} is not declared: {misnamed.file} declares the set "
            f"{declared!r} ($.name); a set is known by its name, not its file name: rename the "
            f"set to {name!r} in that file, or rename the file to {declared}.json and write "
            f"{declared!r} here"
        )
    return Problem(
        file=item.file,
        path=f"{item.path}.permission_set",
        rule="unknown_permission_set",
        message=message,
    )


def is_protected(name: str, patterns: Iterable[str]) -> bool:
    """True when ``name`` matches one of the shell-style ``patterns`` (case-sensitive)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
