"""Words of messages: a count with its noun, and suggestions for a name that does not exist.

Pure helpers used by every message that puts a number before a noun (``count(1, "change")``:
"1 change") or names something unknown (``suggestion("stagin", ["prod", "staging"])``:
"did you mean 'staging'? The names are: 'prod', 'staging'").
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["MAX_NAMES_LISTED", "count", "noun", "suggestion", "suggestion_clause"]

MAX_NAMES_LISTED = 10
"""``suggestion`` lists every existing name when there are at most this many."""

_IRREGULAR = {"entry": "entries", "policy": "policies", "was": "were", "is": "are"}


def noun(number: int, singular: str, plural: str | None = None) -> str:
    """``singular`` when ``number`` is 1, else ``plural`` (default: ``singular`` + "s", with
    the few irregular words of our messages: "entry" → "entries", "policy" → "policies").

    The last word of a phrase is inflected: ``noun(2, "account assignment")`` is "account
    assignments".
    """
    if number == 1:
        return singular
    if plural is not None:
        return plural
    head, _, last = singular.rpartition(" ")
    inflected = _IRREGULAR.get(last, last + "s")
    return f"{head} {inflected}" if head else inflected


def count(number: int, singular: str, plural: str | None = None) -> str:
    """``number`` and its noun: ``count(1, "change")`` is "1 change", ``count(3, "change")``
    "3 changes" (see ``noun`` for the plural)."""
    return f"{number} {noun(number, singular, plural)}"


def suggestion(
    name: str, names: Iterable[str], *, kind: str = "name", max_listed: int = MAX_NAMES_LISTED
) -> str:
    """What to write instead of the unknown ``name``, from the ``names`` that exist.

    "did you mean 'staging'?" when one or more are close (``difflib.get_close_matches``: the
    closest, or those tied closest, up to three), then "the {kind}s are: 'prod', 'staging'"
    when there are at most ``max_listed`` names (sorted); "" when there is nothing to say.
    Case is ignored when matching, so "Staging" suggests "staging"."""
    existing = sorted({str(each) for each in names})
    by_folded: dict[str, str] = {}
    for each in existing:
        by_folded.setdefault(each.casefold(), each)
    wanted = name.casefold()
    close = difflib.get_close_matches(wanted, list(by_folded), n=3, cutoff=0.6)
    if close:  # only the closest (several when they tie)
        best = _similarity(wanted, close[0])
        close = [match for match in close if _similarity(wanted, match) >= best]
    parts: list[str] = []
    if close:
        quoted = " or ".join(f"'{by_folded[match]}'" for match in close)
        parts.append(f"did you mean {quoted}?")
    if existing and len(existing) <= max_listed:
        listed = ", ".join(f"'{each}'" for each in existing)
        the = "The" if parts else "the"
        parts.append(f"{the} {noun(len(existing), kind)} {noun(len(existing), 'is')}: {listed}")
    return " ".join(parts)


def _similarity(first: str, second: str) -> float:
    return difflib.SequenceMatcher(None, first, second).ratio()


def suggestion_clause(
    name: str, names: Iterable[str], *, kind: str = "name", max_listed: int = MAX_NAMES_LISTED
) -> str:
    """``suggestion`` as the end of a message: "; did you mean 'staging'? ...", or "" when
    there is nothing to suggest."""
    text = suggestion(name, names, kind=kind, max_listed=max_listed)
    return f"; {text}" if text else ""
