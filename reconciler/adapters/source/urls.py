"""Repository URLs: the protocols ``git`` may use, and the credentials a URL carries (given to
``git`` through its environment, never its command line, and redacted from every message)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

from reconciler.errors import SourceError

ALLOWED_PROTOCOLS = ("file", "https", "ssh")
"""The only protocols ``git`` may use for a source (``GIT_ALLOW_PROTOCOL``)."""

_URL_SCHEMES = frozenset({"file", "https", "ssh", "git+ssh", "ssh+git"})
SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# git's remote-helper syntax, ``<transport>::<address>`` (``ext::sh -c ...``, ``fd::3``).
_TRANSPORT_HELPER = re.compile(r"^(?P<transport>[A-Za-z0-9][A-Za-z0-9+.-]*)::")
# scp-like syntax, as git reads it: a colon before the first slash (``git@github.com:org/repo``).
SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:")
# Greedy up to the last "@" before the host, so a password holding a raw "@" is redacted whole.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s'\"]+)@")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
REDACTED = "***"


def redact_credentials(text: str) -> str:
    """Return ``text`` with the user information of every URL in it replaced by ``***``.

    ``https://user:token@host/repo`` becomes ``https://***@host/repo``; so does
    ``https://token@host/repo`` (a lone user name is a token in the http schemes). A lone user
    name in an ssh URL (``ssh://git@host/repo``) is kept: it is an account, not a secret.
    """

    def replace(match: re.Match[str]) -> str:
        scheme = match["scheme"][: -len("://")].lower()
        if scheme in _SSH_SCHEMES and ":" not in match["userinfo"]:
            return match[0]
        return f"{match['scheme']}{REDACTED}@"

    return _URL_USERINFO.sub(replace, text)


def exists_locally(path: str) -> bool:
    """Whether ``path`` names something on the local disk (``False`` for any error)."""
    try:
        return Path(path).expanduser().exists()
    except (OSError, RuntimeError):  # a name too long, no home directory for "~user"
        return False


def check_protocol(repository: str, *, shown: str) -> None:
    """Refuse a repository that git would reach by a protocol other than file, https, ssh."""
    helper = _TRANSPORT_HELPER.match(repository)
    scheme = SCHEME.match(repository)
    used = None
    if helper is not None:
        used = f"{helper['transport']}::"
    elif scheme is not None and scheme["scheme"].lower() not in _URL_SCHEMES:
        used = f"{scheme['scheme']}://"
    if used is not None:
        raise SourceError(
            f"repository {shown}: the protocol {used} is not allowed; allowed are"
            f" {', '.join(ALLOWED_PROTOCOLS)} (a local path, file://, https://, ssh:// or"
            " user@host:path)"
        )
    if scheme is not None and ("?" in repository or "#" in repository):
        # Shown without them: a query (``?private_token=…``) may hold a secret, and only the
        # user information of a URL is redacted from messages, logs and the status page.
        address = re.split(r"[?#]", shown, maxsplit=1)[0]
        raise SourceError(
            f"repository {address}?…: a repository URL may not carry a query string or a "
            "fragment (git does not need one to find a repository, and it would be shown in "
            "messages and on the status page); give a token as https://user:token@host/… "
            "(redacted everywhere) or use an SSH deploy key"
        )


def without_credentials(repository: str) -> tuple[str, dict[str, str]]:
    """``repository`` without the credentials of its URL, and git configuration passing them.

    For ``https://user:token@host/repo`` that is ``https://host/repo`` and
    ``http.https://host/repo.extraHeader = Authorization: Basic base64(user:token)`` (sent to
    that URL only). An ssh URL keeps its user name (an account) and drops a password (ssh reads
    none from a URL).
    """
    match = _URL_USERINFO.match(repository)
    if match is None:
        return repository, {}
    prefix, userinfo, rest = match["scheme"], match["userinfo"], repository[match.end() :]
    scheme = prefix[: -len("://")].lower()
    user, _, password = userinfo.partition(":")
    if scheme in _SSH_SCHEMES:
        return f"{prefix}{user}@{rest}", {}
    url = f"{prefix}{rest}"
    if scheme != "https":
        return url, {}
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return url, {f"http.{url}.extraHeader": f"Authorization: Basic {token}"}


def config_environment(config: Mapping[str, str]) -> dict[str, str]:
    """``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` setting ``config`` for one git command."""
    if not config:
        return {}
    environment = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config.items()):
        environment[f"GIT_CONFIG_KEY_{index}"] = key
        environment[f"GIT_CONFIG_VALUE_{index}"] = value
    return environment


def url_secrets(repository: str) -> tuple[str, ...]:
    """The credentials embedded in ``repository``, raw and decoded, longest first."""
    match = _URL_USERINFO.match(repository)
    if match is None or redact_credentials(match[0]) == match[0]:
        return ()
    pieces = {match["userinfo"], *match["userinfo"].split(":", 1)}
    pieces |= {unquote(piece) for piece in pieces}
    # A short piece ("x", "git") would blank out ordinary words; the URL form is redacted anyway.
    return tuple(sorted((p for p in pieces if len(p) >= 4), key=len, reverse=True))
