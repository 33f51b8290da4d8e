"""The IAM policy documents made from the permissions registry: IAM's grammar, sorted,
deterministic, scoped as asked; and the judgement of a session's calls against them."""

from __future__ import annotations

import json
import re

import pytest

from reconciler.adapters.aws.permissions import (
    GRANTS,
    ROLES,
    PolicyScope,
    Role,
    grants_for,
    missing_grants,
    operations_for,
    policy_document,
    render_policy,
    unused_grants,
)
from reconciler.cli import main

SCOPED = PolicyScope(
    instance_arn="arn:aws:sso:::instance/ssoins-1111222233334444",
    identity_store_id="d-1234567890",
    table="locks",
    region="eu-west-1",
    account="111122223333",
)
ACTION = re.compile(r"^(sso|identitystore|organizations|dynamodb|iam|sts):[A-Z][A-Za-z]+$")
ARN = re.compile(r"^arn:aws:[a-z]+:[a-z0-9-]*:(\d{12}|\*)?:[A-Za-z0-9/_.*-]+$")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("where", [PolicyScope(), SCOPED], ids=["unscoped", "scoped"])
def test_the_policy_follows_iams_grammar(role: Role, where: PolicyScope) -> None:
    document = policy_document(role, where)

    assert set(document) == {"Version", "Statement"}
    assert document["Version"] == "2012-10-17"
    assert isinstance(document["Statement"], list)
    assert document["Statement"]
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(set(sids)) == len(sids)
    for statement in document["Statement"]:
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == sorted(set(statement["Action"]))
        assert all(ACTION.match(action) for action in statement["Action"])
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert all(r == "*" or ARN.match(r) for r in resources), resources


@pytest.mark.parametrize("role", ROLES)
def test_the_policy_grants_every_operation_of_the_role_once(role: Role) -> None:
    document = policy_document(role, SCOPED)
    granted = [action for statement in document["Statement"] for action in statement["Action"]]

    assert sorted(granted) == sorted({grant.action for grant in grants_for(role)})
    assert len(granted) == len(set(granted))


def test_statements_are_sorted_and_the_output_is_the_same_every_time() -> None:
    for role in ROLES:
        first = render_policy(role, SCOPED)
        sids = [s["Sid"] for s in json.loads(first)["Statement"]]

        assert render_policy(role, SCOPED) == first
        assert sids == sorted(sids)


def test_apply_holds_every_plan_grant_and_plan_holds_no_write() -> None:
    assert operations_for("plan") < operations_for("apply")
    writes = re.compile(r"(Create|Update|Delete|Put|Attach|Detach|Provision|Tag|Untag)[A-Z]")
    assert not [op for _, op in operations_for("plan") if writes.match(op)]


def test_the_registry_names_each_operation_of_a_role_once() -> None:
    keys = [(grant.role, grant.service, grant.operation) for grant in GRANTS]

    assert len(keys) == len(set(keys))


def test_a_scoped_policy_names_the_instance_store_and_table() -> None:
    text = render_policy("apply", SCOPED) + render_policy("lease", SCOPED)

    assert "arn:aws:sso:::instance/ssoins-1111222233334444" in text
    assert "arn:aws:sso:::permissionSet/ssoins-1111222233334444/*" in text
    assert "arn:aws:identitystore::*:identitystore/d-1234567890" in text
    assert "arn:aws:dynamodb:eu-west-1:111122223333:table/locks" in text


def test_the_command_prints_the_policy_and_notes_the_wildcards(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["iam-policy", "--role", "plan"])

    printed = capsys.readouterr()
    assert code == 0
    assert json.loads(printed.out) == policy_document("plan")
    assert "--instance-arn" in printed.err
    assert "--identity-store-id" in printed.err


def test_a_call_outside_its_roles_policy_is_missing() -> None:
    seen = {
        ("plan", "sso-admin", "ListPermissionSets"),
        ("plan", "sso-admin", "CreatePermissionSet"),
        ("lease", "dynamodb", "PutItem"),
        ("apply", "sso-admin", "CreatePermissionSet"),
        ("setup", "dynamodb", "CreateTable"),
    }

    assert missing_grants(seen) == ["lease: dynamodb:PutItem", "plan: sso:CreatePermissionSet"]


def test_a_plan_grant_is_used_by_a_call_of_plan_or_apply_and_a_write_only_by_apply() -> None:
    every_call = {
        (grant.role, grant.service, grant.operation)
        for grant in GRANTS
        if grant.role != "management-account"
    }
    by_apply = {
        ("apply" if role == "plan" else role, service, op) for role, service, op in every_call
    }
    writes_by_plan = {("plan" if role == "apply" else role, s, op) for role, s, op in every_call}

    assert unused_grants(every_call) == []
    assert unused_grants(by_apply) == []
    assert "apply: sso:CreatePermissionSet" in unused_grants(writes_by_plan)
    assert unused_grants(every_call - {("lease", "dynamodb", "GetItem")}) == [
        "lease: dynamodb:GetItem"
    ]
