"""Settings of the sandbox: delays of asynchronous operations, AWS quotas, the Region."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SandboxSettings(BaseModel):
    """How the sandbox behaves. Defaults follow AWS's documented quotas.

    Durations are in seconds (floats). Counts are plain integers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field(
        default="us-east-1",
        description=(
            "AWS Region of the sandbox's Identity Center instance and identity store: sso-admin "
            "and identitystore requests signed for another Region see no instance, as in AWS."
        ),
    )
    assignment_delay_seconds: float = Field(
        default=0.3,
        ge=0,
        description=(
            "Seconds that CreateAccountAssignment and DeleteAccountAssignment stay IN_PROGRESS "
            "before they end SUCCEEDED or FAILED."
        ),
    )
    provisioning_delay_seconds: float = Field(
        default=0.3,
        ge=0,
        description="Seconds that ProvisionPermissionSet stays IN_PROGRESS.",
    )
    status_list_lag_seconds: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Seconds by which the List...Status calls (ListAccountAssignmentCreationStatus, "
            "ListAccountAssignmentDeletionStatus, ListPermissionSetProvisioningStatus) lag "
            "behind: each request is listed with the status it had this long ago, so a request "
            "younger than the lag is not listed at all and a status change is listed late. "
            "Describe... calls are never late. AWS documents no bound (the lists may be "
            "eventually consistent); 0: listed at once."
        ),
    )
    status_retention_seconds: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Seconds after its creation that an asynchronous request ages out: from then on it "
            "is neither listed by the List...Status calls nor found by the Describe... calls "
            "(ResourceNotFoundException). AWS documents no retention; None: kept for ever."
        ),
    )
    max_outstanding_assignment_operations: int = Field(
        default=15,
        ge=1,
        description=(
            "Account assignment creations and deletions that may be IN_PROGRESS at once per "
            "instance; one more is refused with ThrottlingException. AWS: 'The write API "
            "operations have a limit of 15 outstanding asynchronous calls' (IAM user guide, "
            "account access manager quotas)."
        ),
    )
    max_concurrent_provisioning: int = Field(
        default=3,
        ge=1,
        description=(
            "ProvisionPermissionSet requests that may be IN_PROGRESS at once per instance; one "
            "more is refused with ThrottlingException."
        ),
    )
    max_policies_per_permission_set: int = Field(
        default=10,
        ge=1,
        description=(
            "AWS-managed plus customer-managed policies attachable to one permission set; one "
            "more is refused with ServiceQuotaExceededException. 10 is IAM's default quota of "
            "managed policies per role (raisable to 25 in every target account)."
        ),
    )
    max_permission_sets_per_instance: int = Field(
        default=2000,
        ge=1,
        description="Permission sets per instance (Identity Center quota).",
    )
    max_tags_per_resource: int = Field(
        default=50,
        ge=1,
        description="Tags per permission set; more is refused with ValidationException.",
    )
    delegated_administrator: bool = Field(
        default=False,
        description=(
            "Callers act from a delegated administrator account: the organization gets a "
            "member account named 'identity', registered as Identity Center's delegated "
            "administrator, which STS GetCallerIdentity answers; account assignment writes "
            "and provisioning that target the management account, and writes on permission "
            "sets provisioned there, are refused with AccessDeniedException. AWS: tasks that "
            "'can only be performed from the management account' include 'Managing permission "
            "sets provisioned in the management account' (IAM Identity Center user guide, "
            "Delegated administration)."
        ),
    )
    organizations_empty_first_page: bool = Field(
        default=False,
        description=(
            "Answer the first ListAccounts call with no account and a NextToken, which AWS may "
            "do (Organizations API reference: 'Always check the NextToken response parameter "
            "... you might receive an empty page'); exercises clients' paging loops."
        ),
    )
    list_page_size: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description=(
            "Largest page any simulated List call returns (a smaller MaxResults still wins); "
            "None: AWS's own maximum per call (100, ListAccounts 20, sso-admin "
            "ListTagsForResource 50). AWS may return fewer items than asked with a NextToken "
            "(sso-admin API reference: 'the service might return fewer results than the "
            "maximum even when there are more results available'); a small value makes every "
            "paging loop cross a page boundary with a few objects."
        ),
    )
