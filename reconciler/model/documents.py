"""Pydantic models of the desired-state files, one model per file kind.

The folder layout (see the README for a full example)::

    reconciler.json              ReconcilerFile: scope, pruning, protected names, deletion guard
    users.json                   UsersFile:       {"users": [User, ...]}
    groups.json                  GroupsFile:      {"groups": [Group, ...]}
    permission-sets/<Name>.json  PermissionSetFile (one permission set per file)
    assignments.json             AssignmentsFile: {"assignments": [Assignment, ...]}
    users/<any>.json, groups/<any>.json, assignments/<any>.json
                                 the same kinds split into many files (one per team), each
                                 file in the single file's format
    access-control-attributes.json  AccessControlAttributesFile (optional):
                                 {"access_control_attributes": [AccessControlAttribute, ...]}

Every model forbids unknown keys (a misspelt key is an error, never silently ignored) and allows
a ``$schema`` key so editors can validate with the JSON Schema generated from these models.
Field rules follow ``reconciler.model.limits``; a broken rule raises a ``PydanticCustomError``
whose type is the stable rule identifier reported to the user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import regex
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reconciler.model import limits
from reconciler.model.state import MANAGED_TAG_KEY


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class _File(_Document):
    schema_: str | None = Field(default=None, alias="$schema")


def _rule_error(
    rule: str, template: str, context: Mapping[str, Any] | None = None
) -> PydanticCustomError:
    """A ``PydanticCustomError`` of type ``rule`` (the rule identifier reported to the user).

    The message is ``template`` formatted with ``str.format`` here, because pydantic's own
    formatting knows neither conversions (``{value!r}``) nor escaped braces (``{{``).
    """
    return PydanticCustomError(rule, template.format(**(context or {})))


def _pattern(
    pattern: Any, *, rule: str, what: str, max_length: int | None = None
) -> AfterValidator:
    def check(value: str) -> str:
        if max_length is not None and len(value) > max_length:
            raise _rule_error(
                "max_length",
                "{what} is {length} characters long; AWS allows at most {limit}",
                {"what": what, "length": len(value), "limit": max_length},
            )
        if not limits.full_match(pattern, value):
            raise _rule_error(
                rule,
                "{what} {value!r} is not allowed: {why}",
                {
                    "what": what,
                    "value": value,
                    "why": _PATTERN_HELP.get(rule, "it does not match AWS's pattern"),
                },
            )
        return value

    return AfterValidator(check)


_PATTERN_HELP = {
    "permission_set_name": "use 1 to 32 of A-Z a-z 0-9 and + = , . @ _ - (no spaces)",
    "description": "use Latin-1 printable characters only (no emoji or other Unicode)",
    "relay_state": "use letters, digits, spaces and URL punctuation only",
    "user_name": "use no whitespace; letters, digits, symbols and punctuation only",
    "identity_string": "use letters, digits, symbols, punctuation and spaces only",
    "policy_name": "use A-Z a-z 0-9 and + = , . @ _ - only",
    "policy_path": "a path starts and ends with '/', e.g. '/' or '/team/'",
    "tag": "use letters, digits, spaces and _ . : / = + - @ only",
    "account": "name an account by its name or its 12-digit id",
    "access_control_attribute_key": "use letters, digits, spaces and _ . : / = + - @ only",
    "access_control_attribute_source": "use letters, digits, spaces and _ . : / = + - @ [ ] "
    '{ } $ \\ " only, e.g. ${path:enterprise.costCenter}',
}

NonEmpty = Annotated[str, Field(min_length=1)]
PermissionSetName = Annotated[
    str,
    Field(min_length=1),
    _pattern(
        limits.PERMISSION_SET_NAME,
        rule="permission_set_name",
        what="permission set name",
        max_length=limits.PERMISSION_SET_NAME_MAX,
    ),
]
UserName = Annotated[
    str,
    Field(min_length=1),
    _pattern(limits.USER_NAME, rule="user_name", what="user name", max_length=limits.USER_NAME_MAX),
]
IdentityString = Annotated[
    str,
    Field(min_length=1),
    _pattern(
        limits.IDENTITY_STRING,
        rule="identity_string",
        what="value",
        max_length=limits.IDENTITY_STRING_MAX,
    ),
]
GroupName = IdentityString


def _check_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(char.isspace() for char in value):
        raise _rule_error(
            "email", "{value!r} is not an email address (name@example.com)", {"value": value}
        )
    return value


Email = Annotated[IdentityString, AfterValidator(_check_email)]


class User(_Document):
    """A user in the identity store (identitystore ``CreateUser``)."""

    user_name: UserName
    display_name: IdentityString
    given_name: IdentityString
    family_name: IdentityString
    email: Email | None = None

    @field_validator("user_name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.lower() in limits.RESERVED_USER_NAMES:
            raise _rule_error(
                "reserved_user_name",
                "user name {value!r} is reserved by AWS (Administrator and AWSAdministrators "
                "cannot be used)",
                {"value": value},
            )
        return value


class UsersFile(_File):
    """``users.json``, or one file of ``users/``."""

    users: list[User] = Field(default_factory=list)


class Group(_Document):
    """A group in the identity store, with the user names of its members."""

    name: GroupName
    description: IdentityString | None = None
    members: list[UserName] = Field(default_factory=list)


class GroupsFile(_File):
    """``groups.json``, or one file of ``groups/``."""

    groups: list[Group] = Field(default_factory=list)


class CustomerManagedPolicy(_Document):
    """A customer-managed policy reference: an IAM policy expected in every target account."""

    name: Annotated[
        str,
        Field(min_length=1),
        _pattern(
            limits.POLICY_NAME,
            rule="policy_name",
            what="policy name",
            max_length=limits.POLICY_NAME_MAX,
        ),
    ]
    path: Annotated[
        str,
        _pattern(
            limits.POLICY_PATH,
            rule="policy_path",
            what="policy path",
            max_length=limits.POLICY_PATH_MAX,
        ),
    ] = "/"


def _check_managed_policy_arn(value: str) -> str:
    # The length first: the patterns backtrack in time quadratic in the length of a string
    # that almost matches, and a file may hold megabytes of one.
    if len(value) > limits.MANAGED_POLICY_ARN_MAX:
        raise _rule_error(
            "max_length",
            "policy ARN is {length} characters long; AWS allows at most {limit}",
            {"length": len(value), "limit": limits.MANAGED_POLICY_ARN_MAX},
        )
    if limits.full_match(limits.MANAGED_POLICY_ARN, value):
        return value
    customer = limits.CUSTOMER_POLICY_ARN.fullmatch(value)
    if customer is not None:
        path = customer.group(2) or ""
        raise _rule_error(
            "customer_policy_as_managed",
            "{value!r} is a customer-managed policy (its ARN names an account); list it under "
            'customer_managed_policies as {{"name": {name}, "path": {path}}}',
            {
                "value": value,
                "name": json.dumps(customer.group(3)),
                "path": json.dumps(f"{path}/"),
            },
        )
    raise _rule_error(
        "managed_policy_arn",
        "{value!r} is not an AWS managed policy ARN (arn:aws:iam::aws:policy/[path/]Name)",
        {"value": value},
    )


ManagedPolicyArn = Annotated[str, AfterValidator(_check_managed_policy_arn)]


class PermissionsBoundary(_Document):
    """A permissions boundary: one of ``managed_policy_arn`` or ``customer_managed_policy``."""

    managed_policy_arn: ManagedPolicyArn | None = None
    customer_managed_policy: CustomerManagedPolicy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PermissionsBoundary:
        if (self.managed_policy_arn is None) == (self.customer_managed_policy is None):
            raise _rule_error(
                "boundary_one_of",
                "a permissions boundary names exactly one of managed_policy_arn or "
                "customer_managed_policy",
                {},
            )
        return self


def _check_session_duration(value: str) -> str:
    try:
        seconds = limits.duration_seconds(value)
    except ValueError:  # more digits than Python converts: no sane duration
        seconds = None
    if seconds is None:
        raise _rule_error(
            "iso8601_duration",
            "session duration {value!r} is not an ISO-8601 duration; write hours and minutes "
            "like 'PT1H', 'PT4H' or 'PT1H30M'",
            {"value": value},
        )
    if not limits.SESSION_MIN_SECONDS <= seconds <= limits.SESSION_MAX_SECONDS:
        raise _rule_error(
            "session_duration_range",
            "session duration {value!r} is outside what AWS allows: PT1H to PT12H",
            {"value": value},
        )
    return value


def _check_tags(value: dict[str, str]) -> dict[str, str]:
    if len(value) > limits.TAGS_MAX:
        raise _rule_error(
            "too_many_tags",
            "{count} tags; AWS allows at most {limit}",
            {"count": len(value), "limit": limits.TAGS_MAX},
        )
    for key, tag_value in value.items():
        if not 1 <= len(key) <= limits.TAG_KEY_MAX or not limits.full_match(limits.TAG_KEY, key):
            raise _rule_error(
                "tag",
                "tag key {key!r} is not allowed: {why}",
                {"key": key, "why": _PATTERN_HELP["tag"] + ", 1 to 128 characters"},
            )
        if key.lower().startswith("aws:"):
            raise _rule_error(
                "tag_reserved",
                "tag key {key!r} uses the prefix 'aws:', reserved by AWS",
                {"key": key},
            )
        if key == MANAGED_TAG_KEY:
            raise _rule_error(
                "tag_reserved",
                "tag key {key!r} is set by the reconciler itself to mark what it manages",
                {"key": key},
            )
        if len(tag_value) > limits.TAG_VALUE_MAX or not limits.full_match(
            limits.TAG_VALUE, tag_value
        ):
            raise _rule_error(
                "tag",
                "value of tag {key!r} is not allowed: {why}",
                {"key": key, "why": _PATTERN_HELP["tag"] + ", at most 256 characters"},
            )
    return value


class PermissionSetFile(_File):
    """``permission-sets/<Name>.json``: one permission set (sso-admin ``CreatePermissionSet`` and
    the policy calls that complete it)."""

    name: PermissionSetName
    description: (
        Annotated[
            str,
            Field(min_length=1),
            _pattern(
                limits.DESCRIPTION,
                rule="description",
                what="description",
                max_length=limits.DESCRIPTION_MAX,
            ),
        ]
        | None
    ) = None
    session_duration: Annotated[str, AfterValidator(_check_session_duration)] = "PT1H"
    relay_state: (
        Annotated[
            str,
            Field(min_length=1),
            _pattern(
                limits.RELAY_STATE,
                rule="relay_state",
                what="relay state",
                max_length=limits.RELAY_STATE_MAX,
            ),
        ]
        | None
    ) = None
    managed_policies: list[ManagedPolicyArn] = Field(default_factory=list)
    customer_managed_policies: list[CustomerManagedPolicy] = Field(default_factory=list)
    inline_policy: dict[str, Any] | None = None
    permissions_boundary: PermissionsBoundary | None = None
    tags: Annotated[dict[str, str], AfterValidator(_check_tags)] = Field(default_factory=dict)

    @field_validator("inline_policy")
    @classmethod
    def _inline_policy_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise _rule_error(
                "json_number",
                "inline policy holds NaN or Infinity, which is not JSON; AWS refuses it",
                {},
            ) from None
        characters, non_whitespace = limits.inline_policy_sizes(value)
        if characters > limits.INLINE_POLICY_MAX:
            raise _rule_error(
                "inline_policy_size",
                "inline policy is {count} characters as sent to AWS; AWS allows at most {limit}",
                {"count": characters, "limit": limits.INLINE_POLICY_MAX},
            )
        if non_whitespace > limits.INLINE_POLICY_NON_WHITESPACE_MAX:
            raise _rule_error(
                "inline_policy_size",
                "inline policy has {count} non-whitespace characters; AWS allows at most {limit}",
                {"count": non_whitespace, "limit": limits.INLINE_POLICY_NON_WHITESPACE_MAX},
            )
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if not limits.full_match(limits.INLINE_POLICY, text):
            outside = sorted({char for char in text if not limits.INLINE_POLICY.fullmatch(char)})
            raise _rule_error(
                "inline_policy_characters",
                "inline policy holds {chars}, outside the Latin-1 characters AWS accepts in a "
                "permission set's policy document",
                {"chars": ", ".join(f"{char!r} (U+{ord(char):04X})" for char in outside)},
            )
        if "Statement" not in value:
            raise _rule_error("inline_policy_statement", "an inline policy needs a 'Statement'", {})
        return value

    @model_validator(mode="after")
    def _policy_count(self) -> PermissionSetFile:
        count = len(self.managed_policies) + len(self.customer_managed_policies)
        if count > limits.POLICIES_MAX:
            raise _rule_error(
                "too_many_policies",
                "{count} managed and customer-managed policies; a role can hold at most {limit}",
                {"count": count, "limit": limits.POLICIES_MAX},
            )
        return self


AccountRef = Annotated[str, Field(min_length=1, max_length=limits.ACCOUNT_NAME_MAX)]

ORGANIZATIONAL_UNIT_ID = regex.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32}")
"""An OU id or a root id (Organizations API model, ``ParentId`` pattern)."""
ROOT_NAME = "Root"
"""The name AWS gives the root of every organization; OU paths start with it."""


class OrganizationalUnitTarget(_Document):
    """The accounts of one organizational unit, named by ``id`` (``ou-…``, or the root's
    ``r-…``) or by ``path`` from the root (``Root/Workloads/Prod``: OU names are unique only
    among siblings). ``recursive`` (default true) includes the accounts of every OU below it."""

    id: (
        Annotated[
            str,
            _pattern(
                ORGANIZATIONAL_UNIT_ID,
                rule="organizational_unit_id",
                what="organizational unit id",
            ),
        ]
        | None
    ) = None
    path: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    recursive: StrictBool = True

    @model_validator(mode="after")
    def _id_or_path(self) -> OrganizationalUnitTarget:
        if (self.id is None) == (self.path is None):
            raise _rule_error(
                "organizational_unit_one_of",
                "an organizational unit is named by exactly one of id or path",
                {},
            )
        if self.path is not None and self.path.split("/")[0] != ROOT_NAME:
            raise _rule_error(
                "organizational_unit_path",
                "path {path!r} does not start at the root: write it as 'Root/<OU>/<OU>'",
                {"path": self.path},
            )
        return self


REASON_MAX = 256
"""Longest ``reason`` an assignment entry may carry, in characters: a ticket reference and a
sentence, not a document (it is printed with every change of the entry)."""


def _check_reason(value: str) -> str:
    if len(value) > REASON_MAX:
        raise _rule_error(
            "reason_length",
            "the reason is {length} characters long; at most {limit} (a ticket reference and a "
            "sentence: link the ticket for more)",
            {"length": len(value), "limit": REASON_MAX},
        )
    if any(char in value for char in "\t\r\n\u2028\u2029\x85") or not value.strip():
        raise _rule_error(
            "reason_text",
            "the reason is one line of text: no line breaks or tabs, not blank",
            {},
        )
    return value


Reason = Annotated[
    str,
    AfterValidator(_check_reason),
    Field(json_schema_extra={"minLength": 1, "maxLength": REASON_MAX, "pattern": r"^[^\t\r\n]*$"}),
]


class Assignment(_Document):
    """Grant ``permission_set`` to each of ``groups`` and ``users`` in the target accounts.

    Targets (their union, minus ``exclude_accounts``): ``accounts`` named by their
    Organizations account name or 12-digit id; every ACTIVE account of the
    ``organizational_units``; every ACTIVE account carrying all of ``account_tags`` (key →
    value); with ``all_accounts``, every ACTIVE account. Rule-based targets (OU, tags, all)
    skip the management account unless it is also listed in ``accounts``.

    ``expires_at`` (ISO-8601 with a zone, ``2026-12-31T18:00:00+01:00``) ends the access: after
    it, the next pass removes these assignments although the file still lists them.

    ``reason`` (one line, at most ``REASON_MAX`` characters: ``"JIRA-123: on-call for the
    payments launch"``) says why the access exists, since JSON has no comments. It is the
    repository's, not AWS's: shown with the assignments the entry creates, kept by ``export``
    only from files, and no part of an assignment's identity (changing only the reason changes
    nothing in AWS, so the plan shows no operation for it).
    """

    permission_set: PermissionSetName
    groups: list[GroupName] = Field(default_factory=list)
    users: list[UserName] = Field(default_factory=list)
    accounts: list[AccountRef] = Field(default_factory=list)
    organizational_units: list[OrganizationalUnitTarget] = Field(default_factory=list)
    account_tags: dict[Annotated[str, Field(min_length=1, max_length=128)], str] = Field(
        default_factory=dict
    )
    all_accounts: StrictBool = False
    exclude_accounts: list[AccountRef] = Field(default_factory=list)
    expires_at: AwareDatetime | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _has_principal(self) -> Assignment:
        if not self.groups and not self.users:
            raise _rule_error("no_principal", "an assignment names at least one group or user", {})
        return self

    @model_validator(mode="after")
    def _has_target(self) -> Assignment:
        if not (
            self.accounts or self.organizational_units or self.account_tags or self.all_accounts
        ):
            raise _rule_error(
                "no_target",
                "an assignment targets accounts: list accounts, organizational_units or "
                "account_tags, or set all_accounts",
                {},
            )
        return self

    @property
    def uses_rules(self) -> bool:
        """True when accounts are chosen by OU, tag or all_accounts, not only by name or id."""
        return bool(self.organizational_units or self.account_tags or self.all_accounts)


class AssignmentsFile(_File):
    """``assignments.json``, or one file of ``assignments/``."""

    assignments: list[Assignment] = Field(default_factory=list)


class AccessControlAttribute(_Document):
    """One attribute for access control (ABAC): the session tag ``key`` that IAM Identity
    Center passes to AWS, taken from ``source``, a path into the identity source's user
    attributes (``${path:enterprise.costCenter}``, ``${path:userName}``). sso-admin
    ``AccessControlAttribute``: Key 1-128 characters; Value.Source a list of exactly one
    string of 0-256 characters (botocore model ``AccessControlAttributeValueSourceList``)."""

    key: Annotated[
        str,
        Field(min_length=1),
        _pattern(
            limits.ACCESS_CONTROL_ATTRIBUTE_KEY,
            rule="access_control_attribute_key",
            what="attribute key",
            max_length=limits.ACCESS_CONTROL_ATTRIBUTE_KEY_MAX,
        ),
    ]
    source: Annotated[
        str,
        _pattern(
            limits.ACCESS_CONTROL_ATTRIBUTE_SOURCE,
            rule="access_control_attribute_source",
            what="attribute source",
            max_length=limits.ACCESS_CONTROL_ATTRIBUTE_SOURCE_MAX,
        ),
    ]


class AccessControlAttributesFile(_File):
    """``access-control-attributes.json`` (optional): the instance's attributes for access
    control, sso-admin ``InstanceAccessControlAttributeConfiguration``. Absent: the
    configuration is left as it is. An empty list: no configuration (a live one is deleted).
    At most 50 attributes (``AccessControlAttributeList``); keys are unique ignoring case
    (they become session tags, whose keys IAM compares ignoring case)."""

    # The count is checked after the entries (not by max_length), so that one run reports
    # both a list too long and the bad entries in it; the schema still says maxItems.
    access_control_attributes: list[AccessControlAttribute] = Field(
        json_schema_extra={"maxItems": limits.ACCESS_CONTROL_ATTRIBUTES_MAX}
    )

    @field_validator("access_control_attributes")
    @classmethod
    def _attribute_count(cls, value: list[AccessControlAttribute]) -> list[AccessControlAttribute]:
        count = len(value)
        if count > limits.ACCESS_CONTROL_ATTRIBUTES_MAX:
            raise _rule_error(
                "too_many_access_control_attributes",
                "{count} attributes for access control; AWS allows at most {limit} "
                "(AccessControlAttributeList)",
                {"count": count, "limit": limits.ACCESS_CONTROL_ATTRIBUTES_MAX},
            )
        return value


class Pruning(_Document):
    """Which kinds the reconciler deletes when they are live but not declared.

    Permission sets are pruned only when they carry the reconciler's managed-by tag (it created
    or adopted them); assignments only for permission sets declared in the desired state;
    memberships only of declared groups. Users and groups are not pruned unless enabled here.
    """

    users: StrictBool = False
    groups: StrictBool = False
    memberships: StrictBool = True
    permission_sets: StrictBool = True
    assignments: StrictBool = True


DEFAULT_PROTECTED_PERMISSION_SETS = ("AWSControlTower*", "AWSServiceCatalog*", "AWSReserved*")
DEFAULT_PROTECTED_GROUPS = (
    "AWSControlTower*",
    "AWSSecurityAudit*",
    "AWSLogArchive*",
    "AWSAuditAccountAdmins",
    "AWSServiceCatalogAdmins",
    "AWSAccountFactory",
)


NamePattern = Annotated[str, Field(max_length=limits.IDENTITY_STRING_MAX)]
"""A shell-style pattern of names: no longer than the longest name (a group's, 1,024)."""


class Protected(_Document):
    """Names (shell-style patterns) that are never deleted, whatever the desired state says.

    The defaults cover what AWS Control Tower and AWS Service Catalog create.
    """

    users: list[NamePattern] = Field(default_factory=list)
    groups: list[NamePattern] = Field(default_factory=lambda: list(DEFAULT_PROTECTED_GROUPS))
    permission_sets: list[NamePattern] = Field(
        default_factory=lambda: list(DEFAULT_PROTECTED_PERMISSION_SETS)
    )


DEFAULT_PRIVILEGED_PERMISSION_SETS = ("*Admin*", "*PowerUser*")
"""Permission sets whose gain a plan highlights unless ``reconciler.json`` says otherwise:
``AdministratorAccess``, ``AWSAdministratorAccess``, ``PowerUserAccess`` and the like."""


class DeletionGuard(_Document):
    """Refuse a plan that deletes more than ``max_deletions`` objects, or more than
    ``max_fraction`` (0 to 1) of the managed objects of one kind, unless deletions are explicitly
    allowed for that run (``--allow-deletions``). Guards against an emptied or truncated file."""

    # Strict: a safety limit is a number as written, never true, "20" or 20.0 taken for one.
    max_deletions: StrictInt = Field(default=20, ge=0)
    max_fraction: StrictFloat = Field(default=0.25, ge=0, le=1)


class ReconcilerFile(_File):
    """``reconciler.json``: what the reconciler manages and the safety rules it follows.

    ``identities``: ``"managed"`` (default) when users, groups and memberships are declared in
    ``users.json`` and ``groups.json``; ``"external"`` when an identity provider owns them
    (SCIM from Okta, Entra ID...): they are then only referenced by name, checked against the
    identity store, and never created, updated or deleted.

    ``unmanaged``: what a live object the revision neither declares nor may prune (a user made
    by hand, an assignment of a set left out of the files...) means for ``plan``. ``"report"``
    (default): it is listed beside the plan; ``"fail"``: it is listed and ``plan`` exits 2 (not
    converged), so a pull-request check fails while anything exists beside the desired state.

    ``privileged_permission_sets``: shell-style patterns of the permission sets whose gain plans
    highlight (``*Admin*`` and ``*PowerUser*`` unless given; a list given replaces them).
    """

    prune: Pruning = Field(default_factory=Pruning)
    protected: Protected = Field(default_factory=Protected)
    deletion_guard: DeletionGuard = Field(default_factory=DeletionGuard)
    identities: Literal["managed", "external"] = "managed"
    unmanaged: Literal["report", "fail"] = "report"
    privileged_permission_sets: list[NamePattern] = Field(
        default_factory=lambda: list(DEFAULT_PRIVILEGED_PERMISSION_SETS),
        description=(
            "Shell-style patterns (case-sensitive) of the permission sets whose gain every plan "
            "highlights. The list replaces the default ['*Admin*', '*PowerUser*']: repeat "
            "those patterns to keep them, [] to highlight nothing."
        ),
    )

    @model_validator(mode="after")
    def _external_identities_are_never_pruned(self) -> ReconcilerFile:
        if self.identities == "external" and (self.prune.users or self.prune.groups):
            raise _rule_error(
                "external_identities_pruned",
                'with "identities": "external" the identity provider owns users and groups; '
                "set prune.users and prune.groups to false",
                {},
            )
        return self
