"""``reconciler access`` against the sandbox: every format on a generated organization (CSV and
HTML parsed back), filters, a revision's desired state, deleted principals, groups that grant
nobody, unknown filter values, and names that try to inject markup."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from reconciler.adapters.aws.clients import RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.planning.access import Grant, effective_access
from reconciler.planning.access_rendering import CSV_COLUMNS
from reconciler.sandbox import Sandbox
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.seeding import ScaleSpec, SeededScale, seed_organization
from tests.adoption.conftest import Console, new_repository, run_cli
from tests.support import commit_all, git

SPEC = ScaleSpec(accounts=8, permission_sets=4, groups=6, users=15, assignments=50, seed=3)


@pytest.fixture
def generated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SeededScale]:
    """A sandbox holding the generated organization ``SPEC``, the AWS environment pointing at
    it, and its desired state committed at ``tmp_path/access/desired-state``."""
    with Sandbox(faults=FaultConfig.parse("none")) as sandbox:
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        for key, value in sandbox.client_environment().items():
            monkeypatch.setenv(key, value)
        repository = new_repository(tmp_path)
        seeded = seed_organization(sandbox, SPEC, folder=repository / "desired-state")
        commit_all(repository, "generated organization")
        yield seeded


def _access(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli("access", *args)
    return code, capsys.readouterr().out


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out = _access(capsys, "--format", "json", *args)
    assert code == 0, out
    document: dict[str, Any] = json.loads(out)
    return document


def _live_grants() -> frozenset[Grant]:
    unlimited = RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0)
    return effective_access(read_live_state(make_clients(rates=unlimited)).state)


def _grants(rows: list[dict[str, Any]]) -> set[Grant]:
    return {
        Grant(row["user"], row["account_id"], row["permission_set"], row["group"] or None)
        for row in rows
    }


class _Tables(HTMLParser):
    """Body rows of each table, by table id, each row as its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self.table: str | None = None
        self.cell: list[str] | None = None
        self.in_body = False
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.table = dict(attrs).get("id") or ""
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body and self.table is not None:
            self.rows.setdefault(self.table, []).append([])
        elif tag in ("td", "th") and self.in_body and self.table is not None:
            self.cell = []
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body = False
        elif tag in ("td", "th") and self.cell is not None and self.table is not None:
            self.rows[self.table][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def _tables(html: str) -> _Tables:
    parsed = _Tables()
    parsed.feed(html)
    parsed.close()
    return parsed


# --- every format on a generated organization ----------------------------------------------


def test_csv_rows_are_the_live_grants(
    generated: SeededScale, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _access(capsys, "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert code == 0
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(_grants(rows))  # one row per grant, no duplicate
    assert _grants(rows) == _live_grants()


def test_json_names_the_instance_and_time_and_holds_every_grant(
    generated: SeededScale, capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now().astimezone()

    document = _json(capsys)

    assert document["instance_arn"] == generated.instance_arn
    assert (document["source"], document["revision"]) == ("live", None)
    assert datetime.fromisoformat(document["generated_at"]) >= before
    assert _grants(document["grants"]) == _live_grants()
    assert all(
        generated.accounts[row["account_name"]] == row["account_id"] for row in document["grants"]
    )
    assert document["summary"]["grants"] == len(document["grants"])
    assert document["summary"]["users"] == len({row["user"] for row in document["grants"]})


def test_html_has_a_table_row_per_grant_and_a_matrix_row_per_user(
    generated: SeededScale, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "reports" / "access.html"

    code, printed = _access(capsys, "--format", "html", "--out", str(out))

    grants = _live_grants()
    tables = _tables(out.read_text())
    assert (code, printed) == (0, f"{out}\n")
    assert len(tables.rows["grants"]) == len(grants)
    users = sorted({grant.user for grant in grants})
    assert len(tables.rows["matrix"]) == len(users)
    assert all(
        row[0].startswith(user) for row, user in zip(tables.rows["matrix"], users, strict=True)
    )
    matrix_sets = sum(len(cell.split()) for row in tables.rows["matrix"] for cell in row[1:])
    assert matrix_sets == len({grant.access for grant in grants})
    assert tables.scripts == 1


def test_text_lists_every_user_with_access(
    generated: SeededScale, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _access(capsys)

    users = {grant.user for grant in _live_grants()}
    assert code == 0
    assert out.startswith("Access in live state of ")
    assert {line.split()[0] for line in out.splitlines() if line.startswith("user")} == users


def test_filters_keep_only_matching_grants(
    generated: SeededScale, capsys: pytest.CaptureFixture[str]
) -> None:
    some_account = generated.accounts["account-0003"]

    document = _json(
        capsys,
        "--account",
        f"account-0001,{some_account}",
        "--account",
        "account-0005",
        "--permission-set",
        "Role000,Role001",
    )

    wanted = {generated.accounts[f"account-000{i}"] for i in (1, 3, 5)}
    expected = {
        grant
        for grant in _live_grants()
        if grant.account_id in wanted and grant.permission_set in {"Role000", "Role001"}
    }
    assert expected
    assert _grants(document["grants"]) == expected


def test_a_group_filter_keeps_the_access_through_that_group(
    generated: SeededScale, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _json(capsys, "--group", "team-0000")

    expected = {grant for grant in _live_grants() if grant.via == "team-0000"}
    assert expected
    assert _grants(document["grants"]) == expected


def test_desired_reports_the_revision_and_its_grants(
    generated: SeededScale, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repository = tmp_path / "access"

    document = _json(capsys, "--desired", "--repo", str(repository))

    assert document["source"] == "desired"
    assert document["revision"] == git(repository, "rev-parse", "HEAD")
    assert _grants(document["grants"]) == _live_grants()  # the seeded org is converged


def test_an_unknown_filter_value_is_an_error_with_a_suggestion(
    generated: SeededScale, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _access(capsys, "--format", "json", "--user", "user00001,usr00002")

    assert code == 1
    assert json.loads(out) == {
        "error": {
            "kind": "filter",
            "message": "unknown filter value",
            "advice": ["--user 'usr00002': no user has that name; did you mean 'user00002'?"],
        }
    }


# --- the example organization, changed by hand -------------------------------------------


def test_a_deleted_user_still_holding_an_assignment_is_reported_as_such(
    console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = console.permission_set("Admin")
    user_id = console.user("temp.contractor")
    console.assign(arn, "prod", user_id, "USER")
    console.ids.delete_user(IdentityStoreId=console.org.identity_store_id, UserId=user_id)

    document = _json(capsys)
    code, text = _access(capsys)
    assert code == 0

    ghost = f"<deleted user {user_id}>"
    assert [(row["user"], row["principal_deleted"]) for row in document["grants"]] == [
        (ghost, True)
    ]
    assert document["summary"]["deleted_principal_grants"] == 1
    assert f"{ghost}: Admin (privileged) in prod ({console.org.accounts['prod']}) directly" in text


def test_group_assignments_that_grant_nobody_are_reported(
    console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = console.permission_set("Admin")
    console.assign(arn, "prod", console.group("Empty"), "GROUP")
    gone = console.group("Gone")
    console.assign(arn, "staging", gone, "GROUP")
    console.ids.delete_group(IdentityStoreId=console.org.identity_store_id, GroupId=gone)

    document = _json(capsys)

    assert document["grants"] == []
    assert [(row["group"], row["reason"]) for row in document["idle_assignments"]] == [
        (f"<deleted group {gone}>", "group_deleted"),
        ("Empty", "no_members"),
    ]


def test_ou_filter_takes_the_accounts_of_nested_ous(
    console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    client = console.organizations
    root = client.list_roots()["Roots"][0]["Id"]
    workloads = client.create_organizational_unit(ParentId=root, Name="Workloads")
    prod_ou = client.create_organizational_unit(
        ParentId=workloads["OrganizationalUnit"]["Id"], Name="Prod"
    )
    client.move_account(
        AccountId=console.org.accounts["prod"],
        SourceParentId=root,
        DestinationParentId=prod_ou["OrganizationalUnit"]["Id"],
    )
    arn = console.permission_set("Admin")
    jane = console.user("jane")
    for account in ("prod", "staging"):
        console.assign(arn, account, jane, "USER")

    document = _json(capsys, "--ou", "Root/Workloads")
    code, out = _access(capsys, "--ou", "Root/Workload")

    assert [row["account_name"] for row in document["grants"]] == ["prod"]
    assert code == 1
    assert "did you mean 'Root/Workloads'?" in out


def test_a_display_name_holding_a_script_is_shown_as_text_in_html(
    console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    attack = "<script>alert(document.domain)</script>"
    arn = console.permission_set("Admin")
    console.assign(arn, "prod", console.user("mallory", DisplayName=attack), "USER")

    code, html = _access(capsys, "--format", "html")

    tables = _tables(html)
    assert code == 0
    assert attack not in html
    assert tables.scripts == 1
    assert tables.rows["grants"][0][:2] == ["mallory", attack]


def test_desired_without_aws_says_why_it_needs_aws(
    access_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for key, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    code, out = _access(capsys, "--desired", "--repo", str(access_repo), "--format", "json")

    error = json.loads(out)["error"]
    assert (code, error["kind"]) == (1, "aws")
    assert "cannot run offline" in error["advice"][-1]
    assert "Organizations" in error["advice"][-1]


def test_privileged_sets_follow_the_revisions_rule_with_desired_and_the_default_on_live(
    generated: SeededScale, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A set is privileged by name (the revision's ``privileged_permission_sets`` with
    ``--desired``, the default patterns on live state) or by what its policies allow."""
    repository = tmp_path / "access"
    folder = repository / "desired-state"
    config = folder / "reconciler.json"
    config.write_text(
        json.dumps({**json.loads(config.read_text()), "privileged_permission_sets": ["Role001"]})
    )
    for name in ("Role001", "Role002"):  # read-only now: privileged by name alone, or not
        path = folder / "permission-sets" / f"{name}.json"
        document = json.loads(path.read_text())
        document["managed_policies"] = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        document.pop("inline_policy", None)
        path.write_text(json.dumps(document))
    commit_all(repository, "Role001 is privileged; Role001 and Role002 read-only")

    desired = _json(capsys, "--desired", "--repo", str(repository))
    live = _json(capsys)

    by_set = {row["permission_set"]: row["privileged"] for row in desired["grants"]}
    assert (by_set["Role001"], by_set["Role002"]) == (True, False)
    # Live, no generated set's name matches *Admin* or *PowerUser*: those holding
    # AdministratorAccess or PowerUserAccess are privileged by what they allow.
    broad = {
        document["name"]
        for document in generated.organization.permission_sets
        if {"AdministratorAccess", "PowerUserAccess"}
        & {arn.rsplit("/", 1)[-1] for arn in document["managed_policies"]}
    }
    assert {row["permission_set"]: row["privileged"] for row in live["grants"]} == {
        row["permission_set"]: row["permission_set"] in broad for row in live["grants"]
    }
