"""Unmanaged objects in the controller: its pass report, Slack and metrics list the live objects
the revision in force leaves alone; Slack posts the list when it changes, not at every pass."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.adapters.notify import SlackNotifier
from reconciler.planning.plans import Kind, Unmanaged
from reconciler.planning.reports import Mode, PassReport, PassStatus, report_json, report_text
from reconciler.planning.slack_messages import pass_message
from reconciler.sandbox import SeededOrganization
from tests.controller.conftest import ControllerFactory, edit_json
from tests.controller.test_notify import FakeSlack
from tests.support import HandMade

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _converged_with_hand_made_user(
    make_controller: ControllerFactory, organization: SeededOrganization
) -> PassReport:
    """The report of a pass after the example is applied and a person made user ``carol`` in
    a new group ``Contractors`` in the console."""
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    hand = HandMade(organization)
    hand.member(hand.group("Contractors"), hand.user("carol"))
    return controller.run_once()


def test_the_pass_report_lists_the_hand_made_user_and_group(
    make_controller: ControllerFactory, organization: SeededOrganization
) -> None:
    report = _converged_with_hand_made_user(make_controller, organization)

    assert report.status is PassStatus.IN_SYNC
    assert {item.key for item in report.unmanaged} == {
        "user/carol",
        "group/Contractors",
        "membership/Contractors/carol",
    }
    assert "user carol: not declared in users.json, and prune.users is false" in report_text(report)
    assert {item["key"] for item in report_json(report)["unmanaged"]} >= {"user/carol"}


def test_the_slack_message_lists_the_hand_made_user_with_its_remedy(
    make_controller: ControllerFactory, organization: SeededOrganization
) -> None:
    report = _converged_with_hand_made_user(make_controller, organization)

    message = pass_message(report)

    text = "\n".join(
        block["text"]["text"]
        for block in message["blocks"]
        if block["type"] == "section"
        if "text" in block
    )
    assert "user carol" in text
    assert "to manage:_ declare it in users.json" in text
    assert "3 unmanaged objects" in message["blocks"][0]["text"]["text"]


def test_unmanaged_objects_are_counted_in_the_metrics(
    make_controller: ControllerFactory, organization: SeededOrganization
) -> None:
    controller = make_controller()
    controller.run_once()
    HandMade(organization).user("carol")

    controller.run_once()

    value = controller.metrics.registry.get_sample_value
    assert value("reconciler_unmanaged_objects", {"kind": "user"}) == 1
    assert value("reconciler_unmanaged_objects", {"kind": "group"}) == 0


# -- Slack: posted when the list changes -----------------------------------------------------


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = FakeSlack()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _in_sync(*names: str, reason: str = "not declared in users.json") -> PassReport:
    return PassReport(
        pass_id="p",
        started_at=datetime.now(UTC),
        seconds=1.0,
        mode=Mode.HEAL,
        status=PassStatus.IN_SYNC,
        revision=REVISION,
        applied_revision=REVISION,
        unmanaged=tuple(
            Unmanaged(
                kind=Kind.USER,
                key=f"user/{name}",
                description=f"user {name}",
                reason=reason,
                remedy="declare it",
            )
            for name in names
        ),
    )


def test_an_unchanged_unmanaged_list_is_posted_once(slack: FakeSlack) -> None:
    notifier = SlackNotifier(webhook_url=slack.webhook_url, dedup_window_seconds=0)

    posted = [notifier.notify(_in_sync("carol")) for _ in range(3)]

    assert posted == [True, False, False]
    assert "user carol" in str(slack.received[0]["blocks"])


def test_a_changed_unmanaged_list_is_posted_again(slack: FakeSlack) -> None:
    notifier = SlackNotifier(webhook_url=slack.webhook_url)
    notifier.notify(_in_sync("carol"))

    assert notifier.notify(_in_sync("carol", "dave"))
    assert notifier.notify(_in_sync("carol", "dave", reason="protected"))


def test_an_unmanaged_list_coming_back_is_news(slack: FakeSlack) -> None:
    notifier = SlackNotifier(webhook_url=slack.webhook_url)
    notifier.notify(_in_sync("carol"))
    notifier.notify(_in_sync())

    assert notifier.notify(_in_sync("carol"))


# -- "unmanaged": "fail" ---------------------------------------------------------------------


def test_with_unmanaged_fail_a_pass_beside_unmanaged_objects_is_not_converged(
    make_controller: ControllerFactory, organization: SeededOrganization, access_repo: Path
) -> None:
    edit_json(
        access_repo,
        "reconciler.json",
        lambda document: document.update(unmanaged="fail"),
        "Unmanaged access fails",
    )

    report = _converged_with_hand_made_user(make_controller, organization)

    assert report.status is PassStatus.DRIFTED
    assert not report.status.converged
    assert any('"unmanaged": "fail"' in note for note in report.notes)
    assert pass_message(report)["blocks"][0]["text"]["text"] == (
        "Identity Center: 3 unmanaged objects beside the desired state"
    )


def test_with_unmanaged_report_a_pass_beside_unmanaged_objects_is_in_sync(
    make_controller: ControllerFactory, organization: SeededOrganization
) -> None:
    report = _converged_with_hand_made_user(make_controller, organization)

    assert report.status is PassStatus.IN_SYNC
