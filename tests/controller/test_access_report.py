"""The controller's pass report and its Slack message carry the plan's effect on access."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.planning.reports import PassStatus, report_json
from reconciler.planning.slack_messages import pass_message
from tests.controller.conftest import ControllerFactory, add_member


def test_a_pass_adding_a_member_reports_the_privileged_access_gained_and_slack_highlights_it(
    make_controller: ControllerFactory, access_repo: Path
) -> None:
    controller = make_controller()
    assert controller.run_once().status is PassStatus.APPLIED
    add_member(access_repo, group="AdminAccess", user="sam.lee")

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.APPLIED
    assert sorted(
        (item.gained, item.user, item.account_name, item.permission_set, item.via, item.privileged)
        for item in report.access
    ) == [
        (True, "sam.lee", "prod", "AdministratorAccess", "AdminAccess", True),
        (True, "sam.lee", "staging", "AdministratorAccess", "AdminAccess", True),
    ]
    assert len(report_json(report)["access"]["gained"]) == 2
    slack = json.dumps(pass_message(report), ensure_ascii=False)
    assert ":warning: *sam.lee gains AdministratorAccess in prod (" in slack
    assert "— *privileged*" in slack
