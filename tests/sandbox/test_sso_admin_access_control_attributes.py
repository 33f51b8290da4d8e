"""sso-admin attributes for access control (ABAC): one configuration per instance.

Sources: botocore's ``sso-admin`` service model (``service-2.json``): the operations
CreateInstanceAccessControlAttributeConfiguration, DescribeInstanceAccessControlAttribute-
Configuration, UpdateInstanceAccessControlAttributeConfiguration and DeleteInstanceAccess-
ControlAttributeConfiguration with the errors each lists, the shapes
``AccessControlAttributeList`` (max 50), ``AccessControlAttributeKey`` (1-128,
``[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]+``), ``AccessControlAttributeValueSourceList`` (exactly one)
and ``InstanceAccessControlAttributeConfigurationStatus`` (ENABLED, CREATION_IN_PROGRESS,
CREATION_FAILED); the IAM Identity Center API reference.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from reconciler.sandbox import Sandbox, SeededOrganization
from tests.sandbox.conftest import NO_RETRY

COST_CENTER = {"Key": "CostCenter", "Value": {"Source": ["${path:enterprise.costCenter}"]}}
DEPARTMENT = {"Key": "Department", "Value": {"Source": ["${path:enterprise.department}"]}}


def configuration(*attributes: dict[str, Any]) -> dict[str, Any]:
    return {"AccessControlAttributes": list(attributes)}


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture
def unchecked_sso(sandbox: Sandbox) -> Any:
    """An sso-admin client that sends what it is given (no client-side parameter validation),
    so that the sandbox's own ValidationException is what answers a bad shape."""
    return boto3.client(
        "sso-admin",
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.settings.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRY.merge(Config(parameter_validation=False)),
    )


def test_describe_without_a_configuration_is_resource_not_found(
    sso: Any, org: SeededOrganization
) -> None:
    """DescribeInstanceAccessControlAttributeConfiguration lists ResourceNotFoundException:
    an instance with no ABAC configuration has nothing to describe."""
    with pytest.raises(ClientError) as excinfo:
        sso.describe_instance_access_control_attribute_configuration(InstanceArn=org.instance_arn)

    assert error_code(excinfo) == "ResourceNotFoundException"


def test_created_configuration_is_described_enabled_with_its_attributes(
    sso: Any, org: SeededOrganization
) -> None:
    """CreateInstanceAccessControlAttributeConfiguration returns an empty structure; Describe
    answers Status ENABLED and the attributes as created."""
    created = sso.create_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn,
        InstanceAccessControlAttributeConfiguration=configuration(COST_CENTER, DEPARTMENT),
    )

    described = sso.describe_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn
    )
    assert {k: v for k, v in created.items() if k != "ResponseMetadata"} == {}
    assert described["Status"] == "ENABLED"
    assert described["InstanceAccessControlAttributeConfiguration"] == configuration(
        COST_CENTER, DEPARTMENT
    )


def test_creating_a_second_configuration_conflicts(sso: Any, org: SeededOrganization) -> None:
    """CreateInstanceAccessControlAttributeConfiguration lists ConflictException: one
    configuration per instance (one made in the console makes Create fail too)."""
    sso.create_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn,
        InstanceAccessControlAttributeConfiguration=configuration(COST_CENTER),
    )

    with pytest.raises(ClientError) as excinfo:
        sso.create_instance_access_control_attribute_configuration(
            InstanceArn=org.instance_arn,
            InstanceAccessControlAttributeConfiguration=configuration(DEPARTMENT),
        )

    assert error_code(excinfo) == "ConflictException"


def test_update_replaces_every_attribute(sso: Any, org: SeededOrganization) -> None:
    """UpdateInstanceAccessControlAttributeConfiguration takes the whole list."""
    sso.create_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn,
        InstanceAccessControlAttributeConfiguration=configuration(COST_CENTER),
    )

    sso.update_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn,
        InstanceAccessControlAttributeConfiguration=configuration(DEPARTMENT),
    )

    described = sso.describe_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn
    )
    assert described["InstanceAccessControlAttributeConfiguration"] == configuration(DEPARTMENT)


def test_update_without_a_configuration_is_resource_not_found(
    sso: Any, org: SeededOrganization
) -> None:
    """UpdateInstanceAccessControlAttributeConfiguration lists ResourceNotFoundException."""
    with pytest.raises(ClientError) as excinfo:
        sso.update_instance_access_control_attribute_configuration(
            InstanceArn=org.instance_arn,
            InstanceAccessControlAttributeConfiguration=configuration(COST_CENTER),
        )

    assert error_code(excinfo) == "ResourceNotFoundException"


