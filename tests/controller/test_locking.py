"""Writer locks: a file lock across processes, a DynamoDB lease against the sandbox."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from reconciler.adapters.aws.clients import user_agent
from reconciler.adapters.locking import DynamoDbLease, FileLock
from reconciler.errors import AwsError, ConfigurationError
from reconciler.sandbox import Sandbox
from reconciler.sandbox.faults import check_output_shape

TABLE = "reconciler-locks"


# -- FileLock --------------------------------------------------------------------------------


def test_a_free_file_lock_is_acquired(tmp_path: Path) -> None:
    lock = FileLock(path=tmp_path / "locks" / "writer.lock", holder_id="ctl-a")

    assert lock.acquire() is True
    assert lock.holder == "ctl-a"
    lock.release()


def test_a_held_file_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = FileLock(path=tmp_path / "writer.lock", holder_id="ctl-a")
    second = FileLock(path=tmp_path / "writer.lock", holder_id="ctl-b")
    first.acquire()

    assert second.acquire() is False
    assert second.holder == "ctl-a"
    first.release()


def test_a_released_file_lock_can_be_taken(tmp_path: Path) -> None:
    first = FileLock(path=tmp_path / "writer.lock", holder_id="ctl-a")
    second = FileLock(path=tmp_path / "writer.lock", holder_id="ctl-b")
    first.acquire()
    first.release()

    assert second.acquire() is True
    assert first.holder is None
    second.release()


_HOLD_IN_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reconciler.adapters.locking import FileLock
    lock = FileLock(path=Path(sys.argv[1]), holder_id="child")
    print("held" if lock.acquire() else "refused", flush=True)
    sys.stdin.read()  # hold until the parent closes stdin, or kills us
    """
)


