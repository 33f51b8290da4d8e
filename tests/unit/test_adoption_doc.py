"""docs/adoption.md says what the code does: the managed-by tag's key and value, and the
Terraform addresses its `terraform state rm` pattern selects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.model.state import MANAGED_TAG_KEY, MANAGED_TAG_VALUE

DOC = Path(__file__).resolve().parents[2] / "docs" / "adoption.md"


def _state_rm_pattern() -> re.Pattern[str]:
    (pattern,) = re.findall(r"grep -E '([^']+)'", DOC.read_text(encoding="utf-8"))
    return re.compile(pattern)


def test_the_doc_names_the_managed_by_tag_the_code_adds() -> None:
    text = DOC.read_text(encoding="utf-8")

    assert f"`{MANAGED_TAG_KEY}: {MANAGED_TAG_VALUE}`" in text
    assert f'ignore_tags {{ keys = ["{MANAGED_TAG_KEY}"] }}' in text


@pytest.mark.parametrize(
    "address",
    [
        "aws_ssoadmin_permission_set.admin",
        'module.sso.aws_ssoadmin_account_assignment.this["Admins-prod"]',
        "aws_ssoadmin_managed_policy_attachment.admin[0]",
        "aws_ssoadmin_managed_policy_attachments_exclusive.admin",
        "aws_ssoadmin_customer_managed_policy_attachment.dev",
        "aws_ssoadmin_permission_set_inline_policy.dev",
        "aws_ssoadmin_permissions_boundary_attachment.dev",
        "aws_identitystore_user.jane",
        "aws_identitystore_group.admins",
        'aws_identitystore_group_membership.m["jane"]',
    ],
)
def test_the_state_rm_pattern_selects_what_the_reconciler_owns(address: str) -> None:
    assert _state_rm_pattern().search(address)


@pytest.mark.parametrize(
    "address",
    [
        "aws_ssoadmin_application.portal",
        "aws_ssoadmin_instance_access_control_attributes.abac",
        "aws_ssoadmin_trusted_token_issuer.idp",
        "data.aws_ssoadmin_instances.this",
        "aws_iam_role.aws_ssoadmin_permission_set_helper",
    ],
)
def test_the_state_rm_pattern_leaves_what_it_does_not_own(address: str) -> None:
    assert not _state_rm_pattern().search(address)