def test_delete_removes_the_configuration(sso: Any, org: SeededOrganization) -> None:
    """DeleteInstanceAccessControlAttributeConfiguration disables ABAC and deletes every
    attribute: Describe then finds nothing."""
    sso.create_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn,
        InstanceAccessControlAttributeConfiguration=configuration(COST_CENTER),
    )

    sso.delete_instance_access_control_attribute_configuration(InstanceArn=org.instance_arn)

    with pytest.raises(ClientError) as excinfo:
        sso.describe_instance_access_control_attribute_configuration(InstanceArn=org.instance_arn)
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_delete_without_a_configuration_is_resource_not_found(
    sso: Any, org: SeededOrganization
) -> None:
    """DeleteInstanceAccessControlAttributeConfiguration lists ResourceNotFoundException."""
    with pytest.raises(ClientError) as excinfo:
        sso.delete_instance_access_control_attribute_configuration(InstanceArn=org.instance_arn)

    assert error_code(excinfo) == "ResourceNotFoundException"


def test_an_unknown_instance_is_resource_not_found(sso: Any, org: SeededOrganization) -> None:
    """Every ABAC operation names an instance; one that does not exist is not found."""
    with pytest.raises(ClientError) as excinfo:
        sso.create_instance_access_control_attribute_configuration(
            InstanceArn="arn:aws:sso:::instance/ssoins-0000000000000000",
            InstanceAccessControlAttributeConfiguration=configuration(COST_CENTER),
        )

    assert error_code(excinfo) == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param([{"Key": "Cost Center!", "Value": {"Source": ["x"]}}], id="key-pattern"),
        pytest.param([{"Key": "", "Value": {"Source": ["x"]}}], id="key-empty"),
        pytest.param([{"Key": "K" * 129, "Value": {"Source": ["x"]}}], id="key-too-long"),
        pytest.param([{"Key": "Team", "Value": {"Source": []}}], id="no-source"),
        pytest.param([{"Key": "Team", "Value": {"Source": ["a", "b"]}}], id="two-sources"),
        pytest.param([{"Key": "Team", "Value": {"Source": ["x" * 257]}}], id="source-too-long"),
        pytest.param(
            [{"Key": f"K{index}", "Value": {"Source": ["x"]}} for index in range(51)],
            id="fifty-one-attributes",
        ),
        pytest.param(
            [
                {"Key": "Team", "Value": {"Source": ["a"]}},
                {"Key": "team", "Value": {"Source": ["b"]}},
            ],
            id="duplicate-key",
        ),
    ],
)
def test_a_bad_configuration_is_a_validation_error(
    unchecked_sso: Any, org: SeededOrganization, attributes: list[dict[str, Any]]
) -> None:
    """CreateInstanceAccessControlAttributeConfiguration lists ValidationException; the
    shapes' limits are those of the model (see the module docstring)."""
    with pytest.raises(ClientError) as excinfo:
        unchecked_sso.create_instance_access_control_attribute_configuration(
            InstanceArn=org.instance_arn,
            InstanceAccessControlAttributeConfiguration={"AccessControlAttributes": attributes},
        )

    assert error_code(excinfo) == "ValidationException"


def test_a_refused_update_leaves_the_configuration_as_it_was(
    unchecked_sso: Any, sso: Any, org: SeededOrganization
) -> None:
    """UpdateInstanceAccessControlAttributeConfiguration lists ValidationException; a refused
    request changes nothing."""
    sso.create_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn,
        InstanceAccessControlAttributeConfiguration=configuration(COST_CENTER),
    )

    with pytest.raises(ClientError) as excinfo:
        unchecked_sso.update_instance_access_control_attribute_configuration(
            InstanceArn=org.instance_arn,
            InstanceAccessControlAttributeConfiguration=configuration(
                {"Key": "Team", "Value": {"Source": ["a", "b"]}}
            ),
        )

    assert error_code(excinfo) == "ValidationException"
    described = sso.describe_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn
    )
    assert described["InstanceAccessControlAttributeConfiguration"] == configuration(COST_CENTER)


def test_an_empty_list_is_a_valid_configuration(sso: Any, org: SeededOrganization) -> None:
    """``AccessControlAttributeList`` has min 0: ABAC enabled with no attribute."""
    sso.create_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn,
        InstanceAccessControlAttributeConfiguration=configuration(),
    )

    described = sso.describe_instance_access_control_attribute_configuration(
        InstanceArn=org.instance_arn
    )
    assert described["InstanceAccessControlAttributeConfiguration"] == configuration()
