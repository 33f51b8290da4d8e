"""The plan's effect on access in every output: text, Markdown, JSON, the pass report and Slack,
privileged gains highlighted and long lists cut (JSON complete)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from markdown_it import MarkdownIt

from reconciler.planning.access import AccessChanges, Grant
from reconciler.planning.diffing import plan
from reconciler.planning.outcomes import OperationResult, Outcome, Status
from reconciler.planning.plans import AddMembership, Plan
from reconciler.planning.rendering import (
    MAX_ACCESS_LINES,
    plan_json,
    plan_markdown,
    plan_text,
)
from reconciler.planning.reports import (
    Mode,
    PassReport,
    PassStatus,
    access_items,
    report_json,
    report_text,
)
from reconciler.planning.slack_messages import MAX_BLOCKS, MAX_TEXT_CHARS, pass_message
from tests.unit.states import (
    ACCOUNTS,
    PROD,
    STAGING,
    desired,
    group,
    live,
    member,
    permission_set,
    state,
    to_group,
    user,
)

NAMES = {account.id: account.name for account in ACCOUNTS.values()}
ADMIN_LINE = "jane.doe gains AdministratorAccess in prod (111111111111) via group AdminAccess"
READ_LINE = "jane.doe gains ReadOnly in prod (111111111111) via group Readers"
LIVE = state(
    users=[user("jane.doe")],
    groups=[group("AdminAccess"), group("Readers")],
    permission_sets=[permission_set("AdministratorAccess"), permission_set("ReadOnly")],
    assignments=[
        to_group("AdminAccess", "AdministratorAccess", PROD),
        to_group("AdminAccess", "AdministratorAccess", STAGING),
        to_group("Readers", "ReadOnly", PROD),
    ],
)


def _jane_joins_both_groups() -> Plan:
    wanted = dataclasses.replace(
        LIVE,
        memberships=frozenset({member("AdminAccess", "jane.doe"), member("Readers", "jane.doe")}),
    )
    return plan(desired(wanted), live(LIVE), revision=None)


def _many_gains(count: int) -> Plan:
    gained = tuple(Grant(f"user-{index:04d}", PROD.id, "ReadOnly") for index in range(count))
    privileged = Grant("zed", PROD.id, "AdministratorAccess", "AdminAccess")
    return Plan(
        revision=None,
        operations=(AddMembership(membership=member("AdminAccess", "zed")),),
        access=AccessChanges(
            gained=(*gained, privileged), lost=(), privileged=frozenset({"AdministratorAccess"})
        ),
    )


def _report(the_plan: Plan) -> PassReport:
    return PassReport(
        pass_id="p-1",
        started_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        seconds=1.0,
        mode=Mode.DETECT,
        status=PassStatus.PENDING,
        revision=None,
        applied_revision=None,
        access=access_items(the_plan, account_names=NAMES),
    )


def _slack_text(message: dict[str, object]) -> str:
    return json.dumps(message, ensure_ascii=False)


# Text


def test_text_plan_says_a_new_member_gains_the_groups_access_in_every_account() -> None:
    text = plan_text(_jane_joins_both_groups(), account_names=NAMES)

    assert "Access: 3 gains (2 privileged), 0 losses" in text
    assert ADMIN_LINE in text
    assert (
        "jane.doe gains AdministratorAccess in staging (222222222222) via group AdminAccess"
    ) in text


def test_text_plan_highlights_a_privileged_gain_in_bold_red_with_a_marker() -> None:
    lines = plan_text(_jane_joins_both_groups(), account_names=NAMES).splitlines()

    (admin,) = [line for line in lines if ADMIN_LINE in line]
    (read,) = [line for line in lines if READ_LINE in line]
    assert admin.strip().startswith("[bold red]+")
    assert "⚠ privileged" in admin
    assert "bold red" not in read
    assert "privileged" not in read


def test_text_plan_cuts_a_long_access_list_with_a_count_and_lists_privileged_gains_first() -> None:
    lines = plan_text(_many_gains(80), account_names=NAMES).splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("[bold]Access:"))

    assert "zed gains AdministratorAccess" in lines[start + 1]
    assert lines[start + 1 + MAX_ACCESS_LINES].strip() == "… and 31 more"


# Markdown


def test_markdown_plan_marks_a_privileged_gain_in_bold_with_a_warning() -> None:
    (comment,) = plan_markdown(_jane_joins_both_groups(), account_names=NAMES)

    assert f"- ⚠️ **{ADMIN_LINE}** — **privileged**" in comment
    assert f"- ➕ {READ_LINE}\n" in comment
    rendered = MarkdownIt().render(comment)
    assert f"<strong>{ADMIN_LINE}</strong>" in rendered
    assert "<h4>Access: 3 gains (2 privileged), 0 losses</h4>" in rendered


def test_markdown_plan_cuts_a_long_access_list_with_a_count() -> None:
    (comment,) = plan_markdown(_many_gains(80), account_names=NAMES)

    assert "- … and 31 more" in comment
    assert "zed gains AdministratorAccess" in comment


# JSON


def test_json_plan_lists_every_grant_with_its_account_name_and_privilege() -> None:
    document = plan_json(_jane_joins_both_groups(), account_names=NAMES)

    assert document["access"]["lost"] == []
    assert document["access"]["gained"][0] == {
        "user": "jane.doe",
        "account_id": PROD.id,
        "account_name": "prod",
        "permission_set": "AdministratorAccess",
        "via": "group",
        "group": "AdminAccess",
        "privileged": True,
    }
    assert [grant["privileged"] for grant in document["access"]["gained"]] == [True, False, True]


def test_json_plan_keeps_every_grant_of_a_large_plan() -> None:
    document = plan_json(_many_gains(80), account_names=NAMES)

    assert len(document["access"]["gained"]) == 81


# The controller's pass report


def test_pass_report_json_carries_the_access_with_privileged_gains_marked() -> None:
    document = report_json(_report(_jane_joins_both_groups()))

    gained = document["access"]["gained"]
    assert [(g["permission_set"], g["account_name"], g["privileged"]) for g in gained] == [
        ("AdministratorAccess", "prod", True),
        ("AdministratorAccess", "staging", True),
        ("ReadOnly", "prod", False),
    ]


def test_pass_report_text_marks_privileged_gains() -> None:
    text = report_text(_report(_jane_joins_both_groups()))

    assert "access: 3 gains (2 privileged), 0 losses" in text
    assert f"  + {ADMIN_LINE} ⚠ privileged" in text
    assert f"  + {READ_LINE}\n" in text + "\n"


# Slack


def test_slack_message_highlights_a_privileged_gain() -> None:
    message = pass_message(_report(_jane_joins_both_groups()))

    text = _slack_text(message)
    assert f":warning: *{ADMIN_LINE}* — *privileged*" in text
    assert f"`+` {READ_LINE}" in text
    assert "*2 privileged*" in text


def test_slack_message_cuts_a_long_access_list_within_slacks_limits() -> None:
    message = pass_message(_report(_many_gains(300)))

    (section,) = [
        block["text"]["text"]
        for block in message["blocks"]
        if block.get("text", {}).get("text", "").startswith(":key: *Access*")
    ]
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(section) <= MAX_TEXT_CHARS
    assert "zed gains AdministratorAccess" in section.splitlines()[1]
    assert section.splitlines()[-1].startswith("…and ")
    assert section.endswith(" more")


def test_text_of_an_apply_with_a_failure_says_the_access_is_as_planned() -> None:
    the_plan = _jane_joins_both_groups()
    failed = Outcome(
        revision=None,
        results=tuple(
            OperationResult(operation=operation, status=Status.FAILED, reason="AccessDenied")
            for operation in the_plan.operations
        ),
    )
    succeeded = dataclasses.replace(
        failed,
        results=tuple(
            OperationResult(operation=operation, status=Status.SUCCEEDED)
            for operation in the_plan.operations
        ),
    )

    assert "as planned" in plan_text(the_plan, account_names=NAMES, outcome=failed)
    assert "as planned" not in plan_text(the_plan, account_names=NAMES, outcome=succeeded)
