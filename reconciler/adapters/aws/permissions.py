"""Every AWS operation the reconciler may call, by role, and the IAM policies made from them.

The one registry of the product's AWS permissions. Roles:

- ``plan``: read-only. What ``validate`` (online), ``plan``, ``access``, ``export`` and
  ``run --mode detect`` call.
- ``apply``: the controller and ``apply``: everything ``plan`` has, plus the writes and the
  reads only a write needs (status polling, looking up a principal just created).
- ``lease``: the DynamoDB lease of ``reconciler.adapters.locking.DynamoDbLease`` on its table
  (``run`` with ``lock = "dynamodb"``); attach it next to ``plan`` or ``apply``.
- ``management-account``: IAM permissions the *caller* needs in the management account to
  provision permission sets there (not called by the reconciler itself: Identity Center uses
  the caller's permissions in that account, see ``MANAGEMENT_ACCOUNT_SOURCE``).

The test suite records every call the product makes against the sandbox (the clients name their
role in the User-Agent, ``clients.user_agent``) and fails when a call is missing from its role
here, or when a grant here was never called (``tests/conftest.py``).

AWS sources (December 2026):

- sso-admin operations are authorized by IAM actions of prefix ``sso`` with the operation's
  name; resources Instance ``arn:aws:sso:::instance/ssoins-*``, PermissionSet
  ``arn:aws:sso:::permissionSet/ssoins-*/ps-*``, Account ``arn:aws:sso:::account/<id>``;
  ``ListInstances`` supports no resource: Service Authorization Reference, "Actions,
  resources, and condition keys for AWS IAM Identity Center" (``SSO_SOURCE``).
- identitystore: prefix ``identitystore``; resources Identitystore
  ``arn:aws:identitystore::<account>:identitystore/d-*``, User ``arn:aws:identitystore:::user/*``,
  Group ``...:::group/*``, GroupMembership ``...:::membership/*`` (``IDENTITYSTORE_SOURCE``).
- organizations: prefix ``organizations``; the reads used here are granted on ``*``
  (``ORGANIZATIONS_SOURCE``).
- sts: ``GetCallerIdentity`` supports no resource and needs no permission (``STS_SOURCE``).
- dynamodb: prefix ``dynamodb``; resource table ``arn:aws:dynamodb:<region>:<account>:table/<name>``
  (``DYNAMODB_SOURCE``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["plan", "apply", "lease", "management-account"]
ROLES: tuple[Role, ...] = ("plan", "apply", "lease", "management-account")
CALLING_ROLES: tuple[Role, ...] = ("plan", "apply", "lease")
"""The roles the product's clients call AWS as (named in their User-Agent)."""

Scope = Literal["any", "instance", "identity_store", "table", "management_account_roles"]

SSO_SOURCE = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/"
    "list_awsiamidentitycenter.html"
)
IDENTITYSTORE_SOURCE = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentitystore.html"
)
ORGANIZATIONS_SOURCE = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html"
)
STS_SOURCE = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/"
    "list_awssecuritytokenservice.html"
)
"""sts:GetCallerIdentity needs no permission: AWS allows it even under an explicit deny (STS
API reference, GetCallerIdentity); the registry lists it because the reconciler calls it."""
DYNAMODB_SOURCE = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html"
)
MANAGEMENT_ACCOUNT_SOURCE = (
    "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSSSOServiceRolePolicy.html"
)
"""The service-linked role's policy grants its IAM role actions only where
``aws:PrincipalOrgMasterAccountId`` is not the account: in the management account, Identity
Center acts with the caller's own IAM permissions (AWS managed policy
``AWSSSOMasterAccountAdministrator`` grants them to administrators)."""

IAM_PREFIXES: Mapping[str, str] = {
    "sso-admin": "sso",
    "identitystore": "identitystore",
    "organizations": "organizations",
    "sts": "sts",
    "dynamodb": "dynamodb",
    "iam": "iam",
}
"""botocore service name -> IAM action prefix (sso-admin's actions are ``sso:``)."""

