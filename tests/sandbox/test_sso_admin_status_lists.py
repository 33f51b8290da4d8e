"""The List...Status calls' uncertainties the sandbox reproduces on request: a lag behind the
requests (``status_list_lag_seconds``) and requests aging out (``status_retention_seconds``).

AWS documents neither a bound on how late ListAccountAssignmentCreationStatus may list a
request nor how long requests are kept (IAM Identity Center API reference); the sandbox's
defaults are no lag and no aging, and these settings let tests turn both on.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import Sandbox, SeededOrganization
from tests.sandbox.test_sso_admin_assignments import StoppedClock, stop_the_clock


def _with(sandbox: Sandbox, **settings: Any) -> StoppedClock:
    center = sandbox.identity_center
    with center.lock:
        center.settings = center.settings.model_copy(update=settings)
    return stop_the_clock(sandbox)


def _create(sso: Any, org: SeededOrganization, aws: Any) -> str:
    arn = aws.create_permission_set("A")
    user = aws.create_user("alice")
    return str(
        sso.create_account_assignment(
            InstanceArn=org.instance_arn,
            TargetId=org.accounts["prod"],
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=arn,
            PrincipalType="USER",
            PrincipalId=user,
        )["AccountAssignmentCreationStatus"]["RequestId"]
    )


def _listed(sso: Any, org: SeededOrganization, status: str) -> list[str]:
    return [
        item["RequestId"]
        for item in sso.list_account_assignment_creation_status(
            InstanceArn=org.instance_arn, Filter={"Status": status}
        )["AccountAssignmentsCreationStatus"]
    ]


def _described(sso: Any, org: SeededOrganization, request_id: str) -> str:
    return str(
        sso.describe_account_assignment_creation_status(
            InstanceArn=org.instance_arn, AccountAssignmentCreationRequestId=request_id
        )["AccountAssignmentCreationStatus"]["Status"]
    )


def test_a_request_younger_than_the_list_lag_is_not_listed_yet_but_is_described(
    sso: Any, org: SeededOrganization, aws: Any, sandbox: Sandbox
) -> None:
    clock = _with(sandbox, status_list_lag_seconds=1.0, assignment_delay_seconds=5.0)
    request_id = _create(sso, org, aws)

    listed_at_once = _listed(sso, org, "IN_PROGRESS")
    described = _described(sso, org, request_id)
    clock.now += 1.0
    listed_later = _listed(sso, org, "IN_PROGRESS")

    assert listed_at_once == []
    assert described == "IN_PROGRESS"
    assert listed_later == [request_id]


def test_a_status_change_is_listed_only_the_lag_after_it_happened(
    sso: Any, org: SeededOrganization, aws: Any, sandbox: Sandbox
) -> None:
    clock = _with(sandbox, status_list_lag_seconds=1.0, assignment_delay_seconds=0.5)
    request_id = _create(sso, org, aws)
    clock.now += 1.0  # SUCCEEDED half a second ago; the list shows it as it was a second ago

    described = _described(sso, org, request_id)
    in_progress = _listed(sso, org, "IN_PROGRESS")
    succeeded = _listed(sso, org, "SUCCEEDED")
    clock.now += 0.5
    succeeded_later = _listed(sso, org, "SUCCEEDED")

    assert described == "SUCCEEDED"
    assert in_progress == [request_id]
    assert succeeded == []
    assert succeeded_later == [request_id]


def test_a_request_older_than_the_retention_is_neither_listed_nor_described(
    sso: Any, org: SeededOrganization, aws: Any, sandbox: Sandbox
) -> None:
    clock = _with(sandbox, status_retention_seconds=2.0, assignment_delay_seconds=0.5)
    request_id = _create(sso, org, aws)
    clock.now += 1.0
    kept = (_listed(sso, org, "SUCCEEDED"), _described(sso, org, request_id))
    clock.now += 1.0

    listed = _listed(sso, org, "SUCCEEDED")
    try:
        _described(sso, org, request_id)
    except sso.exceptions.ResourceNotFoundException:
        described = "ResourceNotFoundException"

    assert kept == ([request_id], "SUCCEEDED")
    assert listed == []
    assert described == "ResourceNotFoundException"
