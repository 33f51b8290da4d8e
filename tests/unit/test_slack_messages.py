"""Slack messages built from pass reports: content, Slack's limits, and the dedup fingerprint."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.planning.reports import LiveRead, Mode, PassReport, PassStatus, ReportItem
from reconciler.planning.slack_messages import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    MAX_TEXT_CHARS,
    heartbeat_message,
    is_deduplicated,
    message_fingerprint,
    pass_message,
    worth_posting,
)

REVISION = "0123456789abcdef0123456789abcdef01234567"
OLD_REVISION = "fedcba9876543210fedcba9876543210fedcba98"


def item(index: int = 0, **overrides: Any) -> ReportItem:
    fields: dict[str, Any] = {
        "action": "create",
        "kind": "assignment",
        "key": f"assignment/111111111111/ReadOnly/GROUP/team-{index}",
        "description": f"assign ReadOnly for group team-{index} in prod (111111111111)",
    }
    return ReportItem(**(fields | overrides))


def report(status: PassStatus = PassStatus.DRIFTED, **overrides: Any) -> PassReport:
    fields: dict[str, Any] = {
        "pass_id": "p-1",
        "started_at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "seconds": 1.5,
        "mode": Mode.DETECT,
        "status": status,
        "revision": REVISION,
        "applied_revision": REVISION,
    }
    if status is PassStatus.DRIFTED:
        fields["drift"] = (item(action="delete", description="unassign AdminAccess from mallory"),)
    return PassReport(**(fields | overrides))


def texts(message: dict[str, Any]) -> list[str]:
    """Every text of the message's blocks, fields and context elements."""
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found.extend(field["text"] for field in block.get("fields", []))
        found.extend(element["text"] for element in block.get("elements", []))
    return found


def everything(message: dict[str, Any]) -> str:
    return "\n".join(texts(message))


def test_the_first_block_is_a_header_naming_the_status() -> None:
    message = pass_message(report(PassStatus.DRIFTED))

    header = message["blocks"][0]
    assert header["type"] == "header"
    assert "drift detected (1 item)" in header["text"]["text"]


def test_drifted_items_are_listed() -> None:
    message = pass_message(report(PassStatus.DRIFTED))

    assert "unassign AdminAccess from mallory" in everything(message)


def test_applied_changes_are_listed_with_counts() -> None:
    changes = (item(0, status="succeeded"), item(1, action="delete", status="succeeded"))
    message = pass_message(report(PassStatus.APPLIED, changes=changes))

    text = everything(message)
    assert "applied 2 changes" in message["blocks"][0]["text"]["text"]
    assert "2 changes (create 1, delete 1)" in text
    assert "team-0" in text
    assert "team-1" in text


def test_pending_changes_say_they_were_not_applied() -> None:
    message = pass_message(report(PassStatus.PENDING, changes=(item(),)))

    assert "1 change pending" in message["blocks"][0]["text"]["text"]
    assert "not applied" in everything(message)


def test_failures_come_before_changes_with_aws_reasons() -> None:
    reason = "ConflictException: conflicting operation in process"
    failed = item(1, status="failed", reason=reason)
    message = pass_message(
        report(PassStatus.FAILED, changes=(item(0, status="succeeded"), failed), failures=(failed,))
    )

    found = texts(message)
    failures_at = next(i for i, text in enumerate(found) if "Failures" in text)
    changes_at = next(i for i, text in enumerate(found) if "*Changes*" in text)
    assert failures_at < changes_at
    assert reason in found[failures_at]


def test_a_pass_level_error_is_shown_with_its_phase() -> None:
    message = pass_message(
        report(PassStatus.ERROR, error="cannot fetch from repository", phase="fetch")
    )

    text = everything(message)
    assert "cannot fetch from repository" in text
    assert "phase: fetch" in text


def test_a_long_list_ends_with_how_many_more() -> None:
    drift = tuple(item(index) for index in range(500))
    message = pass_message(report(PassStatus.DRIFTED, drift=drift))

    text = everything(message)
    shown = sum(1 for index in range(500) if f"team-{index} " in text)
    assert 0 < shown < 500
    assert f"…and {500 - shown} more" in text


