"""sso-admin permission sets: shapes, validation, policies, boundaries, tags, pagination.

Sources: botocore's ``sso-admin`` service model (shapes, patterns, lengths) and the IAM Identity
Center API reference (https://docs.aws.amazon.com/singlesignon/latest/APIReference/).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import SeededOrganization

INSTANCE_ARN = re.compile(r"arn:aws:sso:::instance/ssoins-[a-zA-Z0-9-.]{16}")
PERMISSION_SET_ARN = re.compile(
    r"arn:aws:sso:::permissionSet/ssoins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}"
)
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_instance_arn_and_identity_store_id_have_model_shapes(
    sso: Any, org: SeededOrganization
) -> None:
    """ListInstances/DescribeInstance: InstanceArn pattern
    ``arn:aws:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}`` (botocore model)."""
    instance = sso.list_instances()["Instances"][0]
    described = sso.describe_instance(InstanceArn=org.instance_arn)

    assert INSTANCE_ARN.fullmatch(instance["InstanceArn"])
    assert re.fullmatch(r"d-[0-9a-f]{10}", instance["IdentityStoreId"])
    assert described["Status"] == "ACTIVE"
    assert described["OwnerAccountId"] == org.management_account_id


def test_created_permission_set_has_model_arn_and_default_session_duration(
    sso: Any, org: SeededOrganization
) -> None:
    """CreatePermissionSet: ARN ``arn:aws:sso:::permissionSet/ssoins-<16>/ps-<16>``,
    SessionDuration an ISO-8601 string defaulting to PT1H, CreatedDate a timestamp
    (botocore model; API reference CreatePermissionSet)."""
    created = sso.create_permission_set(InstanceArn=org.instance_arn, Name="Admin")
    described = sso.describe_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=created["PermissionSet"]["PermissionSetArn"]
    )["PermissionSet"]

    assert PERMISSION_SET_ARN.fullmatch(described["PermissionSetArn"])
    assert described["SessionDuration"] == "PT1H"
    assert isinstance(described["CreatedDate"], datetime)


def test_permission_set_names_are_unique_per_instance(sso: Any, org: SeededOrganization) -> None:
    """A second CreatePermissionSet with the same name is a ConflictException (API reference
    CreatePermissionSet lists ConflictException)."""
    sso.create_permission_set(InstanceArn=org.instance_arn, Name="Admin")

    with pytest.raises(ClientError) as excinfo:
        sso.create_permission_set(InstanceArn=org.instance_arn, Name="Admin")

    assert error_code(excinfo) == "ConflictException"


@pytest.mark.parametrize(
    "name",
    ["has space", "x" * 33, "slash/name", "café"],
    ids=["space", "33-chars", "slash", "non-ascii-letter"],
)
def test_permission_set_name_pattern_and_length_are_validated(
    sso: Any, org: SeededOrganization, name: str
) -> None:
    """Name: 1-32 characters of ``[\\w+=,.@-]`` (botocore model PermissionSetName; the
    pattern is a Java regular expression, whose ``\\w`` is ASCII-only)."""
    with pytest.raises(ClientError) as excinfo:
        sso.create_permission_set(InstanceArn=org.instance_arn, Name=name)

    assert error_code(excinfo) == "ValidationException"
    assert "at 'name'" in excinfo.value.response["Error"]["Message"]


def test_description_outside_latin1_is_rejected(sso: Any, org: SeededOrganization) -> None:
    """Description pattern ``[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*``, ≤700
    (botocore model PermissionSetDescription)."""
    with pytest.raises(ClientError) as excinfo:
        sso.create_permission_set(InstanceArn=org.instance_arn, Name="A", Description="café ☕")

    assert error_code(excinfo) == "ValidationException"


def test_description_longer_than_700_is_rejected(sso: Any, org: SeededOrganization) -> None:
    """Description max length 700 (botocore model)."""
    with pytest.raises(ClientError) as excinfo:
        sso.create_permission_set(InstanceArn=org.instance_arn, Name="A", Description="d" * 701)

    assert error_code(excinfo) == "ValidationException"


@pytest.mark.parametrize("duration", ["PT30M", "PT13H", "P1D", "one hour"])
def test_session_duration_outside_pt1h_to_pt12h_is_rejected(
    sso: Any, org: SeededOrganization, duration: str
) -> None:
    """SessionDuration is an ISO-8601 duration between 1 and 12 hours (API reference
    CreatePermissionSet: "The length of time that the application user sessions are valid in
    the ISO-8601 standard"; IAM Identity Center user guide: 1 to 12 hours)."""
    with pytest.raises(ClientError) as excinfo:
        sso.create_permission_set(InstanceArn=org.instance_arn, Name="A", SessionDuration=duration)

    assert error_code(excinfo) == "ValidationException"


def test_relay_state_longer_than_240_is_rejected(sso: Any, org: SeededOrganization) -> None:
    """RelayState max length 240 (botocore model RelayState)."""
    with pytest.raises(ClientError) as excinfo:
        sso.create_permission_set(InstanceArn=org.instance_arn, Name="A", RelayState="r" * 241)

    assert error_code(excinfo) == "ValidationException"


def test_update_permission_set_clears_omitted_relay_state(
    sso: Any, org: SeededOrganization
) -> None:
    """UpdatePermissionSet without RelayState clears it (terraform-provider-aws issue 17411:
    "The AWS SSO API requires we send the RelayState value regardless if it's unchanged else
    the existing Permission Set's RelayState value will be cleared")."""
    arn = sso.create_permission_set(
        InstanceArn=org.instance_arn, Name="A", RelayState="https://console.aws.amazon.com/"
    )["PermissionSet"]["PermissionSetArn"]

    sso.update_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn, Description="d")

    described = sso.describe_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)
    assert "RelayState" not in described["PermissionSet"]


