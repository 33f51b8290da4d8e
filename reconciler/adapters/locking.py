"""Writer locks: at most one controller applies to an Identity Center instance at a time.

Two implementations of one protocol, :class:`WriterLock`:

* :class:`FileLock`, an ``flock(2)`` on a local file: for controllers on one host (or sharing
  a local filesystem). The kernel frees it when the holder's process dies.
* :class:`DynamoDbLease`, a lease in a DynamoDB table, for controllers anywhere. One item per
  lock::

      {"lock_name": S (partition key), "holder_id": S, "expires_at": N (epoch seconds),
       "lease_seconds": N, "generation": N, "controller_state": S}

  Taken with a conditional ``UpdateItem`` (the item is absent or its lease expired) that also
  adds 1 to ``generation``; renewed every ``lease_seconds / 4`` by a background thread with an
  ``UpdateItem`` conditioned on the holder AND the generation still being ours, and given up
  with an ``UpdateItem`` (same condition) that sets ``expires_at`` to 0. The item is never
  deleted, so the generation only grows. A holder that dies stops renewing: its lease expires
  and the next ``acquire`` takes it over. DynamoDB's conditional writes are atomic per item
  (DynamoDB developer guide, "Condition expressions"), so of two concurrent ``acquire`` calls
  at most one succeeds. Expiry compares the holders' clocks: they must agree to well within
  the safety margin of :meth:`WriterLock.fence` (NTP does).

Fencing: each acquisition gets a new, larger :attr:`WriterLock.generation` (the fencing
token). Before every write, the writer calls :meth:`WriterLock.fence`, which raises
:class:`~reconciler.errors.WriterLockLostError` unless the lock is still ours for at least a
safety margin more. The lease's deadline is kept locally on :func:`lease_clock` (a clock that
keeps counting while the process is stopped or the machine suspended), from the moment the
acquire or renewal request was *sent*; so a holder paused past its lease (SIGSTOP, a long GC
pause, a suspended VM, a partition from DynamoDB) refuses to write the moment it resumes,
before its renewal thread even learns that the lease was taken over (the renewal then fails
on the generation and names the new holder). The file lock's generation lives in the lock
file, and its fence also checks that the file at the path is still the one we hold the
``flock`` on (a deleted or replaced lock file lets a second holder lock a new file).

What fencing cannot exclude: AWS does not check the token, so a pause between the last check
and the moment a request leaves the process (microseconds; the check is made before each
HTTP attempt) can still let one request through after the lease lapsed.

Both also keep a shared controller state (:attr:`WriterLock.shared_state`: the last applied
revision and the deletion guard's window): a controller records it with the lock at the end of
a pass, under the same fencing condition, and whoever takes the lock next reads it, so that
replicas with state files of their own (or none) share the base of forward-only revisions and
the window.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reconciler.adapters.aws.clients import user_agent
from reconciler.adapters.aws.errors import translate
from reconciler.errors import ConfigurationError, WriterLockLostError

__all__ = ["DynamoDbLease", "FileLock", "WriterLock", "lease_clock"]

log = structlog.get_logger("reconciler.locking")

_LOCK_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
"""A lock file is opened, never followed: a link planted at its path would have the controller
write its holder and state into whatever file the link names (``ELOOP`` instead)."""

MAX_SHARED_STATE_BYTES = 64 * 1024
"""The largest shared controller state a lock keeps (a DynamoDB item holds 400 KB)."""

_KEY = "lock_name"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_NOT_FOUND = "ResourceNotFoundException"
_TIMEOUT_SECONDS = 5
_CLIENT_CONFIG = Config(
    connect_timeout=_TIMEOUT_SECONDS,
    read_timeout=_TIMEOUT_SECONDS,
    retries={"mode": "standard", "max_attempts": 3},
    user_agent_extra=user_agent("lease"),
)
"""Short timeouts and few retries: ``acquire`` must answer within seconds, not minutes. The
User-Agent names the ``lease`` role (``permissions``: DescribeTable, GetItem, UpdateItem)."""
_SETUP_CLIENT_CONFIG = _CLIENT_CONFIG.merge(Config(user_agent_extra=user_agent("setup")))
"""``ensure_table``'s client: CreateTable is not in the ``lease`` role, no command calls it."""
RENEWALS_PER_LEASE = 4
"""The lease is renewed every ``lease_seconds / RENEWALS_PER_LEASE``: right before a renewal,
three quarters of the lease are left for the safety margin and the renewal's own latency."""

_BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)


def lease_clock() -> float:
    """Seconds on a clock that keeps counting while the process is stopped or the machine is
    suspended: ``CLOCK_BOOTTIME`` on Linux, else ``time.monotonic`` (which, on some systems,
    stops during a suspend). Only differences between its readings mean anything."""
    if _BOOTTIME is not None:
        return time.clock_gettime(_BOOTTIME)
    return time.monotonic()  # pragma: no cover - Linux has CLOCK_BOOTTIME


class WriterLock(Protocol):
    """A lock that at most one writer holds at a time, with a fencing token."""

    def acquire(self) -> bool:
        """Take the lock without waiting: ``True`` when held (also when held already),
        ``False`` when another holder has it."""
        ...

    def release(self) -> None:
        """Give the lock up; a no-op when not held."""
        ...

    @property
    def holder(self) -> str | None:
        """Who holds it: our id while held; after a failed ``acquire`` or once lost, the other
        holder's id (``None`` when unknown or not held)."""
        ...

    @property
    def generation(self) -> int | None:
        """The fencing token of our hold: a number that grows at every acquisition, by any
        holder (take-overs included); ``None`` while not held."""
        ...

    def fence(self, margin_seconds: float) -> None:
        """Check, without a remote call, that the lock is still ours and stays ours for at
        least ``margin_seconds`` more (the longest one write may take to reach AWS); called
        before every write. Raises :class:`~reconciler.errors.WriterLockLostError` (naming the
        new holder when known) otherwise."""
        ...

    @property
    def shared_state(self) -> str | None:
        """The controller state recorded with the lock (:meth:`record_shared_state`) by
        whichever controller held it, as read when we took it or recorded since; ``None`` when
        none was. Opaque to the lock: one line of text (the controller's state file format:
        the last applied revision and the deletion guard's window), shared by every controller
        of the lock whatever their own state files say."""
        ...

    def record_shared_state(self, text: str) -> None:
        """Record ``text`` (one line, at most ``MAX_SHARED_STATE_BYTES`` bytes in UTF-8) with
        the lock, if the lock is still ours (same generation). Raises
        :class:`~reconciler.errors.WriterLockLostError` when it is not, ``ValueError`` for text
        too long or not one line, and an ``AwsError`` subclass when the lock's service cannot
        answer."""
        ...

    def check(self) -> None:
        """Check that the lock can work at all (its table or folder exists), without taking
        it: for a controller's start. Raises :class:`~reconciler.errors.ConfigurationError`
        naming what is missing and how to make it, or an ``AwsError`` subclass when the lock's
        service cannot answer."""
        ...


