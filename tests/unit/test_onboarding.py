"""Onboarding: plans and reports that create users list them, and say once what AWS does not do
for them (no password-setup email unless "Send email OTP" is on; MFA in the console only)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from reconciler.model.loading import load_documents
from reconciler.model.resolving import LiveDirectory, resolve
from reconciler.model.state import IdentityCenterState, LiveState, Membership
from reconciler.planning.diffing import plan
from reconciler.planning.onboarding import (
    EMAIL_OTP_CONSOLE_PATH,
    MFA_CONSOLE_PATH,
    MFA_SOURCE,
    PASSWORD_SOURCE,
    onboarding_of,
)
from reconciler.planning.outcomes import OperationResult, Outcome, Status
from reconciler.planning.plans import AddMembership, CreateGroup, CreateUser, Plan
from reconciler.planning.rendering import outcome_json, plan_json, plan_markdown, plan_text
from reconciler.planning.reports import Mode, PassReport, PassStatus, report_json, report_text
from reconciler.planning.slack_messages import pass_message
from tests.unit.states import ACCOUNTS, INSTANCE_ARN, PROD, group, user

ANN = CreateUser(user=user("ann"))
BOB = CreateUser(user=user("bob", email=None))
PLAN = Plan(
    revision=None,
    operations=(
        BOB,
        ANN,
        CreateGroup(group=group("AdminAccess")),
        AddMembership(membership=Membership(group="AdminAccess", user="ann")),
    ),
)
NO_USERS = Plan(revision=None, operations=(CreateGroup(group=group("AdminAccess")),))


def _text(plan: Plan, outcome: Outcome | None = None) -> str:
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(plan_text(plan, outcome=outcome), highlight=False)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_plan_text_lists_the_users_to_create_once_with_what_aws_does_not_do() -> None:
    text = _text(PLAN)

    assert text.count("Onboarding: 2 users to create (ann, bob)") == 1
    assert text.count('"Send email OTP for users created from API"') == 1
    assert EMAIL_OTP_CONSOLE_PATH in text
    assert MFA_CONSOLE_PATH in text
    assert PASSWORD_SOURCE in text
    assert MFA_SOURCE in text


def test_a_created_user_without_email_is_named_as_unreachable_by_email() -> None:
    assert "No email for bob:" in _text(PLAN)


def test_plan_json_has_a_machine_readable_onboarding_key() -> None:
    onboarding = plan_json(PLAN)["onboarding"]

    assert onboarding["users"] == ["ann", "bob"]
    assert onboarding["users_without_email"] == ["bob"]
    assert onboarding["applied"] is False
    assert onboarding["password_setup_email"]["sent_by_aws"] is False
    assert onboarding["password_setup_email"]["console"] == EMAIL_OTP_CONSOLE_PATH
    assert onboarding["mfa"] == {
        "managed_by_reconciler": False,
        "console": MFA_CONSOLE_PATH,
        "source": MFA_SOURCE,
    }


def test_a_plan_creating_no_user_has_no_onboarding() -> None:
    assert plan_json(NO_USERS)["onboarding"] is None
    assert "Onboarding" not in _text(NO_USERS)
    assert "Onboarding" not in "".join(plan_markdown(NO_USERS))


def test_plan_markdown_has_one_onboarding_section() -> None:
    markdown = "".join(plan_markdown(PLAN))

    assert markdown.count("#### Onboarding: 2 users to create (ann, bob)") == 1
    assert markdown.count("Send email OTP for users created from API") == 1


def _outcome() -> Outcome:
    return Outcome(
        revision=None,
        results=(
            OperationResult(operation=BOB, status=Status.FAILED, reason="ValidationException"),
            OperationResult(operation=ANN, status=Status.SUCCEEDED),
        ),
    )


def test_an_apply_lists_only_the_users_it_created() -> None:
    onboarding = outcome_json(PLAN, _outcome())["onboarding"]

    assert (onboarding["users"], onboarding["applied"]) == (["ann"], True)
    assert "Onboarding: 1 user created (ann)" in _text(PLAN, _outcome())


def test_an_apply_that_created_no_user_has_no_onboarding() -> None:
    failed = Outcome(revision=None, results=(OperationResult(operation=BOB, status=Status.FAILED),))

    assert onboarding_of(PLAN, failed) is None


def _report() -> PassReport:
    return PassReport(
        pass_id="p-1",
        started_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        seconds=1.0,
        mode=Mode.HEAL,
        status=PassStatus.APPLIED,
        revision="0" * 40,
        applied_revision="0" * 40,
        onboarding=onboarding_of(PLAN, _outcome()),
    )


def test_the_pass_report_carries_onboarding_in_json_and_text() -> None:
    report = _report()

    assert report_json(report)["onboarding"]["users"] == ["ann"]
    text = report_text(report)
    assert text.count("Onboarding: 1 user created (ann)") == 1
    assert EMAIL_OTP_CONSOLE_PATH in text


def test_the_slack_summary_says_it_once() -> None:
    message = pass_message(_report())

    sections = [block["text"]["text"] for block in message["blocks"] if "text" in block]
    onboarding = [text for text in sections if "Onboarding" in text]
    assert len(onboarding) == 1
    assert "1 user created (ann)" in onboarding[0]
    assert "Send email OTP" in onboarding[0]
    assert "Multi-factor authentication" in onboarding[0]


def test_a_report_without_created_users_has_none() -> None:
    report = PassReport(
        pass_id="p-1",
        started_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        seconds=1.0,
        mode=Mode.HEAL,
        status=PassStatus.IN_SYNC,
        revision=None,
        applied_revision=None,
    )

    assert report_json(report)["onboarding"] is None
    assert "Onboarding" not in report_text(report)


def test_a_plan_with_identities_from_an_idp_has_no_onboarding() -> None:
    files = {
        "reconciler.json": b'{"identities": "external"}',
        "permission-sets/ReadOnly.json": (
            b'{"name": "ReadOnly", "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}'
        ),
        "assignments.json": (
            b'{"assignments": [{"permission_set": "ReadOnly", "users": ["ann"], '
            b'"accounts": ["prod"]}]}'
        ),
    }
    directory = LiveDirectory(
        accounts=(PROD,), user_names=frozenset({"ann"}), group_names=frozenset()
    )
    desired = resolve(load_documents(files), directory)
    live = LiveState(
        state=IdentityCenterState(users={"ann": user("ann")}),
        instance_arn=INSTANCE_ARN,
        identity_store_id="d-1",
        accounts=ACCOUNTS,
    )

    external = plan(desired, live, revision=None)

    assert external.operations  # the set and the assignment are created
    assert plan_json(external)["onboarding"] is None
    assert "Onboarding" not in _text(external)
