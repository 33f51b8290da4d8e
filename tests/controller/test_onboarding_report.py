"""The controller's pass report and Slack summary list the users a pass created, and say once
what AWS does not do for them."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.planning.onboarding import EMAIL_OTP_CONSOLE_PATH
from reconciler.planning.reports import PassStatus, report_json, report_text
from reconciler.planning.slack_messages import pass_message
from tests.controller.conftest import ControllerFactory
from tests.support import commit_all


def test_a_pass_creating_users_reports_them_with_the_onboarding_notes_once(
    make_controller: ControllerFactory,
) -> None:
    controller = make_controller()

    report = controller.run_once()

    assert report.status is PassStatus.APPLIED
    assert report.onboarding is not None
    assert report.onboarding.users == ("jane.doe", "sam.lee")
    assert report_json(report)["onboarding"]["users"] == ["jane.doe", "sam.lee"]
    text = report_text(report)
    assert text.count("Onboarding: 2 users created (jane.doe, sam.lee)") == 1
    assert text.count(EMAIL_OTP_CONSOLE_PATH) == 1
    slack = json.dumps(pass_message(report), ensure_ascii=False)
    assert slack.count("Onboarding: 2 users created") == 1


def test_a_pass_creating_no_user_has_no_onboarding(
    make_controller: ControllerFactory, access_repo: Path
) -> None:
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    groups = access_repo / "desired-state" / "groups.json"
    document = json.loads(groups.read_text())
    document["groups"][0]["description"] = "Administrators, on call"
    groups.write_text(json.dumps(document))
    commit_all(access_repo, "Describe the administrators")

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.APPLIED
    assert report.onboarding is None
    assert "Onboarding" not in report_text(report)
