"""The output-shape check: responses are held to botocore's output shapes, as AWS's are.

``check_output_shape`` is exercised on hand-written bodies; the fault layer's ``shape_check`` in
front of a fake simulator (in-process and over a real loopback server with boto3); and once in
front of plain moto 5.2.5, to show the check finds the gaps DESIGN.md lists.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import boto3
import botocore.config
import botocore.exceptions
import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import Client

from reconciler.sandbox.faults import (
    CallRecorder,
    FaultConfig,
    FaultLayer,
    ShapeViolation,
    check_output_shape,
)

NO_LIMITS = FaultConfig.parse("none")
INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
PERMISSION_SET_ARN = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-1234567890abcdef"
USER_ID = "9067b2e2f1-2bd4f6f8-8e0a-4c3f-9d2b-1c2d3e4f5a6b"


def permission_set(**changes: Any) -> dict[str, Any]:
    """A DescribePermissionSet body as AWS sends it, with ``changes`` applied (None: remove)."""
    document: dict[str, Any] = {
        "Name": "ReadOnly",
        "PermissionSetArn": PERMISSION_SET_ARN,
        "Description": "Read-only access",
        "CreatedDate": 1700000000.123,
        "SessionDuration": "PT1H",
    }
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return {"PermissionSet": document}


def violations_of(service: str, operation: str, document: object) -> list[tuple[str, str]]:
    """(path, rule) of each violation of ``document`` sent as ``operation``'s response."""
    body = json.dumps(document).encode()
    found = check_output_shape(service=service, operation=operation, body=body)
    return [(v.path, v.rule) for v in found]


# ---------------------------------------------------------------------------------------------
# check_output_shape
# ---------------------------------------------------------------------------------------------


def test_a_well_formed_body_has_no_violation() -> None:
    assert violations_of("sso-admin", "DescribePermissionSet", permission_set()) == []


def test_a_missing_required_member_is_a_violation() -> None:
    body = {"IdentityStoreId": "d-1234567890", "Revision": "1"}

    found = violations_of("identitystore", "DescribeUser", body)

    assert ("$.UserId", "required") in found
    assert ("$.UserArn", "required") in found


def test_a_null_required_member_counts_as_missing() -> None:
    body = {"IdentityStoreId": "d-1234567890", "UserId": None}

    assert ("$.UserId", "required") in violations_of("identitystore", "DescribeUser", body)


def test_an_integer_session_duration_is_a_type_violation() -> None:
    found = violations_of(
        "sso-admin", "DescribePermissionSet", permission_set(SessionDuration=3600)
    )

    assert found == [("$.PermissionSet.SessionDuration", "type")]


def test_a_string_outside_the_pattern_is_a_violation() -> None:
    moto_style_arn = f"{INSTANCE_ARN}/ps-1234567890abcdef"

    found = violations_of(
        "sso-admin", "DescribePermissionSet", permission_set(PermissionSetArn=moto_style_arn)
    )

    assert found == [("$.PermissionSet.PermissionSetArn", "pattern")]


def test_a_value_outside_the_enum_is_a_violation() -> None:
    body = {"AccountAssignmentCreationStatus": {"Status": "DONE"}}

    found = violations_of("sso-admin", "DescribeAccountAssignmentCreationStatus", body)

    assert found == [("$.AccountAssignmentCreationStatus.Status", "enum")]


def test_a_string_longer_than_the_maximum_is_a_violation() -> None:
    found = violations_of("sso-admin", "DescribePermissionSet", permission_set(Name="N" * 33))

    assert found == [("$.PermissionSet.Name", "max_length")]


def test_a_string_shorter_than_the_minimum_is_a_violation() -> None:
    found = violations_of("sso-admin", "DescribePermissionSet", permission_set(Description=""))

    assert found == [("$.PermissionSet.Description", "min_length")]


def test_a_timestamp_sent_as_text_is_a_violation() -> None:
    found = violations_of(
        "sso-admin", "DescribePermissionSet", permission_set(CreatedDate="2024-01-01T00:00:00Z")
    )

    assert found == [("$.PermissionSet.CreatedDate", "type")]


