"""identitystore: UpdateUser/UpdateGroup, delete cascades, pagination, unique-attribute
lookups, response shapes.

Sources: botocore's ``identitystore`` model (AttributeOperation, required output members
UserArn/GroupArn/MembershipArn/Revision, MaxResults 1-100) and the Identity Store API reference
(https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.sandbox import SeededOrganization

ID_SHAPE = re.compile(r"[0-9a-f]{10}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_created_user_has_aws_shaped_id_arn_and_revision(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """User ids look like ``<10 hex>-<uuid>`` and DescribeUser carries the members the model
    requires: IdentityStoreId, UserId, UserArn, Revision."""
    user_id = aws.create_user("alice")
    user = ids.describe_user(IdentityStoreId=org.identity_store_id, UserId=user_id)

    assert ID_SHAPE.fullmatch(user_id)
    assert user["UserArn"] == f"arn:aws:identitystore:::user/{user_id}"
    assert user["Revision"] == "1"
    assert user["Name"] == {"GivenName": "alice", "FamilyName": "Example"}


def test_user_names_may_hold_non_ascii_letters(ids: Any, org: SeededOrganization, aws: Any) -> None:
    """UserName pattern ``[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+`` admits any Unicode letter."""
    user_id = aws.create_user("jörg")

    user = ids.describe_user(IdentityStoreId=org.identity_store_id, UserId=user_id)

    assert user["UserName"] == "jörg"


def test_update_user_sets_display_name_and_a_name_part(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """UpdateUser with AttributeOperations ``displayName`` and ``name.givenName`` (model
    AttributeOperation: AttributePath + AttributeValue)."""
    user_id = aws.create_user("alice")

    ids.update_user(
        IdentityStoreId=org.identity_store_id,
        UserId=user_id,
        Operations=[
            {"AttributePath": "displayName", "AttributeValue": "Alice Liddell"},
            {"AttributePath": "name.givenName", "AttributeValue": "Alicia"},
        ],
    )

    user = ids.describe_user(IdentityStoreId=org.identity_store_id, UserId=user_id)
    assert user["DisplayName"] == "Alice Liddell"
    assert user["Name"] == {"GivenName": "Alicia", "FamilyName": "Example"}
    assert user["Revision"] == "2"


def test_update_user_replaces_emails(ids: Any, org: SeededOrganization, aws: Any) -> None:
    """AttributePath ``emails`` replaces the whole list (SCIM-style keys accepted)."""
    user_id = aws.create_user("alice")

    ids.update_user(
        IdentityStoreId=org.identity_store_id,
        UserId=user_id,
        Operations=[
            {
                "AttributePath": "emails",
                "AttributeValue": [{"value": "a@new.example", "type": "work", "primary": True}],
            }
        ],
    )

    user = ids.describe_user(IdentityStoreId=org.identity_store_id, UserId=user_id)
    assert user["Emails"] == [{"Value": "a@new.example", "Type": "work", "Primary": True}]


def test_update_user_to_an_existing_user_name_conflicts(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """UserName is unique in the store: ConflictException (UNIQUENESS_CONSTRAINT_VIOLATION)."""
    aws.create_user("alice")
    bob = aws.create_user("bob")

    with pytest.raises(ClientError) as excinfo:
        ids.update_user(
            IdentityStoreId=org.identity_store_id,
            UserId=bob,
            Operations=[{"AttributePath": "userName", "AttributeValue": "alice"}],
        )

    assert excinfo.value.response["Error"]["Code"] == "ConflictException"


def test_update_user_with_an_unknown_attribute_path_is_rejected(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """An AttributePath naming no user attribute is a ValidationException."""
    user_id = aws.create_user("alice")

    with pytest.raises(ClientError) as excinfo:
        ids.update_user(
            IdentityStoreId=org.identity_store_id,
            UserId=user_id,
            Operations=[{"AttributePath": "shoeSize", "AttributeValue": "42"}],
        )

    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_update_group_sets_display_name_and_description(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """UpdateGroup with AttributePaths ``displayName`` and ``description``."""
    group_id = aws.create_group("admins")

    ids.update_group(
        IdentityStoreId=org.identity_store_id,
        GroupId=group_id,
        Operations=[
            {"AttributePath": "displayName", "AttributeValue": "administrators"},
            {"AttributePath": "description", "AttributeValue": "people who administer"},
        ],
    )

    group = ids.describe_group(IdentityStoreId=org.identity_store_id, GroupId=group_id)
    assert (group["DisplayName"], group["Description"]) == (
        "administrators",
        "people who administer",
    )


def test_deleting_a_user_deletes_its_memberships(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """A deleted user is no member of any group any more (moto leaves the membership)."""
    user_id = aws.create_user("alice")
    group_id = aws.create_group("admins")
    ids.create_group_membership(
        IdentityStoreId=org.identity_store_id, GroupId=group_id, MemberId={"UserId": user_id}
    )

    ids.delete_user(IdentityStoreId=org.identity_store_id, UserId=user_id)

    memberships = ids.list_group_memberships(
        IdentityStoreId=org.identity_store_id, GroupId=group_id
    )["GroupMemberships"]
    assert memberships == []


def test_deleting_a_group_deletes_its_memberships(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """A deleted group leaves no membership behind for its members."""
    user_id = aws.create_user("alice")
    group_id = aws.create_group("admins")
    ids.create_group_membership(
        IdentityStoreId=org.identity_store_id, GroupId=group_id, MemberId={"UserId": user_id}
    )

    ids.delete_group(IdentityStoreId=org.identity_store_id, GroupId=group_id)

    memberships = ids.list_group_memberships_for_member(
        IdentityStoreId=org.identity_store_id, MemberId={"UserId": user_id}
    )["GroupMemberships"]
    assert memberships == []


def test_deleting_an_unknown_user_is_not_found(ids: Any, org: SeededOrganization) -> None:
    """DeleteUser of an id that does not exist: ResourceNotFoundException (moto ignores it)."""
    with pytest.raises(ClientError) as excinfo:
        ids.delete_user(
            IdentityStoreId=org.identity_store_id,
            UserId=org.identity_store_id[2:] + "-00000000-0000-4000-8000-000000000000",
        )

    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_second_identical_membership_conflicts(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """CreateGroupMembership for an existing (group, user) pair: ConflictException."""
    user_id = aws.create_user("alice")
    group_id = aws.create_group("admins")
    membership = {
        "IdentityStoreId": org.identity_store_id,
        "GroupId": group_id,
        "MemberId": {"UserId": user_id},
    }
    ids.create_group_membership(**membership)

    with pytest.raises(ClientError) as excinfo:
        ids.create_group_membership(**membership)

    assert excinfo.value.response["Error"]["Code"] == "ConflictException"


def test_list_users_returns_at_most_100_per_page(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """ListUsers: MaxResults 1-100, default 100, NextToken to the rest (botocore model)."""
    for i in range(101):
        aws.create_user(f"user{i:03d}")

    first = ids.list_users(IdentityStoreId=org.identity_store_id)
    second = ids.list_users(IdentityStoreId=org.identity_store_id, NextToken=first["NextToken"])

    assert len(first["Users"]) == 100
    assert len(second["Users"]) == 1
    assert "NextToken" not in second


def test_groups_and_memberships_page_with_next_token(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """ListGroups and ListGroupMemberships page with MaxResults and NextToken (paginators)."""
    user_ids = [aws.create_user(f"user{i}") for i in range(3)]
    group_ids = [aws.create_group(f"group{i}") for i in range(3)]
    for user_id in user_ids:
        ids.create_group_membership(
            IdentityStoreId=org.identity_store_id,
            GroupId=group_ids[0],
            MemberId={"UserId": user_id},
        )

    groups = list(
        ids.get_paginator("list_groups").paginate(
            IdentityStoreId=org.identity_store_id, PaginationConfig={"PageSize": 2}
        )
    )
    memberships = list(
        ids.get_paginator("list_group_memberships").paginate(
            IdentityStoreId=org.identity_store_id,
            GroupId=group_ids[0],
            PaginationConfig={"PageSize": 2},
        )
    )

    assert [len(p["Groups"]) for p in groups] == [2, 1]
    assert [len(p["GroupMemberships"]) for p in memberships] == [2, 1]
    assert {m["MemberId"]["UserId"] for p in memberships for m in p["GroupMemberships"]} == set(
        user_ids
    )


def test_get_user_id_finds_a_user_by_user_name_and_by_email(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """GetUserId with UniqueAttribute ``userName`` or ``emails.value`` (API reference)."""
    user_id = aws.create_user("alice")

    by_name = ids.get_user_id(
        IdentityStoreId=org.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "alice"}
        },
    )
    by_email = ids.get_user_id(
        IdentityStoreId=org.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {
                "AttributePath": "emails.value",
                "AttributeValue": "alice@example.com",
            }
        },
    )

    assert by_name["UserId"] == by_email["UserId"] == user_id


def test_get_group_id_finds_a_group_by_display_name(
    ids: Any, org: SeededOrganization, aws: Any
) -> None:
    """GetGroupId with UniqueAttribute ``displayName``; an unknown name is ResourceNotFound."""
    group_id = aws.create_group("admins")

    found = ids.get_group_id(
        IdentityStoreId=org.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "admins"}
        },
    )
    with pytest.raises(ClientError) as excinfo:
        ids.get_group_id(
            IdentityStoreId=org.identity_store_id,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "nobody"}
            },
        )

    assert found["GroupId"] == group_id
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_unknown_identity_store_is_not_found(ids: Any, org: SeededOrganization) -> None:
    """An identity store id that belongs to no instance: ResourceNotFoundException."""
    with pytest.raises(ClientError) as excinfo:
        ids.list_users(IdentityStoreId="d-0000000000")

    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