class FileLock:
    """An exclusive, non-blocking ``flock(2)`` on ``path`` (created with its parent folders).

    The file holds three lines: the holder's id while held (so a failed :meth:`acquire` can
    say who holds it; emptied on release), the generation (the fencing token) and the shared
    controller state (both kept on release). The file is never deleted by us
    (deleting a lock file lets two holders lock two different files); :meth:`fence` notices
    when someone else did, or replaced it. One host
    only: ``flock`` is not reliable on network filesystems. Two ``FileLock`` objects on one
    path exclude each other even within one process. The margin of :meth:`fence` is not used:
    an ``flock`` does not expire.
    """

    def __init__(self, *, path: Path, holder_id: str) -> None:
        if not holder_id:
            raise ValueError("holder_id must not be empty")
        self._path = path
        self._holder_id = holder_id
        self._fd: int | None = None
        self._holder: str | None = None
        self._generation: int | None = None
        self._shared_state: str | None = None
        self._state = threading.Lock()

    @property
    def holder(self) -> str | None:
        """See :attr:`WriterLock.holder`."""
        return self._holder

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    @property
    def generation(self) -> int | None:
        """See :attr:`WriterLock.generation`."""
        return self._generation if self._fd is not None else None

    @property
    def shared_state(self) -> str | None:
        """See :attr:`WriterLock.shared_state`."""
        return self._shared_state

    def record_shared_state(self, text: str) -> None:
        """See :meth:`WriterLock.record_shared_state`: written into the lock file after the
        same checks as :meth:`fence`."""
        _check_shared_state(text)
        self.fence(0.0)
        with self._state:
            fd = self._fd
            if fd is None:  # pragma: no cover - fence raised
                raise WriterLockLostError(f"the writer lock {self._path} is not held")
            _write_lock_file(
                fd, holder=self._holder_id, generation=self._generation or 0, shared=text
            )
            self._shared_state = text

    def __repr__(self) -> str:
        return f"FileLock(path={str(self._path)!r}, holder_id={self._holder_id!r})"

    def check(self) -> None:
        """See :meth:`WriterLock.check`: the lock file's folder can be made and the file
        opened. Raises :class:`~reconciler.errors.ConfigurationError`."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self._path, _LOCK_FILE_FLAGS, 0o644))
        except OSError as exc:
            raise ConfigurationError(f"the lock file {self._path} cannot be opened: {exc}") from exc

    def acquire(self) -> bool:
        """See :meth:`WriterLock.acquire`. Raises :class:`OSError` if the file cannot be opened."""
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, _LOCK_FILE_FLAGS, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read_lock_file(fd).holder
            os.close(fd)
            self._holder = other
            log.info("lock.busy", lock=str(self._path), holder=self._holder)
            return False
        except BaseException:
            os.close(fd)
            raise
        previous = _read_lock_file(fd)
        generation = previous.generation + 1
        _write_lock_file(
            fd, holder=self._holder_id, generation=generation, shared=previous.shared_state
        )
        with self._state:
            self._fd = fd
            self._holder = self._holder_id
            self._generation = generation
            self._shared_state = previous.shared_state
        log.info(
            "lock.acquired", lock=str(self._path), holder=self._holder_id, generation=generation
        )
        return True

    def fence(self, margin_seconds: float) -> None:
        """See :meth:`WriterLock.fence`: held, the file at the path is still the one locked
        (same device and inode), and it still names our generation."""
        with self._state:
            fd = self._fd
            if fd is None:
                raise WriterLockLostError(
                    f"the writer lock {self._path} is not held", holder=self._holder
                )
            ours = os.fstat(fd)
            try:
                there = os.stat(self._path)
            except FileNotFoundError:
                why = "the lock file was deleted"
            else:
                if (there.st_dev, there.st_ino) != (ours.st_dev, ours.st_ino):
                    why = "the lock file was replaced"
                elif _read_lock_file(fd).generation != self._generation:
                    why = "the lock file was overwritten"
                else:
                    return
            self._lose(fd)
            holder = self._holder
        log.warning("lock.lost", lock=str(self._path), holder=holder, reason=why)
        shown = f": now held by {holder}" if holder else ""
        raise WriterLockLostError(
            f"the writer lock {self._path} was lost ({why}){shown}", holder=holder
        )

    def _lose(self, fd: int) -> None:
        """Let go of a lock file that is no longer the lock (caller holds ``_state``)."""
        self._fd = None
        self._generation = None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        self._holder = None
        with contextlib.suppress(OSError):
            other = os.open(self._path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                self._holder = _read_lock_file(other).holder
            finally:
                os.close(other)

    def release(self) -> None:
        """See :meth:`WriterLock.release`."""
        with self._state:
            fd, self._fd = self._fd, None
            generation, self._generation = self._generation, None
            self._holder = None
        if fd is None:
            return
        try:
            # No stale holder id for the next reader; the generation and the shared state stay
            # for the next holder.
            _write_lock_file(fd, holder="", generation=generation or 0, shared=self._shared_state)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        log.info("lock.released", lock=str(self._path), holder=self._holder_id)


@dataclass(frozen=True, slots=True)
class _LockFileContent:
    holder: str | None
    generation: int
    shared_state: str | None


def _read_lock_file(fd: int) -> _LockFileContent:
    """The holder id, generation (0 when none) and shared state of a lock file's lines."""
    data = os.pread(fd, 2 * MAX_SHARED_STATE_BYTES, 0).decode(errors="replace")
    lines = data.splitlines()
    holder = lines[0].strip() if lines else ""
    generation = lines[1].strip() if len(lines) > 1 else ""
    shared = lines[2].strip() if len(lines) > 2 else ""
    return _LockFileContent(
        holder=holder or None,
        generation=int(generation) if generation.isdigit() else 0,
        shared_state=shared or None,
    )