def _answer(child: subprocess.Popen[str]) -> str:
    """The child's "held" or "refused" line, skipping its log lines ("" if it died first)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() in ("held", "refused"):
            return line.strip()
    return ""


@pytest.fixture
def child_holding(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the file lock at ``tmp_path / "writer.lock"``."""
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD_IN_CHILD, str(tmp_path / "writer.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert _answer(child) == "held"
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def test_a_file_lock_held_by_another_process_is_refused(
    tmp_path: Path, child_holding: subprocess.Popen[str]
) -> None:
    lock = FileLock(path=tmp_path / "writer.lock", holder_id="parent")

    started = time.monotonic()
    assert lock.acquire() is False
    assert time.monotonic() - started < 1.0  # never waits
    assert lock.holder == "child"


def test_a_dead_processs_file_lock_is_taken_over(
    tmp_path: Path, child_holding: subprocess.Popen[str]
) -> None:
    child_holding.kill()
    child_holding.wait(timeout=10)
    lock = FileLock(path=tmp_path / "writer.lock", holder_id="parent")

    assert lock.acquire() is True
    lock.release()


# -- DynamoDbLease ---------------------------------------------------------------------------


def test_the_sandbox_accepts_dynamodbs_zero_decreases_today() -> None:
    body = b'{"Table": {"TableName": "locks", "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}}}'  # noqa: E501

    assert check_output_shape(service="dynamodb", operation="DescribeTable", body=body) == []


def _client(sandbox: Sandbox, *, as_lease: bool = False) -> Any:
    """A DynamoDB client of the sandbox; ``as_lease``: one that calls as the product's lease
    (its User-Agent names the role, so the session's IAM policy check counts its calls)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(user_agent_extra=user_agent("lease")) if as_lease else None,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(sandbox: Sandbox) -> str:
    DynamoDbLease(
        table=TABLE, lock_name="setup", holder_id="setup", client=_client(sandbox)
    ).ensure_table()
    return TABLE


@pytest.fixture
def leases(sandbox: Sandbox, table: str) -> Iterator[list[DynamoDbLease]]:
    """Leases made by :func:`lease`, released after the test (stops their renewal threads)."""
    made: list[DynamoDbLease] = []
    yield made
    for lease in made:
        lease.release()


@pytest.fixture
def lease(sandbox: Sandbox, table: str, leases: list[DynamoDbLease]) -> Any:
    def make(holder_id: str, **options: Any) -> DynamoDbLease:
        made = DynamoDbLease(
            table=table,
            lock_name="identity-center",
            holder_id=holder_id,
            client=_client(sandbox, as_lease=True),
            **options,
        )
        leases.append(made)
        return made

    return make


def test_ensure_table_creates_the_table_once(sandbox: Sandbox) -> None:
    client = _client(sandbox)
    lease = DynamoDbLease(table="fresh-locks", lock_name="x", holder_id="a", client=client)

    lease.ensure_table()
    lease.ensure_table()

    assert client.describe_table(TableName="fresh-locks")["Table"]["TableStatus"] == "ACTIVE"


def test_a_free_lease_is_acquired(lease: Any) -> None:
    mine = lease("ctl-a")

    assert mine.acquire() is True
    assert (mine.held, mine.holder) == (True, "ctl-a")


def test_of_racing_holders_exactly_one_acquires(lease: Any) -> None:
    racers = [lease(f"ctl-{index}") for index in range(6)]
    barrier = threading.Barrier(len(racers))
    results: dict[str, bool] = {}

    def race(racer: DynamoDbLease, name: str) -> None:
        barrier.wait()
        results[name] = racer.acquire()

    threads = [
        threading.Thread(target=race, args=(racer, f"ctl-{index}"))
        for index, racer in enumerate(racers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [name for name, won in results.items() if won]
    assert len(results) == len(racers)
    assert len(winners) == 1
    assert {racer.holder for racer in racers} == {winners[0]}  # the losers know who won


def test_a_held_lease_is_refused_naming_the_holder(lease: Any) -> None:
    lease("ctl-a").acquire()
    other = lease("ctl-b")

    assert other.acquire() is False
    assert other.holder == "ctl-a"


def test_acquiring_a_lease_already_held_succeeds(lease: Any) -> None:
    mine = lease("ctl-a")
    mine.acquire()

    assert mine.acquire() is True


def test_a_dead_holders_lease_is_taken_over_once_expired(lease: Any) -> None:
    clock = Clock()
    dead = lease("ctl-dead", lease_seconds=60, clock=clock)
    dead.acquire()  # renews every 20 s of real time: never, within this test
    successor = lease("ctl-b", lease_seconds=60, clock=clock)
    clock.now += 59
    refused = successor.acquire()
    clock.now += 2

    assert refused is False
    assert successor.acquire() is True
    assert successor.holder == "ctl-b"


def _expires_at(sandbox: Sandbox, table: str) -> float:
    item = _client(sandbox).get_item(
        TableName=table, Key={"lock_name": {"S": "identity-center"}}, ConsistentRead=True
    )["Item"]
    return float(item["expires_at"]["N"])


def test_renewal_keeps_the_lease_past_its_length(lease: Any, sandbox: Sandbox, table: str) -> None:
    clock = Clock()  # the lease's time; its renewal thread still wakes every 0.15 s of real time
    holder = lease("ctl-a", lease_seconds=0.6, clock=clock, local_clock=clock)
    holder.acquire()
    clock.now += 1.5  # far past the first expiry: only a renewal can keep the lease now
    deadline = time.monotonic() + 30
    while _expires_at(sandbox, table) <= clock.now and time.monotonic() < deadline:
        time.sleep(0.05)

    assert lease("ctl-b", lease_seconds=0.6, clock=clock).acquire() is False
    assert holder.held is True


_LEASE_IN_CHILD = textwrap.dedent(
    """
    import os, sys
    import boto3
    from reconciler.adapters.locking import DynamoDbLease
    client = boto3.client(
        "dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    lease = DynamoDbLease(
        table=sys.argv[2], lock_name="identity-center", holder_id="child",
        lease_seconds=float(sys.argv[3]), client=client,
    )
    print("held" if lease.acquire() else "refused", flush=True)
    sys.stdin.read()
    """
)


def test_a_killed_holders_lease_is_taken_over_once_expired(
    lease: Any, sandbox: Sandbox, table: str
) -> None:
    child = subprocess.Popen(
        # 2 s, renewed every 0.5 s while alive: only a 1.5 s stall could let it lapse early
        [sys.executable, "-c", _LEASE_IN_CHILD, sandbox.endpoint_url, table, "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert _answer(child) == "held"
        successor = lease("ctl-b", lease_seconds=2)
        refused_while_alive = successor.acquire()
        child.kill()
        child.wait(timeout=10)
        deadline = time.monotonic() + 30  # the child's lease ends 2 s after its last renewal
        taken_over = successor.acquire()
        while not taken_over and time.monotonic() < deadline:
            time.sleep(0.05)
            taken_over = successor.acquire()

        assert refused_while_alive is False
        assert taken_over is True
    finally:
        child.kill()
        child.wait(timeout=10)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def test_a_released_lease_can_be_acquired_at_once(lease: Any) -> None:
    first = lease("ctl-a")
    first.acquire()
    first.release()

    second = lease("ctl-b")
    assert second.acquire() is True
    assert (first.held, first.holder) == (False, None)


def test_releasing_a_lease_taken_over_leaves_the_new_holder_alone(lease: Any) -> None:
    clock = Clock()
    old = lease("ctl-old", lease_seconds=60, clock=clock)
    old.acquire()
    clock.now += 61
    new = lease("ctl-new", lease_seconds=60, clock=clock)
    new.acquire()

    old.release()

    assert lease("ctl-third", clock=clock).acquire() is False  # still held by ctl-new


def test_a_holder_notices_at_renewal_that_its_lease_was_taken(
    lease: Any, sandbox: Sandbox, table: str
) -> None:
    holder = lease("ctl-a", lease_seconds=0.6)
    holder.acquire()
    _client(sandbox).put_item(
        TableName=table,
        Item={
            "lock_name": {"S": "identity-center"},
            "holder_id": {"S": "intruder"},
            "expires_at": {"N": str(time.time() + 600)},
        },
    )
    deadline = time.monotonic() + 30
    while holder.held and time.monotonic() < deadline:
        time.sleep(0.05)

    assert (holder.held, holder.holder) == (False, "intruder")


def test_dynamodb_unreachable_is_an_aws_error_not_a_refusal() -> None:
    import socket  # noqa: PLC0415 - only this test needs a free port

    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        client = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, connect_timeout=1),
        )
        unreachable = DynamoDbLease(table=TABLE, lock_name="x", holder_id="a", client=client)

        with pytest.raises(AwsError):
            unreachable.acquire()


def test_a_lock_file_that_is_a_link_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "reconciler.lock"
    path.symlink_to(victim)
    lock = FileLock(path=path, holder_id="me")

    with pytest.raises(ConfigurationError, match="cannot be opened"):
        lock.check()
    with pytest.raises(OSError, match="symbolic link"):
        lock.acquire()
    assert victim.read_text() == "precious\n"
