"""The sso-admin JSON-1.1 API (X-Amz-Target ``SWBExternalService.<Operation>``) over
``IdentityCenter``.

Every List call pages with MaxResults (1-100, default 100) and an opaque NextToken; output
shapes follow botocore's ``sso-admin`` model.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.errors import not_found
from reconciler.sandbox.identity_center import AccountAssignment, IdentityCenter
from reconciler.sandbox.protocol import Handler, JsonService, paginate, snake_case

OPERATIONS = (
    "ListInstances",
    "DescribeInstance",
    "CreatePermissionSet",
    "DescribePermissionSet",
    "UpdatePermissionSet",
    "DeletePermissionSet",
    "ListPermissionSets",
    "PutInlinePolicyToPermissionSet",
    "GetInlinePolicyForPermissionSet",
    "DeleteInlinePolicyFromPermissionSet",
    "AttachManagedPolicyToPermissionSet",
    "DetachManagedPolicyFromPermissionSet",
    "ListManagedPoliciesInPermissionSet",
    "AttachCustomerManagedPolicyReferenceToPermissionSet",
    "DetachCustomerManagedPolicyReferenceFromPermissionSet",
    "ListCustomerManagedPolicyReferencesInPermissionSet",
    "PutPermissionsBoundaryToPermissionSet",
    "GetPermissionsBoundaryForPermissionSet",
    "DeletePermissionsBoundaryFromPermissionSet",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "ProvisionPermissionSet",
    "DescribePermissionSetProvisioningStatus",
    "ListPermissionSetProvisioningStatus",
    "ListAccountsForProvisionedPermissionSet",
    "ListPermissionSetsProvisionedToAccount",
    "CreateAccountAssignment",
    "DeleteAccountAssignment",
    "DescribeAccountAssignmentCreationStatus",
    "DescribeAccountAssignmentDeletionStatus",
    "ListAccountAssignmentCreationStatus",
    "ListAccountAssignmentDeletionStatus",
    "ListAccountAssignments",
    "ListAccountAssignmentsForPrincipal",
    "CreateInstanceAccessControlAttributeConfiguration",
    "DescribeInstanceAccessControlAttributeConfiguration",
    "UpdateInstanceAccessControlAttributeConfiguration",
    "DeleteInstanceAccessControlAttributeConfiguration",
)


def _seq(value: int) -> str:
    return f"{value:012d}"


class SsoAdminApi:
    """Request handlers of the sso-admin operations the sandbox supports."""

    def __init__(self, center: IdentityCenter) -> None:
        self.center = center

    def service(self) -> JsonService:
        """The JSON-1.1 service answering every supported operation."""
        handlers: dict[str, Handler] = {
            operation: self._locked(getattr(self, snake_case(operation)))
            for operation in OPERATIONS
        }
        return JsonService(
            service="sso-admin", handlers=handlers, exclusive=True, elsewhere=self.elsewhere
        )

    @staticmethod
    def elsewhere(operation: str, p: dict[str, Any]) -> dict[str, Any]:
        """sso-admin in a Region that holds no instance: ListInstances lists none; every
        other call names an instance that is not there (ResourceNotFoundException, the
        sandbox's choice of error for it)."""
        if operation == "ListInstances":
            return {"Instances": []}
        raise not_found(f"Could not find instance {p.get('InstanceArn', '')} in this Region")

    def _locked(self, handler: Handler) -> Handler:
        def run(params: dict[str, Any]) -> dict[str, Any]:
            with self.center.lock:
                self.center.advance()
                return handler(params)

        return run

    # --- instances ------------------------------------------------------------------------

    def list_instances(self, p: dict[str, Any]) -> dict[str, Any]:
        page, token = paginate(
            self.center.instances.values(),
            key=lambda i: i.arn,
            scope="ListInstances",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {
            "Instances": [
                {
                    "InstanceArn": i.arn,
                    "IdentityStoreId": i.identity_store_id,
                    "OwnerAccountId": i.owner_account_id,
                    "Name": i.name or None,
                    "CreatedDate": i.created_date,
                    "Status": "ACTIVE",
                }
                for i in page
            ],
            "NextToken": token,
        }

    def describe_instance(self, p: dict[str, Any]) -> dict[str, Any]:
        i = self.center.instance(p["InstanceArn"])
        return {
            "InstanceArn": i.arn,
            "IdentityStoreId": i.identity_store_id,
            "OwnerAccountId": i.owner_account_id,
            "Name": i.name or None,
            "CreatedDate": i.created_date,
            "Status": "ACTIVE",
        }

    # --- permission sets ------------------------------------------------------------------

    def create_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        ps = self.center.create_permission_set(
            instance_arn=p["InstanceArn"],
            name=p["Name"],
            description=p.get("Description"),
            session_duration=p.get("SessionDuration"),
            relay_state=p.get("RelayState"),
            tags=p.get("Tags") or [],
        )
        return {"PermissionSet": ps.describe()}

    def describe_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        ps = self.center.permission_set(p["InstanceArn"], p["PermissionSetArn"])
        return {"PermissionSet": ps.describe()}

    def update_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.update_permission_set(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            description=p.get("Description"),
            session_duration=p.get("SessionDuration"),
            relay_state=p.get("RelayState"),
        )
        return {}

    def delete_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.delete_permission_set(
            instance_arn=p["InstanceArn"], permission_set_arn=p["PermissionSetArn"]
        )
        return {}

    def list_permission_sets(self, p: dict[str, Any]) -> dict[str, Any]:
        page, token = paginate(
            self.center.list_permission_sets(p["InstanceArn"]),
            key=lambda ps: _seq(ps.sequence),
            scope=f"ListPermissionSets:{p['InstanceArn']}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {"PermissionSets": [ps.arn for ps in page], "NextToken": token}

    # --- inline policy --------------------------------------------------------------------

    def put_inline_policy_to_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.put_inline_policy(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            inline_policy=p["InlinePolicy"],
        )
        return {}

    def get_inline_policy_for_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        ps = self.center.permission_set(p["InstanceArn"], p["PermissionSetArn"])
        return {"InlinePolicy": ps.inline_policy}

    def delete_inline_policy_from_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.delete_inline_policy(
            instance_arn=p["InstanceArn"], permission_set_arn=p["PermissionSetArn"]
        )
        return {}

    # --- managed policies -----------------------------------------------------------------

    def attach_managed_policy_to_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.attach_managed_policy(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            managed_policy_arn=p["ManagedPolicyArn"],
        )
        return {}

    def detach_managed_policy_from_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.detach_managed_policy(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            managed_policy_arn=p["ManagedPolicyArn"],
        )
        return {}

    def list_managed_policies_in_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        ps = self.center.permission_set(p["InstanceArn"], p["PermissionSetArn"])
        page, token = paginate(
            ps.managed_policies,
            key=lambda arn: arn,
            scope=f"ListManagedPolicies:{ps.arn}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {
            "AttachedManagedPolicies": [
                {"Name": arn.rsplit("/", 1)[1], "Arn": arn} for arn in page
            ],
            "NextToken": token,
        }

    # --- customer-managed policies --------------------------------------------------------

    def attach_customer_managed_policy_reference_to_permission_set(
        self, p: dict[str, Any]
    ) -> dict[str, Any]:
        ref = p["CustomerManagedPolicyReference"]
        self.center.attach_customer_managed_policy(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            name=ref["Name"],
            path=ref.get("Path") or "/",
        )
        return {}

    def detach_customer_managed_policy_reference_from_permission_set(
        self, p: dict[str, Any]
    ) -> dict[str, Any]:
        ref = p["CustomerManagedPolicyReference"]
        self.center.detach_customer_managed_policy(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            name=ref["Name"],
            path=ref.get("Path") or "/",
        )
        return {}

    def list_customer_managed_policy_references_in_permission_set(
        self, p: dict[str, Any]
    ) -> dict[str, Any]:
        ps = self.center.permission_set(p["InstanceArn"], p["PermissionSetArn"])
        page, token = paginate(
            ps.customer_managed_policies,
            key=lambda ref: f"{ref[1]}{ref[0]}",
            scope=f"ListCustomerManagedPolicyReferences:{ps.arn}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {
            "CustomerManagedPolicyReferences": [{"Name": n, "Path": path} for n, path in page],
            "NextToken": token,
        }

    # --- permissions boundary -------------------------------------------------------------

    def put_permissions_boundary_to_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.put_permissions_boundary(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            boundary=p["PermissionsBoundary"],
        )
        return {}

    def get_permissions_boundary_for_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        ps = self.center.permission_set(p["InstanceArn"], p["PermissionSetArn"])
        if ps.permissions_boundary is None:
            raise not_found(f"PermissionSet {ps.arn} has no permissions boundary")
        return {"PermissionsBoundary": ps.permissions_boundary}

    def delete_permissions_boundary_from_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.delete_permissions_boundary(
            instance_arn=p["InstanceArn"], permission_set_arn=p["PermissionSetArn"]
        )
        return {}

    # --- tags -----------------------------------------------------------------------------

    def tag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.tag_resource(resource_arn=p["ResourceArn"], tags=p["Tags"])
        return {}

    def untag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        self.center.untag_resource(resource_arn=p["ResourceArn"], tag_keys=p["TagKeys"])
        return {}

    def list_tags_for_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        tags = self.center.tags(p["ResourceArn"])
        page, token = paginate(
            tags.items(),
            key=lambda kv: kv[0],
            scope=f"ListTagsForResource:{p['ResourceArn']}",
            next_token=p.get("NextToken"),
            # No MaxResults in the API; set only by SandboxSettings.list_page_size.
            max_results=p.get("MaxResults"),
            page_limit=50,
        )
        return {"Tags": [{"Key": k, "Value": v} for k, v in page], "NextToken": token}

    # --- provisioning ---------------------------------------------------------------------

    def provision_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        op = self.center.provision_permission_set(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            target_type=p["TargetType"],
            target_id=p.get("TargetId"),
        )
        return {"PermissionSetProvisioningStatus": op.provisioning_status()}

    def describe_permission_set_provisioning_status(self, p: dict[str, Any]) -> dict[str, Any]:
        op = self.center.operation(
            instance_arn=p["InstanceArn"],
            request_id=p["ProvisionPermissionSetRequestId"],
            kind="PROVISION",
        )
        return {"PermissionSetProvisioningStatus": op.provisioning_status()}

    def list_permission_set_provisioning_status(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_operations(p, kind="PROVISION", key="PermissionSetsProvisioningStatus")

    def list_accounts_for_provisioned_permission_set(self, p: dict[str, Any]) -> dict[str, Any]:
        accounts = self.center.provisioned_accounts(
            instance_arn=p["InstanceArn"],
            permission_set_arn=p["PermissionSetArn"],
            provisioning_status=p.get("ProvisioningStatus"),
        )
        page, token = paginate(
            accounts,
            key=lambda a: a,
            scope=f"ListAccountsForProvisionedPermissionSet:{p['PermissionSetArn']}:"
            f"{p.get('ProvisioningStatus')}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {"AccountIds": page, "NextToken": token}

    def list_permission_sets_provisioned_to_account(self, p: dict[str, Any]) -> dict[str, Any]:
        sets = self.center.permission_sets_provisioned_to(
            instance_arn=p["InstanceArn"],
            account_id=p["AccountId"],
            provisioning_status=p.get("ProvisioningStatus"),
        )
        page, token = paginate(
            sets,
            key=lambda ps: _seq(ps.sequence),
            scope=f"ListPermissionSetsProvisionedToAccount:{p['AccountId']}:"
            f"{p.get('ProvisioningStatus')}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {"PermissionSets": [ps.arn for ps in page], "NextToken": token}

    # --- account assignments --------------------------------------------------------------

    @staticmethod
    def _assignment(p: dict[str, Any]) -> AccountAssignment:
        return AccountAssignment(
            account_id=p["TargetId"],
            permission_set_arn=p["PermissionSetArn"],
            principal_type=p["PrincipalType"],
            principal_id=p["PrincipalId"],
        )

    def create_account_assignment(self, p: dict[str, Any]) -> dict[str, Any]:
        op = self.center.create_account_assignment(
            instance_arn=p["InstanceArn"], assignment=self._assignment(p)
        )
        return {"AccountAssignmentCreationStatus": op.assignment_status()}

    def delete_account_assignment(self, p: dict[str, Any]) -> dict[str, Any]:
        op = self.center.delete_account_assignment(
            instance_arn=p["InstanceArn"], assignment=self._assignment(p)
        )
        return {"AccountAssignmentDeletionStatus": op.assignment_status()}

    def describe_account_assignment_creation_status(self, p: dict[str, Any]) -> dict[str, Any]:
        op = self.center.operation(
            instance_arn=p["InstanceArn"],
            request_id=p["AccountAssignmentCreationRequestId"],
            kind="CREATE_ASSIGNMENT",
        )
        return {"AccountAssignmentCreationStatus": op.assignment_status()}

    def describe_account_assignment_deletion_status(self, p: dict[str, Any]) -> dict[str, Any]:
        op = self.center.operation(
            instance_arn=p["InstanceArn"],
            request_id=p["AccountAssignmentDeletionRequestId"],
            kind="DELETE_ASSIGNMENT",
        )
        return {"AccountAssignmentDeletionStatus": op.assignment_status()}

    def list_account_assignment_creation_status(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_operations(
            p, kind="CREATE_ASSIGNMENT", key="AccountAssignmentsCreationStatus"
        )

    def list_account_assignment_deletion_status(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._list_operations(
            p, kind="DELETE_ASSIGNMENT", key="AccountAssignmentsDeletionStatus"
        )

    def _list_operations(self, p: dict[str, Any], *, kind: Any, key: str) -> dict[str, Any]:
        status = (p.get("Filter") or {}).get("Status")
        ops = self.center.operations_of(instance_arn=p["InstanceArn"], kind=kind, status=status)
        page, token = paginate(
            ops,
            key=lambda shown: _seq(shown[0].sequence),
            scope=f"{key}:{p['InstanceArn']}:{status}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {key: [op.metadata(listed) for op, listed in page], "NextToken": token}

    def list_account_assignments(self, p: dict[str, Any]) -> dict[str, Any]:
        found = self.center.list_assignments(
            instance_arn=p["InstanceArn"],
            account_id=p["AccountId"],
            permission_set_arn=p["PermissionSetArn"],
        )
        page, token = paginate(
            found,
            key=lambda pair: _seq(pair[1]),
            scope=f"ListAccountAssignments:{p['AccountId']}:{p['PermissionSetArn']}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {
            "AccountAssignments": [
                {
                    "AccountId": a.account_id,
                    "PermissionSetArn": a.permission_set_arn,
                    "PrincipalType": a.principal_type,
                    "PrincipalId": a.principal_id,
                }
                for a, _ in page
            ],
            "NextToken": token,
        }

    def list_account_assignments_for_principal(self, p: dict[str, Any]) -> dict[str, Any]:
        account_filter = (p.get("Filter") or {}).get("AccountId")
        found = self.center.assignments_for_principal(
            instance_arn=p["InstanceArn"],
            principal_type=p["PrincipalType"],
            principal_id=p["PrincipalId"],
            account_id=account_filter,
        )
        page, token = paginate(
            found,
            key=lambda pair: _seq(pair[1]),
            scope=f"ListAccountAssignmentsForPrincipal:{p['PrincipalId']}:{account_filter}",
            next_token=p.get("NextToken"),
            max_results=p.get("MaxResults"),
        )
        return {
            "AccountAssignments": [
                {
                    "AccountId": a.account_id,
                    "PermissionSetArn": a.permission_set_arn,
                    "PrincipalId": a.principal_id,
                    "PrincipalType": a.principal_type,
                }
                for a, _ in page
            ],
            "NextToken": token,
        }

    # --- attributes for access control (ABAC) ---------------------------------------------

    @staticmethod
    def _attributes(p: dict[str, Any]) -> list[dict[str, Any]]:
        configuration = p["InstanceAccessControlAttributeConfiguration"]
        return list(configuration["AccessControlAttributes"])

    def create_instance_access_control_attribute_configuration(
        self, p: dict[str, Any]
    ) -> dict[str, Any]:
        self.center.create_access_control_attributes(
            instance_arn=p["InstanceArn"], attributes=self._attributes(p)
        )
        return {}

    def describe_instance_access_control_attribute_configuration(
        self, p: dict[str, Any]
    ) -> dict[str, Any]:
        attributes = self.center.access_control_attributes(p["InstanceArn"])
        return {
            "Status": "ENABLED",
            "InstanceAccessControlAttributeConfiguration": {
                "AccessControlAttributes": [
                    {"Key": a["Key"], "Value": {"Source": list(a["Value"]["Source"])}}
                    for a in attributes
                ]
            },
        }

    def update_instance_access_control_attribute_configuration(
        self, p: dict[str, Any]
    ) -> dict[str, Any]:
        self.center.update_access_control_attributes(
            instance_arn=p["InstanceArn"], attributes=self._attributes(p)
        )
        return {}

    def delete_instance_access_control_attribute_configuration(
        self, p: dict[str, Any]
    ) -> dict[str, Any]:
        self.center.delete_access_control_attributes(instance_arn=p["InstanceArn"])
        return {}
