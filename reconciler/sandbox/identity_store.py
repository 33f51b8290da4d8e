"""The identity store API (X-Amz-Target ``AWSIdentityStore.<Operation>``) over moto's
identitystore backend objects, fixing where moto falls short.

moto 5.2.5 lacks UpdateUser and UpdateGroup, leaves memberships behind when a user or group is
deleted, accepts duplicate memberships, ignores deletes of unknown ids, and omits members the
current botocore model requires (UserArn, GroupArn, MembershipArn, Revision). Users, groups and
memberships stay in moto's ``IdentityStoreData`` (so anything reading moto sees them); the
extension keeps ARNs, revisions and timestamps beside them.

IDs follow AWS's shape ``<10 hex of the store id>-<uuid4>`` and ARNs
``arn:aws:identitystore:::user/<id>`` (botocore model patterns). List calls page at 100.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.identitystore.models import Group, IdentityStoreData, Name, User, identitystore_backends

from reconciler.sandbox.errors import ServiceError, conflict, not_found, validation_error
from reconciler.sandbox.protocol import Handler, JsonService, paginate, snake_case

#: Operations answered here; every other identitystore operation goes to moto.
OPERATIONS = (
    "CreateUser",
    "DescribeUser",
    "UpdateUser",
    "DeleteUser",
    "ListUsers",
    "GetUserId",
    "CreateGroup",
    "DescribeGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "GetGroupId",
    "CreateGroupMembership",
    "DeleteGroupMembership",
    "DescribeGroupMembership",
    "GetGroupMembershipId",
    "ListGroupMemberships",
    "ListGroupMembershipsForMember",
    "IsMemberInGroups",
)

_USER_SCALARS = {
    "username": "UserName",
    "displayname": "DisplayName",
    "nickname": "NickName",
    "profileurl": "ProfileUrl",
    "usertype": "UserType",
    "title": "Title",
    "preferredlanguage": "PreferredLanguage",
    "locale": "Locale",
    "timezone": "Timezone",
}
_USER_LISTS = {"emails": "Emails", "addresses": "Addresses", "phonenumbers": "PhoneNumbers"}
_NAME_PARTS = {
    "formatted": "Formatted",
    "familyname": "FamilyName",
    "givenname": "GivenName",
    "middlename": "MiddleName",
    "honorificprefix": "HonorificPrefix",
    "honorificsuffix": "HonorificSuffix",
}
_LIST_ITEM_KEYS = {
    "value": "Value",
    "type": "Type",
    "primary": "Primary",
    "streetaddress": "StreetAddress",
    "locality": "Locality",
    "region": "Region",
    "postalcode": "PostalCode",
    "country": "Country",
    "formatted": "Formatted",
}


@dataclass
class _Meta:
    created: datetime
    updated: datetime
    revision: int = 1


@dataclass
class _StoreMeta:
    resources: dict[str, _Meta] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


def _member(params: dict[str, Any], name: str) -> Any:
    """A request member, or None when absent."""
    return params.get(name)


def _normalize_item(value: Any) -> Any:
    """SCIM-style ``{"value": ..., "type": ...}`` documents to the API's ``Value``/``Type``."""
    if isinstance(value, dict):
        return {_LIST_ITEM_KEYS.get(k.lower(), k): v for k, v in value.items()}
    return value


