"""Fetching: :class:`GitSource` brings revisions into a cache of bare repositories (or reads a
local work tree in place) and describes them as :class:`Checkout`; :class:`RevisionRelation`
says how two revisions stand in the history."""

from __future__ import annotations

import enum
import fcntl
import hashlib
import os
import re
import shutil
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import git

from reconciler.adapters.source.reading import (
    DEFAULT_LIMITS,
    ReadLimits,
    open_directory_below,
    read_directory_fd,
    read_git_tree,
)
from reconciler.adapters.source.repositories import (
    DEFAULT_SUBPATH,
    GIT_ENVIRONMENT,
    checked_subpath,
    open_repository,
    stderr_text,
)
from reconciler.adapters.source.signatures import (
    Refusal,
    SignaturePolicy,
    Verifier,
    one_line,
    signature_header,
    signature_verdict,
)
from reconciler.adapters.source.urls import (
    REDACTED,
    SCHEME,
    SCP_LIKE,
    check_protocol,
    config_environment,
    exists_locally,
    redact_credentials,
    url_secrets,
    without_credentials,
)
from reconciler.errors import Problem, SourceError, UnverifiedRevisionError
from reconciler.model.wording import suggestion_clause

DEFAULT_TIMEOUT_SECONDS = 300.0
"""How long one ``git`` command (ls-remote, fetch, checkout) may run before it is killed."""

_SHA = re.compile(r"[0-9a-fA-F]{4,40}")

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

    @property
    def is_forward(self) -> bool:
        """Whether the history moved forward (or stayed): ``SAME`` or ``DESCENDANT``."""
        return self in (RevisionRelation.SAME, RevisionRelation.DESCENDANT)