_SOURCES: Mapping[str, str] = {
    "sso-admin": SSO_SOURCE,
    "identitystore": IDENTITYSTORE_SOURCE,
    "organizations": ORGANIZATIONS_SOURCE,
    "sts": STS_SOURCE,
    "dynamodb": DYNAMODB_SOURCE,
    "iam": MANAGEMENT_ACCOUNT_SOURCE,
}


@dataclass(frozen=True, kw_only=True)
class Grant:
    """One operation a role may call: ``service`` is botocore's name (``sso-admin``),
    ``operation`` the API operation (``ListPermissionSets``), ``scope`` which resources IAM
    lets a statement name for it (``any``: only ``*``), ``role`` the least role that calls it
    (``apply`` includes every ``plan`` grant), ``used_by`` the code that calls it."""

    role: Role
    service: str
    operation: str
    scope: Scope
    used_by: str

    @property
    def action(self) -> str:
        """The IAM action (``sso:ListPermissionSets``)."""
        return f"{IAM_PREFIXES[self.service]}:{self.operation}"

    @property
    def source(self) -> str:
        """The Service Authorization Reference page (or AWS managed policy) behind it."""
        return _SOURCES[self.service]


def _grants(
    role: Role, service: str, scope: Scope, used_by: str, operations: str
) -> tuple[Grant, ...]:
    return tuple(
        Grant(role=role, service=service, operation=name, scope=scope, used_by=used_by)
        for name in operations.split()
    )


GRANTS: tuple[Grant, ...] = (
    *_grants("plan", "sso-admin", "any", "reading: find the instance", "ListInstances"),
    *_grants(
        "plan",
        "sso-admin",
        "instance",
        "reading: permission sets and account assignments",
        "ListPermissionSets DescribePermissionSet ListManagedPoliciesInPermissionSet "
        "ListCustomerManagedPolicyReferencesInPermissionSet GetInlinePolicyForPermissionSet "
        "GetPermissionsBoundaryForPermissionSet ListTagsForResource "
        "ListAccountsForProvisionedPermissionSet ListAccountAssignments "
        "ListAccountAssignmentsForPrincipal",
    ),
    *_grants(
        "plan",
        "identitystore",
        "identity_store",
        "reading: users, groups and memberships",
        "ListUsers ListGroups ListGroupMemberships ListGroupMembershipsForMember",
    ),
    *_grants(
        "plan",
        "organizations",
        "any",
        "reading and organizations: accounts, OUs and account tags of assignment targets",
        "ListAccounts DescribeOrganization ListRoots ListOrganizationalUnitsForParent "
        "ListAccountsForParent ListParents ListTagsForResource",
    ),
    *_grants(
        "plan",
        "sts",
        "any",
        "reading: the calling account (management account or delegated administrator)",
        "GetCallerIdentity",
    ),
    *_grants(
        "apply",
        "sso-admin",
        "instance",
        "applying: permission sets, provisioning and account assignments",
        "CreatePermissionSet UpdatePermissionSet DeletePermissionSet "
        "AttachManagedPolicyToPermissionSet DetachManagedPolicyFromPermissionSet "
        "AttachCustomerManagedPolicyReferenceToPermissionSet "
        "DetachCustomerManagedPolicyReferenceFromPermissionSet "
        "PutInlinePolicyToPermissionSet DeleteInlinePolicyFromPermissionSet "
        "PutPermissionsBoundaryToPermissionSet DeletePermissionsBoundaryFromPermissionSet "
        "TagResource UntagResource ProvisionPermissionSet "
        "DescribePermissionSetProvisioningStatus CreateAccountAssignment "
        "DeleteAccountAssignment DescribeAccountAssignmentCreationStatus "
        "DescribeAccountAssignmentDeletionStatus ListAccountAssignmentCreationStatus "
        "ListAccountAssignmentDeletionStatus",
    ),
    *_grants(
        "plan",
        "sso-admin",
        "instance",
        "reading: attributes for access control (when access-control-attributes.json exists)",
        "DescribeInstanceAccessControlAttributeConfiguration",
    ),
    *_grants(
        "apply",
        "sso-admin",
        "instance",
        "applying: attributes for access control",
        "CreateInstanceAccessControlAttributeConfiguration "
        "UpdateInstanceAccessControlAttributeConfiguration "
        "DeleteInstanceAccessControlAttributeConfiguration",
    ),
    *_grants(
        "apply",
        "identitystore",
        "identity_store",
        "applying: users, groups and memberships",
        "CreateUser UpdateUser DeleteUser CreateGroup UpdateGroup DeleteGroup "
        "CreateGroupMembership DeleteGroupMembership GetUserId GetGroupId "
        "GetGroupMembershipId",
    ),
    *_grants(
        "lease",
        "dynamodb",
        "table",
        "locking.DynamoDbLease: check the table, take, renew and give up the lease",
        "DescribeTable GetItem UpdateItem",
    ),
    *_grants(
        "management-account",
        "iam",
        "management_account_roles",
        "Identity Center, with the caller's permissions, provisioning into the management "
        "account (AWSReservedSSO_* roles)",
        "AttachRolePolicy CreateRole PutRolePolicy UpdateRole UpdateRoleDescription "
        "UpdateAssumeRolePolicy PutRolePermissionsBoundary DeleteRolePermissionsBoundary",
    ),
)
"""The registry, in the order the docs show it."""


