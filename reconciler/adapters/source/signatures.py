"""Signed revisions: which keys are trusted (:class:`SignaturePolicy`) and the verdict of
``git verify-commit`` on a commit."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import SourceError


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


# -- signed revisions ----------------------------------------------------------------------------

_GPG_CONF = "no-autostart\nno-auto-key-retrieve\n"
"""The private GNUPGHOME's gpg.conf: no agent or dirmngr is started, no key fetched from afar."""

_SSH_GOOD = re.compile(r'Good "git" signature for (?P<principal>.+?) with \S+ key (?P<key>\S+)')
_SSH_KEY = re.compile(r"with \S+ key (?P<key>SHA256:\S+)")


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str


class Verifier:
    """The trusted keys of a :class:`SignaturePolicy`, ready for ``git verify-commit``.

    Holds a private ``GNUPGHOME`` (a temporary directory, removed when the verifier is
    collected) into which the policy's OpenPGP key files are imported, again whenever their
    contents change.
    """

    def __init__(self, policy: SignaturePolicy) -> None:
        self._policy = policy
        self._home: Path | None = None
        self._imported: str | None = None
        self._cleanup: weakref.finalize[..., Verifier] | None = None
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


def signature_header(raw_commit: str) -> str | None:
    """The ``gpgsig`` header of a raw commit object (``git cat-file commit``), or ``None``."""
    header, _, _ = raw_commit.partition("\n\n")
    lines = header.split("\n")
    for index, line in enumerate(lines):
        name, _, value = line.partition(" ")
        if name in ("gpgsig", "gpgsig-sha256"):
            continued = [rest[1:] for rest in lines[index + 1 :] if rest.startswith(" ")]
            return "\n".join([value, *continued])
    return None


def signature_verdict(*, signature: str, status: int, output: str) -> str | Refusal:
    """The signer (see :attr:`Checkout.signed_by`) or why the signature is refused.

    ``signature`` is the commit's signature; ``status`` and ``output`` are ``git verify-commit
    --raw``'s exit status and standard error: GnuPG status lines (``doc/DETAILS`` in GnuPG's
    sources) for OpenPGP, ``ssh-keygen -Y``'s messages for SSH.
    """
    if "BEGIN PGP SIGNATURE" in signature:
        return _gpg_verdict(status=status, output=output)
    if "BEGIN SSH SIGNATURE" in signature:
        return _ssh_verdict(status=status, output=output)
    return Refusal(
        "unsupported_signature",
        "the commit's signature is neither OpenPGP nor SSH (X.509 is not supported)",
    )


def _gpg_verdict(*, status: int, output: str) -> str | Refusal:
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
            return Refusal(reason, f"{words} {key}")
    if "NO_PUBKEY" in fields or "ERRSIG" in fields:
        key = (fields.get("NO_PUBKEY") or fields.get("ERRSIG") or ["(unknown)"])[0]
        if "NO_PUBKEY" in fields:
            return Refusal("unknown_key", f"signed by OpenPGP key {key}, which is not trusted")
        return Refusal(
            "verification_failed",
            f"gpg cannot check the signature by key {key}: {one_line(output)}",
        )
    return Refusal("verification_failed", f"OpenPGP verification failed: {one_line(output)}")


def _ssh_verdict(*, status: int, output: str) -> str | Refusal:
    good = _SSH_GOOD.search(output)
    if status == 0 and good is not None:
        return f"{good['principal']} {good['key']}"
    key_match = _SSH_KEY.search(output)
    key = key_match["key"] if key_match else "(unknown)"
    lowered = output.lower()
    if "no principal matched" in lowered:
        return Refusal(
            "unknown_key", f"signed by SSH key {key}, which is not in the allowed signers"
        )
    if "incorrect signature" in lowered or "signature verification failed" in lowered:
        return Refusal("bad_signature", "a bad SSH signature (the commit was altered)")
    return Refusal("verification_failed", f"SSH verification failed: {one_line(output)}")


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or "(no output)"
