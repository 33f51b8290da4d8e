"""The Git source: one revision of the desired-state folder, read from a Git repository.

This is the only module that imports GitPython (``git``); every GitPython or ``git`` failure is
translated here, once, into :class:`~reconciler.errors.SourceError`.

A repository is given as

* a URL: ``file://``, ``https://`` (credentials may be embedded: ``https://user:token@host/...``),
  ``ssh://`` or scp-like ``git@host:org/repo.git``; no other protocol is allowed (``http://``,
  ``git://``, ``ext::``, ``fd::`` and every other transport are refused when the source is made,
  and every ``git`` command runs with ``GIT_ALLOW_PROTOCOL=file:https:ssh``, whatever the
  environment says, so a redirect or a configured URL rewrite cannot reach another one either);
* a local path to a bare repository, or to a work tree when a ``ref`` is given: both are fetched
  like a URL into the cache;
* a local path to the top of a work tree, with no ``ref``: used as it is, without cloning, at the
  revision of its ``HEAD`` (the laptop case; see :meth:`GitSource.fetch` for uncommitted edits).

The desired-state files are read from the commit's tree through Git objects (``git ls-tree``,
``git cat-file``), never from a checked-out file system: a symbolic link, a submodule or any
entry that is not a regular file is never read, but reported as a problem naming it
(:attr:`Checkout.problems`); every read is bounded (:class:`ReadLimits`). Fetched repositories
live in ``cache_dir`` (default ``$XDG_CACHE_HOME/identity-center-reconciler/sources``, else
``~/.cache/...``), one bare repository per source repository, with no work tree.

Credentials embedded in a URL never reach a command line (where every user could read them in
the process table): ``git`` is given the URL without them, and an ``Authorization`` header
scoped to that URL through its environment (``GIT_CONFIG_*``). They are never written to the
cache (no remote is configured; every fetch names the URL) and never appear in messages, logs or
:class:`Checkout` (see :func:`redact_credentials`). ``git`` runs with terminal and askpass
prompts disabled, so a missing credential fails at once instead of waiting for input.

With a :class:`SignaturePolicy`, :meth:`GitSource.fetch` refuses a revision that is not signed by
a trusted key (:class:`~reconciler.errors.UnverifiedRevisionError`) before reading it. The
check is ``git verify-commit``'s, for OpenPGP and SSH signatures alike: OpenPGP public keys are
imported into a private ``GNUPGHOME`` the source makes (the user's keyring is never read), SSH keys
are read from an ``allowed_signers`` file (``ssh-keygen(1)``'s format). See
``docs/signed-revisions.md`` for merge commits signed by a hosting service.

:func:`commit_folder` writes the other way: it commits a folder to a local repository (the demo
and tests use it to make the repository a :class:`GitSource` then reads).
"""

from __future__ import annotations

import base64
import enum
import errno
import fcntl
import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from urllib.parse import unquote

import git

from reconciler.errors import Problem, SourceError, UnverifiedRevisionError

__all__ = [
    "ALLOWED_PROTOCOLS",
    "DEFAULT_SUBPATH",
    "Checkout",
    "GitSource",
    "ReadLimits",
    "RevisionRelation",
    "SignaturePolicy",
    "commit_folder",
    "read_directory",
    "redact_credentials",
]

DEFAULT_SUBPATH = "desired-state"
"""The folder of the repository that holds the desired state, unless told otherwise."""

DEFAULT_TIMEOUT_SECONDS = 300.0
"""How long one ``git`` command (ls-remote, fetch, checkout) may run before it is killed."""

ALLOWED_PROTOCOLS = ("file", "https", "ssh")
"""The only protocols ``git`` may use for a source (``GIT_ALLOW_PROTOCOL``)."""

_URL_SCHEMES = frozenset({"file", "https", "ssh", "git+ssh", "ssh+git"})
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# git's remote-helper syntax, ``<transport>::<address>`` (``ext::sh -c ...``, ``fd::3``).
_TRANSPORT_HELPER = re.compile(r"^(?P<transport>[A-Za-z0-9][A-Za-z0-9+.-]*)::")
# scp-like syntax, as git reads it: a colon before the first slash (``git@github.com:org/repo``).
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:")
# Greedy up to the last "@" before the host, so a password holding a raw "@" is redacted whole.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s'\"]+)@")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
_REDACTED = "***"
_SHA = re.compile(r"[0-9a-fA-F]{4,40}")

_GIT_ENVIRONMENT = {
    "GIT_ALLOW_PROTOCOL": ":".join(ALLOWED_PROTOCOLS),
    "GIT_PROTOCOL_FROM_USER": "0",
    "GIT_TERMINAL_PROMPT": "0",  # fail at once instead of asking for a user name
    "GIT_ASKPASS": "",  # nor through a graphical askpass program (empty disables it)
    "GIT_OPTIONAL_LOCKS": "0",  # `git status` in the user's work tree writes nothing
}
"""The environment every ``git`` command of the source runs with, over the process's own."""

# Substrings of git's stderr (LC_ALL=C, set by GitPython) that name the failure, first match wins.
_AUTHENTICATION_FAILURES = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied (publickey",
    "http basic: access denied",
    "invalid username or password",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
)
_UNREACHABLE = (
    "does not appear to be a git repository",
    "repository not found",
    "not found",
    "could not resolve host",
    "could not resolve hostname",
    "connection refused",
    "failed to connect",
    "couldn't connect",
    "connection timed out",
    "network is unreachable",
    "no route to host",
    "unable to access",
    "could not read from remote repository",
    "no such file or directory",
    "timeout:",
)

_MODE_SYMLINK = "120000"
_MODE_GITLINK = "160000"


def redact_credentials(text: str) -> str:
    """Return ``text`` with the user information of every URL in it replaced by ``***``.

    ``https://user:token@host/repo`` becomes ``https://***@host/repo``; so does
    ``https://token@host/repo`` (a lone user name is a token in the http schemes). A lone user
    name in an ssh URL (``ssh://git@host/repo``) is kept: it is an account, not a secret.
    """

    def replace(match: re.Match[str]) -> str:
        scheme = match["scheme"][: -len("://")].lower()
        if scheme in _SSH_SCHEMES and ":" not in match["userinfo"]:
            return match[0]
        return f"{match['scheme']}{_REDACTED}@"

    return _URL_USERINFO.sub(replace, text)


