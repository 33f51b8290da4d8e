"""Reading a desired-state folder: from a commit's tree through git objects, or safely from a
disk (no link followed, regular files only, every read bounded)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from reconciler.errors import Problem, SourceError

_MODE_SYMLINK = "120000"
_MODE_GITLINK = "160000"


@dataclass(frozen=True, kw_only=True)
class ReadLimits:
    """Bounds on what one revision's desired-state folder may hold, checked before reading.

    ``file_bytes`` bounds each ``*.json`` file, ``total_bytes`` all of them together, ``entries``
    the number of entries (files, links, submodules) under the folder, ``depth`` how many
    folders deep below it anything is read (``permission-sets/Admin.json`` is one folder deep;
    no desired-state file is deeper). A revision over a bound is refused with a problem naming
    the file (the folder, ``.``, for ``entries``; the first folder too deep for ``depth``).

    ``depth`` also keeps reading a disk linear: each folder is opened from the top, one link-
    refusing step per level, so a chain of thousands of nested folders would cost a number of
    system calls growing with the square of its depth.
    """

    file_bytes: int = 5 * 1024 * 1024
    total_bytes: int = 64 * 1024 * 1024
    entries: int = 10_000
    depth: int = 16


DEFAULT_LIMITS = ReadLimits()

# -- reading a folder: from a commit's tree, or safely from a disk ------------------------------

_ENTRY_BUFFER = 64 * 1024
"""Bytes read at a time from ``git ls-tree``; also the longest entry line accepted."""


def _problem(file: str, rule: str, message: str) -> Problem:
    return Problem(file=file, path="$", rule=rule, message=message)


def _symlink(file: str) -> Problem:
    return _problem(
        file, "symlink", "symlink — a symbolic link is never followed: commit the file itself"
    )


def _submodule(file: str) -> Problem:
    return _problem(
        file,
        "submodule",
        "submodule — a submodule (or nested repository) is never read: commit its files",
    )


def _not_a_file(file: str) -> Problem:
    return _problem(
        file, "not_a_file", "not a regular file (a device, FIFO or socket) — never read"
    )


def _too_large(file: str, limits: ReadLimits) -> Problem:
    return _problem(file, "file_size", f"larger than {limits.file_bytes} bytes — never read")


def _too_much(file: str, limits: ReadLimits) -> Problem:
    return _problem(
        file,
        "total_size",
        f"the folder's files together are larger than {limits.total_bytes} bytes — not read",
    )


def _too_many(limits: ReadLimits) -> Problem:
    return _problem(
        ".",
        "too_many_entries",
        f"the folder holds more than {limits.entries} entries — none of its files is read",
    )


def _too_deep(folder: str, limits: ReadLimits) -> Problem:
    return _problem(
        folder,
        "too_deep",
        f"a folder more than {limits.depth} folders below the desired-state folder — nothing in "
        "it is read (desired-state files are at most one folder deep)",
    )


def _bad_name(file: str) -> Problem:
    return _problem(file, "file_name", "the file name is not UTF-8 — never read")


def _extension_case(file: str) -> Problem:
    return _problem(
        file,
        "file_name",
        f"ends in {file[-5:]!r}: desired-state files end in lower-case '.json', so this one "
        "would be left out unread — rename it",
    )


def _json_in_other_case(name: str) -> bool:
    """``users.JSON``, ``Admin.Json``: meant as a desired-state file, but not named like one."""
    return name.lower().endswith(".json") and not name.endswith(".json")


def read_git_tree(
    repo: git.Repo, tree: str, limits: ReadLimits
) -> tuple[dict[str, bytes], tuple[Problem, ...]]:
    """The ``*.json`` regular files under ``tree`` (a tree SHA), read as blob objects.

    Lists the tree with ``git ls-tree -r -z -l`` (modes and sizes, streamed: at most
    ``limits.entries`` entries are taken), refuses every entry that is not a regular file
    (symbolic links, submodules) and every blob over a bound from its size in the listing, then
    reads the rest through ``git cat-file --batch``.
    """
    entries = _list_tree(repo, tree, limits.entries)
    if entries is None:
        return {}, (_too_many(limits),)
    problems: list[Problem] = []
    wanted: list[tuple[str, str]] = []
    total = 0
    too_deep: set[str] = set()
    for mode, kind, obj, size, raw_name in entries:
        name = raw_name.decode("utf-8", errors="replace")
        if name.count("/") > limits.depth:
            # As on a disk: the first folder below the bound is reported, once, unread.
            folder = "/".join(name.split("/")[: limits.depth + 1])
            if folder not in too_deep:
                too_deep.add(folder)
                problems.append(_too_deep(folder, limits))
        elif mode == _MODE_SYMLINK:
            problems.append(_symlink(name))
        elif mode == _MODE_GITLINK or kind == "commit":
            problems.append(_submodule(name))
        elif kind != "blob" or not mode.startswith("100"):
            problems.append(_not_a_file(name))
        elif _json_in_other_case(name):
            problems.append(_extension_case(name))
        elif not name.endswith(".json"):
            continue
        elif name.encode() != raw_name:
            problems.append(_bad_name(name))
        elif int(size) > limits.file_bytes:
            problems.append(_too_large(name, limits))
        elif total + int(size) > limits.total_bytes:
            problems.append(_too_much(name, limits))
        else:
            total += int(size)
            wanted.append((name, obj))
    files = {name: _blob(repo, obj) for name, obj in wanted}
    return files, tuple(sorted(problems, key=lambda problem: problem.file))


def _list_tree(
    repo: git.Repo, tree: str, limit: int
) -> list[tuple[str, str, str, str, bytes]] | None:
    """``(mode, type, object, size, path)`` of every entry under ``tree``, recursively;
    ``None`` when there are more than ``limit`` (git is stopped: nothing more is read)."""
    process = repo.git.ls_tree("-r", "-z", "-l", "--full-name", tree, as_process=True)
    records: list[bytes] = []
    pending = b""
    overflow = False
    stdout = process.proc.stdout
    while True:
        chunk = stdout.read1(_ENTRY_BUFFER)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\0")
        records.extend(complete)
        if len(records) > limit or len(pending) > _ENTRY_BUFFER:
            overflow = True
            break
    if overflow:
        process.proc.kill()
        process.proc.wait()
        return None
    process.wait()  # raises GitCommandError when git failed
    entries = []
    for record in records:
        meta, _, path = record.partition(b"\t")
        mode, kind, obj, size = meta.decode("ascii").split()
        entries.append((mode, kind, obj, size, path))
    return entries


def _blob(repo: git.Repo, obj: str) -> bytes:
    """The contents of blob ``obj`` (its size was bounded from the tree listing)."""
    _, kind, _, data = repo.git.get_object_data(obj)
    if kind not in ("blob", b"blob"):  # pragma: no cover - the listing said it is a blob
        raise SourceError(f"object {obj} is not a blob")
    return bytes(data)


def read_directory(
    folder: Path, *, limits: ReadLimits = DEFAULT_LIMITS
) -> tuple[dict[str, bytes], tuple[Problem, ...]]:
    """The ``*.json`` regular files under ``folder`` on a disk, and the entries refused unread.

    Files are keyed by their POSIX path relative to ``folder``. A symbolic link (to a file or a
    directory) is never followed, a device, FIFO or socket never opened, a nested repository
    (``.git``) never entered: each is a :class:`~reconciler.errors.Problem` naming it, as is a
    file over a :class:`ReadLimits` bound (found by ``fstat`` after opening without following
    links or blocking; at most the bound plus one byte is read). ``folder`` itself is taken as
    given (links in its own path are followed). Raises
    :class:`~reconciler.errors.SourceError` when ``folder`` is not a directory.
    """
    try:
        root = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SourceError(f"cannot read the folder {folder}: {exc.strerror}") from exc
    try:
        return read_directory_fd(root, limits, skip_git=False)
    finally:
        os.close(root)


_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def open_directory_below(top: str | int, parts: Sequence[str]) -> int:
    """A file descriptor of the directory ``top/parts...``, no link followed below ``top``."""
    fd = (
        os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=top)
        if isinstance(top, int)
        else os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    )
    for part in parts:
        try:
            below = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = below
    return fd


def read_directory_fd(
    root: int, limits: ReadLimits, *, skip_git: bool
) -> tuple[dict[str, bytes], tuple[Problem, ...]]:
    """:func:`read_directory` on the open directory ``root``; ``skip_git`` passes over its own
    ``.git`` (the top of a work tree)."""
    reader = _DiskReader(limits)
    pending: list[tuple[str, ...]] = [()]
    while pending:
        parts = pending.pop()
        try:
            fd = open_directory_below(root, parts)
        except OSError as exc:
            shown = _shown_name("/".join(parts))
            loop = exc.errno in (errno.ELOOP, errno.ENOTDIR)
            reader.problems.append(_symlink(shown) if loop else _unreadable(shown, exc))
            continue
        try:
            names = reader.names(fd)
            if names is None:
                return {}, (_too_many(limits),)
            for name in names:
                if not (skip_git and not parts and name == ".git"):
                    pending.extend(reader.take(fd, parts, name))
        finally:
            os.close(fd)
    return dict(sorted(reader.files.items())), tuple(
        sorted(reader.problems, key=lambda problem: problem.file)
    )


class _DiskReader:
    """What :func:`read_directory_fd` has read so far, within its limits."""

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.files: dict[str, bytes] = {}
        self.problems: list[Problem] = []
        self.total = 0
        self.seen = 0

    def names(self, fd: int) -> list[str] | None:
        """The names in directory ``fd``, sorted; ``None`` past the entries bound."""
        names = []
        with os.scandir(fd) as listing:
            for entry in listing:
                self.seen += 1
                if self.seen > self.limits.entries:
                    return None
                names.append(entry.name)
        return sorted(names)

    def take(self, directory: int, parts: tuple[str, ...], name: str) -> list[tuple[str, ...]]:
        """Read entry ``name`` of ``directory`` (at ``parts``) or note why not; returns the
        sub-directory to read next, if it is one."""
        relative = "/".join((*parts, name))
        shown = _shown_name(relative)
        try:
            mode = os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return []  # gone since listed
        if stat.S_ISLNK(mode):
            self.problems.append(_symlink(shown))
        elif name == ".git" or (stat.S_ISDIR(mode) and _holds_git(directory, name)):
            self.problems.append(_submodule(shown))
        elif stat.S_ISDIR(mode) and len(parts) >= self.limits.depth:
            self.problems.append(_too_deep(shown, self.limits))
        elif stat.S_ISDIR(mode):
            return [(*parts, name)]
        elif not stat.S_ISREG(mode):
            self.problems.append(_not_a_file(shown))
        elif _json_in_other_case(name):
            self.problems.append(_extension_case(shown))
        elif not name.endswith(".json"):
            pass
        elif shown != relative:
            self.problems.append(_bad_name(shown))
        else:
            data, problem = _read_file(directory, name, shown, self.limits)
            if data is not None and self.total + len(data) > self.limits.total_bytes:
                data, problem = None, _too_much(shown, self.limits)
            if problem is not None:
                self.problems.append(problem)
            if data is not None:
                self.total += len(data)
                self.files[relative] = data
        return []


def _holds_git(directory: int, name: str) -> bool:
    """Whether directory ``name`` in ``directory`` is a nested repository (holds ``.git``)."""
    try:
        os.stat(f"{name}/.git", dir_fd=directory, follow_symlinks=False)
    except OSError:
        return False
    return True


def _read_file(
    directory: int, name: str, shown: str, limits: ReadLimits
) -> tuple[bytes | None, Problem | None]:
    """The contents of regular file ``name`` in ``directory``, or why it is not read."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=directory)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, _symlink(shown)
        if exc.errno == errno.ENOENT:
            return None, None
        return None, _unreadable(shown, exc)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, _not_a_file(shown)
        if info.st_size > limits.file_bytes:
            return None, _too_large(shown, limits)
        chunks: list[bytes] = []
        remaining = limits.file_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limits.file_bytes:
            return None, _too_large(shown, limits)
        return data, None
    except OSError as exc:
        return None, _unreadable(shown, exc)
    finally:
        os.close(fd)


def _unreadable(file: str, exc: OSError) -> Problem:
    return _problem(file, "unreadable", f"cannot be read: {exc.strerror or type(exc).__name__}")


def _shown_name(name: str) -> str:
    """``name`` (from the file system, maybe holding undecodable bytes) as printable text."""
    return os.fsencode(name).decode("utf-8", errors="replace")
