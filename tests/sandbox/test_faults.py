"""The fault layer: `--faults` parsing, call identification, rate limits, injected faults.

Unit checks drive ``FaultLayer`` in-process (werkzeug's test client) in front of a fake simulator;
wire checks serve it with werkzeug on 127.0.0.1 and call it with real boto3 clients, so what is
asserted is what botocore sees.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIEnvironment

import boto3
import botocore.config
import botocore.exceptions
import botocore.session
import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import Client, TestResponse

from reconciler.sandbox.faults import (
    CallRecorder,
    ErrorRates,
    FaultConfig,
    FaultLayer,
    FaultSpecError,
    RecordedCall,
    identify_call,
    is_write_operation,
)

INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
PERMISSION_SET = {
    "Name": "ReadOnly",
    "PermissionSetArn": "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-1234567890abcdef",
    "SessionDuration": "PT1H",
    "CreatedDate": 1700000000.0,
}
NO_LIMITS = FaultConfig.parse("none")


# ---------------------------------------------------------------------------------------------
# Fixtures: a fake simulator, the layer in-process, the layer on a real loopback server
# ---------------------------------------------------------------------------------------------


class FakeSimulator:
    """A downstream WSGI app: answers each operation with a canned JSON body, logs what it saw."""

    def __init__(self) -> None:
        self.processed: list[str] = []
        self.request_bodies: list[bytes] = []
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {
            "ListInstances": (200, {"Instances": []}),
            "CreatePermissionSet": (200, {"PermissionSet": PERMISSION_SET}),
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        operation = target.rpartition(".")[2] or parse_qs(body.decode()).get("Action", [""])[0]
        self.processed.append(operation)
        self.request_bodies.append(body)
        status, document = self.answers.get(operation, (200, {}))
        payload = json.dumps(document).encode()
        start_response(
            f"{status} Canned",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))],
        )
        return [payload]


def post(
    layer: FaultLayer, target: str, *, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> TestResponse:
    """One JSON-1.1 call through the layer, in-process."""
    return Client(layer).post(
        "/",
        data=body,
        headers={
            "X-Amz-Target": target,
            "Content-Type": "application/x-amz-json-1.1",
            **(headers or {}),
        },
    )


@pytest.fixture
def simulator() -> FakeSimulator:
    return FakeSimulator()


@pytest.fixture
def recorder() -> CallRecorder:
    return CallRecorder()


class StoppedClock:
    """The token buckets' clock, moved only by the test: a busy machine cannot refill them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> StoppedClock:
    return StoppedClock()