def test_update_permission_set_keeps_omitted_description_and_session_duration(
    sso: Any, org: SeededOrganization
) -> None:
    """Omitted Description and SessionDuration keep their values (only RelayState is cleared;
    terraform-provider-aws sends them "for consistency", issue 17411)."""
    arn = sso.create_permission_set(
        InstanceArn=org.instance_arn, Name="A", Description="kept", SessionDuration="PT4H"
    )["PermissionSet"]["PermissionSetArn"]

    sso.update_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn, RelayState="x")

    described = sso.describe_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)
    assert described["PermissionSet"]["Description"] == "kept"
    assert described["PermissionSet"]["SessionDuration"] == "PT4H"


def test_list_permission_sets_pages_with_opaque_next_token(
    sso: Any, org: SeededOrganization
) -> None:
    """ListPermissionSets pages by MaxResults with a NextToken until the last page (botocore
    model; paginator ListPermissionSets)."""
    created = {
        sso.create_permission_set(InstanceArn=org.instance_arn, Name=f"Set{i}")["PermissionSet"][
            "PermissionSetArn"
        ]
        for i in range(5)
    }
    pages = list(
        sso.get_paginator("list_permission_sets").paginate(
            InstanceArn=org.instance_arn, PaginationConfig={"PageSize": 2}
        )
    )

    assert [len(page["PermissionSets"]) for page in pages] == [2, 2, 1]
    assert {arn for page in pages for arn in page["PermissionSets"]} == created
    assert "NextToken" not in pages[-1]


def test_list_permission_sets_returns_at_most_100_per_page(
    sso: Any, org: SeededOrganization
) -> None:
    """MaxResults defaults to, and is capped at, 100 (botocore model MaxResults 1-100)."""
    for i in range(101):
        sso.create_permission_set(InstanceArn=org.instance_arn, Name=f"Set{i}")

    first = sso.list_permission_sets(InstanceArn=org.instance_arn)
    second = sso.list_permission_sets(InstanceArn=org.instance_arn, NextToken=first["NextToken"])

    assert len(first["PermissionSets"]) == 100
    assert len(second["PermissionSets"]) == 1


