"""With trusted keys configured, the loop refuses an unsigned commit like an invalid one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.adapters.aws.clients import AwsClients
from reconciler.model.state import Membership
from reconciler.planning.reports import PassStatus
from tests.controller.conftest import ControllerFactory, add_member, memberships
from tests.support import git

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
    assert Membership(group="AdminAccess", user="sam.lee") not in memberships(aws)
