"""Access reports (reconciler.planning.access_reports and access_rendering): filters, deleted
principals, groups that grant nobody, and each format's shape and escaping."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser

import pytest
from rich.console import Console

from reconciler.errors import UnknownFilterError
from reconciler.model.state import (
    Account,
    AssignmentKey,
    IdentityCenterState,
    Membership,
    Organization,
    OrganizationalUnit,
    PrincipalType,
)
from reconciler.planning.access import Grant
from reconciler.planning.access_rendering import (
    CSV_COLUMNS,
    access_csv,
    access_html,
    access_json,
    access_text,
)
from reconciler.planning.access_reports import (
    AccessDirectory,
    AccessFilter,
    AccessReport,
    IdleReason,
    access_report,
    desired_access_state,
)
from tests.unit.states import INSTANCE_ARN, PROD, STAGING, group, user

SANDBOX = Account(id="333333333333", name="sandbox")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GROUP, USER = PrincipalType.GROUP, PrincipalType.USER

# Root ─ Workloads (staging) ─ Prod (prod); sandbox at the root.
ORGANIZATION = Organization(
    root_id="r-root",
    units={
        "r-root": OrganizationalUnit(id="r-root", name="Root"),
        "ou-work": OrganizationalUnit(id="ou-work", name="Workloads", parent_id="r-root"),
        "ou-prod": OrganizationalUnit(id="ou-prod", name="Prod", parent_id="ou-work"),
    },
    account_parents={PROD.id: "ou-prod", STAGING.id: "ou-work", SANDBOX.id: "r-root"},
)
DIRECTORY = AccessDirectory(
    users={name: user(name) for name in ("jane", "sam", "li")},
    groups={name: group(name) for name in ("Admins", "Developers", "Nobody")},
    accounts={account.id: account for account in (PROD, STAGING, SANDBOX)},
    organization=ORGANIZATION,
)
STATE = IdentityCenterState(
    memberships=frozenset(
        [
            Membership("Admins", "jane"),
            Membership("Developers", "jane"),
            Membership("Developers", "sam"),
        ]
    ),
    assignments=frozenset(
        [
            AssignmentKey(PROD.id, "Admin", GROUP, "Admins"),
            AssignmentKey(STAGING.id, "Developer", GROUP, "Developers"),
            AssignmentKey(SANDBOX.id, "Developer", GROUP, "Developers"),
            AssignmentKey(PROD.id, "ReadOnly", USER, "li"),
            AssignmentKey(PROD.id, "Admin", GROUP, "Nobody"),
        ]
    ),
)


def _report(
    state: IdentityCenterState = STATE, directory: AccessDirectory = DIRECTORY, **filters: str
) -> AccessReport:
    chosen = AccessFilter(**{name: tuple(value.split(",")) for name, value in filters.items()})
    return access_report(
        state, directory, generated_at=NOW, instance_arn=INSTANCE_ARN, filters=chosen
    )


def _access(report: AccessReport) -> set[tuple[str, str, str]]:
    return {(row.user, row.account_name, row.permission_set) for row in report.grants}


def test_every_grant_is_named_with_user_and_account() -> None:
    report = _report()

    assert _access(report) == {
        ("jane", "prod", "Admin"),
        ("jane", "staging", "Developer"),
        ("jane", "sandbox", "Developer"),
        ("sam", "staging", "Developer"),
        ("sam", "sandbox", "Developer"),
        ("li", "prod", "ReadOnly"),
    }
    first = report.grants[0]
    assert (first.user, first.display_name, first.account_id) == ("jane", "Jane", PROD.id)


def test_a_user_filter_keeps_that_users_grants() -> None:
    assert {row.user for row in _report(users="sam,li").grants} == {"sam", "li"}


def test_a_user_filter_ignores_case_as_identity_center_does() -> None:
    assert {row.user for row in _report(users="SAM,Li").grants} == {"sam", "li"}


def test_a_name_filter_differing_in_case_from_two_names_is_refused() -> None:
    state = IdentityCenterState(
        assignments=STATE.assignments | {AssignmentKey(PROD.id, "admin", USER, "li")}
    )

    with pytest.raises(UnknownFilterError):
        _report(state, permission_sets="ADMIN")
    assert {row.permission_set for row in _report(state, permission_sets="admin").grants} == {
        "admin"
    }


def test_a_group_filter_keeps_the_access_that_comes_through_the_group() -> None:
    report = _report(groups="Admins")

    assert _access(report) == {("jane", "prod", "Admin")}


def test_an_account_filter_takes_names_and_ids() -> None:
    assert _access(_report(accounts=f"prod,{SANDBOX.id}")) == {
        ("jane", "prod", "Admin"),
        ("li", "prod", "ReadOnly"),
        ("jane", "sandbox", "Developer"),
        ("sam", "sandbox", "Developer"),
    }


def test_an_ou_filter_includes_the_accounts_of_nested_ous() -> None:
    report = _report(units="Root/Workloads")

    assert {row.account_name for row in report.grants} == {"prod", "staging"}


def test_different_filters_must_all_hold() -> None:
    report = _report(units="Root/Workloads", permission_sets="Developer", users="jane")

    assert _access(report) == {("jane", "staging", "Developer")}


def test_unknown_filter_values_are_each_named_with_a_suggestion() -> None:
    with pytest.raises(UnknownFilterError) as raised:
        _report(users="jnae", accounts="prd", units="Root/Workload", permission_sets="Admn")

    assert raised.value.unknown == (
        "--user 'jnae': no user has that name; did you mean 'jane'? "
        "The user names are: 'jane', 'li', 'sam'",
        "--permission-set 'Admn': no permission set has that name; did you mean 'Admin'? "
        "The permission set names are: 'Admin', 'Developer', 'ReadOnly'",
        "--account 'prd': no account of this organization is named 'prd'; did you mean "
        "'prod'? The account names are: 'prod', 'sandbox', 'staging'",
        "--ou 'Root/Workload': no organizational unit has that path or id; did you mean "
        "'Root/Workloads'? The paths are: 'Root', 'Root/Workloads', 'Root/Workloads/Prod'",
    )


def test_an_ou_filter_without_the_ou_tree_is_refused() -> None:
    no_tree = AccessDirectory(users=DIRECTORY.users, accounts=DIRECTORY.accounts)

    with pytest.raises(UnknownFilterError, match="were not read"):
        _report(directory=no_tree, units="Root/Workloads")


def test_a_user_the_identity_store_no_longer_knows_is_flagged_deleted() -> None:
    ghost = "<deleted user 1234-5678>"
    state = IdentityCenterState(
        assignments=frozenset([AssignmentKey(PROD.id, "Admin", USER, ghost)])
    )

    report = _report(state=state)

    assert [(row.user, row.principal_deleted) for row in report.grants] == [(ghost, True)]
    assert report.deleted_principal_grants == report.grants


def test_a_deleted_user_can_be_filtered_by_its_placeholder_name() -> None:
    ghost = "<deleted user 1234-5678>"
    state = IdentityCenterState(
        assignments=frozenset([AssignmentKey(PROD.id, "Admin", USER, ghost)])
    )

    assert len(_report(state=state, users=ghost).grants) == 1


def test_group_assignments_that_grant_nobody_are_listed_with_why() -> None:
    deleted = "<deleted group 99-aa>"
    state = IdentityCenterState(
        assignments=frozenset(
            [
                AssignmentKey(PROD.id, "Admin", GROUP, "Nobody"),
                AssignmentKey(STAGING.id, "Admin", GROUP, deleted),
            ]
        )
    )

    report = _report(state=state)

    assert report.grants == ()
    assert [(idle.group, idle.account_name, idle.reason) for idle in report.idle_assignments] == [
        ("<deleted group 99-aa>", "staging", IdleReason.GROUP_DELETED),
        ("Nobody", "prod", IdleReason.NO_MEMBERS),
    ]


def test_group_assignments_that_grant_nobody_follow_the_filters() -> None:
    assert _report(accounts="staging").idle_assignments == ()
    assert _report(users="jane").idle_assignments == ()
    assert [idle.group for idle in _report(groups="Nobody").idle_assignments] == ["Nobody"]


def test_a_revision_keeps_the_live_members_of_groups_it_does_not_declare() -> None:
    live = IdentityCenterState(
        memberships=frozenset([Membership("Admins", "jane"), Membership("Scim", "sam")])
    )
    desired = IdentityCenterState(
        groups={"Admins": group("Admins")},
        memberships=frozenset([Membership("Admins", "li")]),
    )

    state = desired_access_state(desired, live)

    assert state.memberships == {Membership("Admins", "li"), Membership("Scim", "sam")}


def test_the_privileged_flag_is_unknown_without_a_rule_and_set_with_one() -> None:
    unknown = _report()
    judged = access_report(
        STATE,
        DIRECTORY,
        generated_at=NOW,
        instance_arn=INSTANCE_ARN,
        privileged=lambda name: name == "Admin",
    )

    assert {row.privileged for row in unknown.grants} == {None}
    assert {(row.permission_set, row.privileged) for row in judged.grants} == {
        ("Admin", True),
        ("Developer", False),
        ("ReadOnly", False),
    }


# --- formats ------------------------------------------------------------------------------


def test_json_names_time_instance_and_every_grant_field() -> None:
    document = json.loads(json.dumps(access_json(_report(users="li"))))

    assert document["generated_at"] == "2026-12-01T12:00:00+00:00"
    assert (document["instance_arn"], document["source"], document["revision"]) == (
        INSTANCE_ARN,
        "live",
        None,
    )
    assert document["filters"] == {"user": ["li"]}
    assert document["grants"] == [
        {
            "user": "li",
            "display_name": "Li",
            "account_id": PROD.id,
            "account_name": "prod",
            "permission_set": "ReadOnly",
            "via": "direct",
            "group": None,
            "principal_deleted": False,
            "privileged": None,
        }
    ]


def test_csv_rows_read_back_are_the_grants() -> None:
    report = _report()

    rows = list(csv.DictReader(io.StringIO(access_csv(report), newline="")))

    assert tuple(rows[0]) == CSV_COLUMNS
    assert {
        Grant(row["user"], row["account_id"], row["permission_set"], row["group"] or None)
        for row in rows
    } == {Grant(g.user, g.account_id, g.permission_set, g.via) for g in report.grants}


def test_csv_cells_a_spreadsheet_would_run_as_formulas_start_with_a_quote() -> None:
    directory = AccessDirectory(
        users={"li": user("li", display_name='=HYPERLINK("http://x","y")')},
        accounts=DIRECTORY.accounts,
    )
    state = IdentityCenterState(
        assignments=frozenset([AssignmentKey(PROD.id, "ReadOnly", USER, "li")])
    )

    rows = list(csv.DictReader(io.StringIO(access_csv(_report(state, directory)), newline="")))

    assert rows[0]["display_name"] == '\'=HYPERLINK("http://x","y")'


class _Page(HTMLParser):
    """Rows per table id, and the scripts of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, int] = {}
        self.table: str | None = None
        self.in_body = False
        self.scripts = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.table = dict(attrs).get("id")
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body and self.table:
            self.rows[self.table] = self.rows.get(self.table, 0) + 1
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body = False

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_html_has_a_matrix_row_per_user_and_a_table_row_per_grant() -> None:
    report = _report()
    page = _Page()

    page.feed(access_html(report))

    assert page.rows == {"matrix": 3, "grants": 6, "idle": 1}