def test_max_results_above_100_is_a_validation_error(sso: Any, org: SeededOrganization) -> None:
    """MaxResults range 1-100 (botocore model)."""
    with pytest.raises(ClientError) as excinfo:
        sso.list_permission_sets(InstanceArn=org.instance_arn, MaxResults=101)

    assert error_code(excinfo) == "ValidationException"


def test_next_token_of_another_request_is_rejected(sso: Any, org: SeededOrganization) -> None:
    """A NextToken is valid only for the request that produced it (AWS rejects a foreign
    token with ValidationException)."""
    for i in range(3):
        sso.create_permission_set(InstanceArn=org.instance_arn, Name=f"Set{i}")
    token = sso.list_permission_sets(InstanceArn=org.instance_arn, MaxResults=1)["NextToken"]

    with pytest.raises(ClientError) as excinfo:
        sso.list_instances(NextToken=token)

    assert error_code(excinfo) == "ValidationException"


def test_inline_policy_is_put_read_and_deleted(sso: Any, org: SeededOrganization) -> None:
    """Put/Get/DeleteInlinePolicy(To|For|From)PermissionSet round trip (API reference)."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    sso.put_inline_policy_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, InlinePolicy=POLICY
    )
    stored = sso.get_inline_policy_for_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )["InlinePolicy"]
    sso.delete_inline_policy_from_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)
    after = sso.get_inline_policy_for_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )

    assert json.loads(stored) == json.loads(POLICY)
    assert "InlinePolicy" not in after


def test_inline_policy_longer_than_32768_is_rejected(sso: Any, org: SeededOrganization) -> None:
    """InlinePolicy max length 32,768 (botocore model PermissionSetPolicyDocument)."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    huge = json.dumps({"Version": "2012-10-17", "Statement": [], "Pad": "x" * 32768})

    with pytest.raises(ClientError) as excinfo:
        sso.put_inline_policy_to_permission_set(
            InstanceArn=org.instance_arn, PermissionSetArn=arn, InlinePolicy=huge
        )

    assert error_code(excinfo) == "ValidationException"


def test_aws_managed_policy_arn_with_a_path_is_accepted(sso: Any, org: SeededOrganization) -> None:
    """ManagedPolicyArn pattern allows a path (``arn:aws:iam::aws:policy/job-function/...``,
    botocore model ManagedPolicyArn); the listed Name is the last segment."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=VIEW_ONLY
    )

    listed = sso.list_managed_policies_in_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )["AttachedManagedPolicies"]
    assert listed == [{"Name": "ViewOnlyAccess", "Arn": VIEW_ONLY}]


def test_unknown_aws_managed_policy_is_rejected(sso: Any, org: SeededOrganization) -> None:
    """Attaching an AWS-managed ARN that names no policy fails (AWS: ValidationException
    "Policy ... does not exist"), here checked against moto's copy of AWS's policy list."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]

    with pytest.raises(ClientError) as excinfo:
        sso.attach_managed_policy_to_permission_set(
            InstanceArn=org.instance_arn,
            PermissionSetArn=arn,
            ManagedPolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy",
        )

    assert error_code(excinfo) == "ValidationException"


