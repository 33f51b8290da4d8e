"""Signed revisions: the Git source refuses a commit not signed by a trusted key.

Real repositories in tmp dirs, commits signed with throwaway keys made for the test run:
OpenPGP keys by ``gpg --quick-gen-key`` in a temporary GNUPGHOME, SSH keys by
``ssh-keygen -t ed25519``. Needs GnuPG 2 (``gpg``) and OpenSSH 8.2+ (``ssh-keygen -Y``); the
tests of a missing tool are skipped, saying which.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.adapters.source import GitSource, SignaturePolicy
from reconciler.errors import SourceError, UnverifiedRevisionError

needs_gpg = pytest.mark.skipif(
    shutil.which("gpg") is None or shutil.which("gpgconf") is None,
    reason="GnuPG 2 (gpg, gpgconf) is not installed: apt-get install gnupg",
)
needs_ssh_keygen = pytest.mark.skipif(
    shutil.which("ssh-keygen") is None,
    reason="ssh-keygen is not installed: apt-get install openssh-client",
)


@dataclass(frozen=True)
class OpenPgpKey:
    fingerprint: str
    public_key_file: Path
    home: Path  # the GNUPGHOME holding the secret key, for signing


@dataclass(frozen=True)
class SshKey:
    private_key: Path
    public_key: str  # "ssh-ed25519 AAAA... comment"


@pytest.fixture(scope="module")
def gnupg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A GNUPGHOME for the test's secret keys; its gpg-agent is stopped afterwards."""
    if shutil.which("gpg") is None:
        pytest.skip("GnuPG 2 (gpg) is not installed: apt-get install gnupg")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    yield home
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True
    )


def _make_gpg_key(home: Path, user_id: str, folder: Path) -> OpenPgpKey:
    environment = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", user_id, "ed25519", "sign", "0"],
        env=environment,
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-keys", user_id],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line[:4] == "fpr:")
    exported = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", fingerprint],
        env=environment,
        check=True,
        capture_output=True,
    ).stdout
    public_key_file = folder / f"{fingerprint}.asc"
    public_key_file.write_bytes(exported)
    return OpenPgpKey(fingerprint=fingerprint, public_key_file=public_key_file, home=home)


@pytest.fixture(scope="module")
def alice(gnupg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> OpenPgpKey:
    """The trusted OpenPGP key."""
    return _make_gpg_key(gnupg_home, "Alice <alice@example.com>", tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def mallory(gnupg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> OpenPgpKey:
    """An OpenPGP key nobody trusts (its secret key sits in the same signing keyring)."""
    return _make_gpg_key(
        gnupg_home, "Mallory <mallory@example.com>", tmp_path_factory.mktemp("keys")
    )


def _make_ssh_key(folder: Path, name: str) -> SshKey:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed: apt-get install openssh-client")
    private_key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(private_key)],
        check=True,
        capture_output=True,
    )
    public_key = private_key.with_suffix(".pub").read_text().strip()
    return SshKey(private_key=private_key, public_key=public_key)


@pytest.fixture(scope="module")
def bob(tmp_path_factory: pytest.TempPathFactory) -> SshKey:
    """The trusted SSH key."""
    return _make_ssh_key(tmp_path_factory.mktemp("ssh"), "bob")


@pytest.fixture(scope="module")
def eve(tmp_path_factory: pytest.TempPathFactory) -> SshKey:
    """An SSH key nobody trusts."""
    return _make_ssh_key(tmp_path_factory.mktemp("ssh"), "eve")


@pytest.fixture
def allowed_signers(tmp_path: Path, bob: SshKey) -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(f'bob@example.com namespaces="git" {bob.public_key}\n')
    return path


pytestmark = pytest.mark.usefixtures("hermetic_git")


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    work_tree = tmp_path / "access"
    work_tree.mkdir()
    git(work_tree, "init", "--quiet", "--initial-branch", "main")
    return work_tree


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
        env=None if env is None else {**os.environ, **env},
    )
    return completed.stdout.strip()


