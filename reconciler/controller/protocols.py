"""What the loop needs from the systems around it, as structural types.

The loop is written against these, not against the adapters, so tests pass doubles and the
adapters (``reconciler.adapters.source``, ``.locking``, ``.notify``) fit without inheriting:

- :class:`Source`: ``GitSource`` (``fetch() -> Checkout``, ``fetch_at(sha) -> Checkout``,
  ``relation(revision, base) -> RevisionRelation``);
- :class:`WriterLock` (``reconciler.adapters.locking``'s protocol, re-exported): ``FileLock``
  and ``DynamoDbLease`` (one writer per Identity Center);
- :class:`Notifier`: ``SlackNotifier`` (one summary per report worth posting), which is also a
  :class:`RemembersPosts` (its dedup memory is kept in the controller's state).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from reconciler.adapters.locking import WriterLock
from reconciler.adapters.source import Checkout, RevisionRelation
from reconciler.planning.reports import PassReport

__all__ = ["Notifier", "RemembersPosts", "Source", "WriterLock"]


class Source(Protocol):
    """A Git repository from which the current revision of the desired state is fetched."""

    def fetch(self) -> Checkout:
        """The revision to reconcile; raises ``SourceError`` (``UnverifiedRevisionError`` for
        a revision whose signature is refused)."""
        ...

    def fetch_at(self, revision: str) -> Checkout:
        """The desired state of commit ``revision`` (a full SHA), from the same repository and
        cache, without a checkout; its signature is verified as by :meth:`fetch`. Raises
        ``SourceError`` (``UnverifiedRevisionError``), also when the commit is not found."""
        ...

    def relation(self, revision: str, base: str) -> RevisionRelation:
        """How commit ``revision`` stands to commit ``base`` (full SHAs): ``SAME``,
        ``DESCENDANT`` (forward), ``ANCESTOR`` (a rewind), ``DIVERGED`` or ``UNKNOWN`` (``base``
        is not among the repository's objects). Raises ``SourceError`` when git fails."""
        ...


class Notifier(Protocol):
    """Posts a summary of a pass report; returns whether it was delivered (or deliberately not
    posted). Must not raise for the remote being down."""

    def notify(self, report: PassReport) -> bool: ...


@runtime_checkable
class RemembersPosts(Protocol):
    """A notifier whose dedup memory can be kept elsewhere (the controller's state file) and
    given back after a restart. Times are seconds since the epoch."""

    def posted(self) -> dict[str, float]:
        """Fingerprint → when posted, for the messages within the dedup window."""
        ...

    def remember(self, posted: Mapping[str, float]) -> None:
        """Adopt messages posted earlier, as if this notifier had posted them."""
        ...
