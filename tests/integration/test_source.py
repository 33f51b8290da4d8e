"""The Git source against real repositories made in tmp dirs (no network: paths, file:// and
a loopback HTTPS server, with a certificate made for the test, that answers 401 to a request
without the expected credentials)."""

from __future__ import annotations

import base64
import functools
import http.server
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git as gitpython
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reconciler.adapters.source import (
    Checkout,
    GitSource,
    ReadLimits,
    RevisionRelation,
    commit_folder,
    read_directory,
    redact_credentials,
    work_tree_top,
)
from reconciler.errors import SourceError

TOKEN = "ghp_s3cretT0kenValue"


pytestmark = pytest.mark.usefixtures("hermetic_git")


def git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30
    )
    return completed.stdout.strip()


def commit_file(work_tree: Path, relative: str, content: str, message: str) -> str:
    """Write one file, commit it, return the new commit's SHA."""
    target = work_tree / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    git(work_tree, "add", "--all")
    git(work_tree, "commit", "--quiet", "--message", message)
    return git(work_tree, "rev-parse", "HEAD")


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    """A work tree on branch ``main`` with one commit holding ``desired-state/users.json``."""
    path = tmp_path / "work"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch", "main")
    commit_file(path, "desired-state/users.json", '{"users": []}\n', "Add users\n\nbody")
    return path


@pytest.fixture
def bare(tmp_path: Path, work_tree: Path) -> Path:
    """A bare repository ``origin.git`` that ``work_tree`` pushes to (its HEAD is ``main``)."""
    path = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch", "main", str(path))
    git(work_tree, "remote", "add", "origin", str(path))
    git(work_tree, "push", "--quiet", "origin", "main")
    return path


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def source(repository: str | Path, cache_dir: Path, **options: str) -> GitSource:
    return GitSource(repository=str(repository), cache_dir=cache_dir, timeout_seconds=30, **options)


def head(path: Path) -> str:
    return git(path, "rev-parse", "HEAD")


def cached_repositories(cache_dir: Path) -> list[Path]:
    """The repositories kept in the cache (one directory each, beside its lock file)."""
    return sorted(path for path in cache_dir.iterdir() if path.is_dir())


# -- where the repository comes from ----------------------------------------------------------


def test_clones_a_bare_repository_given_as_a_path(
    bare: Path, work_tree: Path, cache_dir: Path
) -> None:
    checkout = source(bare, cache_dir).fetch()

    assert checkout.revision == head(work_tree)
    assert checkout.files == {"users.json": b'{"users": []}\n'}
    assert checkout.path is None
    assert cached_repositories(cache_dir)


def test_clones_a_repository_given_as_a_file_url(
    bare: Path, work_tree: Path, cache_dir: Path
) -> None:
    checkout = source(bare.as_uri(), cache_dir).fetch()

    assert checkout.revision == head(work_tree)
    assert cached_repositories(cache_dir)
    assert checkout.repository == bare.as_uri()


def test_reads_a_local_work_tree_in_place_without_cloning(work_tree: Path, cache_dir: Path) -> None:
    checkout = source(work_tree, cache_dir).fetch()

    assert checkout.path == work_tree / "desired-state"
    assert checkout.revision == head(work_tree)
    assert checkout.ref == "main"
    assert not cache_dir.exists()


def test_local_work_tree_with_a_ref_is_fetched_into_the_cache(
    work_tree: Path, cache_dir: Path
) -> None:
    first = head(work_tree)
    commit_file(work_tree, "desired-state/groups.json", "{}", "Add groups")

    checkout = source(work_tree, cache_dir, ref=first).fetch()

    assert checkout.revision == first
    assert cached_repositories(cache_dir)
    assert "groups.json" not in checkout.files
    assert head(work_tree) != first  # the user's work tree is left alone


def test_a_revision_expression_is_resolved_in_the_local_repository(
    work_tree: Path, cache_dir: Path
) -> None:
    first = head(work_tree)
    commit_file(work_tree, "desired-state/groups.json", "{}", "Add groups")

    checkout = source(work_tree, cache_dir, ref="HEAD~1").fetch()

    assert checkout.revision == first
    assert checkout.ref == "HEAD~1"
    assert "groups.json" not in checkout.files


def test_a_commit_no_branch_reaches_is_fetched_by_its_sha(work_tree: Path, cache_dir: Path) -> None:
    git(work_tree, "checkout", "--quiet", "--detach")
    detached = commit_file(work_tree, "desired-state/groups.json", "{}", "On no branch")
    commit_file(work_tree, "desired-state/groups.json", "[]", "On no branch either")

    checkout = source(work_tree, cache_dir, ref="HEAD~1").fetch()

    assert checkout.revision == detached
    assert checkout.files["groups.json"] == b"{}"


def test_the_top_of_a_work_tree_is_found_from_a_subfolder(work_tree: Path, bare: Path) -> None:
    assert work_tree_top(str(work_tree / "desired-state")) == work_tree.resolve()
    assert work_tree_top(str(work_tree)) == work_tree.resolve()
    assert work_tree_top(str(bare)) is None
    assert work_tree_top(bare.as_uri()) is None


