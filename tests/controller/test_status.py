"""The status page's view, pure: collected from a controller's state and pass records, made
JSON, rendered as HTML; and what may be shown of the repository and its web URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.controller.records import MAX_PASSES, PassRecords
from reconciler.controller.settings import SettingsError, load_settings
from reconciler.controller.state import ControllerState
from reconciler.controller.status import (
    ControllerFacts,
    RepositoryView,
    StatusView,
    collect_status,
    commit_url,
    shown_repository,
    status_json,
)
from reconciler.controller.status_page import status_html
from reconciler.planning.reports import Mode, PassReport, PassStatus, ReportItem

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
APPLIED = "a" * 40
REFUSED = "b" * 40
WEB = "https://git.example.com/org/access"
FACTS = ControllerFacts(
    instance_arn="arn:aws:sso:::instance/ssoins-1",
    region="eu-west-1",
    mode=Mode.HEAL,
    suspended=False,
    ready=True,
    lock="none",
    lock_holder=None,
)
REPOSITORY = RepositoryView(
    location="https://git.example.com/org/access.git", ref="main", path="desired-state", web_url=WEB
)


def _report(
    minutes: int,
    *,
    status: PassStatus = PassStatus.IN_SYNC,
    changes: tuple[ReportItem, ...] = (),
    drift: tuple[ReportItem, ...] = (),
    failures: tuple[ReportItem, ...] = (),
) -> PassReport:
    return PassReport(
        pass_id=f"pass-{minutes}",
        started_at=T0 + timedelta(minutes=minutes),
        seconds=1.5,
        mode=Mode.HEAL,
        status=status,
        revision=APPLIED,
        applied_revision=APPLIED,
        changes=changes,
        drift=drift,
        failures=failures,
        api_calls={"ListUsers": 2, "ListGroups": 3},
    )


def _item(key: str, status: str | None, **extra: str) -> ReportItem:
    return ReportItem(
        action="update", kind="permission-set", key=key, description=key, status=status, **extra
    )


def _view(records: PassRecords, state: ControllerState | None = None) -> StatusView:
    return collect_status(
        state=state or ControllerState(last_applied_revision=APPLIED, last_applied_at=T0),
        records=records,
        controller=FACTS,
        repository=REPOSITORY,
        live_read=True,
        now=T0 + timedelta(hours=1),
    )


def test_a_revision_refused_at_every_pass_is_listed_once_with_when_first_and_last() -> None:
    records = PassRecords()
    for minutes in (0, 5, 10):
        records = records.add(_report(minutes), [(REFUSED, "load", "1 problem")])

    assert [(entry.revision, entry.first_at, entry.last_at) for entry in records.refusals] == [
        (REFUSED, T0, T0 + timedelta(minutes=10))
    ]


def test_only_the_last_passes_are_kept() -> None:
    records = PassRecords()
    for minutes in range(MAX_PASSES + 5):
        records = records.add(_report(minutes), [])

    assert len(records.passes) == MAX_PASSES
    assert records.last is not None
    assert records.last.pass_id == f"pass-{MAX_PASSES + 4}"


def test_pending_is_what_the_last_pass_did_not_do_and_failures_leave_refusals_aside() -> None:
    last = _report(
        5,
        status=PassStatus.FAILED,
        changes=(_item("planned", None), _item("done", "succeeded"), _item("left", "skipped")),
        failures=(
            _item("broken", "failed", reason="ConflictException: operation in progress"),
            ReportItem(
                action="refuse",
                kind="revision",
                key=f"revision/{REFUSED}",
                description="refused",
                status="failed",
                reason="invalid",
            ),
        ),
    )
    view = _view(PassRecords().add(_report(0), []).add(last, []))

    assert [item.key for item in view.pending] == ["planned", "left"]
    assert [(item.key, item.reason) for item in view.failures] == [
        ("broken", "ConflictException: operation in progress")
    ]


def test_drift_healed_earlier_is_shown_as_not_current() -> None:
    drifted = _report(0, status=PassStatus.APPLIED, drift=(_item("hand", "succeeded"),))
    view = _view(PassRecords().add(drifted, []).add(_report(5), []))

    assert view.drift is not None
    assert view.drift.current is False
    assert view.drift.pass_id == "pass-0"


def test_the_json_is_versioned_and_links_revisions_to_their_commit() -> None:
    records = PassRecords().add(_report(0), [(REFUSED, "history", "it is older")])

    document = status_json(_view(records))

    assert document["version"] == 1
    assert document["applied"] == {
        "sha": APPLIED,
        "since": T0.isoformat(),
        "url": f"{WEB}/commit/{APPLIED}",
    }
    assert document["refusals"][0]["revision"]["url"] == f"{WEB}/commit/{REFUSED}"
    assert document["passes"][0]["api_calls"] == 5
    assert document["controller"]["region"] == "eu-west-1"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("https://user:ghp_token@github.com/org/access.git", "https://github.com/org/access.git"),
        ("https://oauth2:glpat-x@gitlab.example.com/a.git", "https://gitlab.example.com/a.git"),
        ("https://ghp_token@github.com/org/access.git", "https://github.com/org/access.git"),
        ("ssh://git@github.com/org/access.git", "ssh://git@github.com/org/access.git"),
        ("git@github.com:org/access.git", "git@github.com:org/access.git"),
        ("/srv/access", "/srv/access"),
    ],
)
def test_the_repository_is_shown_without_credentials(given: str, shown: str) -> None:
    assert shown_repository(given) == shown


def test_only_a_commit_sha_becomes_a_link() -> None:
    assert commit_url(WEB, APPLIED) == f"{WEB}/commit/{APPLIED}"
    assert commit_url(WEB, "main/../../evil") is None
    assert commit_url(None, APPLIED) is None


def test_names_from_aws_and_the_repository_are_text_on_the_page() -> None:
    hostile = ReportItem(
        action="update",
        kind="group",
        key="group/<b>x</b>",
        description='group "</style><script>alert(1)</script>"\nall clear',
        status=None,
        detail=("members: +<img src=x onerror=alert(2)>",),
    )
    page = status_html(_view(PassRecords().add(_report(0, drift=(hostile,)), [])))

    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\\nall clear" in page  # one line: a name cannot start a line of its own


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://user:token@github.com/org/access",
        "https://github.com/org/access?token=x",
        "https://github.com/org/access#x",
        'https://github.com/org/access"onmouseover="x',
        "ftp://github.com/org/access",
    ],
)
def test_a_repository_web_url_that_is_not_plain_http_is_refused(url: str) -> None:
    with pytest.raises(SettingsError, match="repository_web_url"):
        load_settings(overrides={"repository_web_url": url})


def test_a_repository_web_url_loses_its_trailing_slash() -> None:
    settings = load_settings(overrides={"repository_web_url": "https://github.com/org/access/"})

    assert settings.repository_web_url == "https://github.com/org/access"