class RevisionRelation(enum.Enum):
    """How a revision stands to a base revision in the history (:meth:`GitSource.relation`)."""

    SAME = "same"
    """Both name the same commit."""
    DESCENDANT = "descendant"
    """The revision descends from the base: the history moved forward."""
    ANCESTOR = "ancestor"
    """The revision is an ancestor of the base: the history was rewound."""
    DIVERGED = "diverged"
    """Neither descends from the other: a forked or unrelated history."""
    UNKNOWN = "unknown"
    """The base (or the revision) is not among the repository's objects: nothing can be said."""


@dataclass(frozen=True, kw_only=True)
class ReadLimits:
    """Bounds on what one revision's desired-state folder may hold, checked before reading.

    ``file_bytes`` bounds each ``*.json`` file, ``total_bytes`` all of them together, ``entries``
    the number of entries (files, links, submodules) under the folder. A revision over a bound
    is refused with a problem naming the file (the folder, ``.``, for ``entries``).
    """

    file_bytes: int = 5 * 1024 * 1024
    total_bytes: int = 64 * 1024 * 1024
    entries: int = 10_000


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True, kw_only=True)
class Checkout:
    """One fetched revision of the desired state.

    ``revision`` is the full 40-hex commit SHA; ``files`` the desired-state files (every
    ``*.json`` regular file under the sub-path), keyed by their POSIX path relative to the
    sub-path (``users.json``, ``permission-sets/Admin.json``), read from the commit's tree (or,
    when ``uncommitted``, from the local work tree); ``problems`` the entries that were refused
    unread (a symbolic link, a submodule, a device or FIFO, a file over a :class:`ReadLimits`
    bound), each naming its file and rule: a revision with problems is invalid.
    ``parent_revision`` is the commit's first parent (``None`` for a root commit).
    ``repository`` is the repository as given, with credentials redacted; ``ref`` the branch,
    tag or commit asked for (the default branch's name when none was, ``HEAD`` for a detached
    local work tree, the SHA for :meth:`GitSource.fetch_at`); ``committed_at`` the commit's
    committer date, timezone-aware; ``message_summary`` the first line of the commit message;
    ``signed_by`` who signed the revision when a :class:`SignaturePolicy` verified it (``None``
    otherwise): the OpenPGP primary key's fingerprint (40 hex digits, upper case), or for SSH
    the principal of the ``allowed_signers`` file and the key's fingerprint
    (``alice@example.com SHA256:...``). ``path`` is the desired-state folder of a local work
    tree read in place, for messages only (``None`` for a fetched revision: the cache holds no
    work tree).
    """

    revision: str
    repository: str
    ref: str
    committed_at: datetime
    message_summary: str
    files: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    problems: tuple[Problem, ...] = ()
    parent_revision: str | None = None
    signed_by: str | None = None
    uncommitted: bool = False
    """True when a local work tree read in place has uncommitted changes under the sub-path
    (counting untracked and ignored files): ``files`` are then read from the disk, and are not
    exactly those of ``revision``."""
    path: Path | None = None


@dataclass(frozen=True, kw_only=True)
class SignaturePolicy:
    """Which keys a revision must be signed by to be fetched.

    ``gpg_public_keys`` are files holding OpenPGP public keys (armored or binary, one or more
    keys each): a commit signed by any of them, or by a subkey, is trusted whatever its owner
    trust. ``ssh_allowed_signers`` is an ``allowed_signers`` file (``ssh-keygen(1)``, section
    ALLOWED SIGNERS: ``principal[,principal...] [options] key-type base64-key``); a commit whose
    SSH signature is by a key listed there (in the ``git`` namespace) is trusted. Expired or
    revoked OpenPGP keys, and SSH keys outside their ``valid-after``/``valid-before`` window at
    the commit's date, are not.

    Raises :class:`~reconciler.errors.SourceError` when no key at all is given (nothing could
    ever be fetched). Files are read at each fetch, so a key can be added or rotated without a
    restart; a missing or unreadable file is a :class:`~reconciler.errors.SourceError` then.
    """

    gpg_public_keys: Sequence[Path] = ()
    ssh_allowed_signers: Path | None = None

    def __post_init__(self) -> None:
        keys = tuple(Path(path) for path in self.gpg_public_keys)
        object.__setattr__(self, "gpg_public_keys", keys)
        if self.ssh_allowed_signers is not None:
            object.__setattr__(self, "ssh_allowed_signers", Path(self.ssh_allowed_signers))
        if not keys and self.ssh_allowed_signers is None:
            raise SourceError(
                "signature verification needs trusted keys: give OpenPGP public key files, an"
                " SSH allowed_signers file, or both"
            )


