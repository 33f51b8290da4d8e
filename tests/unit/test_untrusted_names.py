"""Names from AWS or the files cannot write lines, links or markup of their own into any
text output: plan text and Markdown, the pass report, Slack, the access report.

AWS allows ``\\n``, ``\\r`` and ``\\t`` in an identity-store DisplayName (a group's name here,
a user's display name), and a hand-made object's name is chosen by whoever made it.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime

from markdown_it import MarkdownIt
from rich.console import Console

from reconciler.model.state import AssignmentKey, IdentityCenterState, Membership, PrincipalType
from reconciler.planning.access import AccessChanges, Grant
from reconciler.planning.access_rendering import access_text
from reconciler.planning.access_reports import AccessDirectory, access_report
from reconciler.planning.escaping import markdown_text, one_line
from reconciler.planning.plans import (
    AddMembership,
    AttributeChange,
    Kind,
    Plan,
    Unmanaged,
    UpdateGroup,
)
from reconciler.planning.rendering import (
    MAX_ACCESS_LINES,
    plan_markdown,
    plan_text,
)
from reconciler.planning.reports import Mode, PassReport, PassStatus, access_items, report_text
from reconciler.planning.slack_messages import pass_message
from tests.unit.states import INSTANCE_ARN, PROD, group, user

FAKE = "! all clear, nothing unmanaged"
EVIL_GROUP = f"Ops\n  {FAKE}"
EVIL_USER = f"mallory\r  {FAKE}"
LINK_USER = "[LGTM-approved](https://evil.example)"
NAMES = {PROD.id: PROD.name}


def _plan(user_name: str = EVIL_USER, group_name: str = EVIL_GROUP) -> Plan:
    """Mallory joins a hand-made group that gives a privileged set; another hand-made group
    of the same name is left unmanaged."""
    return Plan(
        revision=None,
        operations=(AddMembership(membership=Membership(group_name, user_name)),),
        unmanaged=(
            Unmanaged(
                kind=Kind.GROUP,
                key=f"group/{group_name}",
                description=f"group {group_name}",
                reason="prune.groups is false",
                remedy=f"declare {group_name} in groups.json",
            ),
        ),
        access=AccessChanges(
            gained=(Grant(user_name, PROD.id, "AdministratorAccess", group_name),),
            lost=(),
            privileged=frozenset({"AdministratorAccess"}),
        ),
    )


def _printed(markup: str) -> list[str]:
    """``markup`` as the CLI prints it (rich, no terminal), line by line."""
    out = io.StringIO()
    Console(file=out, width=400, color_system=None).print(markup, highlight=False)
    return out.getvalue().splitlines()


def _report(the_plan: Plan) -> PassReport:
    return PassReport(
        pass_id="p-1",
        started_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        seconds=1.0,
        mode=Mode.DETECT,
        status=PassStatus.PENDING,
        revision=None,
        applied_revision=None,
        unmanaged=the_plan.unmanaged,
        access=access_items(the_plan, account_names=NAMES),
    )


def _forged(lines: list[str]) -> list[str]:
    """The lines a name wrote of its own: starting (after any indent) with the fake text, or
    holding a carriage return, which sends a terminal back to the start of its line."""
    return [line for line in lines if line.lstrip().startswith(FAKE) or "\r" in line]


# -- one line per value -------------------------------------------------------------------------


def test_one_line_shows_newline_carriage_return_and_tab_as_escapes() -> None:
    assert one_line("a\nb\rc\td\x1be\u2028f") == "a\\nb\\rc\\td\\x1be\\u2028f"


def test_plan_text_keeps_a_name_with_a_newline_on_its_line() -> None:
    lines = _printed(plan_text(_plan(), account_names=NAMES))

    assert _forged(lines) == []
    assert any(line.startswith("  ! group Ops\\n  ! all clear") for line in lines)


def test_report_text_keeps_a_name_with_a_newline_on_its_line() -> None:
    lines = report_text(_report(_plan())).split("\n")

    assert _forged(lines) == []
    assert lines[0].startswith("pass p-1")
    assert all(line.startswith(("  ", "access:", "unmanaged")) for line in lines[1:])


def test_slack_message_keeps_a_name_with_a_newline_on_its_line() -> None:
    message = pass_message(_report(_plan()))
    texts = [
        block["text"]["text"] for block in message["blocks"] if isinstance(block.get("text"), dict)
    ]
    lines = [line for text in [*texts, message["text"]] for line in text.split("\n")]

    assert _forged(lines) == []
    assert any("mallory\\r  ! all clear" in line for line in lines)


def test_access_text_keeps_a_group_and_display_name_with_newlines_on_their_line() -> None:
    state = IdentityCenterState(
        memberships=frozenset([Membership(EVIL_GROUP, "mallory")]),
        assignments=frozenset(
            [AssignmentKey(PROD.id, "AdministratorAccess", PrincipalType.GROUP, EVIL_GROUP)]
        ),
    )
    directory = AccessDirectory(
        users={"mallory": dataclasses.replace(user("mallory"), display_name=EVIL_USER)},
        groups={EVIL_GROUP: group(EVIL_GROUP)},
        accounts={PROD.id: PROD},
    )
    report = access_report(
        state,
        directory,
        generated_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        instance_arn=INSTANCE_ARN,
        privileged=lambda name: name == "AdministratorAccess",
    )

    for by in ("user", "account"):
        lines = _printed(access_text(report, by=by))
        assert _forged(lines) == [], by
        # the "(privileged)" tag stays on the grant's own line, not on a forged one
        tagged = [line for line in lines if "(privileged)" in line]
        assert tagged, by
        assert all(FAKE not in line or "\\n" in line for line in tagged), by


def test_plan_markdown_keeps_a_name_with_a_newline_in_its_cell() -> None:
    (comment,) = plan_markdown(_plan(), account_names=NAMES)

    assert _forged(comment.split("\n")) == []


# -- Markdown and Slack markup -----------------------------------------------------------------


def _rendered(comment: str) -> str:
    return str(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(comment))


def test_a_link_in_a_name_stays_text_in_the_markdown_plan() -> None:
    (comment,) = plan_markdown(_plan(LINK_USER, "Ops"), account_names=NAMES)
    html = _rendered(comment)

    assert "<a " not in html
    assert "[LGTM-approved](https://evil.example)" in html  # shown as written


def test_code_and_emphasis_in_a_name_stay_text_in_the_markdown_plan() -> None:
    (comment,) = plan_markdown(_plan("`root` *admin* _x_ ~~y~~", "Ops"), account_names=NAMES)
    html = _rendered(comment)

    assert "<code>root</code>" not in html
    assert "<em>" not in html
    assert "<s>" not in html
    assert "<del>" not in html
    assert "`root` *admin* _x_ ~~y~~" in html


def test_markdown_text_escapes_every_link_and_emphasis_character() -> None:
    assert markdown_text("[a](b) `c` *d* _e_ ~f~ !g #h |i \\j") == (
        "\\[a\\](b) \\`c\\` \\*d\\* \\_e\\_ \\~f\\~ \\!g \\#h \\|i \\\\j"
    )


def test_slack_message_shows_a_link_in_a_name_as_text() -> None:
    message = json.dumps(pass_message(_report(_plan("<https://evil.example|LGTM>", "Ops"))))

    assert "<https://evil.example" not in message
    assert "&lt;https://evil.example|LGTM&gt;" in message


# -- one order, and nothing hidden --------------------------------------------------------------


def test_text_and_markdown_list_access_before_unmanaged() -> None:
    text = "\n".join(_printed(plan_text(_plan("mallory", "Ops"), account_names=NAMES)))
    (comment,) = plan_markdown(_plan("mallory", "Ops"), account_names=NAMES)

    assert text.index("Access:") < text.index("Unmanaged:")
    assert comment.index("Access:") < comment.index("Unmanaged:")


def test_a_plan_that_changes_no_access_says_so() -> None:
    quiet = dataclasses.replace(
        _plan("mallory", "Ops"), access=AccessChanges(gained=(), lost=()), unmanaged=()
    )

    assert "Access: no gains or losses" in "\n".join(_printed(plan_text(quiet)))
    assert "#### Access: no gains or losses" in plan_markdown(quiet)[0]


def test_a_plan_without_operations_has_no_access_section() -> None:
    empty = Plan(revision=None, operations=(), access=AccessChanges(gained=(), lost=()))

    assert "Access" not in plan_text(empty)


def test_a_cut_access_list_counts_the_privileged_gains_it_hides() -> None:
    gains = tuple(Grant(f"user-{index:03d}", PROD.id, "AdministratorAccess") for index in range(60))
    many = Plan(
        revision=None,
        operations=(AddMembership(membership=Membership("Ops", "user-000")),),
        access=AccessChanges(gained=gains, lost=(), privileged=frozenset({"AdministratorAccess"})),
    )
    hidden = len(gains) - MAX_ACCESS_LINES

    assert f"… and {hidden} more ({hidden} privileged)" in plan_text(many)
    assert f"… and {hidden} more ({hidden} privileged)" in plan_markdown(many)[0]
    assert f"… and {hidden} more ({hidden} privileged)" in report_text(_report(many))


def test_a_details_summary_shows_a_name_as_html_text_without_backslashes() -> None:
    change = AttributeChange(attribute="description", old="a", new="b")
    update = Plan(
        revision=None,
        operations=(UpdateGroup(group=group("ops_team*<b>x</b>"), diff=(change,)),),
    )
    (comment,) = plan_markdown(update)

    assert "<summary>update group ops_team*&lt;b&gt;x&lt;/b&gt;</summary>" in comment