def grants_for(role: Role) -> tuple[Grant, ...]:
    """The grants a policy for ``role`` holds: ``apply`` holds ``plan``'s too."""
    roles = {"apply": ("plan", "apply")}.get(role, (role,))
    return tuple(grant for grant in GRANTS if grant.role in roles)


def operations_for(role: Role) -> frozenset[tuple[str, str]]:
    """(botocore service, operation) pairs a policy for ``role`` allows."""
    return frozenset((grant.service, grant.operation) for grant in grants_for(role))


@dataclass(frozen=True, kw_only=True)
class PolicyScope:
    """What to scope the resources to; ``None`` fields become wildcards (with a note).

    ``instance_arn`` ``arn:aws:sso:::instance/ssoins-<16>``; ``identity_store_id``
    ``d-<10>``; ``table``, ``region`` and ``account`` name the lease table (``account`` is
    also the management account of ``management-account``). ``partition`` is ``aws`` unless
    given (``aws-cn``, ``aws-us-gov``).
    """

    instance_arn: str | None = None
    identity_store_id: str | None = None
    table: str | None = None
    region: str | None = None
    account: str | None = None
    partition: str = "aws"


def _resources(scope: Scope, where: PolicyScope) -> tuple[list[str], str | None]:
    """(Resource list, note on what stays a wildcard)."""
    p = where.partition
    if scope == "instance":
        if where.instance_arn is None:
            return ["*"], "sso: pass --instance-arn to scope to the instance"
        instance_id = where.instance_arn.rsplit("/", 1)[-1]
        return [
            where.instance_arn,
            f"arn:{p}:sso:::permissionSet/{instance_id}/*",
            f"arn:{p}:sso:::account/*",
        ], None
    if scope == "identity_store":
        if where.identity_store_id is None:
            return ["*"], "identitystore: pass --identity-store-id to scope to the store"
        return [
            f"arn:{p}:identitystore::*:identitystore/{where.identity_store_id}",
            f"arn:{p}:identitystore:::group/*",
            f"arn:{p}:identitystore:::membership/*",
            f"arn:{p}:identitystore:::user/*",
        ], None
    if scope == "table":
        if where.table is None:
            return ["*"], "dynamodb: pass --table, --region and --account to scope to the table"
        return [
            f"arn:{p}:dynamodb:{where.region or '*'}:{where.account or '*'}:table/{where.table}"
        ], None
    if scope == "management_account_roles":
        return [f"arn:{p}:iam::{where.account or '*'}:role/aws-reserved/sso.amazonaws.com/*"], None
    return ["*"], None