def test_every_text_respects_slacks_limits() -> None:
    long = "x" * 5000
    items = tuple(item(index, description=long, reason=long) for index in range(200))
    message = pass_message(
        report(
            PassStatus.FAILED,
            changes=items,
            drift=items,
            failures=items,
            error=long,
            notes=(long,) * 100,
        )
    )

    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(message["blocks"][0]["text"]["text"]) <= MAX_HEADER_CHARS
    assert max(len(text) for text in texts(message)) <= MAX_TEXT_CHARS
    assert len(message["text"]) <= MAX_TEXT_CHARS


def test_the_revision_links_to_the_commit_when_a_web_url_is_configured() -> None:
    message = pass_message(report(), repository_web_url="https://github.com/org/access/")

    assert f"<https://github.com/org/access/commit/{REVISION}|{REVISION[:12]}>" in everything(
        message
    )


def test_the_revision_is_plain_without_a_web_url() -> None:
    text = everything(pass_message(report()))

    assert REVISION[:12] in text
    assert "/commit/" not in text


def test_the_revision_in_force_is_shown_when_it_differs() -> None:
    message = pass_message(report(PassStatus.INVALID, applied_revision=OLD_REVISION))

    text = everything(message)
    assert "In force" in text
    assert OLD_REVISION[:12] in text


def test_text_is_escaped_for_slack() -> None:
    message = pass_message(report(drift=(item(description="group <!channel> & co"),)))

    text = everything(message)
    assert "&lt;!channel&gt; &amp; co" in text
    assert "<!channel>" not in text


def test_the_message_is_json() -> None:
    message = pass_message(report(PassStatus.FAILED, failures=(item(reason="AccessDenied"),)))

    assert json.loads(json.dumps(message)) == message


def test_the_heartbeat_says_in_sync() -> None:
    message = heartbeat_message(report(PassStatus.IN_SYNC))

    assert message["blocks"][0]["text"]["text"] == "Identity Center: in sync"


def test_in_sync_is_not_worth_posting() -> None:
    assert not worth_posting(report(PassStatus.IN_SYNC))


def test_drift_failures_errors_and_changes_are_worth_posting() -> None:
    assert worth_posting(report(PassStatus.DRIFTED))
    assert worth_posting(report(PassStatus.ERROR, error="boom"))
    assert worth_posting(report(PassStatus.INVALID))
    assert worth_posting(report(PassStatus.APPLIED, changes=(item(status="succeeded"),)))


def test_applied_changes_are_never_deduplicated() -> None:
    assert not is_deduplicated(report(PassStatus.APPLIED, changes=(item(status="succeeded"),)))
    assert is_deduplicated(report(PassStatus.DRIFTED))


def test_the_fingerprint_ignores_pass_id_times_durations_and_call_counts() -> None:
    first = report()
    second = dataclasses.replace(
        first,
        pass_id="p-2",
        started_at=datetime(2024, 5, 2, tzinfo=UTC),
        seconds=99.0,
        api_calls={"ListAccountAssignments": 7},
    )

    assert message_fingerprint(first) == message_fingerprint(second)


@pytest.mark.parametrize("read", list(LiveRead))
def test_the_context_says_which_read_the_pass_made(read: LiveRead) -> None:
    """A hybrid read is blind to one rare case until the next complete read: the reader of a
    message can tell which it was."""
    context = pass_message(report(read=read))["blocks"][-1]["elements"][0]["text"]

    assert f"· {read.value} read" in context
    others = [other for other in LiveRead if other is not read]
    assert all(f"{other.value} read" not in context for other in others)


def test_a_pass_that_read_nothing_names_no_read() -> None:
    context = pass_message(report(read=None))["blocks"][-1]["elements"][0]["text"]

    assert " read" not in context.replace("AWS call", "")


def test_the_fingerprint_ignores_which_read_the_pass_made() -> None:
    hybrid, complete = report(read=LiveRead.HYBRID), report(read=LiveRead.COMPLETE)

    assert message_fingerprint(hybrid) == message_fingerprint(complete)


def test_the_fingerprint_ignores_the_order_of_items() -> None:
    first = report(drift=(item(0), item(1)))
    second = report(drift=(item(1), item(0)))

    assert message_fingerprint(first) == message_fingerprint(second)


def test_the_fingerprint_changes_with_the_drifted_keys() -> None:
    assert message_fingerprint(report(drift=(item(0),))) != message_fingerprint(
        report(drift=(item(1),))
    )


