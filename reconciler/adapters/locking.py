"""Writer locks: at most one controller applies to an Identity Center instance at a time.

Two implementations of one protocol, :class:`WriterLock`:

* :class:`FileLock`, an ``flock(2)`` on a local file: for controllers on one host (or sharing
  a local filesystem). The kernel frees it when the holder's process dies.
* :class:`DynamoDbLease`, a lease in a DynamoDB table, for controllers anywhere. One item per
  lock::

      {"lock_name": S (partition key), "holder_id": S, "expires_at": N (epoch seconds),
       "lease_seconds": N}

  Taken with a conditional ``PutItem`` (the item is absent, its lease expired, or it is ours
  already), renewed every ``lease_seconds / 3`` by a background thread with a ``PutItem``
  conditioned on still being the holder, and given up with a ``DeleteItem`` under the same
  condition. A holder that dies stops renewing: its lease expires and the next ``acquire``
  takes it over. DynamoDB's conditional writes are atomic per item (DynamoDB developer guide,
  "Condition expressions"), so of two concurrent ``acquire`` calls at most one succeeds.
  Expiry compares the holders' clocks: they must agree to well within ``lease_seconds``
  (NTP does).

Neither blocks: ``acquire`` answers at once, ``True`` when held, ``False`` when another holder
has it (then :attr:`WriterLock.holder` names that holder, when known).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reconciler.adapters.aws.errors import translate

__all__ = ["DynamoDbLease", "FileLock", "WriterLock"]

log = structlog.get_logger("reconciler.locking")

_KEY = "lock_name"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_TIMEOUT_SECONDS = 5
_CLIENT_CONFIG = Config(
    connect_timeout=_TIMEOUT_SECONDS,
    read_timeout=_TIMEOUT_SECONDS,
    retries={"mode": "standard", "max_attempts": 3},
)
"""Short timeouts and few retries: ``acquire`` must answer within seconds, not minutes."""


class WriterLock(Protocol):
    """A lock that at most one writer holds at a time."""

    def acquire(self) -> bool:
        """Take the lock without waiting: ``True`` when held (also when held already),
        ``False`` when another holder has it."""
        ...

    def release(self) -> None:
        """Give the lock up; a no-op when not held."""
        ...

    @property
    def holder(self) -> str | None:
        """Who holds it: our id while held; after a failed ``acquire``, the other holder's id
        (``None`` when unknown or not held)."""
        ...


class FileLock:
    """An exclusive, non-blocking ``flock(2)`` on ``path`` (created with its parent folders).

    The holder's id is written into the file while held, so a failed :meth:`acquire` can say
    who holds it. The file is never deleted (deleting a lock file lets two holders lock two
    different files). One host only: ``flock`` is not reliable on network filesystems.
    Two ``FileLock`` objects on one path exclude each other even within one process.
    """

    def __init__(self, *, path: Path, holder_id: str) -> None:
        if not holder_id:
            raise ValueError("holder_id must not be empty")
        self._path = path
        self._holder_id = holder_id
        self._fd: int | None = None
        self._holder: str | None = None

    @property
    def holder(self) -> str | None:
        """See :attr:`WriterLock.holder`."""
        return self._holder

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __repr__(self) -> str:
        return f"FileLock(path={str(self._path)!r}, holder_id={self._holder_id!r})"

    def acquire(self) -> bool:
        """See :meth:`WriterLock.acquire`. Raises :class:`OSError` if the file cannot be opened."""
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 4096, 0).decode(errors="replace").strip()
            os.close(fd)
            self._holder = other or None
            log.info("lock.busy", lock=str(self._path), holder=self._holder)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, (self._holder_id + "\n").encode(), 0)
        self._fd = fd
        self._holder = self._holder_id
        log.info("lock.acquired", lock=str(self._path), holder=self._holder_id)
        return True

    def release(self) -> None:
        """See :meth:`WriterLock.release`."""
        fd, self._fd = self._fd, None
        self._holder = None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no stale holder id for the next reader
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        log.info("lock.released", lock=str(self._path), holder=self._holder_id)


class DynamoDbLease:
    """A lease on ``lock_name`` in the DynamoDB table ``table`` (see the module docstring).

    ``holder_id`` names this controller (host and process, say) in the table and in reports;
    ``lease_seconds`` is how long the lease lasts without renewal (renewed every third of
    it); ``client`` a boto3 DynamoDB client (default: one from the standard AWS configuration,
    with 5-second timeouts); ``clock`` returns epoch seconds (injected by tests).

    :meth:`acquire` raises :class:`~reconciler.errors.TemporaryAwsError` or
    :class:`~reconciler.errors.PermanentAwsError` when DynamoDB cannot answer (unreachable,
    throttled, access denied, no such table): the lock is then unavailable, not refused.
    """

    def __init__(
        self,
        *,
        table: str,
        lock_name: str,
        holder_id: str,
        lease_seconds: float = 60,
        client: Any | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not holder_id:
            raise ValueError("holder_id must not be empty")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self._table = table
        self._lock_name = lock_name
        self._holder_id = holder_id
        self._lease_seconds = float(lease_seconds)
        self._client: Any = (
            client if client is not None else boto3.client("dynamodb", config=_CLIENT_CONFIG)
        )
        self._clock = clock
        self._state = threading.Lock()
        self._held = False
        self._holder: str | None = None
        self._expires_at = 0.0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def holder(self) -> str | None:
        """See :attr:`WriterLock.holder`."""
        with self._state:
            return self._holder

    @property
    def held(self) -> bool:
        """Whether the lease is ours: ``False`` once a renewal found another holder, or found
        none in time (the lease expired)."""
        with self._state:
            return self._held

    def __repr__(self) -> str:
        return (
            f"DynamoDbLease(table={self._table!r}, lock_name={self._lock_name!r},"
            f" holder_id={self._holder_id!r}, lease_seconds={self._lease_seconds!r})"
        )

    def ensure_table(self) -> None:
        """Create the table (on-demand capacity, key ``lock_name``) unless it exists; wait until
        it is ACTIVE. For tests and first runs: production tables are better made by the
        infrastructure code. Raises :class:`~reconciler.errors.AwsError` subclasses."""
        try:
            self._client.describe_table(TableName=self._table)
            return
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise translate(exc, operation="DescribeTable") from exc
        except BotoCoreError as exc:
            raise translate(exc, operation="DescribeTable") from exc
        try:
            self._client.create_table(
                TableName=self._table,
                KeySchema=[{"AttributeName": _KEY, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": _KEY, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":  # made meanwhile by another holder
                raise translate(exc, operation="CreateTable") from exc
        except BotoCoreError as exc:
            raise translate(exc, operation="CreateTable") from exc
        try:
            self._client.get_waiter("table_exists").wait(
                TableName=self._table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except BotoCoreError as exc:
            raise translate(exc, operation="DescribeTable") from exc
        log.info("lock.table_created", table=self._table)

    def acquire(self) -> bool:
        """See :meth:`WriterLock.acquire`; starts the renewal thread when taken."""
        with self._state:
            if self._held:
                return True
        now = self._clock()
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(expires_at=now + self._lease_seconds),
                ConditionExpression=(
                    "attribute_not_exists(#name) OR #expires < :now OR #holder = :me"
                ),
                ExpressionAttributeNames={
                    "#name": _KEY,
                    "#expires": "expires_at",
                    "#holder": "holder_id",
                },
                ExpressionAttributeValues={
                    ":now": {"N": _number(now)},
                    ":me": {"S": self._holder_id},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) != _CONDITION_FAILED:
                raise translate(exc, operation="PutItem") from exc
            other = _holder_of(exc.response.get("Item")) or self._read_holder()
            with self._state:
                self._holder = other
            log.info("lock.busy", table=self._table, lock=self._lock_name, holder=other)
            return False
        except BotoCoreError as exc:
            raise translate(exc, operation="PutItem") from exc
        with self._state:
            self._held = True
            self._holder = self._holder_id
            self._expires_at = now + self._lease_seconds
            self._stop = threading.Event()
            self._renewer = threading.Thread(
                target=self._renew_until_stopped,
                args=(self._stop,),
                name=f"lease-renewal-{self._lock_name}",
                daemon=True,
            )
            self._renewer.start()
        log.info(
            "lock.acquired",
            table=self._table,
            lock=self._lock_name,
            holder=self._holder_id,
            lease_seconds=self._lease_seconds,
        )
        return True

    def release(self) -> None:
        """See :meth:`WriterLock.release`. Stops renewing and deletes the item if it is still
        ours; a DynamoDB error is logged, not raised (the lease then expires by itself)."""
        with self._state:
            renewer, self._renewer = self._renewer, None
            was_held = self._held
            self._held = False
            self._holder = None
            self._stop.set()
        if renewer is not None:
            renewer.join(timeout=2 * _TIMEOUT_SECONDS)
        if not was_held:
            return
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={_KEY: {"S": self._lock_name}},
                ConditionExpression="#holder = :me",
                ExpressionAttributeNames={"#holder": "holder_id"},
                ExpressionAttributeValues={":me": {"S": self._holder_id}},
            )
        except ClientError as exc:
            if _code(exc) != _CONDITION_FAILED:  # taken over meanwhile: nothing of ours left
                log.warning(
                    "lock.release_failed",
                    lock=self._lock_name,
                    error=str(translate(exc, operation="DeleteItem")),
                )
                return
        except BotoCoreError as exc:
            log.warning(
                "lock.release_failed",
                lock=self._lock_name,
                error=str(translate(exc, operation="DeleteItem")),
            )
            return
        log.info("lock.released", table=self._table, lock=self._lock_name, holder=self._holder_id)

    # -- renewal -------------------------------------------------------------------------------

    def _renew_until_stopped(self, stop: threading.Event) -> None:
        interval = self._lease_seconds / 3
        while not stop.wait(interval):
            if not self._renew(stop):
                return

    def _renew(self, stop: threading.Event) -> bool:
        """Extend the lease once; ``False`` when it is lost (and renewal should end)."""
        now = self._clock()
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(expires_at=now + self._lease_seconds),
                ConditionExpression="#holder = :me",
                ExpressionAttributeNames={"#holder": "holder_id"},
                ExpressionAttributeValues={":me": {"S": self._holder_id}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) == _CONDITION_FAILED:
                self._lose(stop, holder=_holder_of(exc.response.get("Item")), why="taken over")
                return False
            return self._renewal_failed(stop, now, translate(exc, operation="PutItem"))
        except BotoCoreError as exc:
            return self._renewal_failed(stop, now, translate(exc, operation="PutItem"))
        with self._state:
            if not stop.is_set():
                self._expires_at = now + self._lease_seconds
        return True

    def _renewal_failed(self, stop: threading.Event, now: float, error: Exception) -> bool:
        log.warning("lock.renew_failed", lock=self._lock_name, error=str(error))
        with self._state:
            expired = now >= self._expires_at
        if expired:
            self._lose(stop, holder=None, why="expired: renewals failed")
            return False
        return True

    def _lose(self, stop: threading.Event, *, holder: str | None, why: str) -> None:
        with self._state:
            if stop.is_set():
                return  # released meanwhile
            self._held = False
            self._holder = holder
        log.warning("lock.lost", lock=self._lock_name, holder=holder, reason=why)

    # -- items ---------------------------------------------------------------------------------

    def _item(self, *, expires_at: float) -> dict[str, dict[str, str]]:
        return {
            _KEY: {"S": self._lock_name},
            "holder_id": {"S": self._holder_id},
            "expires_at": {"N": _number(expires_at)},
            "lease_seconds": {"N": _number(self._lease_seconds)},
        }

    def _read_holder(self) -> str | None:
        """The current holder's id, read again (``None`` when unknown)."""
        with contextlib.suppress(ClientError, BotoCoreError):
            answer = self._client.get_item(
                TableName=self._table, Key={_KEY: {"S": self._lock_name}}, ConsistentRead=True
            )
            return _holder_of(answer.get("Item"))
        return None


def _holder_of(item: object) -> str | None:
    """The ``holder_id`` of a DynamoDB item in its wire form (``{"S": "..."}``), if any."""
    if not isinstance(item, Mapping):
        return None
    attribute = item.get("holder_id")
    value = attribute.get("S") if isinstance(attribute, Mapping) else None
    return str(value) if value else None


def _number(seconds: float) -> str:
    return f"{seconds:.3f}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