def _write_lock_file(fd: int, *, holder: str, generation: int, shared: str | None) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{holder}\n{generation}\n{shared or ''}\n".encode(), 0)


def _check_shared_state(text: str) -> None:
    """Raise ``ValueError`` unless ``text`` is one line within ``MAX_SHARED_STATE_BYTES``."""
    if "\n" in text or "\r" in text:
        raise ValueError("the shared state must be one line")
    if len(text.encode()) > MAX_SHARED_STATE_BYTES:
        raise ValueError(f"the shared state is larger than {MAX_SHARED_STATE_BYTES} bytes")


class DynamoDbLease:
    """A lease on ``lock_name`` in the DynamoDB table ``table`` (see the module docstring).

    ``holder_id`` names this controller (host and process, say) in the table and in reports;
    ``lease_seconds`` is how long the lease lasts without renewal (renewed every quarter of
    it); ``client`` a boto3 DynamoDB client (default: one from the standard AWS configuration,
    with 5-second timeouts); ``clock`` returns epoch seconds, written in the item and compared
    by every holder; ``local_clock`` keeps the lease's deadline in this process
    (:func:`lease_clock` by default). Both are injected by tests.

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
        local_clock: Callable[[], float] = lease_clock,
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
        self._client_injected = client is not None
        self._clock = clock
        self._local_clock = local_clock
        self._state = threading.Lock()
        self._held = False
        self._holder: str | None = None
        self._generation: int | None = None
        self._shared_state: str | None = None
        self._deadline = 0.0
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
        none in time (the lease expired), or :meth:`fence` saw its deadline pass."""
        with self._state:
            return self._held

    @property
    def generation(self) -> int | None:
        """See :attr:`WriterLock.generation`: the item's ``generation`` our acquisition set."""
        with self._state:
            return self._generation if self._held else None

    def __repr__(self) -> str:
        return (
            f"DynamoDbLease(table={self._table!r}, lock_name={self._lock_name!r},"
            f" holder_id={self._holder_id!r}, lease_seconds={self._lease_seconds!r})"
        )

    def _region(self) -> str:
        return str(getattr(self._client.meta, "region_name", None) or "unknown")

    def _missing_table(self, problem: str) -> ConfigurationError:
        region = self._region()
        return ConfigurationError(
            f"the DynamoDB lease table {self._table} in Region {region} {problem}: it needs "
            f"the partition key '{_KEY}' (type S, a string, no sort key). Create it with: "
            f"aws dynamodb create-table --region {region} --table-name {self._table} "
            f"--attribute-definitions AttributeName={_KEY},AttributeType=S "
            f"--key-schema AttributeName={_KEY},KeyType=HASH --billing-mode PAY_PER_REQUEST"
        )

    def check(self) -> None:
        """See :meth:`WriterLock.check`: ``DescribeTable`` says the table exists with the
        partition key ``lock_name`` of type S and no sort key. Raises
        :class:`~reconciler.errors.ConfigurationError` naming the table, the Region, the key
        and the create-table command; an ``AwsError`` subclass when DynamoDB cannot answer."""
        try:
            table = self._client.describe_table(TableName=self._table)["Table"]
        except ClientError as exc:
            if _code(exc) == _NOT_FOUND:
                raise self._missing_table("does not exist") from exc
            raise translate(exc, operation="DescribeTable", service="dynamodb") from exc
        except BotoCoreError as exc:
            raise translate(exc, operation="DescribeTable", service="dynamodb") from exc
        keys = {key["AttributeName"]: key["KeyType"] for key in table.get("KeySchema", [])}
        types = {
            attribute["AttributeName"]: attribute["AttributeType"]
            for attribute in table.get("AttributeDefinitions", [])
        }
        if keys != {_KEY: "HASH"} or types.get(_KEY) != "S":
            shown = ", ".join(f"{name} ({kind}, {types.get(name)})" for name, kind in keys.items())
            raise self._missing_table(f"has the key {shown or 'none'}, not '{_KEY}'")

    def ensure_table(self) -> None:
        """Create the table (on-demand capacity, key ``lock_name``) unless it exists; wait until
        it is ACTIVE. For tests and first runs: production tables are better made by the
        infrastructure code, and no command calls it (its calls name the ``setup`` role, not
        ``lease``: ``dynamodb:CreateTable`` is not in the lease policy). Raises
        :class:`~reconciler.errors.AwsError` subclasses."""
        client: Any = (
            self._client
            if self._client_injected
            else boto3.client("dynamodb", config=_SETUP_CLIENT_CONFIG)
        )
        try:
            client.describe_table(TableName=self._table)
            return
        except ClientError as exc:
            if _code(exc) != _NOT_FOUND:
                raise translate(exc, operation="DescribeTable", service="dynamodb") from exc
        except BotoCoreError as exc:
            raise translate(exc, operation="DescribeTable", service="dynamodb") from exc
        try:
            client.create_table(
                TableName=self._table,
                KeySchema=[{"AttributeName": _KEY, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": _KEY, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":  # made meanwhile by another holder
                raise translate(exc, operation="CreateTable", service="dynamodb") from exc
        except BotoCoreError as exc:
            raise translate(exc, operation="CreateTable", service="dynamodb") from exc
        try:
            client.get_waiter("table_exists").wait(
                TableName=self._table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except BotoCoreError as exc:
            raise translate(exc, operation="DescribeTable", service="dynamodb") from exc
        log.info("lock.table_created", table=self._table)

    def acquire(self) -> bool:
        """See :meth:`WriterLock.acquire`; starts the renewal thread when taken. The item's
        ``generation`` grows by one in the same conditional write."""
        with self._state:
            if self._held:
                return True
        sent = self._local_clock()
        now = self._clock()
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={_KEY: {"S": self._lock_name}},
                UpdateExpression=(
                    "SET #holder = :me, #expires = :expires, #lease = :lease ADD #generation :one"
                ),
                ConditionExpression="attribute_not_exists(#name) OR #expires < :now",
                ExpressionAttributeNames={
                    "#name": _KEY,
                    "#expires": "expires_at",
                    "#holder": "holder_id",
                    "#lease": "lease_seconds",
                    "#generation": "generation",
                },
                ExpressionAttributeValues={
                    ":me": {"S": self._holder_id},
                    ":expires": {"N": _number(now + self._lease_seconds)},
                    ":lease": {"N": _number(self._lease_seconds)},
                    ":now": {"N": _number(now)},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) != _CONDITION_FAILED:
                raise translate(exc, operation="UpdateItem", service="dynamodb") from exc
            other = _holder_of(exc.response.get("Item")) or self._read_holder()
            with self._state:
                self._holder = other
            log.info("lock.busy", table=self._table, lock=self._lock_name, holder=other)
            return False
        except BotoCoreError as exc:
            raise translate(exc, operation="UpdateItem", service="dynamodb") from exc
        attributes = answer.get("Attributes")
        generation = _generation_of(attributes)
        with self._state:
            self._held = True
            self._holder = self._holder_id
            self._generation = generation
            self._shared_state = _shared_state_of(attributes)
            self._deadline = sent + self._lease_seconds
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
            generation=generation,
            lease_seconds=self._lease_seconds,
        )
        return True

    def fence(self, margin_seconds: float) -> None:
        """See :meth:`WriterLock.fence`: held, and the local deadline (the acquire or last
        renewal request's send time plus ``lease_seconds``, on ``local_clock``) is more than
        ``margin_seconds`` away. A deadline already passed loses the lease (``lock.lost``),
        and the current holder is read once, to be named."""
        with self._state:
            held, holder = self._held, self._holder
            left = self._deadline - self._local_clock()
        if not held:
            shown = f": now held by {holder}" if holder else ""
            raise WriterLockLostError(f"the writer lease was lost{shown}", holder=holder)
        if left > margin_seconds:
            return
        if left > 0:
            raise WriterLockLostError(
                f"the writer lease lapses in {left:.1f} s, within the safety margin of "
                f"{margin_seconds:g} s (renewals are late or failing)",
                holder=self._holder_id,
            )
        self._lose(self._stop, holder=None, why=f"expired {-left:.1f} s ago, by the local clock")
        other = self._read_holder()
        if other == self._holder_id:
            other = None  # our own lapsed item: nobody took it yet
        with self._state:
            if not self._held:
                self._holder = other
        shown = f": now held by {other}" if other else ""
        raise WriterLockLostError(
            f"the writer lease expired {-left:.1f} s ago (the process was paused or cut off "
            f"from DynamoDB){shown}",
            holder=other,
        )

    @property
    def shared_state(self) -> str | None:
        """See :attr:`WriterLock.shared_state`: the item's ``controller_state``."""
        with self._state:
            return self._shared_state

    def record_shared_state(self, text: str) -> None:
        """See :meth:`WriterLock.record_shared_state`: an ``UpdateItem`` of
        ``controller_state`` conditioned on holder and generation being ours."""
        _check_shared_state(text)
        with self._state:
            generation = self._generation if self._held else None
        if generation is None:
            raise WriterLockLostError("the writer lease is not held", holder=self.holder)
        try:
            self._client.update_item(
                TableName=self._table,
                Key={_KEY: {"S": self._lock_name}},
                UpdateExpression="SET #shared = :shared",
                ConditionExpression="#holder = :me AND #generation = :generation",
                ExpressionAttributeNames={
                    "#shared": "controller_state",
                    "#holder": "holder_id",
                    "#generation": "generation",
                },
                ExpressionAttributeValues={
                    ":shared": {"S": text},
                    ":me": {"S": self._holder_id},
                    ":generation": {"N": str(generation)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _code(exc) != _CONDITION_FAILED:
                raise translate(exc, operation="UpdateItem", service="dynamodb") from exc
            holder = _holder_of(exc.response.get("Item"))
            self._lose(self._stop, holder=holder, why="taken over")
            shown = f": now held by {holder}" if holder else ""
            raise WriterLockLostError(f"the writer lease was lost{shown}", holder=holder) from exc
        except BotoCoreError as exc:
            raise translate(exc, operation="UpdateItem", service="dynamodb") from exc
        with self._state:
            self._shared_state = text

    def release(self) -> None:
        """See :meth:`WriterLock.release`. Stops renewing and ends the lease in the item
        (``expires_at`` 0) if it is still ours; a DynamoDB error is logged, not raised (the
        lease then expires by itself)."""
        with self._state:
            renewer, self._renewer = self._renewer, None
            was_held = self._held
            generation = self._generation
            self._held = False
            self._holder = None
            self._generation = None
            self._stop.set()
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=2 * _TIMEOUT_SECONDS)
        if not was_held or generation is None:
            return
        if self._end_lease(generation):
            log.info(
                "lock.released", table=self._table, lock=self._lock_name, holder=self._holder_id
            )

    def _end_lease(self, generation: int) -> bool:
        """Set the item's ``expires_at`` to 0 if holder and ``generation`` are still ours;
        ``False`` when DynamoDB failed (logged: the lease then expires by itself)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={_KEY: {"S": self._lock_name}},
                UpdateExpression="SET #expires = :zero",
                **self._ours(generation, {":zero": {"N": "0"}}),
            )
        except ClientError as exc:
            if _code(exc) != _CONDITION_FAILED:  # taken over meanwhile: nothing of ours left
                log.warning(
                    "lock.release_failed",
                    lock=self._lock_name,
                    error=str(translate(exc, operation="UpdateItem", service="dynamodb")),
                )
                return False
        except BotoCoreError as exc:
            log.warning(
                "lock.release_failed",
                lock=self._lock_name,
                error=str(translate(exc, operation="UpdateItem", service="dynamodb")),
            )
            return False
        return True

    def _ours(self, generation: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """The condition "holder and generation are ours" of a renewal or release."""
        return {
            "ConditionExpression": "#holder = :me AND #generation = :generation",
            "ExpressionAttributeNames": {
                "#holder": "holder_id",
                "#generation": "generation",
                "#expires": "expires_at",
            },
            "ExpressionAttributeValues": {
                ":me": {"S": self._holder_id},
                ":generation": {"N": str(generation)},
                **values,
            },
        }

    # -- renewal -------------------------------------------------------------------------------

    def _renew_until_stopped(self, stop: threading.Event) -> None:
        interval = self._lease_seconds / RENEWALS_PER_LEASE
        while not stop.wait(interval):
            if not self._renew(stop):
                return

    def _renew(self, stop: threading.Event) -> bool:
        """Extend the lease once; ``False`` when it is lost (and renewal should end)."""
        with self._state:
            generation = self._generation
            if not self._held or generation is None:
                return False
        sent = self._local_clock()
        now = self._clock()
        try:
            self._client.update_item(
                TableName=self._table,
                Key={_KEY: {"S": self._lock_name}},
                UpdateExpression="SET #expires = :expires",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **self._ours(generation, {":expires": {"N": _number(now + self._lease_seconds)}}),
            )
        except ClientError as exc:
            if _code(exc) == _CONDITION_FAILED:
                item = exc.response.get("Item")
                other = _generation_of(item) if item else None
                why = f"taken over (generation {other}, ours {generation})"
                self._lose(stop, holder=_holder_of(item), why=why)
                return False
            return self._renewal_failed(
                stop, translate(exc, operation="UpdateItem", service="dynamodb")
            )
        except BotoCoreError as exc:
            return self._renewal_failed(
                stop, translate(exc, operation="UpdateItem", service="dynamodb")
            )
        with self._state:
            still = not stop.is_set() and self._held and self._generation == generation
            if still:
                self._deadline = sent + self._lease_seconds
        if not still:  # lost or released meanwhile: give back what this renewal extended
            self._end_lease(generation)
            return False
        return True

    def _renewal_failed(self, stop: threading.Event, error: Exception) -> bool:
        log.warning("lock.renew_failed", lock=self._lock_name, error=str(error))
        with self._state:
            expired = self._local_clock() >= self._deadline
        if expired:
            self._lose(stop, holder=None, why="expired: renewals failed")
            return False
        return True

    def _lose(self, stop: threading.Event, *, holder: str | None, why: str) -> None:
        with self._state:
            if stop.is_set() or not self._held:
                return  # released (or lost) meanwhile
            self._held = False
            self._holder = holder
            stop.set()  # no renewal of a lease we no longer hold
        log.warning("lock.lost", lock=self._lock_name, holder=holder, reason=why)

    # -- items ---------------------------------------------------------------------------------

    def _read_holder(self) -> str | None:
        """The current holder's id, read again (``None`` when unknown or its lease ended)."""
        with contextlib.suppress(ClientError, BotoCoreError):
            answer = self._client.get_item(
                TableName=self._table, Key={_KEY: {"S": self._lock_name}}, ConsistentRead=True
            )
            item = answer.get("Item")
            expires = item.get("expires_at", {}).get("N") if isinstance(item, Mapping) else None
            if expires is not None and float(expires) < self._clock():
                return None
            return _holder_of(item)
        return None


def _holder_of(item: object) -> str | None:
    """The ``holder_id`` of a DynamoDB item in its wire form (``{"S": "..."}``), if any."""
    if not isinstance(item, Mapping):
        return None
    attribute = item.get("holder_id")
    value = attribute.get("S") if isinstance(attribute, Mapping) else None
    return str(value) if value else None


def _generation_of(item: object) -> int:
    """The ``generation`` of a DynamoDB item in its wire form (0 when absent)."""
    if not isinstance(item, Mapping):
        return 0
    attribute = item.get("generation")
    value = attribute.get("N") if isinstance(attribute, Mapping) else None
    return int(value) if value else 0


def _shared_state_of(item: object) -> str | None:
    """The ``controller_state`` of a DynamoDB item in its wire form, if any."""
    if not isinstance(item, Mapping):
        return None
    attribute = item.get("controller_state")
    value = attribute.get("S") if isinstance(attribute, Mapping) else None
    return value if isinstance(value, str) and value else None


def _number(seconds: float) -> str:
    return f"{seconds:.3f}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
