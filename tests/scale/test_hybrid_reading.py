"""The hybrid reader (``read_live_state(..., assignments_by="hybrid", previous=...)``) against
the complete per-permission-set reader, on generated organizations whose principals are deleted
after being assigned: before the previous read (orphans the previous read saw) and after it
(orphans it did not), with assignments made in between.

What the hybrid reader cannot see by design, an assignment of a principal created after the
previous read and deleted before this one, in a (set, account) that also holds a live
principal's assignment, is not generated here (see ``read_live_state``'s docstring).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.adapters.aws.clients import AwsClients, RateLimits, make_clients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.model.state import LiveState
from reconciler.sandbox import Sandbox
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.identity_center import AccountAssignment
from reconciler.sandbox.seeding import ScaleSpec, SeededScale, seed_organization

SMALL = ScaleSpec(accounts=12, permission_sets=5, groups=8, users=20, assignments=60, seed=3)


@contextmanager
def _sandbox() -> Iterator[Sandbox]:
    with Sandbox(faults=FaultConfig.parse("none")) as sandbox, sandbox.process_environment():
        yield sandbox


def _clients() -> AwsClients:
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    return make_clients(rates=RateLimits(sso_admin=0, identitystore_per_api=0, organizations=0))


def _delete_principals(
    clients: AwsClients, sandbox: Sandbox, seeded: SeededScale, count: int, rng: random.Random
) -> None:
    """Delete ``count`` users and groups that hold an assignment from the identity store, their
    assignments left in place (as AWS leaves them)."""
    identitystore = clients.identitystore
    store = {"IdentityStoreId": seeded.identity_store_id}
    assigned = {(a.principal_type, a.principal_id) for a in sandbox.identity_center.assignments}
    named = sorted(
        [(u["UserName"], "USER", u["UserId"]) for u in identitystore.list_users(**store)["Users"]]
        + [
            (g["DisplayName"], "GROUP", g["GroupId"])
            for g in identitystore.list_groups(**store)["Groups"]
        ]
    )
    candidates = [(kind, id_) for _, kind, id_ in named if (kind, id_) in assigned]
    for principal_type, principal_id in rng.sample(candidates, min(count, len(candidates))):
        if principal_type == "USER":
            identitystore.delete_user(**store, UserId=principal_id)
        else:
            identitystore.delete_group(**store, GroupId=principal_id)


def _assign_more(
    sandbox: Sandbox, seeded: SeededScale, live: LiveState, count: int, rng: random.Random
) -> None:
    """``count`` new assignments of live principals (possibly in (set, account) pairs that
    already hold some), as completed CreateAccountAssignment calls."""
    principals = [("USER", live.user_ids[name]) for name in sorted(live.state.users)] + [
        ("GROUP", live.group_ids[name]) for name in sorted(live.state.groups)
    ]
    accounts = [seeded.accounts[name] for name in sorted(seeded.accounts) if name != "management"]
    sets = [live.permission_set_arns[name] for name in sorted(live.permission_set_arns)]
    center = sandbox.identity_center
    with center.lock:
        for _ in range(count):
            principal_type, principal_id = rng.choice(principals)
            center.create_account_assignment(
                instance_arn=seeded.instance_arn,
                assignment=AccountAssignment(
                    account_id=rng.choice(accounts),
                    permission_set_arn=rng.choice(sets),
                    principal_type=principal_type,
                    principal_id=principal_id,
                ),
            )
            center.complete_in_progress()


@st.composite
def organizations(draw: st.DrawFn) -> ScaleSpec:
    """A small organization the generator can hold (at most half of the (account, set,
    principal) combinations assigned)."""
    accounts, sets = draw(st.integers(2, 6)), draw(st.integers(1, 4))
    groups, users = draw(st.integers(1, 5)), draw(st.integers(2, 8))
    room = accounts * sets * (groups + users) // 2
    return ScaleSpec(
        accounts=accounts,
        permission_sets=sets,
        groups=groups,
        users=users,
        assignments=draw(st.integers(1, min(12, room))),
        seed=draw(st.integers(0, 10_000)),
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    spec=organizations(),
    deleted_before=st.integers(0, 3),
    assigned_between=st.integers(0, 6),
    deleted_after=st.integers(0, 4),
    seed=st.integers(0, 1_000),
)
def test_hybrid_reader_sees_what_the_per_set_reader_sees_after_principals_are_deleted(
    spec: ScaleSpec, deleted_before: int, assigned_between: int, deleted_after: int, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - test data, not a secret
    with _sandbox() as sandbox:
        seeded = seed_organization(sandbox, spec)
        clients = _clients()
        _delete_principals(clients, sandbox, seeded, deleted_before, rng)
        previous = read_live_state(clients)
        _assign_more(sandbox, seeded, previous, assigned_between, rng)
        _delete_principals(clients, sandbox, seeded, deleted_after, rng)

        hybrid = read_live_state(clients, assignments_by="hybrid", previous=previous)
        complete = read_live_state(clients)

    assert hybrid.state == complete.state


def test_hybrid_reader_without_a_previous_read_reads_per_permission_set() -> None:
    with _sandbox() as sandbox:
        seed_organization(sandbox, SMALL)
        by_set, hybrid = _clients(), _clients()

        read_live_state(by_set)
        read_live_state(hybrid, assignments_by="hybrid")

    assert hybrid.calls.snapshot() == by_set.calls.snapshot()
