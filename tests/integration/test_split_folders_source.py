"""The folders of files per team (``users/``, ``groups/``, ``assignments/``) under the source's
protections: links never followed, sizes and counts bounded, depth bounded, read from the commit
or safely from the disk."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.source import Checkout, GitSource, ReadLimits, read_directory
from reconciler.model import loading
from reconciler.model.loading import check_documents

pytestmark = pytest.mark.usefixtures("hermetic_git")

MARKER = "HOST-SECRET-51d2e8"
REQUIRED = {
    "reconciler.json": "{}",
    "groups.json": '{"groups": []}',
    "assignments.json": '{"assignments": []}',
    "users/web.json": '{"users": []}',
}


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    completed = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )
    return completed.stdout.strip()


def commit(work_tree: Path, message: str) -> None:
    git(work_tree, "add", "--all")
    git(work_tree, "commit", "--quiet", "--message", message)


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    """A work tree whose ``desired-state/`` declares users in ``users/web.json``."""
    path = tmp_path / "work"
    (path / "desired-state" / "users").mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch", "main")
    for name, content in REQUIRED.items():
        (path / "desired-state" / name).write_text(content)
    commit(path, "Desired state")
    return path


@pytest.fixture
def host_folder(tmp_path: Path) -> Path:
    """A folder outside every repository, holding a file with a marker never to be read."""
    path = tmp_path / "host"
    path.mkdir()
    (path / "secret.json").write_text(f'{{"users": [], "{MARKER}": 1}}\n')
    return path


def fetched(kind: str, work_tree: Path, tmp_path: Path, **options: Any) -> Checkout:
    """``work_tree``'s HEAD, read in place (``local``) or pushed to a bare repository and
    fetched into a cache (``cache``)."""
    repository = work_tree
    if kind == "cache":
        repository = tmp_path / "pushed.git"
        if not repository.exists():
            git(tmp_path, "init", "--quiet", "--bare", "--initial-branch", "main", str(repository))
        git(work_tree, "push", "--quiet", "--force", str(repository), "HEAD:refs/heads/main")
    return GitSource(
        repository=str(repository), cache_dir=tmp_path / "cache", timeout_seconds=60, **options
    ).fetch()


both_modes = pytest.mark.parametrize("kind", ["local", "cache"])


def test_the_fixture_loads_users_from_the_folder(work_tree: Path, tmp_path: Path) -> None:
    checkout = fetched("cache", work_tree, tmp_path)

    documents, problems = check_documents(checkout.files)

    assert problems == ()
    assert [item.file for item in documents.users] == []  # users/web.json declares none
    assert "users/web.json" in checkout.files


@both_modes
def test_a_committed_symlink_as_a_split_folder_is_refused_unread(
    kind: str, work_tree: Path, tmp_path: Path, host_folder: Path
) -> None:
    folder = work_tree / "desired-state" / "assignments"
    folder.symlink_to(host_folder)
    (work_tree / "desired-state" / "assignments.json").unlink()
    commit(work_tree, "Assignments are a link")

    checkout = fetched(kind, work_tree, tmp_path)

    assert [(p.file, p.rule) for p in checkout.problems] == [("assignments", "symlink")]
    assert MARKER not in repr(checkout.files)


@both_modes
def test_a_committed_symlink_inside_a_split_folder_is_refused_unread(
    kind: str, work_tree: Path, tmp_path: Path, host_folder: Path
) -> None:
    (work_tree / "desired-state" / "users" / "data.json").symlink_to(host_folder / "secret.json")
    commit(work_tree, "A team file is a link")

    checkout = fetched(kind, work_tree, tmp_path)

    assert [(p.file, p.rule) for p in checkout.problems] == [("users/data.json", "symlink")]
    assert set(checkout.files) == set(REQUIRED)
    assert MARKER not in repr(checkout.files)


def test_an_uncommitted_symlink_inside_a_split_folder_is_never_followed(
    work_tree: Path, tmp_path: Path, host_folder: Path
) -> None:
    (work_tree / "desired-state" / "groups").mkdir()
    (work_tree / "desired-state" / "groups" / "web.json").symlink_to(host_folder / "secret.json")

    checkout = fetched("local", work_tree, tmp_path)

    assert checkout.uncommitted
    assert [(p.file, p.rule) for p in checkout.problems] == [("groups/web.json", "symlink")]
    assert MARKER not in repr(checkout.files)


def test_a_fifo_in_a_split_folder_is_never_opened(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / "assignments").mkdir(parents=True)
    os.mkfifo(folder / "assignments" / "web.json")

    files, problems = read_directory(folder)

    assert files == {}
    assert [(p.file, p.rule) for p in problems] == [("assignments/web.json", "not_a_file")]


@both_modes
def test_a_team_file_over_the_size_limit_is_refused(
    kind: str, work_tree: Path, tmp_path: Path
) -> None:
    (work_tree / "desired-state" / "users" / "huge.json").write_text(" " * 2000)
    commit(work_tree, "Huge team file")

    checkout = fetched(kind, work_tree, tmp_path, limits=ReadLimits(file_bytes=1000))

    assert [(p.file, p.rule) for p in checkout.problems] == [("users/huge.json", "file_size")]


def _commit_many(work_tree: Path, folder: str, count: int) -> None:
    """Commit ``count`` files ``desired-state/<folder>/team-<n>.json``, each declaring one
    user, in one ``git fast-import`` stream (one process, not one per file); the work tree is
    then reset to the commit."""
    branch = git(work_tree, "symbolic-ref", "HEAD")
    parent = git(work_tree, "rev-parse", "HEAD")
    stream: list[str] = []
    for number in range(count):
        content = f'{{"users": [{{"user_name": "u{number}", "display_name": "U", '
        content += '"given_name": "G", "family_name": "F"}]}\n'
        stream += ["blob", f"mark :{number + 1}", f"data {len(content.encode())}", content]
    message = f"{count} files in {folder}/"
    stream += [
        f"commit {branch}",
        "committer Test <test@example.com> 0 +0000",
        f"data {len(message.encode())}",
        message,
        f"from {parent}",
        *(
            f"M 100644 :{number + 1} desired-state/{folder}/team-{number}.json"
            for number in range(count)
        ),
        "",
    ]
    git(work_tree, "fast-import", "--quiet", stdin="\n".join(stream))
    git(work_tree, "reset", "--quiet", "--hard")


def test_a_split_folder_of_ten_thousand_files_is_refused_whole_unread(
    work_tree: Path, tmp_path: Path
) -> None:
    _commit_many(work_tree, "users", 10_000)  # with the other files: over 10,000 entries

    checkout = fetched("cache", work_tree, tmp_path)

    assert [(p.file, p.rule) for p in checkout.problems] == [(".", "too_many_entries")]
    assert checkout.files == {}


def test_a_split_folder_over_the_file_bound_is_not_loaded(
    work_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loading, "MAX_FILES_PER_FOLDER", 20)
    _commit_many(work_tree, "users", 20)  # with users/web.json: 21 files

    checkout = fetched("cache", work_tree, tmp_path)
    documents, problems = check_documents(checkout.files)

    assert checkout.problems == ()
    assert [(p.file, p.rule) for p in problems] == [("users/", "too_many_files")]
    assert documents.users == ()


def _nest(top: Path, depth: int) -> Path:
    """``top/d/d/.../d`` ``depth`` folders deep, made one level at a time through directory
    descriptors (no path longer than a name)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = below
    with open(os.open("x.json", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd), "w") as file:
        file.write("{}")
    os.close(fd)
    return top


