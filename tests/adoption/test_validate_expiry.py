"""``reconciler validate`` judges an expiry already in the past as a pass does: the access is not
granted, a warning says to delete the entry, and the revision is valid (offline too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.adoption.conftest import new_repository, run_cli, write_folder

ADMIN = {"name": "Admin", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}


def _repository(tmp_path: Path, expires_at: str) -> Path:
    repository = new_repository(tmp_path)
    entry = {
        "permission_set": "Admin",
        "users": ["ann"],
        "accounts": ["111111111111"],
        "expires_at": expires_at,
    }
    write_folder(
        repository,
        {"permission-sets/Admin.json": ADMIN, "assignments.json": {"assignments": [entry]}},
    )
    return repository


def test_offline_validation_warns_of_an_expiry_in_the_past(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = _repository(tmp_path, "2020-01-01T00:00:00+00:00")

    code = run_cli("validate", "--offline", "--repo", str(repository), "--format", "json")

    document = json.loads(capsys.readouterr().out)
    assert (code, document["valid"]) == (0, True)
    (warning,) = document["warnings"]
    assert (warning["path"], warning["rule"]) == ("$.assignments[0].expires_at", "access_expired")


def test_offline_validation_accepts_an_expiry_in_the_future(tmp_path: Path) -> None:
    repository = _repository(tmp_path, "2999-01-01T00:00:00+00:00")

    assert run_cli("validate", "--offline", "--repo", str(repository)) == 0
