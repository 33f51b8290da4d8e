"""With trusted keys configured, the loop refuses an unsigned commit like an invalid one."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.adapters.aws.clients import AwsClients
from reconciler.model.state import Membership
from reconciler.planning.reports import PassStatus
from tests.controller.conftest import ControllerFactory, add_member, memberships
from tests.support import git

SAM_ADMIN = Membership(group="AdminAccess", user="sam.lee")

pytestmark = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed"
)


@pytest.fixture
def allowed_signers(tmp_path: Path, access_repo: Path) -> Path:
    """An SSH key trusted to sign, and the example commit signed by it (amended)."""
    key = tmp_path / "signer"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    signers = tmp_path / "allowed_signers"
    public_key = key.with_suffix(".pub").read_text().strip()
    signers.write_text(f'signer@example.com namespaces="git" {public_key}\n')
    git(
        access_repo,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}",
        "commit",
        "-q",
        "--amend",
        "--no-edit",
        "-S",
    )
    return signers


def test_an_unsigned_commit_is_refused_and_the_signed_one_stays_in_force(
    make_controller: ControllerFactory,
    access_repo: Path,
    allowed_signers: Path,
    aws: AwsClients,
) -> None:
    controller = make_controller(ssh_allowed_signers=allowed_signers)
    signed = controller.run_once()
    unsigned = add_member(access_repo, group="AdminAccess", user="sam.lee")

    report = controller.tick(force=False)

    assert signed.status is PassStatus.APPLIED
    assert report is not None
    assert report.status is PassStatus.INVALID
    assert report.phase == "verify"
    assert report.revision == unsigned
    assert report.error is not None
    assert unsigned in report.error
    assert "unsigned" in report.error
    assert controller.state.last_applied_revision == signed.revision
    assert SAM_ADMIN not in memberships(aws)


def _signed(repository: Path, key: Path, *args: str) -> str:
    """``git ARGS`` in ``repository`` with the commit it makes signed by the SSH key ``key``."""
    return git(repository, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", *args, "-S")


def test_a_force_push_back_to_an_older_signed_commit_is_refused(
    make_controller: ControllerFactory,
    access_repo: Path,
    allowed_signers: Path,
    aws: AwsClients,
    tmp_path: Path,
) -> None:
    """A signature proves who wrote a commit, not that it is the newest: moving the branch back
    to a signed commit that granted access (no key needed) must not grant it again."""
    key = tmp_path / "signer"
    controller = make_controller(ssh_allowed_signers=allowed_signers)
    assert controller.run_once().status is PassStatus.APPLIED
    groups = access_repo / "desired-state" / "groups.json"
    document = json.loads(groups.read_text())
    next(g for g in document["groups"] if g["name"] == "AdminAccess")["members"].append("sam.lee")
    groups.write_text(json.dumps(document, indent=2))
    _signed(access_repo, key, "commit", "-q", "-a", "-m", "Grant sam.lee AdminAccess")
    grant = git(access_repo, "rev-parse", "HEAD")
    assert controller.run_once().status is PassStatus.APPLIED
    assert SAM_ADMIN in memberships(aws)
    _signed(access_repo, key, "revert", "--no-edit", "HEAD")
    assert controller.run_once().status is PassStatus.APPLIED
    git(access_repo, "reset", "-q", "--hard", grant)  # what a force push does: no key needed

    report = make_controller(ssh_allowed_signers=allowed_signers).run_once()

    assert report.status is PassStatus.INVALID
    assert report.phase == "history"
    assert report.error is not None
    assert "older than the last applied revision" in report.error
    assert SAM_ADMIN not in memberships(aws)