@pytest.fixture
def layer(simulator: FakeSimulator, recorder: CallRecorder, clock: StoppedClock) -> FaultLayer:
    return FaultLayer(simulator, config=NO_LIMITS, recorder=recorder, clock=clock)


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Keep test output free of one access-log line per request."""


@dataclass
class Served:
    layer: FaultLayer
    simulator: FakeSimulator
    recorder: CallRecorder
    server: BaseWSGIServer

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def served(layer: FaultLayer, simulator: FakeSimulator, recorder: CallRecorder) -> Iterator[Served]:
    server = make_server("127.0.0.1", 0, layer, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Served(layer=layer, simulator=simulator, recorder=recorder, server=server)
    finally:
        assert layer.wait_idle(timeout=5.0)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)


@pytest.fixture
def make_client(served: Served) -> Iterator[Any]:
    """Build boto3 clients on the served layer; ``attempts`` counts the first try (1: no retry)."""
    clients: list[Any] = []

    def build(service: str = "sso-admin", *, attempts: int = 1, read_timeout: float = 5.0) -> Any:
        client = boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=served.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=botocore.config.Config(
                retries={"mode": "standard", "total_max_attempts": attempts},
                connect_timeout=2.0,
                read_timeout=read_timeout,
            ),
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def rates(**fractions: float) -> FaultConfig:
    """No rate limit, the given injected error rates."""
    return NO_LIMITS.model_copy(update={"error_rates": ErrorRates(**fractions)})


# ---------------------------------------------------------------------------------------------
# --faults parsing
# ---------------------------------------------------------------------------------------------


def test_parse_reads_every_documented_key() -> None:
    config = FaultConfig.parse(
        "throttle=0.05,http500=0.01,http503=0.02,reset=0.01,timeout=0.005,lost=0.03,"
        "latency=0.02,seed=7,sso-admin-rps=10,identitystore-rps=15,organizations-rps=2,"
        "burst=4,timeout-seconds=1.5"
    )

    assert config == FaultConfig(
        error_rates=ErrorRates(
            throttling=0.05,
            http_500=0.01,
            http_503=0.02,
            connection_reset=0.01,
            read_timeout=0.005,
            lost_response=0.03,
        ),
        latency_seconds=0.02,
        seed=7,
        sso_admin_requests_per_second=10,
        identitystore_requests_per_second_per_api=15,
        organizations_requests_per_second=2,
        burst=4,
        read_timeout_seconds=1.5,
    )


def test_parse_of_an_empty_spec_gives_the_aws_rate_limits_and_no_fault() -> None:
    config = FaultConfig.parse("")

    assert config == FaultConfig()
    assert config.sso_admin_requests_per_second == 20.0
    assert config.identitystore_requests_per_second_per_api == 20.0
    assert config.error_rates == ErrorRates()


def test_parse_none_turns_every_rate_limit_off() -> None:
    config = FaultConfig.parse("none")

    assert config.sso_admin_requests_per_second is None
    assert config.identitystore_requests_per_second_per_api is None
    assert config.organizations_requests_per_second is None


def test_parse_none_combines_with_injected_faults() -> None:
    config = FaultConfig.parse("none,throttle=0.1,sso-admin-rps=5")

    assert config.error_rates.throttling == 0.1
    assert config.sso_admin_requests_per_second == 5
    assert config.identitystore_requests_per_second_per_api is None


def test_parse_refuses_a_rate_that_is_not_finite() -> None:
    with pytest.raises(FaultSpecError, match=r"sso-admin-rps="):
        FaultConfig.parse("sso-admin-rps=inf")


def test_parse_off_turns_one_rate_limit_off() -> None:
    assert FaultConfig.parse("sso-admin-rps=off").sso_admin_requests_per_second is None


def test_parse_names_an_unknown_key_and_lists_the_accepted_ones() -> None:
    with pytest.raises(FaultSpecError, match=r"'throttel' is unknown; accepted keys: throttle,"):
        FaultConfig.parse("throttel=0.1")


def test_parse_names_a_value_that_is_not_a_number() -> None:
    with pytest.raises(FaultSpecError, match=r"http500='lots' is not a number") as caught:
        FaultConfig.parse("http500=lots")

    assert (caught.value.key, caught.value.value) == ("http500", "lots")


def test_parse_names_a_fraction_above_one() -> None:
    with pytest.raises(FaultSpecError, match=r"throttle=1\.5: .*less than or equal to 1"):
        FaultConfig.parse("throttle=1.5")


def test_parse_refuses_rates_adding_up_to_more_than_one() -> None:
    with pytest.raises(FaultSpecError, match=r"add up to 1\.2"):
        FaultConfig.parse("throttle=0.6,reset=0.6")


def test_parse_refuses_a_key_given_twice() -> None:
    with pytest.raises(FaultSpecError, match=r"'seed' is given twice"):
        FaultConfig.parse("seed=1,seed=2")


def test_parse_refuses_an_item_without_equals_sign() -> None:
    with pytest.raises(FaultSpecError, match=r"'throttle' is not key=value"):
        FaultConfig.parse("throttle")


def test_fault_spec_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        FaultConfig.parse("nope=1")


# ---------------------------------------------------------------------------------------------
# Finding service and operation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("SWBExternalService.CreatePermissionSet", ("sso-admin", "CreatePermissionSet")),
        ("AWSIdentityStore.ListUsers", ("identitystore", "ListUsers")),
        ("AWSOrganizationsV20161128.ListAccounts", ("organizations", "ListAccounts")),
        ("DynamoDB_20120810.GetItem", ("dynamodb", "GetItem")),
    ],
)
def test_json_calls_are_named_by_their_target_header(
    target: str, expected: tuple[str, str]
) -> None:
    environ = {"HTTP_X_AMZ_TARGET": target, "CONTENT_TYPE": "application/x-amz-json-1.1"}

    assert identify_call(environ, b"{}") == expected


def test_target_prefixes_are_botocores() -> None:
    session = botocore.session.get_session()
    for service in ("sso-admin", "identitystore", "organizations", "dynamodb"):
        prefix = session.get_service_model(service).metadata["targetPrefix"]

        assert identify_call({"HTTP_X_AMZ_TARGET": f"{prefix}.Op"}, b"") == (service, "Op")


def test_query_calls_are_named_by_credential_scope_and_action() -> None:
    environ = {
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/"
        "aws4_request, SignedHeaders=host, Signature=0",
    }

    assert identify_call(environ, b"Action=ListRoles&Version=2010-05-08") == ("iam", "ListRoles")


def test_a_request_that_is_no_aws_call_is_not_identified() -> None:
    assert identify_call({"PATH_INFO": "/moto-api/reset"}, b"") is None


def test_query_call_body_still_reaches_the_simulator(
    layer: FaultLayer, simulator: FakeSimulator, recorder: CallRecorder
) -> None:
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    Client(layer).post(
        "/",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/sts/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )

    assert simulator.request_bodies == [body]
    assert [(c.service, c.operation) for c in recorder.calls] == [("sts", "GetCallerIdentity")]


def test_a_request_that_is_no_aws_call_passes_unrecorded(
    layer: FaultLayer, simulator: FakeSimulator, recorder: CallRecorder
) -> None:
    layer.configure(rates(http_500=1.0))

    response = Client(layer).post("/moto-api/reset")

    assert response.status_code == 200
    assert simulator.processed == [""]
    assert recorder.calls == []


@pytest.mark.parametrize(
    "operation",
    [
        "CreatePermissionSet",
        "DeleteAccountAssignment",
        "UpdateUser",
        "PutInlinePolicyToPermissionSet",
        "AttachManagedPolicyToPermissionSet",
        "DetachCustomerManagedPolicyReferenceFromPermissionSet",
        "ProvisionPermissionSet",
        "TagResource",
        "UntagResource",
        "CreateGroupMembership",
        "MoveAccount",
    ],
)
def test_state_changing_operations_are_writes(operation: str) -> None:
    assert is_write_operation(operation)


@pytest.mark.parametrize(
    "operation",
    [
        "ListPermissionSets",
        "DescribePermissionSet",
        "GetGroupId",
        "IsMemberInGroups",
        "BatchGetItem",
        "Settings",
        "Tagged",
    ],
)
def test_reading_operations_are_not_writes(operation: str) -> None:
    assert not is_write_operation(operation)


# ---------------------------------------------------------------------------------------------
# Recorder
# ---------------------------------------------------------------------------------------------


def _recorded(
    operation: str, *, service: str = "sso-admin", fault: str | None = None
) -> RecordedCall:
    return RecordedCall(
        service=service, operation=operation, status=200, fault=fault, started=0.0, seconds=0.0
    )


def test_recorder_lists_write_calls_in_order() -> None:
    recorder = CallRecorder()
    for operation in (
        "ListInstances",
        "CreatePermissionSet",
        "DescribePermissionSet",
        "TagResource",
    ):
        recorder.record(_recorded(operation))

    assert [c.operation for c in recorder.write_calls()] == ["CreatePermissionSet", "TagResource"]


def test_recorder_counts_calls_by_operation_and_service() -> None:
    recorder = CallRecorder()
    recorder.record(_recorded("CreateGroup", service="identitystore"))
    recorder.record(_recorded("CreateGroup", service="identitystore"))
    recorder.record(_recorded("CreateGroup", service="iam"))

    assert recorder.count_by_operation() == {"CreateGroup": 3}
    assert recorder.count_by_operation(service="identitystore") == {"CreateGroup": 2}


def test_recorder_reset_forgets_every_call() -> None:
    recorder = CallRecorder()
    recorder.record(_recorded("ListInstances"))

    recorder.reset()

    assert recorder.calls == []


def test_a_call_refused_before_the_simulator_did_not_reach_it() -> None:
    assert not _recorded("CreatePermissionSet", fault="http_500").reached_simulator
    assert _recorded("CreatePermissionSet", fault="lost_response").reached_simulator
    assert _recorded("CreatePermissionSet").reached_simulator


# ---------------------------------------------------------------------------------------------
# Rate limits
# ---------------------------------------------------------------------------------------------


def test_sso_admin_calls_faster_than_the_limit_are_throttled(layer: FaultLayer) -> None:
    layer.configure(
        NO_LIMITS.model_copy(update={"sso_admin_requests_per_second": 10.0, "burst": 5})
    )

    statuses = [post(layer, "SWBExternalService.ListInstances").status_code for _ in range(20)]

    assert statuses[:5] == [200] * 5
    assert statuses.count(400) >= 10


def test_a_rate_limited_call_is_a_throttling_exception_that_never_reaches_the_simulator(
    layer: FaultLayer, simulator: FakeSimulator, recorder: CallRecorder
) -> None:
    layer.configure(NO_LIMITS.model_copy(update={"sso_admin_requests_per_second": 1.0}))
    post(layer, "SWBExternalService.ListInstances")

    response = post(layer, "SWBExternalService.CreatePermissionSet")

    assert response.status_code == 400
    assert json.loads(response.data) == {
        "__type": "ThrottlingException",
        "message": "Rate exceeded",
    }
    assert simulator.processed == ["ListInstances"]
    assert recorder.calls[-1].fault == "rate_limit"


def test_sso_admin_calls_spaced_below_the_limit_are_never_throttled(
    layer: FaultLayer, clock: StoppedClock
) -> None:
    layer.configure(
        NO_LIMITS.model_copy(update={"sso_admin_requests_per_second": 50.0, "burst": 1})
    )
    statuses = []
    for _ in range(6):
        statuses.append(post(layer, "SWBExternalService.ListInstances").status_code)
        clock.now += 0.03

    assert statuses == [200] * 6


def test_the_default_burst_is_one_second_of_the_rate(layer: FaultLayer) -> None:
    layer.configure(FaultConfig())

    statuses = [post(layer, "SWBExternalService.ListInstances").status_code for _ in range(25)]

    assert statuses[:20] == [200] * 20
    assert statuses.count(400) >= 3


def test_sso_admin_apis_share_one_bucket(layer: FaultLayer) -> None:
    layer.configure(NO_LIMITS.model_copy(update={"sso_admin_requests_per_second": 1.0}))
    post(layer, "SWBExternalService.ListInstances")

    assert post(layer, "SWBExternalService.ListPermissionSets").status_code == 400


def test_identitystore_apis_have_one_bucket_each(layer: FaultLayer) -> None:
    layer.configure(NO_LIMITS.model_copy(update={"identitystore_requests_per_second_per_api": 1.0}))
    post(layer, "AWSIdentityStore.ListUsers")

    assert post(layer, "AWSIdentityStore.ListUsers").status_code == 400
    assert post(layer, "AWSIdentityStore.ListGroups").status_code == 200


def test_organizations_is_not_rate_limited_by_default(layer: FaultLayer) -> None:
    layer.configure(FaultConfig())

    statuses = [
        post(layer, "AWSOrganizationsV20161128.ListAccounts").status_code for _ in range(30)
    ]

    assert statuses == [200] * 30


def test_organizations_throttling_uses_its_documented_error_code(layer: FaultLayer) -> None:
    layer.configure(NO_LIMITS.model_copy(update={"organizations_requests_per_second": 1.0}))
    post(layer, "AWSOrganizationsV20161128.ListAccounts")

    response = post(layer, "AWSOrganizationsV20161128.ListAccounts")

    assert json.loads(response.data)["__type"] == "TooManyRequestsException"


# ---------------------------------------------------------------------------------------------
# Injected faults, in-process
# ---------------------------------------------------------------------------------------------


def test_an_injected_error_never_reaches_the_simulator(
    layer: FaultLayer, simulator: FakeSimulator
) -> None:
    layer.configure(rates(http_500=0.5, http_503=0.5))

    for _ in range(5):
        post(layer, "SWBExternalService.CreatePermissionSet")

    assert simulator.processed == []


def test_an_injected_500_is_an_internal_server_exception(layer: FaultLayer) -> None:
    layer.configure(rates(http_500=1.0))

    response = post(layer, "AWSIdentityStore.ListUsers")

    assert response.status_code == 500
    assert json.loads(response.data)["__type"] == "InternalServerException"


def test_a_query_protocol_error_is_aws_xml(layer: FaultLayer) -> None:
    layer.configure(rates(throttling=1.0))

    response = Client(layer).post(
        "/",
        data=b"Action=ListRoles&Version=2010-05-08",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )

    assert response.status_code == 400
    assert b"<Code>Throttling</Code>" in response.data


def test_a_lost_response_is_dropped_after_the_simulator_applied_the_write(
    layer: FaultLayer, simulator: FakeSimulator, recorder: CallRecorder
) -> None:
    layer.configure(rates(lost_response=1.0))

    with pytest.raises(ConnectionResetError):
        post(layer, "SWBExternalService.CreatePermissionSet")

    assert simulator.processed == ["CreatePermissionSet"]
    assert recorder.calls[-1].fault == "lost_response"
    assert recorder.calls[-1].status == 200


def test_lost_response_spares_reads(layer: FaultLayer) -> None:
    layer.configure(rates(lost_response=1.0))

    assert post(layer, "SWBExternalService.ListInstances").status_code == 200


def test_the_same_seed_repeats_the_same_faults(layer: FaultLayer, recorder: CallRecorder) -> None:
    config = rates(throttling=0.3, http_500=0.2, http_503=0.2).model_copy(update={"seed": 7})

    runs = []
    for _ in range(2):
        layer.configure(config)
        recorder.reset()
        for _ in range(30):
            post(layer, "SWBExternalService.ListInstances")
        runs.append([call.fault for call in recorder.calls])

    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 4  # every kind and None occur: the sequence is not trivial


def test_configure_turns_faults_off(layer: FaultLayer) -> None:
    layer.configure(rates(http_503=1.0))
    assert post(layer, "SWBExternalService.ListInstances").status_code == 503

    layer.configure(NO_LIMITS)

    assert post(layer, "SWBExternalService.ListInstances").status_code == 200


def test_latency_is_added_to_every_call(layer: FaultLayer, recorder: CallRecorder) -> None:
    layer.configure(NO_LIMITS.model_copy(update={"latency_seconds": 0.05}))

    post(layer, "SWBExternalService.ListInstances")

    assert recorder.calls[0].seconds >= 0.05


def test_calls_are_recorded_with_service_operation_status_and_fault(
    layer: FaultLayer, recorder: CallRecorder
) -> None:
    layer.configure(rates(http_503=1.0))
    before = time.time()

    post(layer, "AWSIdentityStore.ListGroups")

    (call,) = recorder.calls
    assert (call.service, call.operation, call.status, call.fault) == (
        "identitystore",
        "ListGroups",
        503,
        "http_503",
    )
    assert before <= call.started <= time.time()


# ---------------------------------------------------------------------------------------------
# What botocore sees, over a real loopback server
# ---------------------------------------------------------------------------------------------


def test_botocore_sees_throttling_and_standard_mode_retries_it(
    served: Served, make_client: Any
) -> None:
    served.layer.configure(rates(throttling=1.0))
    client = make_client(attempts=2)

    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.list_instances()

    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert served.recorder.count_by_operation() == {"ListInstances": 2}


def test_botocore_sees_an_injected_500_as_internal_server_exception(
    served: Served, make_client: Any
) -> None:
    served.layer.configure(rates(http_500=1.0))

    with pytest.raises(botocore.exceptions.ClientError) as caught:
        make_client().list_instances()

    assert caught.value.response["Error"]["Code"] == "InternalServerException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_botocore_sees_an_injected_503_as_service_unavailable(
    served: Served, make_client: Any
) -> None:
    served.layer.configure(rates(http_503=1.0))

    with pytest.raises(botocore.exceptions.ClientError) as caught:
        make_client().list_instances()

    assert caught.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_botocore_sees_a_connection_reset_as_connection_closed(
    served: Served, make_client: Any
) -> None:
    served.layer.configure(rates(connection_reset=1.0))

    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        make_client().list_instances()

    assert served.recorder.calls[-1].status == 0


def test_botocore_sees_a_hang_as_read_timeout(served: Served, make_client: Any) -> None:
    served.layer.configure(rates(read_timeout=1.0).model_copy(update={"read_timeout_seconds": 0.5}))

    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        make_client(read_timeout=0.2).list_instances()


def test_botocore_sees_a_lost_response_as_connection_closed_yet_the_write_happened(
    served: Served, make_client: Any
) -> None:
    served.layer.configure(rates(lost_response=1.0))

    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        make_client().create_permission_set(InstanceArn=INSTANCE_ARN, Name="ReadOnly")

    assert served.simulator.processed == ["CreatePermissionSet"]


def test_botocore_retries_a_connection_reset_and_succeeds(served: Served, make_client: Any) -> None:
    # with seed 1 the first draw (0.13) falls in the reset band, the second (0.85) in none
    served.layer.configure(rates(connection_reset=0.5).model_copy(update={"seed": 1}))

    response = make_client(attempts=2).list_instances()

    assert response["Instances"] == []
    assert [call.fault for call in served.recorder.calls] == ["connection_reset", None]


def test_the_same_seed_repeats_the_same_faults_over_the_wire(
    served: Served, make_client: Any
) -> None:
    config = rates(throttling=0.2, http_500=0.2, connection_reset=0.2).model_copy(
        update={"seed": 11}
    )
    client = make_client()
    runs = []
    for _ in range(2):
        served.layer.configure(config)
        served.recorder.reset()
        for _ in range(20):
            with contextlib.suppress(
                botocore.exceptions.ClientError, botocore.exceptions.ConnectionClosedError
            ):
                client.list_instances()
        runs.append([(call.status, call.fault) for call in served.recorder.calls])

    assert runs[0] == runs[1]
    assert {fault for _, fault in runs[0]} == {None, "throttling", "http_500", "connection_reset"}