@dataclass(frozen=True, kw_only=True)
class Checkout:
    """One fetched revision of the desired state.

    ``revision`` is the full 40-hex commit SHA; ``files`` the desired-state files (every
    ``*.json`` regular file under the sub-path), keyed by their POSIX path relative to the
    sub-path (``users.json``, ``permission-sets/Admin.json``), read from the commit's tree (or,
    when ``uncommitted``, from the local work tree); ``problems`` the entries that were refused
    unread (a symbolic link, a submodule, a device or FIFO, a file over a :class:`ReadLimits`
    bound), each naming its file and rule: a revision with problems is invalid.
    ``parent_revisions`` are the commit's parents, first parent first (none for a root commit,
    two or more for a merge).
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
    parent_revisions: tuple[str, ...] = ()
    signed_by: str | None = None
    uncommitted: bool = False
    """True when a local work tree read in place has uncommitted changes under the sub-path
    (counting untracked and ignored files): ``files`` are then read from the disk, and are not
    exactly those of ``revision``."""
    path: Path | None = None


class GitSource:
    """A Git repository from which :meth:`fetch` reads the current revision of the desired state.

    ``repository`` is a URL or a local path (see the module docstring); ``ref`` a branch name,
    a tag name, a full ref (``refs/heads/main``, ``refs/tags/v1``), a commit SHA reachable from
    a branch or tag, or for a local repository any revision expression git resolves there
    (``HEAD~3``); ``None`` means the remote's default branch (its ``HEAD``), or the current
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
        self._secrets = url_secrets(repository)
        check_protocol(repository, shown=self._shown)
        self._ref = _checked_ref(ref, shown=self._shown) if ref is not None else None
        self._subpath = checked_subpath(subpath)
        self._cache_dir = cache_dir if cache_dir is not None else _default_cache_dir()
        self._timeout = timeout_seconds
        self._limits = limits
        self._is_url = SCHEME.match(repository) is not None
        self._is_scp_like = (
            not self._is_url
            and not exists_locally(repository)
            and SCP_LIKE.match(repository) is not None
        )
        self._url, self._url_config = without_credentials(repository)
        headers = tuple(value.rsplit(" ", 1)[-1] for value in self._url_config.values())
        self._secrets = (*headers, *self._secrets)  # the Basic token, should git echo it
        self._verifier = Verifier(verification) if verification is not None else None

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
            raise SourceError(_no_such_directory(self._shown))
        try:
            repo = open_repository(path)
        except git.InvalidGitRepositoryError as exc:
            raise SourceError(
                f"repository {self._shown} ({path.resolve()}) is not a Git repository nor inside"
                " one: run from a clone of the repository that holds the desired state, or give"
                " --repo a folder of a work tree, a bare repository or a URL"
            ) from exc
        except git.NoSuchPathError as exc:
            raise SourceError(_no_such_directory(self._shown)) from exc
        if repo.bare:
            repo.close()
            return None
        return repo

    def _read_work_tree(self, repo: git.Repo) -> Checkout:
        with repo:
            try:
                commit = repo.head.commit
            except ValueError as exc:  # GitPython: "Reference at 'refs/heads/main' does not exist"
                raise SourceError(
                    f"repository {self._shown} has no commit yet: commit the desired state "
                    f"(git add {self._subpath} && git commit), then run again"
                ) from exc
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
        untracked or ignored (``.gitignore``, ``.git/info/exclude``) files alike. The work
        tree's own file-system monitor (``core.fsmonitor``, a command git would run) is off."""
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
            env=config_environment({"core.fsmonitor": "false"}),
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
                    + suggestion_clause(part, _folders_in(current.parent), kind="folder")
                )
            if stat.S_ISLNK(mode):
                raise SourceError(
                    f"sub-path {self._subpath!r} of repository {self._shown}: {shown!r} is a"
                    " symbolic link in the work tree (links are never followed)"
                )
        try:
            root = open_directory_below(os.fspath(top), parts)
        except OSError as exc:
            raise SourceError(
                f"sub-path {self._subpath!r} of repository {self._shown} cannot be read from the"
                f" work tree: {exc.strerror}"
            ) from exc
        try:
            return read_directory_fd(root, self._limits, skip_git=not parts)
        finally:
            os.close(root)

    # -- anything else: fetched into the cache -------------------------------------------------

    def _fetch_into_cache(self) -> Checkout:
        local_sha = self._local_commit()
        with self._cache() as (repo, fresh):
            ref = self._fetch_or_discard(repo, fresh=fresh)
            sha = self._resolve(repo, ref, local_sha=local_sha)
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
                repo = open_repository(clone_dir)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError):
                repo = None
            if repo is not None and not repo.bare:
                repo.close()
                repo = None
            if repo is None:
                shutil.rmtree(clone_dir)
        if repo is None:
            git.Git().init("--quiet", "--bare", str(clone_dir), env=GIT_ENVIRONMENT)
            repo = open_repository(clone_dir)
        with repo:
            yield repo

    def _fetch_url(self) -> str:
        if self._is_url or self._is_scp_like:
            return self._url
        return str(Path(self._repository).expanduser().resolve())

    def _network_environment(self) -> dict[str, str]:
        """``GIT_CONFIG_*`` variables carrying the URL's credentials (none without any)."""
        return config_environment(self._url_config)

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
            " give --ref BRANCH (ref in the controller's settings)"
        )

    def _local_commit(self) -> str | None:
        """The commit ``ref`` names in a local repository (``git rev-parse --verify
        REF^{commit}`` there), so every revision expression git accepts (``HEAD~3``,
        ``main@{1}``, ``v1^2``, an abbreviated SHA) can be read; ``None`` for a URL, without a
        ref, or when the local repository does not know it."""
        if self._ref is None or not self._reads_in_place():
            return None
        path = Path(self._repository).expanduser()
        try:
            repo = open_repository(path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        with repo:
            return self._commit_sha(repo, self._ref)

    def _resolve(self, repo: git.Repo, ref: str, *, local_sha: str | None = None) -> str:
        """The full SHA of the commit ``ref`` names among the fetched branches and tags; else
        ``local_sha``, what it names in the local repository (fetched by SHA if the branches
        and tags do not hold it); else a revision expression on them (``main~1``, ``v1^``)."""
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
        if local_sha is not None:
            if self._commit_sha(repo, local_sha) is None:
                self._fetch_commit(repo, local_sha)
            if self._commit_sha(repo, local_sha) is not None:
                return local_sha
        sha = self._commit_sha(repo, ref)
        if sha is not None:
            return sha
        raise SourceError(
            f"ref {ref!r} not found in repository {self._shown}: no branch, tag, commit or"
            " revision expression git resolves (HEAD~3, main~1, v1^, a SHA) of that name"
            " (`git -C REPOSITORY rev-parse --verify REF` says what git makes of it)"
        )

    def _fetch_commit(self, repo: git.Repo, sha: str) -> None:
        """Fetch commit ``sha`` by itself (one no branch or tag reaches: a detached ``HEAD``'s);
        a repository that will not serve it leaves the cache as it was."""
        repo.git.fetch(
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            "--",
            self._fetch_url(),
            sha,
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=self._timeout,
            env=self._network_environment(),
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
        files, problems = read_git_tree(repo, tree, self._limits)
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
                    + suggestion_clause(part, [t.name for t in tree.trees], kind="folder")
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
            parent_revisions=tuple(parent.hexsha for parent in commit.parents),
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
            f" git failed ({self._redact(one_line(str(error)))})"
        )

    def _verify(self, repo: git.Repo, sha: str) -> str | None:
        """Who signed commit ``sha`` (see :attr:`Checkout.signed_by`); ``None`` when unchecked.

        Raises :class:`~reconciler.errors.UnverifiedRevisionError` when no trusted key signed
        it, and :class:`~reconciler.errors.SourceError` when the trusted keys cannot be read.
        """
        if self._verifier is None:
            return None
        header = self._run(repo, "cat-file", "commit", sha, doing="read a commit of")
        signature = signature_header(header)
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
        verdict = signature_verdict(
            signature=signature, status=int(status), output=self._redact(str(output))
        )
        if isinstance(verdict, Refusal):
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
        except (git.GitError, git.exc.ODBError, ValueError, LookupError, TypeError, OSError) as exc:
            detail = self._redact(one_line(str(exc)))
            raise SourceError(
                f"cannot {doing} repository {self._shown}: {type(exc).__name__} ({detail})"
            ) from exc

    def _command_error(self, exc: git.GitCommandError, *, doing: str) -> SourceError:
        detail = self._redact(stderr_text(exc))
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
            text = text.replace(secret, REDACTED)
        return text


_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _folders_in(folder: Path) -> list[str]:
    """The names of the folders in ``folder`` (no symbolic link, not ``.git``), for a hint."""
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_dir(follow_symlinks=False) and e.name != ".git"]
    except OSError:
        return []


def _checked_sha(revision: str, *, shown: str) -> str:
    sha = revision.strip().lower()
    if not _FULL_SHA.fullmatch(sha):
        raise SourceError(
            f"revision {revision!r} of repository {shown} is not a full commit SHA (40 hex digits)"
        )
    return sha


def _plain_timezone(moment: datetime) -> datetime:
    """``moment`` with GitPython's own tzinfo class replaced by a :class:`datetime.timezone`."""
    return moment.astimezone(timezone(moment.utcoffset() or timedelta(0)))


def _checked_ref(ref: str, *, shown: str) -> str:
    if not ref or ref.startswith("-") or any(ch.isspace() or ord(ch) < 32 for ch in ref):
        raise SourceError(f"ref {ref!r} for repository {shown} is not a valid branch, tag or SHA")
    return ref


def _no_such_directory(shown: str) -> str:
    return (
        f"repository {shown} not found: no such directory; give --repo a folder of a work tree, "
        "a bare repository or a URL"
    )


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