def test_a_deep_folder_tree_on_disk_is_not_entered_past_the_depth_bound(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "users.json").write_text('{"users": []}')
    _nest(folder, 300)  # read to the bottom, 45,000 opens: one per level from the top, each

    try:
        files, problems = read_directory(folder, limits=ReadLimits(depth=4))
    finally:
        shutil.rmtree(folder / "d")  # not left for pytest's clean-up of old temporary folders

    assert files == {"users.json": b'{"users": []}'}
    assert [(p.file, p.rule) for p in problems] == [("d/d/d/d/d", "too_deep")]


@both_modes
def test_a_committed_folder_tree_deeper_than_the_bound_is_refused_unread(
    kind: str, work_tree: Path, tmp_path: Path
) -> None:
    deep = work_tree / "desired-state" / "users" / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "team.json").write_text('{"users": []}')
    commit(work_tree, "Deep")

    checkout = fetched(kind, work_tree, tmp_path, limits=ReadLimits(depth=2))

    assert [(p.file, p.rule) for p in checkout.problems] == [("users/a/b", "too_deep")]
    assert not any(name.startswith("users/a/") for name in checkout.files)


def test_the_default_depth_bound_reads_every_desired_state_file(
    work_tree: Path, tmp_path: Path
) -> None:
    assert ReadLimits().depth >= 2
    checkout = fetched("local", work_tree, tmp_path)

    assert checkout.problems == ()
