"""The AWS clients: standard configuration, retries, client-side rate limits, call counts."""

from __future__ import annotations

import functools
import socket
import threading
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from reconciler.adapters.aws import clients as clients_module
from reconciler.adapters.aws.clients import (
    MAX_ATTEMPTS,
    CallCounter,
    RateLimits,
    TokenBucket,
    _no_retry_when_nothing_listens,
    make_clients,
)
from reconciler.adapters.aws.errors import call
from reconciler.adapters.aws.reading import read_live_state
from reconciler.errors import TemporaryAwsError
from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.faults import FaultConfig


class FakeTime:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_clients_follow_the_standard_environment(
    aws_environment: dict[str, str], organization: SeededOrganization
) -> None:
    clients = make_clients()

    instances = call(clients.sso_admin.list_instances)["Instances"]

    assert clients.sso_admin.meta.endpoint_url == aws_environment["AWS_ENDPOINT_URL"]
    assert clients.identitystore.meta.region_name == aws_environment["AWS_REGION"]
    assert [i["InstanceArn"] for i in instances] == [organization.instance_arn]


def test_aws_region_is_preferred_to_aws_default_region(
    aws_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    assert make_clients().organizations.meta.region_name == "eu-west-1"


def test_an_explicit_region_wins_over_the_environment(aws_environment: dict[str, str]) -> None:
    assert make_clients(region="ap-southeast-2").sso_admin.meta.region_name == "ap-southeast-2"


def test_clients_retry_adaptively(aws_environment: dict[str, str]) -> None:
    config: Any = make_clients().sso_admin.meta.config
    retries = config.retries

    assert retries["mode"] == "adaptive"
    assert retries["total_max_attempts"] == MAX_ATTEMPTS


def test_injected_throttling_and_server_errors_are_retried_by_botocore(
    sandbox: Sandbox, aws_environment: dict[str, str], organization: SeededOrganization
) -> None:
    sandbox.configure_faults(FaultConfig.parse("none,throttle=0.15,http500=0.1,seed=7"))

    live = read_live_state(make_clients())

    faults = [c for c in sandbox.calls if c.fault is not None]
    assert live.instance_arn == organization.instance_arn
    assert faults, "the seed should inject at least one fault"


class CoarseFakeTime(FakeTime):
    """A :class:`FakeTime` whose every sleep lasts at least a microsecond: a bucket a rounding
    error short of a token waits a little, as with a real clock, instead of for ever."""

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)


@pytest.fixture
def bucket_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """The clients' token buckets wait on a fake clock: the seconds they wait are counted
    exactly, whatever else the machine is doing."""
    fake = CoarseFakeTime()
    monkeypatch.setattr(
        clients_module,
        "TokenBucket",
        functools.partial(TokenBucket, clock=fake.clock, sleep=fake.sleep),
    )
    return fake


def test_the_sso_admin_rate_limit_spaces_calls(
    sandbox: Sandbox, aws_environment: dict[str, str], bucket_time: FakeTime
) -> None:
    sandbox.configure_faults(FaultConfig.parse("none"))
    clients = make_clients(rates=RateLimits(sso_admin=20))

    for _ in range(30):  # 20 from the full bucket, then 10 at 20 per second
        call(clients.sso_admin.list_instances)

    assert bucket_time.now >= 0.45


def test_identitystore_apis_have_one_bucket_each(
    sandbox: Sandbox,
    aws_environment: dict[str, str],
    organization: SeededOrganization,
    bucket_time: FakeTime,
) -> None:
    sandbox.configure_faults(FaultConfig.parse("none"))
    clients = make_clients(rates=RateLimits(identitystore_per_api=10))
    store = organization.identity_store_id

    for _ in range(15):
        call(clients.identitystore.list_users, IdentityStoreId=store)
        call(clients.identitystore.list_groups, IdentityStoreId=store)

    # Per API: 10 at once, 5 more at 10/s, about 0.5 s. One shared bucket would need 2 s.
    assert 0.45 <= bucket_time.now < 1.5


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=10, clock=fake.clock, sleep=fake.sleep)

    waits = [bucket.acquire() for _ in range(15)]

    assert waits[:10] == [0.0] * 10
    assert fake.now == pytest.approx(0.5)


def test_token_bucket_refills_while_idle() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=10, capacity=2, clock=fake.clock, sleep=fake.sleep)
    bucket.acquire()
    bucket.acquire()
    fake.now += 0.2

    assert bucket.acquire() == 0.0


def test_token_bucket_refuses_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(rate=0)


def test_calls_are_counted_by_operation_and_page(
    sandbox: Sandbox, aws_environment: dict[str, str]
) -> None:
    for index in range(22):
        sandbox.add_account(name=f"extra-{index}")
    clients = make_clients()

    read_live_state(clients)

    counts = clients.calls.snapshot()
    assert counts["ListAccounts"] == 2  # 25 accounts, pages of 20
    assert counts["ListInstances"] == 1


def test_call_counter_is_thread_safe() -> None:
    counter = CallCounter()

    def record() -> None:
        for _ in range(1000):
            counter.record("ListUsers")

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counter.snapshot() == {"ListUsers": 8000}
    assert counter.total() == 8000


def test_call_counter_reports_calls_since_a_snapshot() -> None:
    counter = CallCounter()
    counter.record("ListUsers")
    before = counter.snapshot()
    counter.record("ListUsers")
    counter.record("ListGroups")

    assert counter.since(before) == {"ListGroups": 1, "ListUsers": 1}


def test_a_loopback_endpoint_that_refuses_the_connection_is_tried_once(
    aws_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{bound.getsockname()[1]}")
        clients = make_clients()
        attempts: list[str] = []
        clients.sso_admin.meta.events.register(
            "before-send.sso-admin", lambda **_: attempts.append("attempt")
        )

        with pytest.raises(TemporaryAwsError) as raised:
            call(clients.sso_admin.list_instances)

    assert raised.value.code == "EndpointConnectionError"
    assert attempts == ["attempt"]


def test_a_connection_error_elsewhere_is_still_retried() -> None:
    exc = EndpointConnectionError(endpoint_url="https://sso.us-east-1.amazonaws.com/")

    assert _no_retry_when_nothing_listens(caught_exception=exc) is None