def test_html_escapes_names_so_a_display_name_cannot_inject_a_script() -> None:
    attack = "<script>alert(1)</script>"
    directory = AccessDirectory(
        users={"li": user("li", display_name=attack)}, accounts=DIRECTORY.accounts
    )
    state = IdentityCenterState(
        assignments=frozenset([AssignmentKey(PROD.id, "ReadOnly", USER, "li")])
    )
    page = _Page()

    html = access_html(_report(state, directory))
    page.feed(html)

    assert attack not in html
    assert page.scripts == 1  # the report's own
    assert attack in page.texts  # shown as text, in the matrix and the table


def test_html_loads_nothing_from_elsewhere() -> None:
    html = access_html(_report())

    assert "http://" not in html
    assert "https://" not in html
    assert "default-src 'none'" in html


def test_text_lists_deleted_principals_and_idle_groups_apart() -> None:
    ghost = "<deleted user 1234-5678>"
    state = IdentityCenterState(
        assignments=frozenset(
            [
                AssignmentKey(PROD.id, "Admin", USER, ghost),
                AssignmentKey(PROD.id, "ReadOnly", USER, "li"),
                AssignmentKey(PROD.id, "Admin", GROUP, "Nobody"),
            ]
        )
    )

    text = _printed(access_text(_report(state=state)))

    main, _, rest = text.partition("Deleted principals still holding access")
    assert "1234-5678" not in main
    assert "<deleted user 1234-5678>: Admin in prod (111111111111) directly" in rest
    assert "Group assignments that grant nobody (1 assignment)" in rest
    assert "Nobody: Admin in prod (111111111111)" in rest


def test_text_shows_names_holding_markup_as_written() -> None:
    directory = AccessDirectory(
        users={"li": user("li", display_name="[bold]Li[/bold] \\")}, accounts=DIRECTORY.accounts
    )
    state = IdentityCenterState(
        assignments=frozenset([AssignmentKey(PROD.id, "ReadOnly", USER, "li")])
    )

    text = _printed(access_text(_report(state, directory), by="account"))

    assert "li ([bold]Li[/bold] \\)  directly" in text


def _printed(markup: str) -> str:
    out = io.StringIO()
    Console(file=out, width=200, highlight=False, soft_wrap=True).print(markup)
    return out.getvalue()


def test_html_policy_allows_exactly_the_reports_own_script() -> None:
    html = access_html(_report())

    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = html.split('http-equiv="Content-Security-Policy" content="', 1)[1].split('"', 1)[0]
    assert f"script-src 'sha256-{digest}'" in unescape(policy)
    assert "addEventListener" in script