def test_a_folder_in_no_work_tree_has_no_top(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    assert work_tree_top(str(plain)) is None


def test_checkout_describes_the_commit(bare: Path, work_tree: Path, cache_dir: Path) -> None:
    checkout = source(bare, cache_dir).fetch()

    assert len(checkout.revision) == 40
    assert checkout.message_summary == "Add users"
    assert checkout.committed_at.utcoffset() is not None
    assert checkout.committed_at.timestamp() == int(git(work_tree, "log", "-1", "--format=%ct"))


# -- following the repository over time -------------------------------------------------------


def test_sees_a_new_commit_on_the_next_fetch(bare: Path, work_tree: Path, cache_dir: Path) -> None:
    git_source = source(bare, cache_dir)
    before = git_source.fetch()
    after_sha = commit_file(work_tree, "desired-state/users.json", '{"users": [1]}', "Change")
    git(work_tree, "push", "--quiet", "origin", "main")

    after = git_source.fetch()

    assert before.revision != after.revision
    assert after.revision == after_sha
    assert after.files["users.json"] == b'{"users": [1]}'


def test_a_new_source_reuses_the_cached_clone(bare: Path, cache_dir: Path) -> None:
    source(bare, cache_dir).fetch()
    first = cached_repositories(cache_dir)
    source(bare, cache_dir).fetch()

    assert cached_repositories(cache_dir) == first
    assert len(first) == 1


def test_the_cache_is_a_bare_repository_without_a_work_tree(bare: Path, cache_dir: Path) -> None:
    source(bare, cache_dir).fetch()

    (clone_dir,) = cached_repositories(cache_dir)
    assert git(clone_dir, "rev-parse", "--is-bare-repository") == "true"
    assert not list(clone_dir.rglob("users.json"))


def test_a_work_tree_left_in_the_cache_is_replaced_by_a_bare_repository(
    bare: Path, work_tree: Path, cache_dir: Path
) -> None:
    source(bare, cache_dir).fetch()
    (clone_dir,) = cached_repositories(cache_dir)
    shutil.rmtree(clone_dir)
    git(work_tree, "clone", "--quiet", str(bare), str(clone_dir))  # what earlier versions kept

    again = source(bare, cache_dir).fetch()

    assert again.revision == head(work_tree)
    assert git(clone_dir, "rev-parse", "--is-bare-repository") == "true"


def test_a_damaged_cache_is_made_again(bare: Path, work_tree: Path, cache_dir: Path) -> None:
    source(bare, cache_dir).fetch()
    (clone_dir,) = cached_repositories(cache_dir)
    shutil.rmtree(clone_dir / "objects")

    again = source(bare, cache_dir).fetch()

    assert again.revision == head(work_tree)


def test_default_ref_follows_the_remote_default_branch(
    bare: Path, work_tree: Path, cache_dir: Path
) -> None:
    git(work_tree, "switch", "--quiet", "--create", "trunk")
    trunk_sha = commit_file(work_tree, "desired-state/groups.json", "{}", "On trunk")
    git(work_tree, "push", "--quiet", "origin", "trunk")
    git(bare, "symbolic-ref", "HEAD", "refs/heads/trunk")

    checkout = source(bare, cache_dir).fetch()

    assert checkout.ref == "trunk"
    assert checkout.revision == trunk_sha


# -- refs --------------------------------------------------------------------------------------


@pytest.fixture
def release_branch(bare: Path, work_tree: Path) -> str:
    """Branch ``release`` one commit ahead of ``main`` in ``bare``; returns its SHA."""
    git(work_tree, "switch", "--quiet", "--create", "release")
    sha = commit_file(work_tree, "desired-state/groups.json", "{}", "Release")
    git(work_tree, "push", "--quiet", "origin", "release")
    git(work_tree, "switch", "--quiet", "main")
    return sha


def test_checks_out_a_branch_given_as_ref(bare: Path, release_branch: str, cache_dir: Path) -> None:
    checkout = source(bare, cache_dir, ref="release").fetch()

    assert checkout.revision == release_branch
    assert checkout.ref == "release"
    assert "groups.json" in checkout.files


def test_checks_out_a_full_branch_ref(bare: Path, release_branch: str, cache_dir: Path) -> None:
    checkout = source(bare, cache_dir, ref="refs/heads/release").fetch()

    assert checkout.revision == release_branch


def test_checks_out_an_annotated_tag_given_as_ref(
    bare: Path, work_tree: Path, cache_dir: Path
) -> None:
    tagged = head(work_tree)
    git(work_tree, "tag", "--annotate", "--message", "first release", "v1")
    commit_file(work_tree, "desired-state/groups.json", "{}", "After the tag")
    git(work_tree, "push", "--quiet", "origin", "main", "v1")

    checkout = source(bare, cache_dir, ref="v1").fetch()

    assert checkout.revision == tagged
    assert "groups.json" not in checkout.files


def test_checks_out_a_commit_given_as_ref(bare: Path, work_tree: Path, cache_dir: Path) -> None:
    first = head(work_tree)
    commit_file(work_tree, "desired-state/groups.json", "{}", "Second")
    git(work_tree, "push", "--quiet", "origin", "main")

    checkout = source(bare, cache_dir, ref=first[:12]).fetch()

    assert checkout.revision == first


def test_same_source_moves_between_refs_of_one_cache(
    bare: Path, release_branch: str, cache_dir: Path
) -> None:
    on_release = source(bare, cache_dir, ref="release").fetch()
    on_main = source(bare, cache_dir, ref="main").fetch()

    assert on_release.revision == release_branch
    assert on_main.revision != release_branch
    assert "groups.json" not in on_main.files


def test_unknown_ref_raises_source_error(bare: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"ref 'no-such-branch' not found"):
        source(bare, cache_dir, ref="no-such-branch").fetch()


def test_a_deleted_branch_is_not_found_on_the_next_fetch(
    bare: Path, work_tree: Path, release_branch: str, cache_dir: Path
) -> None:
    source(bare, cache_dir, ref="release").fetch()
    git(work_tree, "push", "--quiet", "origin", "--delete", "release")

    with pytest.raises(SourceError, match=r"ref 'release' not found"):
        source(bare, cache_dir, ref="release").fetch()


def test_option_like_ref_is_refused(bare: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"not a valid branch, tag or SHA"):
        source(bare, cache_dir, ref="--upload-pack=touch /tmp/x")


def test_empty_repository_without_a_ref_raises_source_error(
    tmp_path: Path, cache_dir: Path
) -> None:
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", str(empty))

    with pytest.raises(SourceError, match=r"no default branch"):
        source(empty, cache_dir).fetch()


# -- the sub-path ------------------------------------------------------------------------------


def test_missing_subpath_raises_source_error(bare: Path, work_tree: Path, cache_dir: Path) -> None:
    with pytest.raises(
        SourceError, match=rf"sub-path 'config' is missing at revision {head(work_tree)}"
    ):
        source(bare, cache_dir, subpath="config").fetch()


def test_missing_subpath_in_a_local_work_tree_raises_source_error(
    work_tree: Path, cache_dir: Path
) -> None:
    with pytest.raises(SourceError, match=r"sub-path 'config' is missing"):
        source(work_tree, cache_dir, subpath="config").fetch()


def test_subpath_that_is_a_file_raises_source_error(bare: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"is not a directory"):
        source(bare, cache_dir, subpath="desired-state/users.json").fetch()


def test_nested_subpath_is_exposed(bare: Path, work_tree: Path, cache_dir: Path) -> None:
    commit_file(work_tree, "envs/prod/desired-state/users.json", "{}", "Nested")
    git(work_tree, "push", "--quiet", "origin", "main")

    checkout = source(bare, cache_dir, subpath="envs/prod/desired-state").fetch()

    assert checkout.files == {"users.json": b"{}"}


def test_subpath_dot_is_the_top_of_the_repository(bare: Path, cache_dir: Path) -> None:
    checkout = source(bare, cache_dir, subpath=".").fetch()

    assert "desired-state/users.json" in checkout.files


def test_subpath_leaving_the_repository_is_refused(bare: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"without '\.\.'"):
        source(bare, cache_dir, subpath="../elsewhere")


def test_subpath_that_is_a_symlink_raises_source_error_naming_it(
    tmp_path: Path, bare: Path, work_tree: Path, cache_dir: Path
) -> None:
    (work_tree / "outside").symlink_to(tmp_path)
    git(work_tree, "add", "outside")
    git(work_tree, "commit", "--quiet", "--message", "Link out")
    git(work_tree, "push", "--quiet", "origin", "main")

    with pytest.raises(SourceError, match=r"'outside' is a symbolic link"):
        source(bare, cache_dir, subpath="outside").fetch()


# -- unreachable, not found, authentication -----------------------------------------------------


def test_missing_local_path_raises_not_found(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"not found: no such directory"):
        source(tmp_path / "nowhere", cache_dir).fetch()


def test_directory_that_is_not_a_repository_raises_source_error(
    tmp_path: Path, cache_dir: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    with pytest.raises(SourceError, match=r"is not a Git repository"):
        source(plain, cache_dir).fetch()


def test_missing_file_url_raises_unreachable(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"unreachable or not found"):
        source((tmp_path / "nowhere.git").as_uri(), cache_dir).fetch()


def test_unreachable_repository_leaves_no_cache_behind(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError):
        source((tmp_path / "nowhere.git").as_uri(), cache_dir).fetch()

    assert [p for p in cache_dir.iterdir() if p.is_dir()] == []


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: bound and never listening for the whole test, so no
    other server (another pytest-xdist worker's sandbox, say) can take it meanwhile."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port: int = bound.getsockname()[1]
        yield port


def test_refused_connection_raises_unreachable(closed_port: int, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"unreachable or not found"):
        source(f"https://127.0.0.1:{closed_port}/org/repo.git", cache_dir).fetch()


class _BasicAuthFiles(http.server.SimpleHTTPRequestHandler):
    """Serves files (git's "dumb" HTTP protocol) to requests carrying ``user:TOKEN``; 401 else."""

    expected = "Basic " + base64.b64encode(f"user:{TOKEN}".encode()).decode()

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request line on stderr."""


@pytest.fixture(scope="module")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files), made for the test run."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    certificate_file, key_file = folder / "certificate.pem", folder / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


@pytest.fixture
def http_server(
    tmp_path: Path,
    bare: Path,
    tls_certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """Base URL (no credentials) of a loopback HTTPS server publishing ``bare`` as
    ``/origin.git`` to requests authenticated as ``user:TOKEN``; git trusts its certificate."""
    certificate_file, key_file = tls_certificate
    monkeypatch.setenv("GIT_SSL_CAINFO", str(certificate_file))
    git(bare, "update-server-info")
    handler = functools.partial(_BasicAuthFiles, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def with_credentials(base_url: str, userinfo: str) -> str:
    return base_url.replace("https://", f"https://{userinfo}@") + "/origin.git"


def test_fetches_over_http_with_credentials_in_the_url(
    http_server: str, work_tree: Path, cache_dir: Path
) -> None:
    checkout = source(with_credentials(http_server, f"user:{TOKEN}"), cache_dir).fetch()

    assert checkout.revision == head(work_tree)
    assert checkout.ref == "main"


def test_wrong_credentials_raise_authentication_failed(http_server: str, cache_dir: Path) -> None:
    url = with_credentials(http_server, "user:wrong-token")

    with pytest.raises(SourceError, match=r"authentication failed"):
        source(url, cache_dir).fetch()


def test_missing_credentials_raise_authentication_failed_without_prompting(
    tmp_path: Path, http_server: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = tmp_path / "asked"
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\ntouch {asked}\necho user\n")
    askpass.chmod(0o755)
    monkeypatch.setenv("GIT_ASKPASS", str(askpass))  # what a desktop session may have set
    monkeypatch.setenv("SSH_ASKPASS", str(askpass))

    with pytest.raises(SourceError, match=r"authentication failed"):
        source(f"{http_server}/origin.git", cache_dir).fetch()

    assert not asked.exists()


# -- credentials never leak ---------------------------------------------------------------------


def test_credentials_are_redacted_from_error_messages(http_server: str, cache_dir: Path) -> None:
    wrong = "ghp_wrongButStillSecret"
    url = with_credentials(http_server, f"user:{wrong}")

    with pytest.raises(SourceError) as raised:
        source(url, cache_dir).fetch()

    assert wrong not in str(raised.value)
    assert "https://***@127.0.0.1:" in str(raised.value)


def test_credentials_are_redacted_when_unreachable(closed_port: int, cache_dir: Path) -> None:
    url = f"https://user:{TOKEN}@127.0.0.1:{closed_port}/org/repo.git"

    with pytest.raises(SourceError) as raised:
        source(url, cache_dir).fetch()

    assert TOKEN not in str(raised.value)
    assert "user" not in str(raised.value).split("127.0.0.1")[0]


def test_credentials_are_redacted_from_the_source_itself(cache_dir: Path) -> None:
    git_source = source(f"https://{TOKEN}@git.example.org/org/repo.git", cache_dir)

    assert git_source.repository == "https://***@git.example.org/org/repo.git"
    assert TOKEN not in repr(git_source)


def test_credentials_are_not_written_to_the_cache(http_server: str, cache_dir: Path) -> None:
    checkout = source(with_credentials(http_server, f"user:{TOKEN}"), cache_dir).fetch()

    assert checkout.repository == with_credentials(http_server, "***")
    files = [path for path in cache_dir.rglob("*") if path.is_file()]
    assert files
    header = base64.b64encode(f"user:{TOKEN}".encode())
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
        assert header not in path.read_bytes(), path


def test_fetched_clone_config_names_no_remote(bare: Path, cache_dir: Path) -> None:
    source(bare.as_uri(), cache_dir).fetch()
    (clone_dir,) = cached_repositories(cache_dir)

    config = (clone_dir / "config").read_text()

    assert "[remote" not in config
    assert str(bare) not in config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:tok@host/r.git", "https://***@host/r.git"),
        ("https://tok@host/r.git", "https://***@host/r.git"),
        ("HTTP://user:p@ss@host/r.git", "HTTP://***@host/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("ssh://git:pw@host/r.git", "ssh://***@host/r.git"),
        ("git@host:org/r.git", "git@host:org/r.git"),
        (
            "fatal: 'https://a:b@h/x' and 'https://c@h/y'",
            "fatal: 'https://***@h/x' and 'https://***@h/y'",
        ),
        ("https://host/r.git", "https://host/r.git"),
    ],
)
def test_redact_credentials(text: str, expected: str) -> None:
    assert redact_credentials(text) == expected


def test_checkout_is_frozen(work_tree: Path, cache_dir: Path) -> None:
    checkout: Checkout = source(work_tree, cache_dir).fetch()

    with pytest.raises(AttributeError):
        checkout.revision = "0" * 40  # type: ignore[misc]


def test_committed_at_keeps_the_committers_offset(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "tz"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch", "main")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-05-01T12:00:00+05:30")
    commit_file(repo, "desired-state/users.json", "{}", "Dated")

    checkout = source(repo, cache_dir).fetch()

    assert checkout.committed_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert checkout.committed_at.isoformat() == "2024-05-01T12:00:00+05:30"


# -- commit_folder: the other direction, for the demo and tests ----------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "example"
    (path / "permission-sets").mkdir(parents=True)
    (path / "users.json").write_text('{"users": []}')
    (path / "permission-sets" / "Admin.json").write_text('{"name": "Admin"}')
    return path


def test_commit_folder_makes_a_repository_a_source_can_read(
    tmp_path: Path, folder: Path, cache_dir: Path
) -> None:
    repository = tmp_path / "access-repo"

    sha = commit_folder(source=folder, repository=repository, message="Initial desired state")

    checkout = source(repository, cache_dir).fetch()
    assert checkout.revision == sha
    assert checkout.ref == "main"
    assert checkout.message_summary == "Initial desired state"
    assert checkout.files["permission-sets/Admin.json"] == b'{"name": "Admin"}'


def test_commit_folder_replaces_the_subpath_whole(
    tmp_path: Path, folder: Path, cache_dir: Path
) -> None:
    repository = tmp_path / "access-repo"
    first = commit_folder(source=folder, repository=repository, message="First")
    (folder / "users.json").unlink()

    second = commit_folder(source=folder, repository=repository, message="Second")

    checkout = source(repository, cache_dir, ref="main").fetch()
    assert second != first
    assert checkout.revision == second
    assert "users.json" not in checkout.files
    assert "permission-sets/Admin.json" in checkout.files


def test_commit_folder_needs_no_git_identity(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("EMAIL", "")
    repository = tmp_path / "access-repo"

    commit_folder(source=folder, repository=repository, message="Anonymous")

    assert git(repository, "log", "-1", "--format=%an <%ae>") == "reconciler <reconciler@localhost>"


def test_commit_folder_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"not a directory"):
        commit_folder(source=tmp_path / "nope", repository=tmp_path / "repo", message="x")


# -- the commit is read, not the disk -------------------------------------------------------------

MARKER = "HOST-SECRET-7f3a9c"


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A file outside every repository, holding a marker that must never be read."""
    path = tmp_path / "host" / "secret.json"
    path.parent.mkdir()
    path.write_text(f'{{"{MARKER}": "{MARKER}"}}\n')
    return path


def commit_symlink(work_tree: Path, relative: str, target: str | Path) -> str:
    link = work_tree / relative
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    git(work_tree, "add", "--all")
    git(work_tree, "commit", "--quiet", "--message", f"Link {relative}")
    return git(work_tree, "rev-parse", "HEAD")


def fetched(kind: str, work_tree: Path, cache_dir: Path, **options: Any) -> Checkout:
    """Fetch ``work_tree``'s HEAD: read in place (``local``) or pushed to a bare repository
    and fetched into the cache (``cache``)."""
    if kind == "local":
        repository = work_tree
    else:
        repository = work_tree.parent / "pushed.git"
        if not repository.exists():
            git(
                work_tree.parent,
                "init",
                "--quiet",
                "--bare",
                "--initial-branch",
                "main",
                str(repository),
            )
        git(work_tree, "push", "--quiet", "--force", str(repository), "HEAD:refs/heads/main")
    return GitSource(
        repository=str(repository), cache_dir=cache_dir, timeout_seconds=30, **options
    ).fetch()


both_modes = pytest.mark.parametrize("kind", ["local", "cache"])


@both_modes
def test_a_committed_symlink_to_a_host_file_is_refused_unread_naming_the_file(
    kind: str, work_tree: Path, host_file: Path, cache_dir: Path
) -> None:
    commit_symlink(work_tree, "desired-state/users.json", host_file)

    checkout = fetched(kind, work_tree, cache_dir)

    assert [(p.file, p.rule) for p in checkout.problems] == [("users.json", "symlink")]
    assert "users.json" not in checkout.files
    assert MARKER not in repr(checkout)
    assert not checkout.uncommitted


@both_modes
def test_a_committed_symlink_to_dev_zero_is_refused_without_reading(
    kind: str, work_tree: Path, cache_dir: Path
) -> None:
    commit_symlink(work_tree, "desired-state/groups.json", "/dev/zero")

    checkout = fetched(kind, work_tree, cache_dir)

    assert [(p.file, p.rule) for p in checkout.problems] == [("groups.json", "symlink")]
    assert set(checkout.files) == {"users.json"}


@both_modes
def test_a_symlinked_directory_under_the_folder_is_refused(
    kind: str, work_tree: Path, host_file: Path, cache_dir: Path
) -> None:
    commit_symlink(work_tree, "desired-state/permission-sets", host_file.parent)

    checkout = fetched(kind, work_tree, cache_dir)

    assert [(p.file, p.rule) for p in checkout.problems] == [("permission-sets", "symlink")]
    assert MARKER not in repr(checkout)


@both_modes
def test_a_submodule_under_the_folder_is_refused_naming_it(
    kind: str, work_tree: Path, cache_dir: Path
) -> None:
    some_commit = head(work_tree)
    git(
        work_tree,
        "update-index",
        "--add",
        "--cacheinfo",
        f"160000,{some_commit},desired-state/vendored",
    )
    git(work_tree, "commit", "--quiet", "--message", "Add a submodule")
    (work_tree / "desired-state" / "vendored").mkdir()  # as git leaves an uninitialized one

    checkout = fetched(kind, work_tree, cache_dir)

    assert [(p.file, p.rule) for p in checkout.problems] == [("vendored", "submodule")]


def _recorded_blob_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The objects read through GitPython's ``cat-file --batch`` from now on."""
    reads: list[str] = []
    original = gitpython.Git.get_object_data

    def recording(self: gitpython.Git, ref: str) -> Any:
        reads.append(str(ref))
        return original(self, ref)

    monkeypatch.setattr(gitpython.Git, "get_object_data", recording)
    return reads


@both_modes
def test_a_blob_over_the_size_limit_is_refused_without_reading_it(
    kind: str, work_tree: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_file(work_tree, "desired-state/groups.json", " " * (5 * 1024 * 1024 + 1), "Huge")
    huge = git(work_tree, "rev-parse", "HEAD:desired-state/groups.json")
    reads = _recorded_blob_reads(monkeypatch)

    checkout = fetched(kind, work_tree, cache_dir)

    assert [(p.file, p.rule) for p in checkout.problems] == [("groups.json", "file_size")]
    assert "groups.json" not in checkout.files
    assert huge not in reads
    assert reads  # users.json was read, through the same path


def test_files_over_the_total_limit_are_refused(work_tree: Path, cache_dir: Path) -> None:
    commit_file(work_tree, "desired-state/groups.json", "x" * 100, "Groups")

    checkout = fetched("local", work_tree, cache_dir, limits=ReadLimits(total_bytes=110))

    assert [(p.file, p.rule) for p in checkout.problems] == [("users.json", "total_size")]


def test_a_folder_with_too_many_entries_is_refused_whole(work_tree: Path, cache_dir: Path) -> None:
    for number in range(4):
        (work_tree / "desired-state" / f"extra-{number}.txt").write_text("x")
    git(work_tree, "add", "--all")
    git(work_tree, "commit", "--quiet", "--message", "Many")

    checkout = fetched("cache", work_tree, cache_dir, limits=ReadLimits(entries=3))

    assert [(p.file, p.rule) for p in checkout.problems] == [(".", "too_many_entries")]
    assert checkout.files == {}


@pytest.mark.parametrize("how", ["cache", "local"])
def test_a_json_file_named_in_another_letter_case_is_a_problem_not_left_out_silently(
    how: str, work_tree: Path, cache_dir: Path
) -> None:
    commit_file(work_tree, "desired-state/permission-sets/Admin.JSON", "{}", "Upper case")
    if how == "local":  # read from the disk: an uncommitted file
        (work_tree / "desired-state" / "groups.Json").write_text("{}")

    checkout = fetched(how, work_tree, cache_dir)

    problems = {(problem.file, problem.rule) for problem in checkout.problems}
    assert ("permission-sets/Admin.JSON", "file_name") in problems
    if how == "local":
        assert ("groups.Json", "file_name") in problems


def test_files_that_are_not_json_are_not_read(work_tree: Path, cache_dir: Path) -> None:
    commit_file(work_tree, "desired-state/README.md", "notes", "Readme")

    checkout = fetched("cache", work_tree, cache_dir)

    assert set(checkout.files) == {"users.json"}
    assert checkout.problems == ()


def test_checkout_names_the_parents(work_tree: Path, cache_dir: Path) -> None:
    first = head(work_tree)
    commit_file(work_tree, "desired-state/groups.json", "{}", "Second")

    assert fetched("cache", work_tree, cache_dir).parent_revisions == (first,)
    assert source(work_tree, cache_dir, ref=first).fetch().parent_revisions == ()


# -- the local work tree: uncommitted edits, read safely from the disk ---------------------------


def test_a_clean_work_tree_is_read_from_the_commit_not_the_disk(
    work_tree: Path, cache_dir: Path
) -> None:
    users = work_tree / "desired-state" / "users.json"
    git(work_tree, "update-index", "--assume-unchanged", "desired-state/users.json")
    users.write_text('{"edited": true}')  # invisible to git status

    checkout = source(work_tree, cache_dir).fetch()

    assert checkout.files == {"users.json": b'{"users": []}\n'}
    assert not checkout.uncommitted


def test_an_ignored_file_under_the_folder_makes_the_work_tree_uncommitted(
    work_tree: Path, cache_dir: Path
) -> None:
    (work_tree / ".git" / "info" / "exclude").write_text("desired-state/groups.json\n")
    (work_tree / "desired-state" / "groups.json").write_text('{"groups": []}')

    checkout = source(work_tree, cache_dir).fetch()

    assert checkout.uncommitted
    assert checkout.files["groups.json"] == b'{"groups": []}'


def test_reading_a_work_tree_runs_no_command_of_its_git_config(
    work_tree: Path, cache_dir: Path, tmp_path: Path
) -> None:
    """``git status`` would run ``core.fsmonitor``, a command set in the repository's config."""
    ran = tmp_path / "fsmonitor-ran"
    git(work_tree, "config", "core.fsmonitor", f"touch {ran}; false")

    source(work_tree, cache_dir).fetch()

    assert not ran.exists()


def test_an_ignored_file_outside_the_folder_does_not_count(
    work_tree: Path, cache_dir: Path
) -> None:
    (work_tree / ".gitignore").write_text("*.log\n")
    git(work_tree, "add", ".gitignore")
    git(work_tree, "commit", "--quiet", "--message", "Ignore logs")
    (work_tree / "build.log").write_text("x")

    assert not source(work_tree, cache_dir).fetch().uncommitted


def test_an_uncommitted_symlink_is_a_problem_and_never_followed(
    work_tree: Path, host_file: Path, cache_dir: Path
) -> None:
    (work_tree / "desired-state" / "groups.json").symlink_to(host_file)

    checkout = source(work_tree, cache_dir).fetch()

    assert checkout.uncommitted
    assert [(p.file, p.rule) for p in checkout.problems] == [("groups.json", "symlink")]
    assert MARKER not in repr(checkout)


def test_an_uncommitted_fifo_is_a_problem_and_never_blocks(
    work_tree: Path, cache_dir: Path
) -> None:
    os.mkfifo(work_tree / "desired-state" / "groups.json")
    (work_tree / "desired-state" / "users.json").write_text('{"users": [1]}')  # uncommitted
    result: list[Checkout] = []
    reader = threading.Thread(
        target=lambda: result.append(source(work_tree, cache_dir).fetch()), daemon=True
    )

    reader.start()
    reader.join(timeout=60)

    assert not reader.is_alive(), "reading the work tree blocked on a FIFO"
    assert result[0].uncommitted
    assert [(p.file, p.rule) for p in result[0].problems] == [("groups.json", "not_a_file")]


def test_a_fifo_git_does_not_see_is_never_read(work_tree: Path, cache_dir: Path) -> None:
    os.mkfifo(work_tree / "desired-state" / "groups.json")  # not listed by git status

    checkout = source(work_tree, cache_dir).fetch()

    assert not checkout.uncommitted
    assert set(checkout.files) == {"users.json"}


def test_an_initialized_submodule_in_an_uncommitted_work_tree_is_refused(
    work_tree: Path, cache_dir: Path
) -> None:
    nested = work_tree / "desired-state" / "vendored"
    nested.mkdir()
    git(nested, "init", "--quiet")
    (nested / "users.json").write_text("{}")

    checkout = source(work_tree, cache_dir).fetch()

    assert checkout.uncommitted
    assert [(p.file, p.rule) for p in checkout.problems] == [("vendored", "submodule")]


def test_an_uncommitted_file_over_the_size_limit_is_refused(
    work_tree: Path, cache_dir: Path
) -> None:
    (work_tree / "desired-state" / "groups.json").write_text("x" * 2000)

    checkout = fetched("local", work_tree, cache_dir, limits=ReadLimits(file_bytes=1000))

    assert [(p.file, p.rule) for p in checkout.problems] == [("groups.json", "file_size")]


def test_a_symlinked_subpath_in_the_work_tree_is_refused_naming_it(
    work_tree: Path, host_file: Path, cache_dir: Path
) -> None:
    (work_tree / "linked").symlink_to(host_file.parent)

    with pytest.raises(SourceError, match=r"'linked' is a symbolic link"):
        source(work_tree, cache_dir, subpath="linked").fetch()


def test_a_folder_on_disk_is_read_without_following_links(tmp_path: Path, host_file: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "users.json").symlink_to(host_file)
    (folder / "groups.json").write_text("{}")

    files, problems = read_directory(folder)

    assert files == {"groups.json": b"{}"}
    assert [(p.file, p.rule) for p in problems] == [("users.json", "symlink")]


# -- allowed protocols ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repository",
    [
        "ext::sh -c touch% /tmp/reconciler-pwned",
        "fd::3",
        "http://127.0.0.1:9/org/repo.git",
        "git://127.0.0.1:9/org/repo.git",
        "ftp://127.0.0.1:9/org/repo.git",
    ],
)
def test_a_repository_of_another_protocol_is_refused_at_once(
    repository: str, cache_dir: Path
) -> None:
    with pytest.raises(SourceError, match=r"not allowed; allowed are file, https, ssh"):
        source(repository, cache_dir)


@pytest.mark.parametrize(
    "repository",
    [
        "https://user:TOKEN@127.0.0.1:9/org/repo.git?private_token=QUERYSECRET",
        "https://127.0.0.1:9/org/repo.git#QUERYSECRET",
        "ssh://git@127.0.0.1:9/org/repo.git?QUERYSECRET",
    ],
)
def test_a_repository_url_with_a_query_or_fragment_is_refused_without_showing_it(
    repository: str, cache_dir: Path
) -> None:
    with pytest.raises(SourceError, match=r"may not carry a query string") as raised:
        source(repository, cache_dir)

    assert "QUERYSECRET" not in str(raised.value)
    assert "TOKEN" not in str(raised.value)


def test_the_allowed_protocols_are_pinned_whatever_the_environment_says(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touched = tmp_path / "pwned"
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    rewrite = f"ext::sh -c touch% {touched}% #"
    config.write_text(f'[url "{rewrite}"]\n\tinsteadOf = https://example.invalid/\n')
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "ext:file:https")

    with pytest.raises(SourceError):
        source("https://example.invalid/org/repo.git", cache_dir).fetch()

    assert not touched.exists()


# -- credentials never on a command line ---------------------------------------------------------


@pytest.fixture
def recorded_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file to which a ``git`` put first on ``PATH`` appends the arguments of every run
    (one line each) before running the real git."""
    real_git = shutil.which("git")
    assert real_git is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    log.touch()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real_git}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_url_credentials_are_never_on_a_git_command_line(
    recorded_argv: Path, cache_dir: Path
) -> None:
    secret = "s3cr3t-token"

    with pytest.raises(SourceError) as raised:
        source(f"https://user:{secret}@127.0.0.1:9/repo.git", cache_dir).fetch()

    runs = recorded_argv.read_text().splitlines()
    assert any("127.0.0.1:9/repo.git" in run for run in runs)  # git ran, through the wrapper
    assert not [run for run in runs if secret in run]
    assert secret not in str(raised.value)


def test_url_credentials_reach_the_server_without_a_command_line(
    http_server: str, recorded_argv: Path, work_tree: Path, cache_dir: Path
) -> None:
    checkout = source(with_credentials(http_server, f"user:{TOKEN}"), cache_dir).fetch()

    assert checkout.revision == head(work_tree)
    assert TOKEN not in recorded_argv.read_text()


def test_the_authorization_header_never_shows_in_a_message_even_when_git_traces(
    http_server: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "ghp_wrongButStillSecret"
    header = base64.b64encode(f"user:{wrong}".encode()).decode()
    monkeypatch.setenv("GIT_TRACE_CURL", "1")  # curl's trace, headers included, on stderr
    monkeypatch.setenv("GIT_TRACE_REDACT", "0")

    with pytest.raises(SourceError) as raised:
        source(with_credentials(http_server, f"user:{wrong}"), cache_dir).fetch()

    assert header not in str(raised.value)
    assert wrong not in str(raised.value)


# -- every GitPython failure is a SourceError ----------------------------------------------------


def test_a_broken_repository_is_a_source_error_not_a_crash(
    work_tree: Path, cache_dir: Path
) -> None:
    (work_tree / ".git" / "HEAD").write_text("ref: refs/heads/\n")

    with pytest.raises(SourceError):
        source(work_tree, cache_dir).fetch()


# -- ancestry: forward, rewound, diverged ---------------------------------------------------------


@pytest.fixture
def history(bare: Path, work_tree: Path) -> tuple[str, str]:
    """Two commits ``(first, second)`` on ``main``, both pushed to ``bare``."""
    first = head(work_tree)
    second = commit_file(work_tree, "desired-state/users.json", '{"users": [1]}', "Second")
    git(work_tree, "push", "--quiet", "origin", "main")
    return first, second


@pytest.mark.parametrize("kind", ["bare", "local"])
def test_relation_of_forward_and_backward_revisions(
    kind: str, bare: Path, work_tree: Path, history: tuple[str, str], cache_dir: Path
) -> None:
    first, second = history
    git_source = source(bare if kind == "bare" else work_tree, cache_dir)
    git_source.fetch()

    assert git_source.relation(second, first) is RevisionRelation.DESCENDANT
    assert git_source.relation(first, second) is RevisionRelation.ANCESTOR
    assert git_source.relation(second, second) is RevisionRelation.SAME


def test_a_force_pushed_rewind_is_an_ancestor_of_what_was_fetched(
    bare: Path, work_tree: Path, history: tuple[str, str], cache_dir: Path
) -> None:
    first, second = history
    git_source = source(bare, cache_dir)
    git_source.fetch()
    git(work_tree, "push", "--quiet", "--force", "origin", f"{first}:refs/heads/main")
    git(bare, "reflog", "expire", "--expire=now", "--all")
    git(bare, "gc", "--quiet", "--prune=now")

    rewound = git_source.fetch()

    assert rewound.revision == first
    assert git_source.relation(rewound.revision, second) is RevisionRelation.ANCESTOR


def test_a_force_pushed_fork_has_diverged(
    bare: Path, work_tree: Path, history: tuple[str, str], cache_dir: Path
) -> None:
    first, second = history
    git_source = source(bare, cache_dir)
    git_source.fetch()
    git(work_tree, "reset", "--quiet", "--hard", first)
    forked = commit_file(work_tree, "desired-state/groups.json", "{}", "Fork")
    git(work_tree, "push", "--quiet", "--force", "origin", "main")

    assert git_source.fetch().revision == forked
    assert git_source.relation(forked, second) is RevisionRelation.DIVERGED


def test_a_base_never_fetched_is_unknown(
    tmp_path: Path, bare: Path, work_tree: Path, history: tuple[str, str], cache_dir: Path
) -> None:
    _, second = history
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    git(elsewhere, "init", "--quiet", "--initial-branch", "main")
    unrelated = commit_file(elsewhere, "desired-state/users.json", "{}", "Unrelated")
    git_source = source(bare, cache_dir)
    git_source.fetch()

    assert git_source.relation(second, unrelated) is RevisionRelation.UNKNOWN


def test_relation_refuses_what_is_not_a_full_sha(bare: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"not a full commit SHA"):
        source(bare, cache_dir).relation("main", "--all")


# -- one commit by SHA, from the same cache ------------------------------------------------------


@pytest.mark.parametrize("kind", ["bare", "local"])
def test_fetch_at_reads_an_older_commit_without_another_cache(
    kind: str, bare: Path, work_tree: Path, history: tuple[str, str], cache_dir: Path
) -> None:
    first, _ = history
    git_source = source(bare if kind == "bare" else work_tree, cache_dir)
    git_source.fetch()
    before = cached_repositories(cache_dir) if cache_dir.exists() else []

    checkout = git_source.fetch_at(first)

    assert (checkout.revision, checkout.ref) == (first, first)
    assert checkout.files == {"users.json": b'{"users": []}\n'}
    assert (cached_repositories(cache_dir) if cache_dir.exists() else []) == before


def test_fetch_at_fetches_a_commit_the_cache_lacks(
    bare: Path, history: tuple[str, str], cache_dir: Path
) -> None:
    _, second = history

    assert source(bare, cache_dir).fetch_at(second).revision == second


def test_fetch_at_an_unknown_commit_raises_source_error(bare: Path, cache_dir: Path) -> None:
    with pytest.raises(SourceError, match=r"not found"):
        source(bare, cache_dir).fetch_at("0" * 40)
