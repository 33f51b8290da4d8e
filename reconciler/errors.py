"""The reconciler's error tree.

Every failure the reconciler reports is one of these; adapters translate the errors of the
systems they own (botocore, GitPython) once, at their boundary, with ``raise ... from exc``.
The tree splits what a later pass may fix by itself from what needs a person::

    ReconcilerError
    ├── InvalidRevisionError          the desired state is invalid: nothing is applied
    ├── ConfigurationError            the reconciler is not configured to reach AWS or Git
    ├── SourceError                   the Git repository could not be read
    │   └── UnverifiedRevisionError   the revision is not signed by a trusted key: refused
    ├── PlanRefusedError              a safety rule refuses the plan (deletion guard)
    ├── UnknownFilterError            a report's filter names no user, account, OU... that exists
    ├── WriterLockLostError           the writer lock is lost or about to lapse: no more writes
    ├── SyncError                     `reconciler sync` got no report from the controller
    └── AwsError                      an AWS call failed, after botocore's retries
        ├── TemporaryAwsError         throttling, 5xx, timeouts, conflicts: retry later
        └── PermanentAwsError         access denied, validation, not found: stop and report

``TemporaryAwsError`` and ``SourceError`` are worth retrying on the next pass;
``InvalidRevisionError``, ``PlanRefusedError`` and ``PermanentAwsError`` are not, until the
revision or the live state changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ReconcilerError(Exception):
    """Base class of every error the reconciler raises on purpose."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with a revision of the desired state.

    ``file`` is relative to the desired-state folder (``permission-sets/Admin.json``); ``path``
    is a JSONPath into that file (``$.assignments[2].accounts[0]``), ``$`` for the whole
    file; ``rule`` is a short identifier of the rule broken (``max_length``, ``unknown_user``),
    stable for machines; ``message`` says what is wrong in words a person can act on.
    ``line`` and ``column`` (1-based) are set for JSON syntax errors.
    """

    file: str
    path: str
    rule: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message} [{self.rule}]"


class InvalidRevisionError(ReconcilerError):
    """The desired state at one revision is invalid; it is refused whole.

    ``problems`` holds every problem found, not just the first. ``live_error`` is the error
    met reading live state to check the references (accounts, users, groups) when it could not
    be read: those references were not checked, and the revision may have more problems.
    """

    def __init__(
        self, problems: Sequence[Problem], *, live_error: ReconcilerError | None = None
    ) -> None:
        self.problems = tuple(problems)
        self.live_error = live_error
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the desired state")


class ConfigurationError(ReconcilerError):
    """A setting is missing or wrong (no AWS region, an unknown profile): fix it and run again."""


class SourceError(ReconcilerError):
    """The Git repository, ref or sub-path could not be read (temporary until proven otherwise)."""


class UnverifiedRevisionError(SourceError):
    """The revision is not signed by a trusted key, so it is refused like an invalid one.

    ``revision`` is the commit's full SHA; ``reason`` a stable identifier of why (``unsigned``,
    ``unknown_key``, ``bad_signature``, ``expired_key``, ``revoked_key``, ``expired_signature``,
    ``unsupported_signature``, ``uncommitted_changes``, ``verification_failed``); ``detail``
    says it in words (the key id or fingerprint when there is one); ``repository`` the
    repository, credentials redacted. Unlike its parent it is not temporary: the same commit
    fails the same way until the trusted keys change.
    """

    def __init__(
        self, *, revision: str, reason: str, detail: str, repository: str | None = None
    ) -> None:
        self.revision = revision
        self.reason = reason
        self.detail = detail
        self.repository = repository
        where = f" of repository {repository}" if repository else ""
        super().__init__(f"revision {revision}{where} refused: {detail} [{reason}]")


class PlanRefusedError(ReconcilerError):
    """A safety rule refuses the plan; the message says which rule and how to allow it."""


class AwsError(ReconcilerError):
    """An AWS call failed after botocore's own retries.

    ``operation`` is the API operation (``CreateAccountAssignment``), ``code`` the AWS error
    code (``ConflictException``) and ``reason`` AWS's message. ``advice`` (may be empty) says
    what to check, naming the variable or setting (``AWS_ENDPOINT_URL``, the IAM action); the
    message is ``"{operation}: {code}: {reason}"``, then `` — {advice}`` when there is advice.
    """

    def __init__(self, *, operation: str, code: str, reason: str, advice: str = "") -> None:
        self.operation = operation
        self.code = code
        self.reason = reason
        self.advice = advice
        message = f"{operation}: {code}: {reason}"
        super().__init__(f"{message} — {advice}" if advice else message)

    @property
    def detail(self) -> str:
        """What AWS (or botocore) said: ``"{operation}: {code}: {reason}"``, without advice."""
        return f"{self.operation}: {self.code}: {self.reason}"


class TemporaryAwsError(AwsError):
    """Throttling, server errors, timeouts, conflicts: a later attempt may succeed."""


class PermanentAwsError(AwsError):
    """Access denied, validation, not found: retrying the same call will fail the same way."""


class UnknownFilterError(ReconcilerError):
    """A filter of a report (``reconciler access --user ...``) names something that does not
    exist. ``unknown`` holds one message per unknown value, each with a suggestion ("did you
    mean 'staging'?"), one line each in the error's message."""

    def __init__(self, unknown: Sequence[str]) -> None:
        self.unknown = tuple(unknown)
        super().__init__("\n".join(self.unknown))


class WriterLockLostError(ReconcilerError):
    """The writer lock is no longer ours, or its lease lapses within the safety margin, so no
    write may be made (``WriterLock.fence``). ``reason`` says why in words; ``holder`` is who
    holds the lock now, when known. The pass stops writing and is reported ``abandoned``."""

    def __init__(self, reason: str, *, holder: str | None = None) -> None:
        self.reason = reason
        self.holder = holder
        super().__init__(reason)


class SyncError(ReconcilerError):
    """``reconciler sync`` got no pass report from the controller: it could not be reached,
    answered what is not its API, or no pass ended within the timeout (the pass may still run
    and be reported as usual)."""
