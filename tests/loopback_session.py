"""A pytest plugin (``tests/conftest.py`` loads it): the suite connects to loopback only.

Every test talks to the sandbox, the controller's server and Git repositories on 127.0.0.1 or
in temporary folders. Two things keep it so:

- ``AWS_EC2_METADATA_DISABLED=true`` in the session's environment (and so in every subprocess
  that inherits it): botocore, finding no credentials in the environment (a client built
  outside a sandbox's environment), would otherwise ask the EC2 instance metadata service at
  169.254.169.254 for them;
- in each test process, ``socket.socket.connect`` and ``connect_ex`` refuse an Internet address
  that is not loopback (``ENETUNREACH``, as an unreachable network would), and
  ``socket.getaddrinfo`` refuses to look up a host name other than ``localhost`` (a DNS query
  leaves the machine; ``EAI_NONAME``, as an unknown name would). Each refusal is recorded; the
  session then fails, listing them, even if the test that made the attempt passed (botocore
  treats an unreachable credentials service as "no credentials" and carries on). Unix sockets,
  loopback and address literals (judged when connected) are untouched.

Under pytest-xdist each worker hands its attempts to the controller through ``workeroutput``
(gathered by ``pytest_testnodedown``), which judges the whole run, as ``tests/conftest.py``
does with the sandbox's shape violations. Subprocesses are not watched: they get the
environment variable, and the sandbox they are pointed at is on loopback.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import threading
from typing import Any

import pytest

from tests.worker_reports import hand_over_or_gather, keep_worker_report

ATTEMPTS_KEY = "non_loopback_connections"
"""Key under which a pytest-xdist worker hands its attempts (as text) to the controller
(``tests.worker_reports``)."""

_attempts: list[str] = []
_lock = threading.Lock()
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_getaddrinfo = socket.getaddrinfo


def is_loopback(address: Any) -> bool:
    """Whether a ``connect`` address may be reached by a test: a Unix socket path, or an
    Internet address (``(host, port, ...)``) on loopback (``localhost`` as a name)."""
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return True  # a Unix socket path (str or bytes), or not an Internet address
    host = address[0].split("%", 1)[0]  # an IPv6 scope id
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: resolving it would be an attempt already
        return False


def _record(attempt: str) -> None:
    with _lock:
        _attempts.append(f"{attempt} from {threading.current_thread().name}")


def _refuse(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
        _record(repr(address))
        raise OSError(errno.ENETUNREACH, f"the test suite connects to loopback only: {address!r}")


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name != "localhost":
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            _record(f"lookup of {name!r}")
            raise socket.gaierror(
                socket.EAI_NONAME, f"the test suite looks up localhost only: {name!r}"
            ) from None
    return _original_getaddrinfo(host, *args, **kwargs)


def _connect(self: socket.socket, address: Any) -> None:
    _refuse(self, address)
    _original_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _refuse(self, address)
    return _original_connect_ex(self, address)


def attempts() -> list[str]:
    """The refused attempts of this process so far."""
    with _lock:
        return list(_attempts)


def forget(attempt: str) -> None:
    """Forget one refused attempt (a test that makes one on purpose, to check the guard)."""
    with _lock:
        _attempts.remove(attempt)


def pytest_configure(config: pytest.Config) -> None:
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session on any refused attempt. An xdist worker only hands its attempts over."""
    seen = hand_over_or_gather(session.config, ATTEMPTS_KEY, attempts())
    if seen:
        sys.stderr.write(
            f"\n{len(seen)} connections were attempted to an address other than loopback "
            "(tests/loopback_session.py):\n" + "".join(f"  {line}\n" for line in seen[:20])
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: keep the attempts a finished worker reported."""
    keep_worker_report(node, ATTEMPTS_KEY)
