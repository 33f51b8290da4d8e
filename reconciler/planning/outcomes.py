"""What applying a plan did: one result per operation, in plan order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.planning.plans import Operation


class Status(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not attempted: an operation it depends on failed, or the pass stopped writing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationResult:
    """The result of one operation.

    ``reason`` is AWS's own words for a failure (``FailureReason`` of an asynchronous request,
    or the error message of a call), or why the operation was skipped; ``seconds`` is the wall
    time from the first call to the final status, polling included.
    """

    operation: Operation
    status: Status
    reason: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The results of applying one plan; ``api_calls`` counts the apply phase's calls by
    operation name and ``read_calls`` those the pass made before (reading live state: set by
    the engine, empty when the outcome comes from ``apply_plan`` alone); ``lock_lost`` says why
    writing stopped because the writer lock was lost or about to lapse (the fence refused a
    write), ``None`` when it was not."""

    revision: str | None
    results: tuple[OperationResult, ...]
    api_calls: Mapping[str, int] = field(default_factory=dict)
    read_calls: Mapping[str, int] = field(default_factory=dict)
    lock_lost: str | None = None

    @property
    def pass_calls(self) -> dict[str, int]:
        """Every call of the pass (``read_calls`` and ``api_calls``) by operation name, sorted."""
        total = Counter(self.read_calls)
        total.update(self.api_calls)
        return dict(sorted(total.items()))

    @property
    def succeeded(self) -> bool:
        """True when every operation succeeded."""
        return all(result.status is Status.SUCCEEDED for result in self.results)

    def counts(self) -> dict[str, int]:
        """Counts by status: ``{"succeeded": n, "failed": n, "skipped": n}``."""
        counts = Counter(result.status.value for result in self.results)
        return {status.value: counts.get(status.value, 0) for status in Status}
