"""Helpers shared by tests: Git repositories in temporary folders."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repository: Path, *args: str) -> str:
    """Run git in ``repository`` with a fixed identity; returns stdout."""
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repository,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def commit_all(repository: Path, message: str) -> str:
    """Commit everything in ``repository``; returns the new revision."""
    git(repository, "add", "-A")
    git(repository, "commit", "-q", "--allow-empty", "-m", message)
    return git(repository, "rev-parse", "HEAD")
