"""The suite's own guard: a connection to an address other than loopback is refused, recorded
and fails the session (``tests/loopback_session.py``)."""

from __future__ import annotations

import os
import socket

import pytest

from tests import loopback_session


@pytest.mark.parametrize("address", ["192.0.2.10", "169.254.169.254", "example.com"])
def test_a_connection_off_loopback_is_refused_and_recorded(address: str) -> None:
    before = loopback_session.attempts()
    with pytest.raises(OSError, match=r"loopback only|localhost only"):
        socket.create_connection((address, 80), timeout=1)

    made = [attempt for attempt in loopback_session.attempts() if attempt not in before]
    assert made
    assert all(address in attempt for attempt in made)
    for attempt in made:  # made on purpose: the session must not fail for it
        loopback_session.forget(attempt)


@pytest.mark.parametrize(
    "address",
    [("127.0.0.1", 1), ("127.3.4.5", 1), ("::1", 1, 0, 0), ("localhost", 1), "/tmp/x.sock"],
)
def test_loopback_and_unix_sockets_pass(address: object) -> None:
    assert loopback_session.is_loopback(address)


def test_botocore_is_told_not_to_ask_the_instance_metadata_service() -> None:
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
