"""The Git source: one revision of the desired-state folder, read from a Git repository.

This is the only module that imports GitPython (``git``); every GitPython or ``git`` failure is
translated here, once, into :class:`~reconciler.errors.SourceError`.

A repository is given as

* a URL: ``file://``, ``https://`` (credentials may be embedded: ``https://user:token@host/...``),
  ``ssh://`` or scp-like ``git@host:org/repo.git``;
* a local path to a bare repository, or to a work tree when a ``ref`` is given: both are fetched
  like a URL into the cache;
* a local path to the top of a work tree, with no ``ref``: used as it is, without cloning, at the
  revision of its ``HEAD`` (files on disk may carry uncommitted edits; this is the laptop case).

Fetched repositories live in ``cache_dir`` (default ``$XDG_CACHE_HOME/identity-center-reconciler/
sources``, else ``~/.cache/...``), one sub-directory per repository, with a detached, hard-reset and
cleaned work tree at the fetched commit. Nothing in the cache may be edited by hand: every
:meth:`GitSource.fetch` discards local changes there.

Credentials embedded in a URL are passed to ``git`` on its command line only: they are never
written to the cache's ``.git/config`` (no remote is configured; every fetch names the URL), and
never appear in messages, logs or :class:`Checkout` (see :func:`redact_credentials`). ``git`` runs
with terminal and askpass prompts disabled, so a missing credential fails at once instead of
waiting for input.

With a :class:`SignaturePolicy`, :meth:`GitSource.fetch` refuses a revision that is not signed by
a trusted key (:class:`~reconciler.errors.UnverifiedRevisionError`) before checking it out. The
check is ``git verify-commit``'s, for OpenPGP and SSH signatures alike: OpenPGP public keys are
imported into a private ``GNUPGHOME`` the source makes (the user's keyring is never read), SSH keys
are read from an ``allowed_signers`` file (``ssh-keygen(1)``'s format). See
``docs/signed-revisions.md`` for merge commits signed by a hosting service.

:func:`commit_folder` writes the other way: it commits a folder to a local repository (the demo
and tests use it to make the repository a :class:`GitSource` then reads).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import git

from reconciler.errors import SourceError, UnverifiedRevisionError

__all__ = [
    "DEFAULT_SUBPATH",
    "Checkout",
    "GitSource",
    "SignaturePolicy",
    "commit_folder",
    "redact_credentials",
]

DEFAULT_SUBPATH = "desired-state"
"""The folder of the repository that holds the desired state, unless told otherwise."""

DEFAULT_TIMEOUT_SECONDS = 300.0
"""How long one ``git`` command (ls-remote, fetch, checkout) may run before it is killed."""

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# scp-like syntax, as git reads it: a colon before the first slash (``git@github.com:org/repo``).
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:")
# Greedy up to the last "@" before the host, so a password holding a raw "@" is redacted whole.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s'\"]+)@")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
_REDACTED = "***"
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


@dataclass(frozen=True, kw_only=True)
class Checkout:
    """One fetched revision of the desired state.

    ``revision`` is the full 40-hex commit SHA; ``path`` the desired-state folder inside the work
    tree (an existing directory); ``repository`` the repository as given, with credentials
    redacted; ``ref`` the branch, tag or commit asked for (the default branch's name when none
    was, ``HEAD`` for a detached local work tree); ``committed_at`` the commit's committer date,
    timezone-aware; ``message_summary`` the first line of the commit message; ``signed_by``
    who signed the revision when a :class:`SignaturePolicy` verified it (``None`` otherwise):
    the OpenPGP primary key's fingerprint (40 hex digits, upper case), or for SSH the principal
    of the ``allowed_signers`` file and the key's fingerprint (``alice@example.com
    SHA256:...``).
    """

    revision: str
    path: Path
    repository: str
    ref: str
    committed_at: datetime
    message_summary: str
    signed_by: str | None = None
    uncommitted: bool = False
    """True when a local work tree read in place has uncommitted changes under the sub-path:
    the files are then not exactly those of ``revision``."""


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
    fetch refuse a revision not signed by one of its keys.

    Raises :class:`~reconciler.errors.SourceError` at once for a ``ref`` or ``subpath`` that can
    never be valid (an option-like ref, an absolute or escaping sub-path).
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
    ) -> None:
        if not repository.strip():
            raise SourceError("repository is empty: give a URL or a local path")
        self._repository = repository
        self._shown = redact_credentials(repository)
        self._secrets = _url_secrets(repository)
        self._ref = _checked_ref(ref, shown=self._shown) if ref is not None else None
        self._subpath = _checked_subpath(subpath)
        self._cache_dir = cache_dir if cache_dir is not None else _default_cache_dir()
        self._timeout = timeout_seconds
        self._is_url = _SCHEME.match(repository) is not None
        self._is_scp_like = (
            not self._is_url
            and not Path(repository).expanduser().exists()
            and _SCP_LIKE.match(repository) is not None
        )
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
        """Bring the revision of ``ref`` to disk and describe it.

        Clones into the cache on the first call and fetches on later ones; then checks out the
        commit ``ref`` names (detached), discarding any local change in the cached work tree. A
        local work tree given without ``ref`` (or with ``HEAD``) is read in place, never
        modified. Concurrent calls for one repository and cache, from threads or processes, take
        turns (a file lock).

        Raises :class:`~reconciler.errors.SourceError` when the repository is unreachable or not
        found, authentication fails, ``ref`` is not found, or the sub-path is missing (or not a
        directory) at that revision. The message names the repository with credentials
        redacted. With ``verification``, raises
        :class:`~reconciler.errors.UnverifiedRevisionError` (a ``SourceError``) when the commit
        is unsigned or not signed by a trusted key, before its files are checked out; a local
        work tree read in place is refused, too, when it has uncommitted changes under the
        sub-path (they are signed by no one).
        """
        if not self._is_url and not self._is_scp_like:
            work_tree = self._local_work_tree()
            if work_tree is not None:
                if self._ref in (None, "HEAD"):
                    return self._read_work_tree(work_tree)
                work_tree.close()  # a ref is asked for: fetch it, leave the user's tree alone
        return self._fetch_into_cache()

    # -- a local work tree, read in place ------------------------------------------------------

    def _local_work_tree(self) -> git.Repo | None:
        """The repository at the local path if it is a work tree, ``None`` if it is bare."""
        path = Path(self._repository).expanduser()
        if not path.exists():
            raise SourceError(f"repository {self._shown} not found: no such directory")
        try:
            repo = git.Repo(path)
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
            except git.GitCommandError as exc:
                raise self._command_error(exc, doing="read HEAD of") from exc
            ref = "HEAD" if repo.head.is_detached else repo.active_branch.name
            top = repo.working_tree_dir
            if top is None:  # pragma: no cover - a non-bare repository has a work tree
                raise SourceError(f"repository {self._shown} has no work tree")
            signed_by = self._verify(repo, commit.hexsha)
            if self._verifier is not None and repo.is_dirty(
                untracked_files=True, path=self._subpath
            ):
                raise UnverifiedRevisionError(
                    revision=commit.hexsha,
                    reason="uncommitted_changes",
                    detail=f"the work tree has uncommitted changes under {self._subpath!r}"
                    " (only committed files are signed)",
                    repository=self._shown,
                )
            checked_out = self._checkout(
                commit=commit, work_tree=Path(top), ref=ref, signed_by=signed_by
            )
            if repo.is_dirty(untracked_files=True, path=self._subpath):
                checked_out = replace(checked_out, uncommitted=True)
            return checked_out

    # -- anything else: fetched into the cache -------------------------------------------------

    def _fetch_into_cache(self) -> Checkout:
        clone_dir = self._clone_dir()
        clone_dir.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(clone_dir.with_name(clone_dir.name + ".lock")):
            fresh = not clone_dir.exists()
            with self._open_clone(clone_dir) as repo:
                try:
                    ref = self._fetch_refs(repo)
                except SourceError:
                    if fresh:  # leave no empty cache behind for a repository never reached
                        shutil.rmtree(clone_dir, ignore_errors=True)
                    raise
                sha = self._resolve(repo, ref)
                signed_by = self._verify(repo, sha)
                self._run(
                    repo, "checkout", "--quiet", "--force", "--detach", sha, doing="check out"
                )
                self._run(repo, "clean", "--quiet", "-ffdx", doing="clean")
                return self._checkout(
                    commit=repo.commit(sha), work_tree=clone_dir, ref=ref, signed_by=signed_by
                )

    def _fetch_refs(self, repo: git.Repo) -> str:
        """Fetch every branch and tag (pruning deleted ones); return the ref to check out."""
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
            "--",
            url,
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
            doing="fetch from",
        )
        return ref

    @contextmanager
    def _open_clone(self, clone_dir: Path) -> Iterator[git.Repo]:
        """The cached clone, made on first use; a damaged one is thrown away and made again."""
        repo: git.Repo | None = None
        if clone_dir.exists():
            try:
                repo = git.Repo(clone_dir)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError):
                shutil.rmtree(clone_dir)
        if repo is None:
            try:
                repo = git.Repo.init(clone_dir)
            except git.GitCommandError as exc:
                raise self._command_error(exc, doing="make a cache for") from exc
        repo.git.update_environment(
            GIT_TERMINAL_PROMPT="0",  # fail at once instead of asking for a user name
            GIT_ASKPASS="",  # nor through a graphical askpass program (empty disables it)
        )
        with repo:
            yield repo

    def _fetch_url(self) -> str:
        if self._is_url or self._is_scp_like:
            return self._repository
        return str(Path(self._repository).expanduser().resolve())

    def _default_branch(self, repo: git.Repo, url: str) -> str:
        """The branch the remote's ``HEAD`` points to (``git ls-remote --symref URL HEAD``)."""
        listing = self._run(repo, "ls-remote", "--symref", "--", url, "HEAD", doing="read")
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
            try:
                sha = repo.git.rev_parse("--verify", "--quiet", f"{candidate}^{{commit}}")
            except git.GitCommandError:
                continue
            return str(sha).strip()
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

    # -- shared --------------------------------------------------------------------------------

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
        try:
            status, _, output = repo.git.verify_commit(
                "--raw",
                sha,
                env=environment,
                with_extended_output=True,
                with_exceptions=False,
                kill_after_timeout=self._timeout,
            )
        except git.GitCommandError as exc:  # git could not be run at all
            raise self._command_error(exc, doing="verify a commit of") from exc
        verdict = _verdict(
            signature=signature, status=int(status), output=self._redact(str(output))
        )
        if isinstance(verdict, _Refusal):
            raise UnverifiedRevisionError(
                revision=sha, reason=verdict.reason, detail=verdict.detail, repository=self._shown
            )
        return verdict

    def _checkout(
        self, *, commit: git.Commit, work_tree: Path, ref: str, signed_by: str | None = None
    ) -> Checkout:
        path = work_tree / self._subpath
        if not path.is_dir():
            what = "is not a directory" if path.exists() else "is missing"
            raise SourceError(
                f"sub-path {self._subpath!r} {what} at revision {commit.hexsha}"
                f" of repository {self._shown}"
            )
        if not path.resolve().is_relative_to(work_tree.resolve()):
            raise SourceError(
                f"sub-path {self._subpath!r} at revision {commit.hexsha} of repository"
                f" {self._shown} leads outside the repository (a symbolic link)"
            )
        summary = commit.summary
        return Checkout(
            revision=commit.hexsha,
            path=path,
            repository=self._shown,
            ref=ref,
            committed_at=_plain_timezone(commit.committed_datetime),
            message_summary=summary
            if isinstance(summary, str)
            else summary.decode(errors="replace"),
            signed_by=signed_by,
        )

    def _run(self, repo: git.Repo, command: str, *args: str, doing: str) -> str:
        """Run ``git COMMAND ARGS`` in ``repo``; a failure becomes a :class:`SourceError`."""
        try:
            output = getattr(repo.git, command.replace("-", "_"))(
                *args, kill_after_timeout=self._timeout
            )
        except git.GitCommandError as exc:
            raise self._command_error(exc, doing=doing) from exc
        return str(output)

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
