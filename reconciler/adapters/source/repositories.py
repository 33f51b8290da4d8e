"""Local repositories: opened with the pinned ``git`` environment, and :func:`commit_folder`,
which commits a folder (the demo and tests make the repositories a source reads with it)."""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import git

from reconciler.adapters.source.urls import (
    ALLOWED_PROTOCOLS,
)
from reconciler.errors import SourceError

DEFAULT_SUBPATH = "desired-state"
"""The folder of the repository that holds the desired state, unless told otherwise."""

GIT_ENVIRONMENT = {
    "GIT_ALLOW_PROTOCOL": ":".join(ALLOWED_PROTOCOLS),
    "GIT_PROTOCOL_FROM_USER": "0",
    "GIT_TERMINAL_PROMPT": "0",  # fail at once instead of asking for a user name
    "GIT_ASKPASS": "",  # nor through a graphical askpass program (empty disables it)
    "GIT_OPTIONAL_LOCKS": "0",  # `git status` in the user's work tree writes nothing
    "GIT_TRACE_REDACT": "1",  # a trace the environment asks for never shows credentials
}
"""The environment every ``git`` command of the source runs with, over the process's own."""


def open_repository(path: Path) -> git.Repo:
    """The repository at ``path``, its git commands run with :data:`GIT_ENVIRONMENT`."""
    repo = git.Repo(path)
    repo.git.update_environment(**GIT_ENVIRONMENT)
    return repo


def work_tree_top(repository: str) -> Path | None:
    """The top of the Git work tree the local directory ``repository`` is in (``git rev-parse
    --show-toplevel`` run there), so a source can be given any folder of a work tree, as git
    commands can; ``None`` when ``repository`` is not an existing local directory (a URL), is a
    bare repository, or is in no work tree. Never raises for those: the source says what is
    wrong when it reads."""
    path = Path(repository).expanduser()
    if not path.is_dir():
        return None
    status, output, _ = git.Git(path).rev_parse(
        "--show-toplevel",
        with_extended_output=True,
        with_exceptions=False,
        env=GIT_ENVIRONMENT,
    )
    top = str(output).strip()
    return Path(top) if int(status) == 0 and top else None


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
    folder = checked_subpath(subpath)
    repository.mkdir(parents=True, exist_ok=True)
    try:
        try:
            repo = git.Repo(repository)
        except git.InvalidGitRepositoryError:
            repo = git.Repo.init(repository, initial_branch="main")
        repo.git.update_environment(**GIT_ENVIRONMENT)
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
        detail = stderr_text(exc)
        raise SourceError(f"cannot commit {source} to {repository}: {detail}") from exc
    except (git.GitError, ValueError) as exc:
        raise SourceError(f"cannot commit {source} to {repository}: {exc}") from exc


def stderr_text(exc: git.GitCommandError) -> str:
    """git's standard error, on one line, without GitPython's ``stderr: '...'`` wrapping."""
    stderr = exc.stderr if isinstance(exc.stderr, str) else exc.stderr.decode(errors="replace")
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    return text.removeprefix("stderr:").strip().removeprefix("'").removesuffix("'").strip()


def checked_subpath(subpath: str) -> str:
    pure = PurePosixPath(subpath.replace("\\", "/") or ".")
    if pure.is_absolute() or ".." in pure.parts:
        raise SourceError(
            f"sub-path {subpath!r} must be relative to the top of the repository, without '..'"
        )
    return str(pure)