def commit(
    work_tree: Path, message: str, *, signer: OpenPgpKey | SshKey | None = None, branch: str = ""
) -> str:
    """Change desired-state/file.json, commit it signed by ``signer``; return the SHA."""
    if branch:
        git(work_tree, "checkout", "--quiet", "-B", branch)
    target = work_tree / "desired-state" / "file.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(f'{{"message": "{message}"}}\n')
    git(work_tree, "add", "--all")
    git(work_tree, *_signing(signer), "commit", "--quiet", "--message", message, env=_env(signer))
    return git(work_tree, "rev-parse", "HEAD")


def _signing(signer: OpenPgpKey | SshKey | None) -> list[str]:
    if signer is None:
        return ["-c", "commit.gpgsign=false"]
    if isinstance(signer, OpenPgpKey):
        return ["-c", "commit.gpgsign=true", "-c", f"user.signingkey={signer.fingerprint}"]
    return [
        "-c",
        "commit.gpgsign=true",
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={signer.private_key}",
    ]


def _env(signer: OpenPgpKey | SshKey | None) -> dict[str, str] | None:
    return {"GNUPGHOME": str(signer.home)} if isinstance(signer, OpenPgpKey) else None


def altered(work_tree: Path, sha: str, *, branch: str) -> str:
    """A copy of signed commit ``sha`` with its message changed (signature kept), on ``branch``."""
    raw = git(work_tree, "cat-file", "commit", sha) + "\n"
    forged = raw.rstrip("\n") + " (altered)\n"
    path = work_tree.parent / "forged-commit"
    path.write_text(forged)
    forged_sha = git(work_tree, "hash-object", "-t", "commit", "-w", str(path))
    git(work_tree, "update-ref", f"refs/heads/{branch}", forged_sha)
    return forged_sha


def source(
    repository: Path, tmp_path: Path, policy: SignaturePolicy | None, *, ref: str = "main"
) -> GitSource:
    return GitSource(
        repository=str(repository), ref=ref, cache_dir=tmp_path / "cache", verification=policy
    )


# -- OpenPGP ---------------------------------------------------------------------------------


@needs_gpg
def test_a_commit_signed_by_a_trusted_openpgp_key_is_fetched(
    repository: Path, tmp_path: Path, alice: OpenPgpKey
) -> None:
    sha = commit(repository, "grant", signer=alice)
    policy = SignaturePolicy(gpg_public_keys=[alice.public_key_file])

    checkout = source(repository, tmp_path, policy).fetch()

    assert checkout.revision == sha
    assert checkout.signed_by == alice.fingerprint


@needs_gpg
def test_an_unsigned_commit_is_refused_naming_the_commit(
    repository: Path, tmp_path: Path, alice: OpenPgpKey
) -> None:
    sha = commit(repository, "grant", signer=None)
    policy = SignaturePolicy(gpg_public_keys=[alice.public_key_file])

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy).fetch()

    assert (refused.value.revision, refused.value.reason) == (sha, "unsigned")
    assert sha in str(refused.value)
    assert "not signed" in str(refused.value)


@needs_gpg
def test_a_commit_signed_by_an_untrusted_openpgp_key_is_refused(
    repository: Path, tmp_path: Path, alice: OpenPgpKey, mallory: OpenPgpKey
) -> None:
    sha = commit(repository, "grant", signer=mallory)
    policy = SignaturePolicy(gpg_public_keys=[alice.public_key_file])

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy).fetch()

    assert (refused.value.revision, refused.value.reason) == (sha, "unknown_key")
    assert mallory.fingerprint[-16:] in str(refused.value)  # the long key id


@needs_gpg
def test_an_altered_openpgp_signed_commit_is_refused_as_a_bad_signature(
    repository: Path, tmp_path: Path, alice: OpenPgpKey
) -> None:
    signed = commit(repository, "grant", signer=alice)
    forged = altered(repository, signed, branch="forged")
    policy = SignaturePolicy(gpg_public_keys=[alice.public_key_file])

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy, ref="forged").fetch()

    assert (refused.value.revision, refused.value.reason) == (forged, "bad_signature")


