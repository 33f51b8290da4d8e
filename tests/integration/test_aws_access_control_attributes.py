"""Reading and applying the attributes for access control (ABAC) against the sandbox over real
HTTP: the configuration read only when asked, created, updated and deleted, and a configuration
that appeared between the read and the write adopted instead of failing."""

from __future__ import annotations

from reconciler.adapters.aws.applying import ApplySettings, apply_plan
from reconciler.adapters.aws.clients import AwsClients, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.model.targets import TargetReads
from reconciler.planning.outcomes import Status
from reconciler.planning.plans import (
    CreateAccessControlAttributes,
    DeleteAccessControlAttributes,
    Operation,
    Plan,
    UpdateAccessControlAttributes,
)
from reconciler.sandbox.console import ConsoleActions

QUICK = ApplySettings(poll_interval_seconds=0.05, conflict_backoff_seconds=0.05)
READ_ABAC = TargetReads(access_control_attributes=True)
COST_CENTER = "${path:enterprise.costCenter}"
DEPARTMENT = "${path:enterprise.department}"


def attributes(clients: AwsClients) -> dict[str, str] | None:
    read = read_live_state(clients, targets=READ_ABAC).state.access_control_attributes
    return None if read is None else dict(read)


def apply(clients: AwsClients, operation: Operation) -> Status:
    live = read_live_state(clients, targets=READ_ABAC)
    outcome = apply_plan(
        clients, Plan(revision="r1", operations=(operation,)), live, settings=QUICK
    )
    (result,) = outcome.results
    return result.status


def test_without_a_configuration_the_attributes_read_as_none(
    aws_environment: dict[str, str],
) -> None:
    assert attributes(make_clients()) is None


def test_the_attributes_are_read_only_when_asked(aws_environment: dict[str, str]) -> None:
    ConsoleActions(aws_environment).set_access_control_attributes({"CostCenter": COST_CENTER})
    clients = make_clients()

    live = read_live_state(clients)

    assert live.state.access_control_attributes is None
    assert "DescribeInstanceAccessControlAttributeConfiguration" not in clients.calls.snapshot()


def test_create_update_and_delete_reach_aws(aws_environment: dict[str, str]) -> None:
    clients = make_clients()

    created = apply(clients, CreateAccessControlAttributes(attributes={"CostCenter": COST_CENTER}))
    after_create = attributes(clients)
    updated = apply(
        clients,
        UpdateAccessControlAttributes(
            attributes={"CostCenter": DEPARTMENT, "Team": COST_CENTER},
            live={"CostCenter": COST_CENTER},
            diff=(),
        ),
    )
    after_update = attributes(clients)
    deleted = apply(clients, DeleteAccessControlAttributes(live=after_update or {}))

    assert (created, updated, deleted) == (Status.SUCCEEDED,) * 3
    assert after_create == {"CostCenter": COST_CENTER}
    assert after_update == {"CostCenter": DEPARTMENT, "Team": COST_CENTER}
    assert attributes(clients) is None


def test_a_configuration_made_after_the_read_is_adopted_by_create(
    aws_environment: dict[str, str],
) -> None:
    """Create meets ConflictException (one configuration per instance): the configuration that
    exists is brought to the declared attributes instead of failing the operation."""
    clients = make_clients()
    live = read_live_state(clients, targets=READ_ABAC)
    ConsoleActions(aws_environment).set_access_control_attributes({"Team": DEPARTMENT})
    plan = Plan(
        revision="r1",
        operations=(CreateAccessControlAttributes(attributes={"CostCenter": COST_CENTER}),),
    )

    outcome = apply_plan(clients, plan, live, settings=QUICK)

    assert [result.status for result in outcome.results] == [Status.SUCCEEDED]
    assert attributes(clients) == {"CostCenter": COST_CENTER}


def test_deleting_a_configuration_already_gone_succeeds(
    aws_environment: dict[str, str],
) -> None:
    clients = make_clients()

    status = apply(clients, DeleteAccessControlAttributes(live={"CostCenter": COST_CENTER}))

    assert status is Status.SUCCEEDED
