"""``export`` and ``schema`` write regular files inside the folder they are given: a symbolic
link in the way (planted in the folder, or a folder that is a link) is never written through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import run_cli

pytestmark = pytest.mark.usefixtures("aws_environment", "organization")


def test_export_force_replaces_a_linked_file_instead_of_writing_through_it(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "users.json").symlink_to(victim)

    result = run_cli("export", "--out", str(out), "--force")

    assert result.returncode == 0, result.stdout + result.stderr
    assert victim.read_text() == "precious\n"
    assert not (out / "users.json").is_symlink()
    assert '"users"' in (out / "users.json").read_text()


def test_export_refuses_a_folder_that_is_a_link(tmp_path: Path, access_repo: Path) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0  # permission sets live
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "permission-sets").symlink_to(elsewhere, target_is_directory=True)

    result = run_cli("export", "--out", str(out), "--force")

    assert result.returncode == 1
    assert "permission-sets is a symbolic link" in result.stdout + result.stderr
    assert list(elsewhere.iterdir()) == []


def test_schema_replaces_a_linked_file_instead_of_writing_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "schema"
    out.mkdir()
    (out / "users.schema.json").symlink_to(victim)

    result = run_cli("schema", "--out", str(out))

    assert result.returncode == 0, result.stdout + result.stderr
    assert victim.read_text() == "precious\n"


def test_schema_into_a_path_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")

    result = run_cli("schema", "--out", str(a_file))

    assert result.returncode == 1
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_into_a_path_that_is_a_file_says_it_needs_a_folder(tmp_path: Path) -> None:
    a_file = tmp_path / "users.json"
    a_file.write_text("precious\n")

    result = run_cli("export", "--out", str(a_file), "--force")

    assert result.returncode == 1
    assert "is a file: export writes a folder" in result.stdout + result.stderr
    assert a_file.read_text() == "precious\n"