@needs_gpg
def test_the_users_own_keyring_is_never_consulted(
    repository: Path,
    tmp_path: Path,
    alice: OpenPgpKey,
    mallory: OpenPgpKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commit(repository, "grant", signer=mallory)
    monkeypatch.setenv("GNUPGHOME", str(mallory.home))  # a keyring that knows mallory's key
    policy = SignaturePolicy(gpg_public_keys=[alice.public_key_file])

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy).fetch()

    assert refused.value.reason == "unknown_key"


@needs_gpg
def test_a_key_added_to_a_trusted_key_file_counts_at_the_next_fetch(
    repository: Path, tmp_path: Path, alice: OpenPgpKey, mallory: OpenPgpKey
) -> None:
    commit(repository, "grant", signer=mallory)
    trusted = tmp_path / "trusted.asc"
    shutil.copyfile(alice.public_key_file, trusted)
    fetching = source(repository, tmp_path, SignaturePolicy(gpg_public_keys=[trusted]))
    with pytest.raises(UnverifiedRevisionError):
        fetching.fetch()

    trusted.write_bytes(alice.public_key_file.read_bytes() + mallory.public_key_file.read_bytes())

    assert fetching.fetch().signed_by == mallory.fingerprint


@needs_gpg
def test_a_refused_revision_is_not_checked_out(
    repository: Path, tmp_path: Path, alice: OpenPgpKey
) -> None:
    commit(repository, "good", signer=alice)
    fetching = source(
        repository, tmp_path, SignaturePolicy(gpg_public_keys=[alice.public_key_file])
    )
    checkout = fetching.fetch()
    commit(repository, "sneaky", signer=None)

    with pytest.raises(UnverifiedRevisionError):
        fetching.fetch()

    assert b"good" in checkout.files["file.json"]


@needs_gpg
def test_a_merge_commit_signed_by_a_listed_hosting_key_is_trusted(
    repository: Path, tmp_path: Path, alice: OpenPgpKey, mallory: OpenPgpKey
) -> None:
    """The pull-request flow: unsigned branch commits, a merge commit signed by the service."""
    commit(repository, "base", signer=alice)
    commit(repository, "feature", signer=None, branch="feature")
    git(repository, "checkout", "--quiet", "main")
    hosting_service = mallory  # stands in for GitHub's web-flow key
    git(
        repository,
        *_signing(hosting_service),
        "merge",
        "--quiet",
        "--no-ff",
        "--message",
        "Merge pull request #1",
        "feature",
        env=_env(hosting_service),
    )
    policy = SignaturePolicy(
        gpg_public_keys=[alice.public_key_file, hosting_service.public_key_file]
    )

    checkout = source(repository, tmp_path, policy).fetch()

    assert checkout.signed_by == hosting_service.fingerprint


# -- SSH -------------------------------------------------------------------------------------


@needs_ssh_keygen
def test_a_commit_signed_by_a_trusted_ssh_key_is_fetched(
    repository: Path, tmp_path: Path, bob: SshKey, allowed_signers: Path
) -> None:
    sha = commit(repository, "grant", signer=bob)
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers)

    checkout = source(repository, tmp_path, policy).fetch()

    assert checkout.revision == sha
    assert checkout.signed_by is not None
    assert checkout.signed_by.startswith("bob@example.com SHA256:")


@needs_ssh_keygen
def test_a_commit_signed_by_an_untrusted_ssh_key_is_refused(
    repository: Path, tmp_path: Path, eve: SshKey, allowed_signers: Path
) -> None:
    sha = commit(repository, "grant", signer=eve)
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers)

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy).fetch()

    assert (refused.value.revision, refused.value.reason) == (sha, "unknown_key")
    assert "SHA256:" in refused.value.detail


@needs_ssh_keygen
def test_an_unsigned_commit_is_refused_under_an_ssh_policy(
    repository: Path, tmp_path: Path, allowed_signers: Path
) -> None:
    sha = commit(repository, "grant", signer=None)
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers)

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy).fetch()

    assert (refused.value.revision, refused.value.reason) == (sha, "unsigned")


