"""Every response of the test suite is checked against botocore's output shape.

``tests/conftest.py`` sets ``RECONCILER_SANDBOX_SHAPE_CHECK=1`` for the session, so every
``Sandbox`` (whatever fixture or test made it) checks each JSON response it sends, and the
session fails when any sandbox sent one that breaks the shape (``pytest_sessionfinish``).
These tests pin the pieces of that arrangement.
"""

from __future__ import annotations

import boto3
import pytest

from reconciler.sandbox import Sandbox
from reconciler.sandbox.faults import FaultConfig
from reconciler.sandbox.server import SHAPE_CHECK_VARIABLE, shape_violations_seen


def test_a_sandbox_made_in_the_test_suite_checks_shapes_without_being_asked() -> None:
    assert Sandbox().shape_check is True


def test_outside_the_test_suite_shape_checking_is_off_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SHAPE_CHECK_VARIABLE)

    assert Sandbox().shape_check is False


def test_an_explicit_choice_wins_over_the_variable() -> None:
    assert Sandbox(shape_check=False).shape_check is False


def test_dynamodb_create_table_is_answered_within_the_shape() -> None:
    """moto answers NumberOfDecreasesToday 0 (botocore's model says min 1; AWS sends 0 for a
    new table): the sandbox's answer must not count as a violation."""
    with Sandbox(faults=FaultConfig.parse("none")) as sandbox:
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=sandbox.endpoint_url,
            region_name=sandbox.settings.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        dynamodb.create_table(
            TableName="locks",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.describe_table(TableName="locks")

        assert sandbox.fault_layer.shape_violations == []
        assert sandbox.recorder.count_by_operation(service="dynamodb") == {
            "CreateTable": 1,
            "DescribeTable": 1,
        }


def test_no_sandbox_of_this_session_has_broken_a_shape_so_far() -> None:
    assert shape_violations_seen() == []