def policy_document(role: Role, where: PolicyScope | None = None) -> dict[str, Any]:
    """The IAM policy document (``Version`` 2012-10-17, one ``Allow`` statement per service and
    scope, actions sorted) granting what ``role`` calls, scoped by ``where``."""
    where = where or PolicyScope()
    statements: dict[tuple[str, Scope], set[str]] = {}
    for grant in grants_for(role):
        statements.setdefault((grant.service, grant.scope), set()).add(grant.action)
    body: list[dict[str, Any]] = []
    for (service, scope), actions in sorted(statements.items()):
        resources, _ = _resources(scope, where)
        sid = "".join(part.title() for part in f"{service} {scope}".replace("_", " ").split())
        body.append(
            {
                "Sid": sid.replace("-", ""),
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": resources if len(resources) > 1 else resources[0],
            }
        )
    return {"Version": "2012-10-17", "Statement": body}


def policy_notes(role: Role, where: PolicyScope | None = None) -> list[str]:
    """Why some resources of ``policy_document(role, where)`` are ``*`` (sorted, unique)."""
    where = where or PolicyScope()
    notes = {_resources(grant.scope, where)[1] for grant in grants_for(role)}
    return sorted(note for note in notes if note)


def render_policy(role: Role, where: PolicyScope | None = None) -> str:
    """``policy_document`` as indented JSON with a final newline (what ``iam-policy`` prints)."""
    return json.dumps(policy_document(role, where), indent=2) + "\n"


def actions(grants: Iterable[Grant]) -> list[str]:
    """The sorted, unique IAM actions of ``grants``."""
    return sorted({grant.action for grant in grants})


def _granted_to(role: str, service: str, operation: str) -> bool:
    return role in CALLING_ROLES and (service, operation) in operations_for(role)


def missing_grants(seen: Iterable[tuple[str, str, str]]) -> list[str]:
    """Calls (role, botocore service, operation) that the policy of their role does not allow,
    as ``"plan: sso:CreatePermissionSet"`` lines, sorted. Calls of the ``setup`` role (no
    command makes them) are not judged."""
    return sorted(
        f"{role}: {IAM_PREFIXES.get(service, service)}:{operation}"
        for role, service, operation in set(seen)
        if role != "setup" and not _granted_to(role, service, operation)
    )


def unused_grants(seen: Iterable[tuple[str, str, str]]) -> list[str]:
    """Grants no call in ``seen`` used, as ``"apply: sso:TagResource"`` lines, sorted: a
    ``plan`` grant is used by a call of ``plan`` or ``apply`` (which holds plan's reads), an
    ``apply`` grant by a call of ``apply``, a ``lease`` grant by a call of ``lease``. The
    ``management-account`` grants are not the product's calls and are not judged."""
    callers = {"plan": {"plan", "apply"}, "apply": {"apply"}, "lease": {"lease"}}
    called = set(seen)
    return sorted(
        f"{grant.role}: {grant.action}"
        for grant in GRANTS
        if grant.role in callers
        and not any(
            (role, grant.service, grant.operation) in called for role in callers[grant.role]
        )
    )


_SCOPE_WORDS: Mapping[Scope, str] = {
    "any": "`*`",
    "instance": "instance, its permission sets, accounts",
    "identity_store": "identity store, its users, groups, memberships",
    "table": "the lease table",
    "management_account_roles": "`role/aws-reserved/sso.amazonaws.com/*` in the management account",
}


def grants_markdown() -> str:
    """The registry as a Markdown table (role, IAM action, resources, called by, source), in
    registry order: what docs/iam.md shows."""
    rows = [
        "| role | IAM action | resources | called by | source |",
        "|---|---|---|---|---|",
    ]
    rows += [
        f"| {grant.role} | `{grant.action}` | {_SCOPE_WORDS[grant.scope]} | {grant.used_by} "
        f"| [{grant.service}]({grant.source}) |"
        for grant in GRANTS
    ]
    return "\n".join(rows) + "\n"