def test_list_items_are_checked_with_their_index_in_the_path() -> None:
    body = {"PermissionSets": [PERMISSION_SET_ARN, "not-an-arn"]}

    found = violations_of("sso-admin", "ListPermissionSets", body)

    assert found == [("$.PermissionSets[1]", "pattern")]


def test_a_null_list_item_is_a_violation() -> None:
    found = violations_of("sso-admin", "ListPermissionSets", {"PermissionSets": [None]})

    assert found == [("$.PermissionSets[0]", "null")]


def test_a_list_longer_than_the_maximum_is_a_violation() -> None:
    user = {
        "IdentityStoreId": "d-1234567890",
        "UserId": USER_ID,
        "UserArn": f"arn:aws:identitystore:::user/{USER_ID}",
        "Revision": "1",
        "Emails": [{"Value": "a@example.com"}, {"Value": "b@example.com"}],
    }

    found = violations_of("identitystore", "DescribeUser", user)

    assert found == [("$.Emails", "max_items")]


def test_map_values_are_checked_under_their_key() -> None:
    found = violations_of("dynamodb", "GetItem", {"Item": {"pk": {"N": 5}}})

    assert found == [('$.Item["pk"].N', "type")]


def test_java_word_characters_are_ascii_only() -> None:
    found = violations_of("sso-admin", "DescribePermissionSet", permission_set(Name="Lesefähig"))

    assert found == [("$.PermissionSet.Name", "pattern")]


def test_unicode_letter_classes_accept_non_ascii_letters() -> None:
    user = {
        "IdentityStoreId": "d-1234567890",
        "UserId": USER_ID,
        "UserArn": f"arn:aws:identitystore:::user/{USER_ID}",
        "Revision": "1",
        "DisplayName": "Zoë Müller 山田",
    }

    assert violations_of("identitystore", "DescribeUser", user) == []


def test_members_unknown_to_the_model_are_ignored_as_botocore_does() -> None:
    body = permission_set()
    body["PermissionSet"]["MotoInternal"] = 42

    assert violations_of("sso-admin", "DescribePermissionSet", body) == []


def test_a_body_that_is_not_json_is_a_violation() -> None:
    found = check_output_shape(
        service="sso-admin", operation="ListInstances", body=b"<html>oops</html>"
    )

    assert [(v.path, v.rule) for v in found] == [("$", "json")]


def test_a_violation_names_service_operation_path_and_rule() -> None:
    (violation,) = check_output_shape(
        service="sso-admin",
        operation="DescribePermissionSet",
        body=json.dumps(permission_set(SessionDuration=3600)).encode(),
    )

    assert violation == ShapeViolation(
        service="sso-admin",
        operation="DescribePermissionSet",
        path="$.PermissionSet.SessionDuration",
        rule="type",
        message="3600 where the model has a string",
    )


def test_an_unknown_operation_yields_no_violation() -> None:
    assert check_output_shape(service="sso-admin", operation="Nope", body=b"[]") == []


# ---------------------------------------------------------------------------------------------
# The layer's shape_check
# ---------------------------------------------------------------------------------------------


class CannedSimulator:
    """Answers every call with ``self.status`` and ``self.document``."""

    def __init__(self) -> None:
        self.status = 200
        self.document: object = permission_set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        payload = json.dumps(self.document).encode()
        start_response(
            f"{self.status} Canned",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))],
        )
        return [payload]


@pytest.fixture
def simulator() -> CannedSimulator:
    return CannedSimulator()


@pytest.fixture
def recorder() -> CallRecorder:
    return CallRecorder()


@pytest.fixture
def layer(simulator: CannedSimulator, recorder: CallRecorder) -> FaultLayer:
    return FaultLayer(simulator, config=NO_LIMITS, recorder=recorder, shape_check=True)