def test_managed_policy_detach_removes_it(sso: Any, org: SeededOrganization) -> None:
    """DetachManagedPolicyFromPermissionSet removes the policy from the listing."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=READ_ONLY
    )
    sso.detach_managed_policy_from_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=READ_ONLY
    )

    listed = sso.list_managed_policies_in_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )
    assert listed["AttachedManagedPolicies"] == []


def test_more_policies_than_the_quota_is_service_quota_exceeded(
    sso: Any, org: SeededOrganization
) -> None:
    """Managed + customer-managed policies per set are capped at IAM's managed-policies-per-role
    quota, 10 by default (IAM user guide, IAM quotas); Attach... lists
    ServiceQuotaExceededException (botocore model)."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    for i in range(10):
        sso.attach_customer_managed_policy_reference_to_permission_set(
            InstanceArn=org.instance_arn,
            PermissionSetArn=arn,
            CustomerManagedPolicyReference={"Name": f"Policy{i}"},
        )

    with pytest.raises(ClientError) as excinfo:
        sso.attach_managed_policy_to_permission_set(
            InstanceArn=org.instance_arn, PermissionSetArn=arn, ManagedPolicyArn=READ_ONLY
        )

    assert error_code(excinfo) == "ServiceQuotaExceededException"


def test_customer_managed_policy_references_default_to_root_path(
    sso: Any, org: SeededOrganization
) -> None:
    """CustomerManagedPolicyReference Path is optional and ``/`` by default (API reference
    CustomerManagedPolicyReference)."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        CustomerManagedPolicyReference={"Name": "Mine"},
    )
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=org.instance_arn,
        PermissionSetArn=arn,
        CustomerManagedPolicyReference={"Name": "Theirs", "Path": "/team/"},
    )

    listed = sso.list_customer_managed_policy_references_in_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )["CustomerManagedPolicyReferences"]
    assert sorted(listed, key=lambda r: r["Name"]) == [
        {"Name": "Mine", "Path": "/"},
        {"Name": "Theirs", "Path": "/team/"},
    ]


def test_permissions_boundary_is_put_read_and_deleted(sso: Any, org: SeededOrganization) -> None:
    """Put/Get/DeletePermissionsBoundary...; Get without a boundary is ResourceNotFound
    (API reference GetPermissionsBoundaryForPermissionSet lists ResourceNotFoundException)."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    boundary = {"CustomerManagedPolicyReference": {"Name": "Boundary", "Path": "/"}}
    sso.put_permissions_boundary_to_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn, PermissionsBoundary=boundary
    )
    stored = sso.get_permissions_boundary_for_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )["PermissionsBoundary"]
    sso.delete_permissions_boundary_from_permission_set(
        InstanceArn=org.instance_arn, PermissionSetArn=arn
    )

    assert stored == boundary
    with pytest.raises(ClientError) as excinfo:
        sso.get_permissions_boundary_for_permission_set(
            InstanceArn=org.instance_arn, PermissionSetArn=arn
        )
    assert error_code(excinfo) == "ResourceNotFoundException"


def test_tags_are_set_at_creation_and_by_tag_resource(sso: Any, org: SeededOrganization) -> None:
    """Tags at CreatePermissionSet, TagResource (existing key overwritten), UntagResource,
    ListTagsForResource (API reference)."""
    arn = sso.create_permission_set(
        InstanceArn=org.instance_arn, Name="A", Tags=[{"Key": "team", "Value": "a"}]
    )["PermissionSet"]["PermissionSetArn"]
    sso.tag_resource(
        InstanceArn=org.instance_arn,
        ResourceArn=arn,
        Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "prod"}],
    )
    sso.untag_resource(InstanceArn=org.instance_arn, ResourceArn=arn, TagKeys=["env"])

    tags = sso.list_tags_for_resource(InstanceArn=org.instance_arn, ResourceArn=arn)["Tags"]
    assert tags == [{"Key": "team", "Value": "b"}]


def test_deleted_permission_set_is_not_found(sso: Any, org: SeededOrganization) -> None:
    """DescribePermissionSet of a deleted set is ResourceNotFoundException."""
    arn = sso.create_permission_set(InstanceArn=org.instance_arn, Name="A")["PermissionSet"][
        "PermissionSetArn"
    ]
    sso.delete_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)

    with pytest.raises(ClientError) as excinfo:
        sso.describe_permission_set(InstanceArn=org.instance_arn, PermissionSetArn=arn)

    assert error_code(excinfo) == "ResourceNotFoundException"