@needs_ssh_keygen
def test_an_altered_ssh_signed_commit_is_refused_as_a_bad_signature(
    repository: Path, tmp_path: Path, bob: SshKey, allowed_signers: Path
) -> None:
    signed = commit(repository, "grant", signer=bob)
    forged = altered(repository, signed, branch="forged")
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers)

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy, ref="forged").fetch()

    assert (refused.value.revision, refused.value.reason) == (forged, "bad_signature")


@needs_ssh_keygen
def test_an_ssh_signed_commit_is_refused_when_only_openpgp_keys_are_trusted(
    repository: Path, tmp_path: Path, bob: SshKey, alice: OpenPgpKey
) -> None:
    commit(repository, "grant", signer=bob)
    policy = SignaturePolicy(gpg_public_keys=[alice.public_key_file])

    with pytest.raises(UnverifiedRevisionError) as refused:
        source(repository, tmp_path, policy).fetch()

    assert refused.value.reason == "unknown_key"


# -- the policy and the local work tree ------------------------------------------------------


def test_a_policy_without_any_key_is_refused_at_once() -> None:
    with pytest.raises(SourceError, match="needs trusted keys"):
        SignaturePolicy()


@needs_ssh_keygen
def test_a_missing_allowed_signers_file_is_a_source_error(
    repository: Path, tmp_path: Path, bob: SshKey
) -> None:
    commit(repository, "grant", signer=bob)
    policy = SignaturePolicy(ssh_allowed_signers=tmp_path / "missing")

    with pytest.raises(SourceError, match=r"allowed_signers file .* not found"):
        source(repository, tmp_path, policy).fetch()


def test_without_a_policy_unsigned_commits_are_fetched_as_before(
    repository: Path, tmp_path: Path
) -> None:
    sha = commit(repository, "grant", signer=None)

    checkout = source(repository, tmp_path, None).fetch()

    assert (checkout.revision, checkout.signed_by) == (sha, None)


@needs_ssh_keygen
def test_a_local_work_tree_is_verified_in_place(
    repository: Path, bob: SshKey, allowed_signers: Path
) -> None:
    sha = commit(repository, "grant", signer=bob)
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers)

    checkout = GitSource(repository=str(repository), verification=policy).fetch()

    assert checkout.revision == sha
    assert checkout.signed_by is not None


@needs_ssh_keygen
def test_uncommitted_changes_in_a_local_work_tree_are_refused(
    repository: Path, bob: SshKey, allowed_signers: Path
) -> None:
    commit(repository, "grant", signer=bob)
    (repository / "desired-state" / "file.json").write_text('{"message": "edited"}\n')
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers)

    with pytest.raises(UnverifiedRevisionError) as refused:
        GitSource(repository=str(repository), verification=policy).fetch()

    assert refused.value.reason == "uncommitted_changes"


@needs_ssh_keygen
def test_an_ignored_file_in_a_local_work_tree_is_refused_as_uncommitted(
    repository: Path, bob: SshKey, allowed_signers: Path
) -> None:
    commit(repository, "grant", signer=bob)
    (repository / ".git" / "info" / "exclude").write_text("desired-state/extra.json\n")
    (repository / "desired-state" / "extra.json").write_text('{"message": "unsigned"}\n')
    policy = SignaturePolicy(ssh_allowed_signers=allowed_signers)

    with pytest.raises(UnverifiedRevisionError) as refused:
        GitSource(repository=str(repository), verification=policy).fetch()

    assert refused.value.reason == "uncommitted_changes"


@needs_ssh_keygen
def test_fetch_at_verifies_the_commit_like_fetch(
    repository: Path, tmp_path: Path, bob: SshKey, allowed_signers: Path
) -> None:
    unsigned = commit(repository, "unsigned", signer=None)
    signed = commit(repository, "signed", signer=bob)
    fetching = source(repository, tmp_path, SignaturePolicy(ssh_allowed_signers=allowed_signers))

    assert fetching.fetch_at(signed).signed_by is not None
    with pytest.raises(UnverifiedRevisionError) as refused:
        fetching.fetch_at(unsigned)

    assert (refused.value.revision, refused.value.reason) == (unsigned, "unsigned")