def test_the_fingerprint_changes_with_a_failure_reason() -> None:
    first = report(PassStatus.FAILED, failures=(item(status="failed", reason="Conflict"),))
    second = report(PassStatus.FAILED, failures=(item(status="failed", reason="AccessDenied"),))

    assert message_fingerprint(first) != message_fingerprint(second)


def test_the_fingerprint_changes_with_the_revision() -> None:
    assert message_fingerprint(report()) != message_fingerprint(report(revision=OLD_REVISION))


def _accounted(section: str, count: int) -> tuple[int, int]:
    """(items shown, items said to be left out) of a listing of ``entry-<i>;`` items."""
    shown = sum(1 for index in range(count) if f"entry-{index};" in section)
    more = re.search(r"…and (\d+) more$", section)
    return shown, int(more.group(1)) if more else 0


LISTINGS = ("changes", "drift", "failures", "notes")


@pytest.mark.parametrize("listing", LISTINGS)
@pytest.mark.parametrize("count", [1, 20, 21, 200])
@pytest.mark.parametrize("length", [10, 280])
def test_a_listing_shows_or_counts_every_item(listing: str, count: int, length: int) -> None:
    """Cut by the item limit (20) or by Slack's 3,000 characters: every item is either shown
    or counted in "…and N more", never dropped silently."""
    pad = "x" * length
    if listing == "notes":
        overrides: dict[str, Any] = {"notes": tuple(f"entry-{i}; {pad}" for i in range(count))}
    else:
        items = tuple(item(i, description=f"entry-{i}; {pad}", reason=pad) for i in range(count))
        overrides = {listing: items}
    message = pass_message(report(PassStatus.FAILED, **overrides))

    (section,) = [text for text in texts(message) if "entry-0;" in text]
    shown, left_out = _accounted(section, count)

    assert shown >= 1
    assert shown + left_out == count
    assert len(section) <= MAX_TEXT_CHARS


def test_one_change_is_counted_in_the_singular() -> None:
    message = pass_message(report(PassStatus.APPLIED, changes=(item(0, status="succeeded"),)))

    assert "1 change (create 1)" in everything(message)


def test_a_refused_revision_shows_its_problems_once() -> None:
    reason = (
        "2 problems in the desired state:\n"
        "users.json: $.users[0].user_name: reserved [reserved_user_name]\n"
        "assignments.json: $.assignments[0].accounts[1]: no account [unknown_account]"
    )
    refused = item(
        action="refuse", kind="revision", key=f"revision/{REVISION}", status="failed", reason=reason
    )
    message = pass_message(
        report(
            PassStatus.INVALID,
            error=f"revision {REVISION} refused: {reason}",
            phase="load",
            failures=(refused,),
        )
    )

    text = everything(message)
    assert text.count("[reserved_user_name]") == 1
    assert text.count("[unknown_account]") == 1


# --- attribute detail -------------------------------------------------------------------------


def test_attribute_detail_is_shown_under_its_drift_item() -> None:
    detail = ("managed_policies: -arn:aws:iam::aws:policy/IAMFullAccess",)
    drifted = item(action="update", description="update permission set Dev", detail=detail)

    text = everything(pass_message(report(drift=(drifted,))))

    assert "update permission set Dev\n" in text
    assert "managed_policies: -arn:aws:iam::aws:policy/IAMFullAccess" in text


def test_attribute_detail_is_cut_to_a_few_lines_per_item() -> None:
    detail = tuple(f"line {index}: " + "x" * 400 for index in range(30))
    drifted = item(action="update", description="update permission set Dev", detail=detail)

    text = everything(pass_message(report(drift=(drifted,))))

    assert "line 3: " in text
    assert "line 4: " not in text
    assert "…26 more lines" in text
    assert "x" * 250 not in text


def test_a_change_of_attribute_detail_is_another_message() -> None:
    before = item(action="update", detail=("managed_policies: -arn:a",))
    after = item(action="update", detail=("managed_policies: -arn:a, -arn:b",))

    assert message_fingerprint(report(drift=(before,))) != message_fingerprint(
        report(drift=(after,))
    )


def test_drift_healed_by_the_pass_counts_as_applied_in_the_title() -> None:
    healed = item(action="create", status="succeeded")

    message = pass_message(report(PassStatus.APPLIED, mode=Mode.HEAL, drift=(healed,)))

    assert message["blocks"][0]["text"]["text"] == "Identity Center: applied 1 change"