class GitSource:
    """A Git repository from which :meth:`fetch` reads the current revision of the desired state.

    ``repository`` is a URL or a local path (see the module docstring); ``ref`` a branch name,
    a tag name, a full ref (``refs/heads/main``, ``refs/tags/v1``) or a commit SHA reachable from
    a branch or tag; ``None`` means the remote's default branch (its ``HEAD``), or the current
    ``HEAD`` of a local work tree. ``subpath`` is the desired-state folder, relative to the top
    of the repository (``"."`` for the top itself). ``cache_dir`` holds the fetched copies.
    ``timeout_seconds`` bounds each ``git`` command. ``verification``, when given, makes every
    fetch refuse a revision not signed by one of its keys. ``limits`` bounds what is read.

    Raises :class:`~reconciler.errors.SourceError` at once for a repository, ``ref`` or
    ``subpath`` that can never be valid: a protocol other than file, https and ssh (``http://``,
    ``git://``, ``ext::...``), an option-like ref, an absolute or escaping sub-path.
    """

    def __init__(
        self,
        *,
        repository: str,
        ref: str | None = None,
        subpath: str = DEFAULT_SUBPATH,
        cache_dir: Path | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        verification: SignaturePolicy | None = None,
        limits: ReadLimits = DEFAULT_LIMITS,
    ) -> None:
        if not repository.strip():
            raise SourceError("repository is empty: give a URL or a local path")
        self._repository = repository
        self._shown = redact_credentials(repository)
        self._secrets = _url_secrets(repository)
        _check_protocol(repository, shown=self._shown)
        self._ref = _checked_ref(ref, shown=self._shown) if ref is not None else None
        self._subpath = _checked_subpath(subpath)
        self._cache_dir = cache_dir if cache_dir is not None else _default_cache_dir()
        self._timeout = timeout_seconds
        self._limits = limits
        self._is_url = _SCHEME.match(repository) is not None
        self._is_scp_like = (
            not self._is_url and not _exists(repository) and _SCP_LIKE.match(repository) is not None
        )
        self._url, self._url_config = _without_credentials(repository)
        self._verifier = _Verifier(verification) if verification is not None else None

    @property
    def repository(self) -> str:
        """The repository as given, with credentials redacted: safe to log or print."""
        return self._shown

    def __repr__(self) -> str:
        return (
            f"GitSource(repository={self._shown!r}, ref={self._ref!r}, subpath={self._subpath!r})"
        )

    def fetch(self) -> Checkout:
        """Read the desired-state files of the revision ``ref`` names, from its commit's tree.

        Fetches into the cache (made on the first call) and reads the commit's objects; no work
        tree is checked out. A local work tree given without ``ref`` (or with ``HEAD``) is read
        in place, never modified: from ``HEAD``'s tree when nothing under the sub-path differs
        from it, else (edited, staged, untracked or ignored files under the sub-path) from the
        disk, with :attr:`Checkout.uncommitted` set; the disk is read without following a
        symbolic link, regular files only, each read bounded. Concurrent calls for one
        repository and cache, from threads or processes, take turns (a file lock).

        Raises :class:`~reconciler.errors.SourceError` when the repository is unreachable or not
        found, authentication fails, ``ref`` is not found, the sub-path is missing (or not a
        directory, or a symbolic link or submodule) at that revision, or git fails in any way.
        The message names the repository with credentials redacted. With ``verification``,
        raises :class:`~reconciler.errors.UnverifiedRevisionError` (a ``SourceError``) when the
        commit is unsigned or not signed by a trusted key, before its files are read; a local
        work tree read in place is refused, too, when it has uncommitted changes under the
        sub-path (they are signed by no one).
        """
        with self._translated("read"):
            if self._reads_in_place():
                work_tree = self._local_work_tree()
                if work_tree is not None:
                    if self._ref in (None, "HEAD"):
                        return self._read_work_tree(work_tree)
                    work_tree.close()  # a ref is asked for: fetch it, leave the user's tree alone
            return self._fetch_into_cache()

    def fetch_at(self, revision: str) -> Checkout:
        """Read the desired-state files of commit ``revision`` (a full SHA), from its tree.

        Uses the objects :meth:`fetch` uses (the cache, or a local work tree's repository read
        in place), fetching the branches and tags only when the commit is not among them yet;
        nothing is checked out. :attr:`Checkout.ref` is the SHA. With ``verification``, the
        commit's signature is checked as by :meth:`fetch`.

        Raises :class:`~reconciler.errors.SourceError` for a ``revision`` that is not a full
        SHA or is not found, and as :meth:`fetch` does otherwise.
        """
        sha = _checked_sha(revision, shown=self._shown)
        with self._translated("read"), self._objects(fetch_missing=sha) as repo:
            found = self._commit_sha(repo, sha)
            if found is None:
                raise SourceError(
                    f"revision {sha} not found in repository {self._shown}"
                    " (not among its branches and tags: rewritten away?)"
                )
            signed_by = self._verify(repo, found)
            return self._read_commit(repo, found, ref=found, signed_by=signed_by)

    def relation(self, revision: str, base: str) -> RevisionRelation:
        """How commit ``revision`` stands to commit ``base`` (both full SHAs) in the history.

        :attr:`RevisionRelation.DESCENDANT` when ``revision`` descends from ``base`` (``git
        merge-base --is-ancestor base revision``), :attr:`~RevisionRelation.ANCESTOR` when it is
        an ancestor of ``base`` (a rewind), :attr:`~RevisionRelation.DIVERGED` when neither,
        :attr:`~RevisionRelation.SAME` for one commit, :attr:`~RevisionRelation.UNKNOWN` when
        either is not among the repository's objects (for instance ``base`` after a forced push
        and garbage collection, in a new cache). Reads the objects :meth:`fetch` reads (fetching
        only into a cache made for this call); a commit once fetched stays in the cache until
        git's own garbage collection drops it.

        Raises :class:`~reconciler.errors.SourceError` for an argument that is not a full SHA
        or when git fails.
        """
        wanted = _checked_sha(revision, shown=self._shown)
        base_sha = _checked_sha(base, shown=self._shown)
        with self._translated("compare revisions in"), self._objects(fetch_missing=None) as repo:
            found, found_base = self._commit_sha(repo, wanted), self._commit_sha(repo, base_sha)
            if found is None or found_base is None:
                return RevisionRelation.UNKNOWN
            if found == found_base:
                return RevisionRelation.SAME
            if self._is_ancestor(repo, found_base, found):
                return RevisionRelation.DESCENDANT
            if self._is_ancestor(repo, found, found_base):
                return RevisionRelation.ANCESTOR
            return RevisionRelation.DIVERGED

    # -- where the objects are -----------------------------------------------------------------

    def _reads_in_place(self) -> bool:
        return not self._is_url and not self._is_scp_like

    @contextmanager
    def _objects(self, *, fetch_missing: str | None) -> Iterator[git.Repo]:
        """The repository whose objects :meth:`fetch` reads: a local work tree read in place,
        else the cache, fetched into when it is new or lacks commit ``fetch_missing``."""
        if self._reads_in_place() and self._ref in (None, "HEAD"):
            work_tree = self._local_work_tree()
            if work_tree is not None:
                with work_tree:
                    yield work_tree
                return
        with self._cache() as (repo, fresh):
            if fresh or (
                fetch_missing is not None and self._commit_sha(repo, fetch_missing) is None
            ):
                self._fetch_or_discard(repo, fresh=fresh)
            yield repo

    # -- a local work tree, read in place ------------------------------------------------------

    def _local_work_tree(self) -> git.Repo | None:
        """The repository at the local path if it is a work tree, ``None`` if it is bare."""
        path = Path(self._repository).expanduser()
        if not path.exists():
            raise SourceError(f"repository {self._shown} not found: no such directory")
        try:
            repo = _open_repository(path)
        except git.InvalidGitRepositoryError as exc:
            raise SourceError(
                f"repository {self._shown} is not a Git repository"
                " (give the top-level directory of a work tree, a bare repository or a URL)"
            ) from exc
        except git.NoSuchPathError as exc:
            raise SourceError(f"repository {self._shown} not found: no such directory") from exc
        if repo.bare:
            repo.close()
            return None
        return repo

    def _read_work_tree(self, repo: git.Repo) -> Checkout:
        with repo:
            try:
                commit = repo.head.commit
            except ValueError as exc:  # GitPython: "Reference at 'refs/heads/main' does not exist"
                raise SourceError(f"repository {self._shown} has no commit yet") from exc
            ref = "HEAD" if repo.head.is_detached else repo.active_branch.name
            top = repo.working_tree_dir
            if top is None:  # pragma: no cover - a non-bare repository has a work tree
                raise SourceError(f"repository {self._shown} has no work tree")
            folder = Path(top) / self._subpath
            signed_by = self._verify(repo, commit.hexsha)
            uncommitted = self._uncommitted(repo)
            if uncommitted and self._verifier is not None:
                raise UnverifiedRevisionError(
                    revision=commit.hexsha,
                    reason="uncommitted_changes",
                    detail=f"the work tree has uncommitted changes under {self._subpath!r}"
                    " (only committed files are signed; untracked and ignored files count)",
                    repository=self._shown,
                )
            if not uncommitted:
                return self._read_commit(
                    repo, commit.hexsha, ref=ref, signed_by=signed_by, path=folder
                )
            files, problems = self._read_disk(Path(top), commit.hexsha)
            return self._describe(
                commit,
                ref=ref,
                files=files,
                problems=problems,
                signed_by=signed_by,
                path=folder,
                uncommitted=True,
            )

    def _uncommitted(self, repo: git.Repo) -> bool:
        """Whether anything under the sub-path differs from ``HEAD``: edited, staged, deleted,
        untracked or ignored (``.gitignore``, ``.git/info/exclude``) files alike."""
        status = self._run(
            repo,
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=normal",
            "--ignored=traditional",
            "--",
            self._subpath,
            doing="read the status of",
        )
        return bool(status.strip("\0\n "))

    def _read_disk(self, top: Path, sha: str) -> tuple[dict[str, bytes], tuple[Problem, ...]]:
        """The files under the sub-path of the work tree ``top``, read safely from the disk."""
        parts = () if self._subpath == "." else PurePosixPath(self._subpath).parts
        current = top
        for index, part in enumerate(parts):
            current = current / part
            shown = "/".join(parts[: index + 1])
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                mode = None
            if mode is None or not (stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                what = "is missing" if mode is None else "is not a directory"
                raise SourceError(
                    f"sub-path {self._subpath!r} {what} in the work tree (at revision {sha})"
                    f" of repository {self._shown}"
                )
            if stat.S_ISLNK(mode):
                raise SourceError(
                    f"sub-path {self._subpath!r} of repository {self._shown}: {shown!r} is a"
                    " symbolic link in the work tree (links are never followed)"
                )
        try:
            root = _open_directory_below(os.fspath(top), parts)
        except OSError as exc:
            raise SourceError(
                f"sub-path {self._subpath!r} of repository {self._shown} cannot be read from the"
                f" work tree: {exc.strerror}"
            ) from exc
        try:
            return _read_directory_fd(root, self._limits, skip_git=not parts)
        finally:
            os.close(root)

    # -- anything else: fetched into the cache -------------------------------------------------

    def _fetch_into_cache(self) -> Checkout:
        with self._cache() as (repo, fresh):
            ref = self._fetch_or_discard(repo, fresh=fresh)
            sha = self._resolve(repo, ref)
            signed_by = self._verify(repo, sha)
            return self._read_commit(repo, sha, ref=ref, signed_by=signed_by)

    @contextmanager
    def _cache(self) -> Iterator[tuple[git.Repo, bool]]:
        """The cached bare repository, locked; and whether it was made just now."""
        clone_dir = self._clone_dir()
        clone_dir.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(clone_dir.with_name(clone_dir.name + ".lock")):
            fresh = not clone_dir.exists()
            with self._open_clone(clone_dir) as repo:
                yield repo, fresh

    def _fetch_or_discard(self, repo: git.Repo, *, fresh: bool) -> str:
        """:meth:`_fetch_refs`; a cache made for a repository never reached is removed."""
        try:
            return self._fetch_refs(repo)
        except SourceError:
            if fresh and repo.git_dir:  # leave no empty cache behind
                shutil.rmtree(repo.git_dir, ignore_errors=True)
            raise

    def _fetch_refs(self, repo: git.Repo) -> str:
        """Fetch every branch and tag (pruning deleted ones); return the ref to read."""
        url = self._fetch_url()
        ref = self._ref if self._ref is not None else self._default_branch(repo, url)
        self._run(
            repo,
            "fetch",
            "--quiet",
            "--force",
            "--prune",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            "--",
            url,
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
            doing="fetch from",
            env=self._network_environment(),
        )
        return ref

    @contextmanager
    def _open_clone(self, clone_dir: Path) -> Iterator[git.Repo]:
        """The cached bare clone, made on first use; a damaged one, or the work tree an earlier
        version kept there, is thrown away and made again."""
        repo: git.Repo | None = None
        if clone_dir.exists():
            try:
                repo = _open_repository(clone_dir)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError):
                repo = None
            if repo is not None and not repo.bare:
                repo.close()
                repo = None
            if repo is None:
                shutil.rmtree(clone_dir)
        if repo is None:
            git.Git().init("--quiet", "--bare", str(clone_dir), env=_GIT_ENVIRONMENT)
            repo = _open_repository(clone_dir)
        with repo:
            yield repo

    def _fetch_url(self) -> str:
        if self._is_url or self._is_scp_like:
            return self._url
        return str(Path(self._repository).expanduser().resolve())

    def _network_environment(self) -> dict[str, str]:
        """``GIT_CONFIG_*`` variables carrying the URL's credentials (none without any)."""
        return _config_environment(self._url_config)

    def _default_branch(self, repo: git.Repo, url: str) -> str:
        """The branch the remote's ``HEAD`` points to (``git ls-remote --symref URL HEAD``)."""
        listing = self._run(
            repo,
            "ls-remote",
            "--symref",
            "--",
            url,
            "HEAD",
            doing="read",
            env=self._network_environment(),
        )
        for line in listing.splitlines():
            target, _, name = line.partition("\t")
            if name == "HEAD" and target.startswith("ref: refs/heads/"):
                return target.removeprefix("ref: refs/heads/")
        raise SourceError(
            f"repository {self._shown} has no default branch (empty, or HEAD is not a branch):"
            " give a ref"
        )

    def _resolve(self, repo: git.Repo, ref: str) -> str:
        """The full SHA of the commit ``ref`` names among the fetched branches and tags."""
        candidates: list[str] = []
        if ref.startswith("refs/heads/"):
            candidates.append("refs/remotes/origin/" + ref.removeprefix("refs/heads/"))
        elif ref.startswith("refs/"):
            candidates.append(ref)
        else:
            candidates += [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
            if _SHA.fullmatch(ref):
                candidates.append(ref)
        for candidate in candidates:
            sha = self._commit_sha(repo, candidate)
            if sha is not None:
                return sha
        raise SourceError(
            f"ref {ref!r} not found in repository {self._shown}:"
            " no branch, tag or commit (reachable from a branch or tag) of that name"
        )

    def _clone_dir(self) -> Path:
        key = self._fetch_url() if not (self._is_url or self._is_scp_like) else self._shown
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", key.rstrip("/").rsplit("/", 1)[-1])
        stem = stem.removesuffix(".git")[:40] or "repository"
        return self._cache_dir / f"{stem}-{digest}"

    # -- reading a commit ----------------------------------------------------------------------

    def _read_commit(
        self,
        repo: git.Repo,
        sha: str,
        *,
        ref: str,
        signed_by: str | None,
        path: Path | None = None,
    ) -> Checkout:
        """The checkout of commit ``sha``: the files of its tree under the sub-path."""
        commit = repo.commit(sha)
        tree = self._subtree(repo, commit)
        files, problems = _read_git_tree(repo, tree, self._limits)
        return self._describe(
            commit, ref=ref, files=files, problems=problems, signed_by=signed_by, path=path
        )

    def _subtree(self, repo: git.Repo, commit: git.Commit) -> str:
        """The SHA of the tree at the sub-path of ``commit``."""
        tree: git.Tree = commit.tree
        if self._subpath == ".":
            return str(tree.hexsha)
        parts = PurePosixPath(self._subpath).parts
        for index, part in enumerate(parts):
            shown = "/".join(parts[: index + 1])
            try:
                entry = tree[part]
            except KeyError:
                raise SourceError(
                    f"sub-path {self._subpath!r} is missing at revision {commit.hexsha}"
                    f" of repository {self._shown}"
                ) from None
            if isinstance(entry, git.Tree):
                tree = entry
                continue
            if entry.mode == 0o120000:
                what = "a symbolic link (links are never followed)"
            elif entry.type == "submodule":
                what = "a submodule (submodules are never read)"
            else:
                what = "a file"
            raise SourceError(
                f"sub-path {self._subpath!r} is not a directory at revision {commit.hexsha} of"
                f" repository {self._shown}: {shown!r} is {what}"
            )
        return str(tree.hexsha)

    def _describe(
        self,
        commit: git.Commit,
        *,
        ref: str,
        files: dict[str, bytes],
        problems: tuple[Problem, ...],
        signed_by: str | None,
        path: Path | None,
        uncommitted: bool = False,
    ) -> Checkout:
        summary = commit.summary
        return Checkout(
            revision=commit.hexsha,
            repository=self._shown,
            ref=ref,
            committed_at=_plain_timezone(commit.committed_datetime),
            message_summary=summary
            if isinstance(summary, str)
            else summary.decode(errors="replace"),
            files=MappingProxyType(files),
            problems=problems,
            parent_revision=commit.parents[0].hexsha if commit.parents else None,
            signed_by=signed_by,
            uncommitted=uncommitted,
            path=path,
        )

    # -- shared --------------------------------------------------------------------------------

    def _commit_sha(self, repo: git.Repo, name: str) -> str | None:
        """The full SHA of the commit ``name`` (a ref or SHA) names, ``None`` when there is none."""
        status, output, _ = repo.git.rev_parse(
            "--verify",
            "--quiet",
            f"{name}^{{commit}}",
            with_extended_output=True,
            with_exceptions=False,
        )
        sha = str(output).strip()
        return sha if int(status) == 0 and sha else None

    def _is_ancestor(self, repo: git.Repo, ancestor: str, descendant: str) -> bool:
        """``git merge-base --is-ancestor``: whether ``ancestor`` is one of ``descendant``."""
        status, _, error = repo.git.merge_base(
            "--is-ancestor",
            ancestor,
            descendant,
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=self._timeout,
        )
        if int(status) in (0, 1):
            return int(status) == 0
        raise SourceError(
            f"cannot compare revisions {ancestor} and {descendant} in repository {self._shown}:"
            f" git failed ({self._redact(_one_line(str(error)))})"
        )

    def _verify(self, repo: git.Repo, sha: str) -> str | None:
        """Who signed commit ``sha`` (see :attr:`Checkout.signed_by`); ``None`` when unchecked.

        Raises :class:`~reconciler.errors.UnverifiedRevisionError` when no trusted key signed
        it, and :class:`~reconciler.errors.SourceError` when the trusted keys cannot be read.
        """
        if self._verifier is None:
            return None
        header = self._run(repo, "cat-file", "commit", sha, doing="read a commit of")
        signature = _signature_header(header)
        if signature is None:
            raise UnverifiedRevisionError(
                revision=sha,
                reason="unsigned",
                detail="the commit is not signed",
                repository=self._shown,
            )
        environment = self._verifier.git_environment()
        status, _, output = repo.git.verify_commit(
            "--raw",
            sha,
            env=environment,
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=self._timeout,
        )
        verdict = _verdict(
            signature=signature, status=int(status), output=self._redact(str(output))
        )
        if isinstance(verdict, _Refusal):
            raise UnverifiedRevisionError(
                revision=sha, reason=verdict.reason, detail=verdict.detail, repository=self._shown
            )
        return verdict

    def _run(
        self,
        repo: git.Repo,
        command: str,
        *args: str,
        doing: str,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run ``git COMMAND ARGS`` in ``repo``; a failure becomes a :class:`SourceError`."""
        try:
            output = getattr(repo.git, command.replace("-", "_"))(
                *args, kill_after_timeout=self._timeout, env=env
            )
        except git.GitCommandError as exc:
            raise self._command_error(exc, doing=doing) from exc
        return str(output)

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        """Turn any GitPython or git failure in the block into a :class:`SourceError`."""
        try:
            yield
        except SourceError:
            raise
        except git.GitCommandError as exc:
            raise self._command_error(exc, doing=doing) from exc
        except (git.GitError, git.exc.ODBError, ValueError, OSError) as exc:
            detail = self._redact(_one_line(str(exc)))
            raise SourceError(
                f"cannot {doing} repository {self._shown}: {type(exc).__name__} ({detail})"
            ) from exc

    def _command_error(self, exc: git.GitCommandError, *, doing: str) -> SourceError:
        detail = self._redact(_stderr_text(exc))
        lowered = detail.lower()
        if any(marker in lowered for marker in _AUTHENTICATION_FAILURES):
            reason = "authentication failed"
        elif any(marker in lowered for marker in _UNREACHABLE):
            reason = "repository unreachable or not found"
        else:
            reason = "git failed"
        message = f"cannot {doing} repository {self._shown}: {reason}"
        return SourceError(f"{message} ({detail})" if detail else message)

    def _redact(self, text: str) -> str:
        text = redact_credentials(text)
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text


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


def _bad_name(file: str) -> Problem:
    return _problem(file, "file_name", "the file name is not UTF-8 — never read")


def _read_git_tree(
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
    for mode, kind, obj, size, raw_name in entries:
        name = raw_name.decode("utf-8", errors="replace")
        if mode == _MODE_SYMLINK:
            problems.append(_symlink(name))
        elif mode == _MODE_GITLINK or kind == "commit":
            problems.append(_submodule(name))
        elif kind != "blob" or not mode.startswith("100"):
            problems.append(_not_a_file(name))
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
        return _read_directory_fd(root, limits, skip_git=False)
    finally:
        os.close(root)


_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def _open_directory_below(top: str | int, parts: Sequence[str]) -> int:
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


def _read_directory_fd(
    root: int, limits: ReadLimits, *, skip_git: bool
) -> tuple[dict[str, bytes], tuple[Problem, ...]]:
    """:func:`read_directory` on the open directory ``root``; ``skip_git`` passes over its own
    ``.git`` (the top of a work tree)."""
    reader = _DiskReader(limits)
    pending: list[tuple[str, ...]] = [()]
    while pending:
        parts = pending.pop()
        try:
            fd = _open_directory_below(root, parts)
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
    """What :func:`_read_directory_fd` has read so far, within its limits."""

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
        elif stat.S_ISDIR(mode):
            return [(*parts, name)]
        elif not stat.S_ISREG(mode):
            self.problems.append(_not_a_file(shown))
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


# -- repositories, protocols and credentials ----------------------------------------------------


def _open_repository(path: Path) -> git.Repo:
    """The repository at ``path``, its git commands run with :data:`_GIT_ENVIRONMENT`."""
    repo = git.Repo(path)
    repo.git.update_environment(**_GIT_ENVIRONMENT)
    return repo


def _exists(path: str) -> bool:
    """Whether ``path`` names something on the local disk (``False`` for any error)."""
    try:
        return Path(path).expanduser().exists()
    except (OSError, RuntimeError):  # a name too long, no home directory for "~user"
        return False


def _check_protocol(repository: str, *, shown: str) -> None:
    """Refuse a repository that git would reach by a protocol other than file, https, ssh."""
    helper = _TRANSPORT_HELPER.match(repository)
    scheme = _SCHEME.match(repository)
    used = None
    if helper is not None:
        used = f"{helper['transport']}::"
    elif scheme is not None and scheme["scheme"].lower() not in _URL_SCHEMES:
        used = f"{scheme['scheme']}://"
    if used is not None:
        raise SourceError(
            f"repository {shown}: the protocol {used} is not allowed; allowed are"
            f" {', '.join(ALLOWED_PROTOCOLS)} (a local path, file://, https://, ssh:// or"
            " user@host:path)"
        )


def _without_credentials(repository: str) -> tuple[str, dict[str, str]]:
    """``repository`` without the credentials of its URL, and git configuration passing them.

    For ``https://user:token@host/repo`` that is ``https://host/repo`` and
    ``http.https://host/repo.extraHeader = Authorization: Basic base64(user:token)`` (sent to
    that URL only). An ssh URL keeps its user name (an account) and drops a password (ssh reads
    none from a URL).
    """
    match = _URL_USERINFO.match(repository)
    if match is None:
        return repository, {}
    prefix, userinfo, rest = match["scheme"], match["userinfo"], repository[match.end() :]
    scheme = prefix[: -len("://")].lower()
    user, _, password = userinfo.partition(":")
    if scheme in _SSH_SCHEMES:
        return f"{prefix}{user}@{rest}", {}
    url = f"{prefix}{rest}"
    if scheme != "https":
        return url, {}
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return url, {f"http.{url}.extraHeader": f"Authorization: Basic {token}"}


def _config_environment(config: Mapping[str, str]) -> dict[str, str]:
    """``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` setting ``config`` for one git command."""
    if not config:
        return {}
    environment = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config.items()):
        environment[f"GIT_CONFIG_KEY_{index}"] = key
        environment[f"GIT_CONFIG_VALUE_{index}"] = value
    return environment


_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _checked_sha(revision: str, *, shown: str) -> str:
    sha = revision.strip().lower()
    if not _FULL_SHA.fullmatch(sha):
        raise SourceError(
            f"revision {revision!r} of repository {shown} is not a full commit SHA (40 hex digits)"
        )
    return sha


def commit_folder(
    *,
    source: Path,
    repository: Path,
    subpath: str = DEFAULT_SUBPATH,
    message: str,
    author: tuple[str, str] = ("reconciler", "reconciler@localhost"),
) -> str:
    """Copy the folder ``source`` to ``repository/subpath``, commit it, return the commit's SHA.

    Makes ``repository`` a work tree on branch ``main`` if it is not a Git repository yet. What
    was at ``subpath`` before is replaced whole, so a file deleted from ``source`` is deleted in
    the commit; the rest of the work tree is left alone. ``author`` is (name, email), used as
    author and committer, so no Git identity need be configured; hooks and signing are skipped.
    A commit is made even when nothing changed. For the demo and for tests: a repository to
    point a :class:`GitSource` at.

    Raises :class:`~reconciler.errors.SourceError` if ``source`` is not a directory or git fails.
    """
    if not source.is_dir():
        raise SourceError(f"cannot commit {source}: not a directory")
    folder = _checked_subpath(subpath)
    repository.mkdir(parents=True, exist_ok=True)
    try:
        try:
            repo = git.Repo(repository)
        except git.InvalidGitRepositoryError:
            repo = git.Repo.init(repository, initial_branch="main")
        repo.git.update_environment(**_GIT_ENVIRONMENT)
        with repo:
            target = repository / folder
            if folder != "." and target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target, dirs_exist_ok=True)
            repo.git.add("--all", "--", folder)
            name, email = author
            with repo.git.custom_environment(
                GIT_AUTHOR_NAME=name,
                GIT_AUTHOR_EMAIL=email,
                GIT_COMMITTER_NAME=name,
                GIT_COMMITTER_EMAIL=email,
            ):
                repo.git.commit(
                    "--quiet", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", message
                )
            return repo.head.commit.hexsha
    except git.GitCommandError as exc:
        detail = _stderr_text(exc)
        raise SourceError(f"cannot commit {source} to {repository}: {detail}") from exc
    except (git.GitError, ValueError) as exc:
        raise SourceError(f"cannot commit {source} to {repository}: {exc}") from exc


def _stderr_text(exc: git.GitCommandError) -> str:
    """git's standard error, on one line, without GitPython's ``stderr: '...'`` wrapping."""
    stderr = exc.stderr if isinstance(exc.stderr, str) else exc.stderr.decode(errors="replace")
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    return text.removeprefix("stderr:").strip().removeprefix("'").removesuffix("'").strip()


def _url_secrets(repository: str) -> tuple[str, ...]:
    """The credentials embedded in ``repository``, raw and decoded, longest first."""
    match = _URL_USERINFO.match(repository)
    if match is None or redact_credentials(match[0]) == match[0]:
        return ()
    pieces = {match["userinfo"], *match["userinfo"].split(":", 1)}
    pieces |= {unquote(piece) for piece in pieces}
    # A short piece ("x", "git") would blank out ordinary words; the URL form is redacted anyway.
    return tuple(sorted((p for p in pieces if len(p) >= 4), key=len, reverse=True))


def _plain_timezone(moment: datetime) -> datetime:
    """``moment`` with GitPython's own tzinfo class replaced by a :class:`datetime.timezone`."""
    return moment.astimezone(timezone(moment.utcoffset() or timedelta(0)))


def _checked_ref(ref: str, *, shown: str) -> str:
    if not ref or ref.startswith("-") or any(ch.isspace() or ord(ch) < 32 for ch in ref):
        raise SourceError(f"ref {ref!r} for repository {shown} is not a valid branch, tag or SHA")
    return ref


def _checked_subpath(subpath: str) -> str:
    pure = PurePosixPath(subpath.replace("\\", "/") or ".")
    if pure.is_absolute() or ".." in pure.parts:
        raise SourceError(
            f"sub-path {subpath!r} must be relative to the top of the repository, without '..'"
        )
    return str(pure)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "identity-center-reconciler" / "sources"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- signed revisions ----------------------------------------------------------------------------

_GPG_CONF = "no-autostart\nno-auto-key-retrieve\n"
"""The private GNUPGHOME's gpg.conf: no agent or dirmngr is started, no key fetched from afar."""

_SSH_GOOD = re.compile(r'Good "git" signature for (?P<principal>.+?) with \S+ key (?P<key>\S+)')
_SSH_KEY = re.compile(r"with \S+ key (?P<key>SHA256:\S+)")


@dataclass(frozen=True)
class _Refusal:
    reason: str
    detail: str


class _Verifier:
    """The trusted keys of a :class:`SignaturePolicy`, ready for ``git verify-commit``.

    Holds a private ``GNUPGHOME`` (a temporary directory, removed when the verifier is
    collected) into which the policy's OpenPGP key files are imported, again whenever their
    contents change.
    """

    def __init__(self, policy: SignaturePolicy) -> None:
        self._policy = policy
        self._home: Path | None = None
        self._imported: str | None = None
        self._cleanup: weakref.finalize[..., _Verifier] | None = None
        self._lock = threading.Lock()  # fetches from several threads share one keyring

    def git_environment(self) -> dict[str, str]:
        """Environment variables making ``git verify-commit`` trust the policy's keys only.

        ``GNUPGHOME`` points at the private keyring; ``GIT_CONFIG_*`` set the programs and the
        allowed-signers file on git's command-line level, over any user or system config.
        Raises :class:`~reconciler.errors.SourceError` when a key file cannot be read or holds
        no OpenPGP key.
        """
        with self._lock:
            home = self._keyring()
        signers = self._policy.ssh_allowed_signers
        if signers is None:
            signers = home / "allowed_signers"  # empty: every SSH key is unknown
            signers.touch()
        elif not signers.is_file():
            raise SourceError(f"SSH allowed_signers file {signers} not found")
        gpg = shutil.which("gpg") or "gpg"
        config = {
            "gpg.program": gpg,
            "gpg.openpgp.program": gpg,
            "gpg.ssh.program": shutil.which("ssh-keygen") or "ssh-keygen",
            "gpg.ssh.allowedSignersFile": str(signers.resolve()),
            "gpg.minTrustLevel": "undefined",  # the keyring holds trusted keys only
        }
        environment = {"GNUPGHOME": str(home), "GIT_CONFIG_COUNT": str(len(config))}
        for index, (key, value) in enumerate(config.items()):
            environment[f"GIT_CONFIG_KEY_{index}"] = key
            environment[f"GIT_CONFIG_VALUE_{index}"] = value
        return environment

    def _keyring(self) -> Path:
        """The private GNUPGHOME holding exactly the policy's OpenPGP keys, as they are now."""
        contents = []
        for path in self._policy.gpg_public_keys:
            try:
                contents.append(path.read_bytes())
            except OSError as exc:
                raise SourceError(
                    f"cannot read OpenPGP public key file {path}: {exc.strerror}"
                ) from exc
        digest = hashlib.sha256(b"\0".join(contents)).hexdigest()
        if self._home is not None and self._imported == digest:
            return self._home
        home = Path(tempfile.mkdtemp(prefix="reconciler-gnupg-"))  # mode 0700
        try:
            (home / "gpg.conf").write_text(_GPG_CONF)
            for path in self._policy.gpg_public_keys:
                _import_key(home, path)
        except BaseException:
            shutil.rmtree(home, ignore_errors=True)
            raise
        if self._cleanup is not None:
            self._cleanup()  # the keyring of keys since changed
        self._home, self._imported = home, digest
        self._cleanup = weakref.finalize(self, shutil.rmtree, home, ignore_errors=True)
        return home


def _import_key(home: Path, path: Path) -> None:
    """Import the OpenPGP public keys in ``path`` into the keyring at ``home``."""
    gpg = shutil.which("gpg")
    if gpg is None:
        raise SourceError(
            f"cannot import OpenPGP public key file {path}: gpg is not installed (GnuPG 2)"
        )
    try:
        result = subprocess.run(
            [
                gpg,
                "--homedir",
                str(home),
                "--batch",
                "--no-tty",
                "--status-fd",
                "1",
                "--import",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SourceError(f"cannot import OpenPGP public key file {path}: gpg timed out") from exc
    if "[GNUPG:] IMPORT_OK" not in result.stdout:
        errors = " ".join(line.strip() for line in result.stderr.splitlines() if line.strip())
        raise SourceError(
            f"cannot import OpenPGP public key file {path}: no public key found ({errors})"
        )


def _signature_header(raw_commit: str) -> str | None:
    """The ``gpgsig`` header of a raw commit object (``git cat-file commit``), or ``None``."""
    header, _, _ = raw_commit.partition("\n\n")
    lines = header.split("\n")
    for index, line in enumerate(lines):
        name, _, value = line.partition(" ")
        if name in ("gpgsig", "gpgsig-sha256"):
            continued = [rest[1:] for rest in lines[index + 1 :] if rest.startswith(" ")]
            return "\n".join([value, *continued])
    return None


def _verdict(*, signature: str, status: int, output: str) -> str | _Refusal:
    """The signer (see :attr:`Checkout.signed_by`) or why the signature is refused.

    ``signature`` is the commit's signature; ``status`` and ``output`` are ``git verify-commit
    --raw``'s exit status and standard error: GnuPG status lines (``doc/DETAILS`` in GnuPG's
    sources) for OpenPGP, ``ssh-keygen -Y``'s messages for SSH.
    """
    if "BEGIN PGP SIGNATURE" in signature:
        return _gpg_verdict(status=status, output=output)
    if "BEGIN SSH SIGNATURE" in signature:
        return _ssh_verdict(status=status, output=output)
    return _Refusal(
        "unsupported_signature",
        "the commit's signature is neither OpenPGP nor SSH (X.509 is not supported)",
    )


def _gpg_verdict(*, status: int, output: str) -> str | _Refusal:
    fields: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, *rest = line.removeprefix("[GNUPG:] ").split()
            fields.setdefault(keyword, rest)
    if status == 0 and "GOODSIG" in fields and fields.get("VALIDSIG"):
        valid = fields["VALIDSIG"]
        return valid[9] if len(valid) > 9 else valid[0]  # primary key, else the signing key
    for keyword, reason, words in (
        ("BADSIG", "bad_signature", "a bad OpenPGP signature (the commit was altered) by key"),
        ("EXPKEYSIG", "expired_key", "signed by the expired OpenPGP key"),
        ("REVKEYSIG", "revoked_key", "signed by the revoked OpenPGP key"),
        ("EXPSIG", "expired_signature", "an expired OpenPGP signature by key"),
    ):
        if keyword in fields:
            key = fields[keyword][0] if fields[keyword] else "(unknown)"
            return _Refusal(reason, f"{words} {key}")
    if "NO_PUBKEY" in fields or "ERRSIG" in fields:
        key = (fields.get("NO_PUBKEY") or fields.get("ERRSIG") or ["(unknown)"])[0]
        if "NO_PUBKEY" in fields:
            return _Refusal("unknown_key", f"signed by OpenPGP key {key}, which is not trusted")
        return _Refusal(
            "verification_failed",
            f"gpg cannot check the signature by key {key}: {_one_line(output)}",
        )
    return _Refusal("verification_failed", f"OpenPGP verification failed: {_one_line(output)}")


def _ssh_verdict(*, status: int, output: str) -> str | _Refusal:
    good = _SSH_GOOD.search(output)
    if status == 0 and good is not None:
        return f"{good['principal']} {good['key']}"
    key_match = _SSH_KEY.search(output)
    key = key_match["key"] if key_match else "(unknown)"
    lowered = output.lower()
    if "no principal matched" in lowered:
        return _Refusal(
            "unknown_key", f"signed by SSH key {key}, which is not in the allowed signers"
        )
    if "incorrect signature" in lowered or "signature verification failed" in lowered:
        return _Refusal("bad_signature", "a bad SSH signature (the commit was altered)")
    return _Refusal("verification_failed", f"SSH verification failed: {_one_line(output)}")


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or "(no output)"