class IdentityStoreApi:
    """Identity store request handlers over moto's backend for ``account_id`` and ``region``.

    ``known_store`` says whether an identity store id belongs to an Identity Center instance;
    requests naming another store get ResourceNotFoundException (ResourceType IDENTITY_STORE).
    """

    def __init__(self, *, account_id: str, region: str, known_store: Callable[[str], bool]) -> None:
        self.account_id = account_id
        self.region = region
        self.known_store = known_store
        self.lock = threading.RLock()
        self._meta: dict[str, _StoreMeta] = {}

    def service(self) -> JsonService:
        """The JSON-1.1 service answering ``OPERATIONS``."""
        handlers: dict[str, Handler] = {
            op: self._locked(getattr(self, snake_case(op))) for op in OPERATIONS
        }
        return JsonService(service="identitystore", handlers=handlers, elsewhere=self.elsewhere)

    @staticmethod
    def elsewhere(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The identity store API in a Region that holds no store: every call names a store
        that does not exist there (as ``store`` answers an unknown one)."""
        store = str(params.get("IdentityStoreId", ""))
        raise not_found(
            f"Identity store {store} does not exist",
            ResourceType="IDENTITY_STORE",
            ResourceId=store,
        )

    def _locked(self, handler: Handler) -> Handler:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            with self.lock:
                return handler(params)

        return run

    # --- storage --------------------------------------------------------------------------

    def store(self, identity_store_id: str) -> IdentityStoreData:
        """moto's data of the store (created on first use), or ResourceNotFoundException."""
        if not self.known_store(identity_store_id):
            raise not_found(
                f"Identity store {identity_store_id} does not exist",
                ResourceType="IDENTITY_STORE",
                ResourceId=identity_store_id,
            )
        backend = identitystore_backends[self.account_id][self.region]
        stores: dict[str, IdentityStoreData] = backend.identity_stores
        return stores.setdefault(identity_store_id, IdentityStoreData())

    def _metadata(self, identity_store_id: str, resource_id: str) -> _Meta:
        store_meta = self._meta.setdefault(identity_store_id, _StoreMeta())
        return store_meta.resources.setdefault(resource_id, _Meta(created=_now(), updated=_now()))

    def _touch(self, identity_store_id: str, resource_id: str) -> None:
        meta = self._metadata(identity_store_id, resource_id)
        meta.updated = _now()
        meta.revision += 1

    def _forget(self, identity_store_id: str, resource_id: str) -> None:
        self._meta.setdefault(identity_store_id, _StoreMeta()).resources.pop(resource_id, None)

    @staticmethod
    def _new_id(identity_store_id: str) -> str:
        prefix = identity_store_id[2:] if identity_store_id.startswith("d-") else ""
        return f"{prefix}-{uuid.uuid4()}" if prefix else str(uuid.uuid4())

    def _user(self, identity_store_id: str, user_id: str) -> User:
        user = self.store(identity_store_id).users.get(user_id)
        if user is None:
            raise not_found("USER not found.", ResourceType="USER", ResourceId=user_id)
        return user

    def _group(self, identity_store_id: str, group_id: str) -> Group:
        group = self.store(identity_store_id).groups.get(group_id)
        if group is None:
            raise not_found("GROUP not found.", ResourceType="GROUP", ResourceId=group_id)
        return group

    # --- rendering ------------------------------------------------------------------------

    def _render_user(self, user: User) -> dict[str, Any]:
        meta = self._metadata(user.IdentityStoreId, user.UserId)
        name = {k: v for k, v in user.Name._asdict().items() if v} if user.Name else None
        return {
            "IdentityStoreId": user.IdentityStoreId,
            "UserId": user.UserId,
            "UserArn": f"arn:aws:identitystore:::user/{user.UserId}",
            "Revision": str(meta.revision),
            "UserName": user.UserName,
            "Name": name or None,
            "DisplayName": user.DisplayName,
            "NickName": user.NickName,
            "ProfileUrl": user.ProfileUrl,
            "Emails": user.Emails or None,
            "Addresses": user.Addresses or None,
            "PhoneNumbers": user.PhoneNumbers or None,
            "UserType": user.UserType,
            "Title": user.Title,
            "PreferredLanguage": user.PreferredLanguage,
            "Locale": user.Locale,
            "Timezone": user.Timezone,
            "UserStatus": "ENABLED",
            "CreatedAt": meta.created,
            "UpdatedAt": meta.updated,
        }

    def _render_group(self, group: Group) -> dict[str, Any]:
        meta = self._metadata(group.IdentityStoreId, group.GroupId)
        return {
            "IdentityStoreId": group.IdentityStoreId,
            "GroupId": group.GroupId,
            "GroupArn": f"arn:aws:identitystore:::group/{group.GroupId}",
            "Revision": str(meta.revision),
            "DisplayName": group.DisplayName,
            "Description": group.Description,
            "CreatedAt": meta.created,
            "UpdatedAt": meta.updated,
        }

    def _render_membership(self, membership: dict[str, Any]) -> dict[str, Any]:
        meta = self._metadata(membership["IdentityStoreId"], membership["MembershipId"])
        return {
            "IdentityStoreId": membership["IdentityStoreId"],
            "MembershipId": membership["MembershipId"],
            "MembershipArn": f"arn:aws:identitystore:::membership/{membership['MembershipId']}",
            "GroupId": membership["GroupId"],
            "MemberId": {"UserId": membership["MemberId"]["UserId"]},
            "CreatedAt": meta.created,
            "UpdatedAt": meta.updated,
        }

    # --- users ----------------------------------------------------------------------------

    def create_user(self, p: dict[str, Any]) -> dict[str, Any]:
        """CreateUser: UserName, DisplayName, Name.GivenName and Name.FamilyName required (as
        moto and the console require); a duplicate UserName is a ConflictException."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        missing = [
            attr
            for attr, present in (
                ("userName", p.get("UserName")),
                ("displayName", p.get("DisplayName")),
                ("name.givenName", (p.get("Name") or {}).get("GivenName")),
                ("name.familyName", (p.get("Name") or {}).get("FamilyName")),
            )
            if not present
        ]
        if missing:
            raise validation_error(
                ", ".join(f"{a}: The attribute {a} is required" for a in missing)
            )
        self._refuse_duplicate_user_name(store, p["UserName"], except_id=None)
        user_id = self._new_id(store_id)
        store.users[user_id] = User(
            user_id,
            store_id,
            p["UserName"],
            Name.from_dict(_member(p, "Name") or {}),
            _member(p, "DisplayName"),
            _member(p, "NickName"),
            _member(p, "ProfileUrl"),
            _member(p, "Emails") or [],
            _member(p, "Addresses") or [],
            _member(p, "PhoneNumbers") or [],
            _member(p, "UserType"),
            _member(p, "Title"),
            _member(p, "PreferredLanguage"),
            _member(p, "Locale"),
            _member(p, "Timezone"),
        )
        self._metadata(store_id, user_id)
        return {
            "IdentityStoreId": store_id,
            "UserId": user_id,
            "UserArn": f"arn:aws:identitystore:::user/{user_id}",
            "Revision": "1",
        }

    @staticmethod
    def _refuse_duplicate_user_name(
        store: IdentityStoreData, user_name: str, *, except_id: str | None
    ) -> None:
        if any(
            u.UserName.lower() == user_name.lower() and u.UserId != except_id
            for u in store.users.values()
        ):
            raise conflict("Duplicate UserName", Reason="UNIQUENESS_CONSTRAINT_VIOLATION")

    def describe_user(self, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeUser; ResourceNotFoundException (ResourceType USER) when absent."""
        return self._render_user(self._user(p["IdentityStoreId"], p["UserId"]))

    def update_user(self, p: dict[str, Any]) -> dict[str, Any]:
        """UpdateUser with AttributeOperations (identitystore API model): AttributePath is
        ``userName``, ``displayName``, ``nickName``, ``profileUrl``, ``userType``, ``title``,
        ``preferredLanguage``, ``locale``, ``timezone``, ``name`` or ``name.<part>``
        (``givenName``, ``familyName``...), ``emails``, ``addresses``, ``phoneNumbers``;
        paths are case-insensitive; an operation without AttributeValue removes the attribute.
        """
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        user = self._user(store_id, p["UserId"])
        changes: dict[str, Any] = {}
        name = dict(user.Name._asdict()) if user.Name else dict.fromkeys(_NAME_PARTS.values())
        name_changed = False
        for operation in p["Operations"]:
            path = operation["AttributePath"].lower()
            value = operation.get("AttributeValue")
            if path in _USER_SCALARS:
                if value is not None and not isinstance(value, str):
                    raise validation_error(
                        f"AttributeValue of {operation['AttributePath']} must be a string"
                    )
                if path == "username":
                    if not value:
                        raise validation_error("userName: The attribute userName is required")
                    self._refuse_duplicate_user_name(store, value, except_id=user.UserId)
                changes[_USER_SCALARS[path]] = value
            elif path in _USER_LISTS:
                if value is not None and not isinstance(value, list):
                    raise validation_error(
                        f"AttributeValue of {operation['AttributePath']} must be a list"
                    )
                changes[_USER_LISTS[path]] = [_normalize_item(v) for v in value or []]
            elif path == "name":
                if value is not None and not isinstance(value, dict):
                    raise validation_error("AttributeValue of name must be an object")
                name = dict.fromkeys(_NAME_PARTS.values())
                for key, part in (value or {}).items():
                    if key.lower() not in _NAME_PARTS:
                        raise validation_error(f"Unknown name attribute {key}")
                    name[_NAME_PARTS[key.lower()]] = part
                name_changed = True
            elif path.startswith("name.") and path[5:] in _NAME_PARTS:
                name[_NAME_PARTS[path[5:]]] = value
                name_changed = True
            else:
                raise validation_error(
                    f"Invalid AttributePath {operation['AttributePath']} for a user"
                )
        if name_changed:
            changes["Name"] = Name.from_dict({k: v for k, v in name.items() if v is not None})
        store.users[user.UserId] = user._replace(**changes)
        self._touch(store_id, user.UserId)
        return {
            "IdentityStoreId": store_id,
            "UserId": user.UserId,
            "UserArn": f"arn:aws:identitystore:::user/{user.UserId}",
            "Revision": str(self._metadata(store_id, user.UserId).revision),
        }

    def delete_user(self, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteUser; also deletes the user's group memberships (moto leaves them)."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        user = self._user(store_id, p["UserId"])
        del store.users[user.UserId]
        self._forget(store_id, user.UserId)
        for membership_id, membership in list(store.group_memberships.items()):
            if membership["MemberId"].get("UserId") == user.UserId:
                del store.group_memberships[membership_id]
                self._forget(store_id, membership_id)
        return {}

    def list_users(self, p: dict[str, Any]) -> dict[str, Any]:
        """ListUsers, optionally filtered on ``UserName`` (the deprecated Filters)."""
        store_id = p["IdentityStoreId"]
        users = list(self.store(store_id).users.values())
        for attribute_filter in p.get("Filters") or []:
            if attribute_filter["AttributePath"].lower() != "username":
                raise validation_error("Filters support only the UserName attribute path")
            users = [u for u in users if u.UserName == attribute_filter["AttributeValue"]]
        page, token = paginate(
            users,
            key=lambda u: u.UserId,
            scope=f"ListUsers:{store_id}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {"Users": [self._render_user(u) for u in page], "NextToken": token}

    def get_user_id(self, p: dict[str, Any]) -> dict[str, Any]:
        """GetUserId by UniqueAttribute ``userName`` or ``emails.value``; ExternalId lookups
        find nothing (the sandbox has no external ids)."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        unique = p["AlternateIdentifier"].get("UniqueAttribute")
        if unique is not None:
            path = unique["AttributePath"].lower()
            value = unique.get("AttributeValue")
            if path not in ("username", "emails.value"):
                raise validation_error(f"The attribute {unique['AttributePath']} is not unique")
            for user in store.users.values():
                if (path == "username" and user.UserName == value) or (
                    path == "emails.value" and any(e.get("Value") == value for e in user.Emails)
                ):
                    return {
                        "IdentityStoreId": store_id,
                        "UserId": user.UserId,
                        "UserArn": f"arn:aws:identitystore:::user/{user.UserId}",
                    }
        raise not_found("USER not found.", ResourceType="USER")

    # --- groups ---------------------------------------------------------------------------

    @staticmethod
    def _refuse_duplicate_group_name(
        store: IdentityStoreData, display_name: str, *, except_id: str | None
    ) -> None:
        if any(
            g.DisplayName.lower() == display_name.lower() and g.GroupId != except_id
            for g in store.groups.values()
        ):
            raise conflict("Duplicate GroupDisplayName", Reason="UNIQUENESS_CONSTRAINT_VIOLATION")

    def create_group(self, p: dict[str, Any]) -> dict[str, Any]:
        """CreateGroup; a duplicate DisplayName is a ConflictException."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        if not p.get("DisplayName"):
            raise validation_error("displayName: The attribute displayName is required")
        self._refuse_duplicate_group_name(store, p["DisplayName"], except_id=None)
        group_id = self._new_id(store_id)
        store.groups[group_id] = Group(
            group_id, p["DisplayName"], [], _member(p, "Description"), store_id
        )
        self._metadata(store_id, group_id)
        return {
            "IdentityStoreId": store_id,
            "GroupId": group_id,
            "GroupArn": f"arn:aws:identitystore:::group/{group_id}",
            "Revision": "1",
        }

    def describe_group(self, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeGroup; ResourceNotFoundException (ResourceType GROUP) when absent."""
        return self._render_group(self._group(p["IdentityStoreId"], p["GroupId"]))

    def update_group(self, p: dict[str, Any]) -> dict[str, Any]:
        """UpdateGroup with AttributeOperations on ``displayName`` or ``description``."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        group = self._group(store_id, p["GroupId"])
        changes: dict[str, Any] = {}
        for operation in p["Operations"]:
            path = operation["AttributePath"].lower()
            value = operation.get("AttributeValue")
            if value is not None and not isinstance(value, str):
                raise validation_error(
                    f"AttributeValue of {operation['AttributePath']} must be a string"
                )
            if path == "displayname":
                if not value:
                    raise validation_error("displayName: The attribute displayName is required")
                self._refuse_duplicate_group_name(store, value, except_id=group.GroupId)
                changes["DisplayName"] = value
            elif path == "description":
                changes["Description"] = value
            else:
                raise validation_error(
                    f"Invalid AttributePath {operation['AttributePath']} for a group"
                )
        store.groups[group.GroupId] = group._replace(**changes)
        self._touch(store_id, group.GroupId)
        return {
            "IdentityStoreId": store_id,
            "GroupId": group.GroupId,
            "GroupArn": f"arn:aws:identitystore:::group/{group.GroupId}",
            "Revision": str(self._metadata(store_id, group.GroupId).revision),
        }

    def delete_group(self, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteGroup; also deletes the group's memberships (moto leaves them)."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        group = self._group(store_id, p["GroupId"])
        del store.groups[group.GroupId]
        self._forget(store_id, group.GroupId)
        for membership_id, membership in list(store.group_memberships.items()):
            if membership["GroupId"] == group.GroupId:
                del store.group_memberships[membership_id]
                self._forget(store_id, membership_id)
        return {}

    def list_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        """ListGroups, optionally filtered on ``DisplayName``."""
        store_id = p["IdentityStoreId"]
        groups = list(self.store(store_id).groups.values())
        for attribute_filter in p.get("Filters") or []:
            if attribute_filter["AttributePath"].lower() != "displayname":
                raise validation_error("Filters support only the DisplayName attribute path")
            groups = [g for g in groups if g.DisplayName == attribute_filter["AttributeValue"]]
        page, token = paginate(
            groups,
            key=lambda g: g.GroupId,
            scope=f"ListGroups:{store_id}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {"Groups": [self._render_group(g) for g in page], "NextToken": token}

    def get_group_id(self, p: dict[str, Any]) -> dict[str, Any]:
        """GetGroupId by UniqueAttribute ``displayName``."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        unique = p["AlternateIdentifier"].get("UniqueAttribute")
        if unique is not None:
            if unique["AttributePath"].lower() != "displayname":
                raise validation_error(f"The attribute {unique['AttributePath']} is not unique")
            for group in store.groups.values():
                if group.DisplayName == unique.get("AttributeValue"):
                    return {
                        "IdentityStoreId": store_id,
                        "GroupId": group.GroupId,
                        "GroupArn": f"arn:aws:identitystore:::group/{group.GroupId}",
                    }
        raise not_found("GROUP not found.", ResourceType="GROUP")

    # --- memberships ----------------------------------------------------------------------

    def create_group_membership(self, p: dict[str, Any]) -> dict[str, Any]:
        """CreateGroupMembership; unknown user or group → ResourceNotFoundException, an
        existing membership → ConflictException."""
        store_id = p["IdentityStoreId"]
        store = self.store(store_id)
        group = self._group(store_id, p["GroupId"])
        user_id = p["MemberId"].get("UserId")
        if not user_id:
            raise validation_error("MemberId.UserId is required")
        self._user(store_id, user_id)
        for membership in store.group_memberships.values():
            if (
                membership["GroupId"] == group.GroupId
                and membership["MemberId"]["UserId"] == user_id
            ):
                raise conflict(
                    "Member is already in the group", Reason="UNIQUENESS_CONSTRAINT_VIOLATION"
                )
        membership_id = self._new_id(store_id)
        store.group_memberships[membership_id] = {
            "IdentityStoreId": store_id,
            "MembershipId": membership_id,
            "GroupId": group.GroupId,
            "MemberId": {"UserId": user_id},
        }
        self._metadata(store_id, membership_id)
        return {
            "IdentityStoreId": store_id,
            "MembershipId": membership_id,
            "MembershipArn": f"arn:aws:identitystore:::membership/{membership_id}",
        }

    def _membership(self, store_id: str, membership_id: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self.store(store_id).group_memberships.get(membership_id)
        if found is None:
            raise not_found(
                "GROUP_MEMBERSHIP not found.",
                ResourceType="GROUP_MEMBERSHIP",
                ResourceId=membership_id,
            )
        return found

    def delete_group_membership(self, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteGroupMembership; ResourceNotFoundException when absent."""
        store_id = p["IdentityStoreId"]
        membership = self._membership(store_id, p["MembershipId"])
        del self.store(store_id).group_memberships[membership["MembershipId"]]
        self._forget(store_id, membership["MembershipId"])
        return {}

    def describe_group_membership(self, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeGroupMembership."""
        return self._render_membership(self._membership(p["IdentityStoreId"], p["MembershipId"]))

    def get_group_membership_id(self, p: dict[str, Any]) -> dict[str, Any]:
        """GetGroupMembershipId for (GroupId, MemberId.UserId)."""
        store_id = p["IdentityStoreId"]
        for membership in self.store(store_id).group_memberships.values():
            if membership["GroupId"] == p["GroupId"] and membership["MemberId"]["UserId"] == p[
                "MemberId"
            ].get("UserId"):
                return {
                    "IdentityStoreId": store_id,
                    "MembershipId": membership["MembershipId"],
                    "MembershipArn": (
                        f"arn:aws:identitystore:::membership/{membership['MembershipId']}"
                    ),
                }
        raise not_found("GROUP_MEMBERSHIP not found.", ResourceType="GROUP_MEMBERSHIP")

    def _list_memberships(
        self, p: dict[str, Any], *, match: Callable[[dict[str, Any]], bool], scope: str
    ) -> dict[str, Any]:
        store_id = p["IdentityStoreId"]
        memberships = [m for m in self.store(store_id).group_memberships.values() if match(m)]
        page, token = paginate(
            memberships,
            key=lambda m: str(m["MembershipId"]),
            scope=scope,
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {"GroupMemberships": [self._render_membership(m) for m in page], "NextToken": token}

    def list_group_memberships(self, p: dict[str, Any]) -> dict[str, Any]:
        """ListGroupMemberships of one group (the group must exist)."""
        group = self._group(p["IdentityStoreId"], p["GroupId"])
        return self._list_memberships(
            p,
            match=lambda m: bool(m["GroupId"] == group.GroupId),
            scope=f"ListGroupMemberships:{group.GroupId}",
        )

    def list_group_memberships_for_member(self, p: dict[str, Any]) -> dict[str, Any]:
        """ListGroupMembershipsForMember of one user."""
        user_id = p["MemberId"].get("UserId")
        if not user_id:
            raise validation_error("MemberId.UserId is required")
        self._user(p["IdentityStoreId"], user_id)
        return self._list_memberships(
            p,
            match=lambda m: bool(m["MemberId"]["UserId"] == user_id),
            scope=f"ListGroupMembershipsForMember:{user_id}",
        )

    def is_member_in_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        """IsMemberInGroups."""
        store = self.store(p["IdentityStoreId"])
        user_id = p["MemberId"].get("UserId")
        groups_of_user = {
            m["GroupId"]
            for m in store.group_memberships.values()
            if m["MemberId"]["UserId"] == user_id
        }
        return {
            "Results": [
                {
                    "GroupId": group_id,
                    "MemberId": {"UserId": user_id},
                    "MembershipExists": group_id in groups_of_user,
                }
                for group_id in p["GroupIds"]
            ]
        }


__all__ = ["OPERATIONS", "IdentityStoreApi", "ServiceError"]