def describe(layer: FaultLayer) -> Any:
    return Client(layer).post(
        "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "SWBExternalService.DescribePermissionSet",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )


def test_the_layer_passes_a_well_formed_response(layer: FaultLayer) -> None:
    response = describe(layer)

    assert response.status_code == 200
    assert layer.shape_violations == []


def test_the_layer_answers_500_naming_the_violation(
    layer: FaultLayer, simulator: CannedSimulator, recorder: CallRecorder
) -> None:
    simulator.document = permission_set(SessionDuration=3600)

    response = describe(layer)

    assert response.status_code == 500
    error = json.loads(response.data)
    assert error["__type"] == "SandboxShapeViolation"
    assert "$.PermissionSet.SessionDuration: type" in error["message"]
    assert [v.path for v in layer.shape_violations] == ["$.PermissionSet.SessionDuration"]
    assert recorder.calls[-1].fault == "shape_violation"


def test_the_layer_leaves_error_responses_unchecked(
    layer: FaultLayer, simulator: CannedSimulator
) -> None:
    simulator.status = 400
    simulator.document = {"__type": "ConflictException", "Message": "conflicting operation"}

    assert describe(layer).status_code == 400
    assert layer.shape_violations == []


def test_without_shape_check_a_malformed_response_passes(
    simulator: CannedSimulator, recorder: CallRecorder
) -> None:
    layer = FaultLayer(simulator, config=NO_LIMITS, recorder=recorder)
    simulator.document = permission_set(SessionDuration=3600)

    assert describe(layer).status_code == 200


def test_reset_shape_violations_forgets_them(layer: FaultLayer, simulator: CannedSimulator) -> None:
    simulator.document = permission_set(SessionDuration=3600)
    describe(layer)

    layer.reset_shape_violations()

    assert layer.shape_violations == []


# ---------------------------------------------------------------------------------------------
# Over the wire, with boto3
# ---------------------------------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Keep test output free of one access-log line per request."""


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serve a WSGI app on 127.0.0.1; yields ``start(app) -> endpoint URL``."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)


def sso_admin(endpoint: str, *, region: str = "us-east-1") -> Any:
    return boto3.client(
        "sso-admin",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def test_boto3_gets_a_well_formed_response_through_the_check(layer: FaultLayer, serve: Any) -> None:
    client = sso_admin(serve(layer))

    described = client.describe_permission_set(
        InstanceArn=INSTANCE_ARN, PermissionSetArn=PERMISSION_SET_ARN
    )
    client.close()

    assert described["PermissionSet"]["SessionDuration"] == "PT1H"


def test_boto3_fails_loudly_on_a_malformed_response(
    layer: FaultLayer, simulator: CannedSimulator, serve: Any
) -> None:
    simulator.document = permission_set(SessionDuration=3600)
    client = sso_admin(serve(layer))

    with pytest.raises(botocore.exceptions.ClientError, match=r"SessionDuration: type") as caught:
        client.describe_permission_set(
            InstanceArn=INSTANCE_ARN, PermissionSetArn=PERMISSION_SET_ARN
        )
    client.close()

    assert caught.value.response["Error"]["Code"] == "SandboxShapeViolation"


def test_the_check_finds_moto_5_2_5_permission_set_gaps(recorder: CallRecorder, serve: Any) -> None:
    # DESIGN.md: moto returns permission-set ARNs of the wrong shape and the default session
    # duration as the integer 3600. A region of its own keeps moto's global state apart.
    from moto.server import DomainDispatcherApplication, create_backend_app  # noqa: PLC0415

    moto_layer = FaultLayer(
        DomainDispatcherApplication(create_backend_app),
        config=NO_LIMITS,
        recorder=recorder,
        shape_check=True,
    )
    client = sso_admin(serve(moto_layer), region="ap-southeast-3")

    with pytest.raises(botocore.exceptions.ClientError):
        client.create_permission_set(InstanceArn=INSTANCE_ARN, Name="ShapeProbe")
    client.close()

    assert {(v.path, v.rule) for v in moto_layer.shape_violations} == {
        ("$.PermissionSet.PermissionSetArn", "pattern"),
        ("$.PermissionSet.SessionDuration", "type"),
    }
