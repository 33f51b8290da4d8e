"""What the loop needs from the systems around it, as structural types.

The loop is written against these, not against the adapters, so tests pass doubles and the
adapters (``reconciler.adapters.source``, ``.locking``, ``.notify``) fit without inheriting:

- :class:`Source`: ``GitSource`` (``fetch() -> Checkout``);
- :class:`WriterLock` (``reconciler.adapters.locking``'s protocol, re-exported): ``FileLock``
  and ``DynamoDbLease`` (one writer per Identity Center);
- :class:`Notifier`: ``SlackNotifier`` (one summary per report worth posting).
"""

from __future__ import annotations

from typing import Protocol

from reconciler.adapters.locking import WriterLock
from reconciler.adapters.source import Checkout, RevisionRelation
from reconciler.planning.reports import PassReport

__all__ = ["Notifier", "Source", "WriterLock"]


class Source(Protocol):
    """A Git repository from which the current revision of the desired state is fetched."""

    def fetch(self) -> Checkout:
        """The revision to reconcile; raises ``SourceError`` (``UnverifiedRevisionError`` for
        a revision whose signature is refused)."""
        ...

    def relation(self, revision: str, base: str) -> RevisionRelation:
        """How commit ``revision`` stands to commit ``base`` in the repository's history
        (descendant, ancestor, diverged...); raises ``SourceError`` when Git fails."""
        ...


class Notifier(Protocol):
    """Posts a summary of a pass report; returns whether it was delivered (or deliberately not
    posted). Must not raise for the remote being down."""

    def notify(self, report: PassReport) -> bool: ...
