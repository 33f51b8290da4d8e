"""Plans a reviewer can read, as ``reconciler plan`` prints them against the sandbox: created
objects list their attributes, an inline-policy change is a line diff, the Markdown plan keeps
the rule of each assignment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.planning.escaping import markdown_text
from tests.controller.conftest import edit_json
from tests.e2e.test_cli import run_cli, run_json

pytestmark = pytest.mark.usefixtures("aws_environment")

READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_a_created_permission_set_lists_its_policies_and_session_duration_in_text(
    access_repo: Path,
) -> None:
    result = run_cli("plan", "--repo", str(access_repo))

    assert result.returncode == 2, result.stderr
    block = _lines_under(result.stdout, "+ create permission set ReadOnlyAccess")
    assert f"managed_policies: {READ_ONLY_POLICY}, " in "\n".join(block)
    assert "session_duration: PT4H (4 hours)" in block
    assert "relay_state: https://console.aws.amazon.com/billing/home" in block
    assert '"Sid": "DenySecretValues",' in block  # the inline policy, pretty-printed


def test_a_created_permission_set_lists_its_policies_and_session_duration_in_markdown(
    access_repo: Path,
) -> None:
    result = run_cli("plan", "--repo", str(access_repo), "--format", "markdown")

    assert result.returncode == 2, result.stderr
    details = result.stdout.split(
        "<details><summary>create permission set DeveloperAccess</summary>", 1
    )[1].split("</details>", 1)[0]
    assert "session_duration: PT8H (8 hours)" in details
    assert "customer_managed_policies: /platform/DeveloperExtras" in details
    assert "permissions_boundary: customer-managed /platform/DeveloperBoundary" in details


def test_a_created_permission_set_carries_its_attributes_in_json(access_repo: Path) -> None:
    code, document = run_json("plan", "--repo", str(access_repo))

    assert code == 2
    (change,) = [
        change
        for change in document["changes"]
        if change["key"] == "permission-set/ReadOnlyAccess" and change["action"] == "create"
    ]
    attributes = change["attributes"]
    assert attributes["session_duration"] == "PT4H"
    assert READ_ONLY_POLICY in attributes["managed_policies"]
    assert attributes["inline_policy"]["Statement"][0]["Sid"] == "DenySecretValues"
    assert "session_duration: PT4H (4 hours)" in change["detail"]


def _widen_deny(document: dict[str, Any]) -> None:
    statement = document["inline_policy"]["Statement"][0]
    statement["Action"].append("kms:Decrypt")
    document["inline_policy"]["Statement"].append(
        {"Sid": "AllowCostExplorer", "Effect": "Allow", "Action": "ce:Get*", "Resource": "*"}
    )


def test_an_inline_policy_change_is_shown_as_a_line_diff(access_repo: Path) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    edit_json(access_repo, "permission-sets/ReadOnlyAccess.json", _widen_deny, "Widen a policy")

    result = run_cli("plan", "--repo", str(access_repo))

    assert result.returncode == 2, result.stderr
    block = _lines_under(result.stdout, "~ update permission set ReadOnlyAccess")
    assert block[0] == "inline_policy: statements +AllowCostExplorer, ~DenySecretValues"
    assert '+        "kms:Decrypt",' in block or '+        "kms:Decrypt"' in block
    assert '+      "Sid": "AllowCostExplorer",' in block
    assert not any("→" in line for line in block)  # no two one-line JSON blobs


def test_an_inline_policy_change_lists_its_statements_in_json(access_repo: Path) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    edit_json(access_repo, "permission-sets/ReadOnlyAccess.json", _widen_deny, "Widen a policy")

    code, document = run_json("plan", "--repo", str(access_repo))

    assert code == 2
    (change,) = [
        c
        for c in document["changes"]
        if c["key"] == "permission-set/ReadOnlyAccess" and c["action"] == "update"
    ]
    (policy,) = [entry for entry in change["diff"] if entry["attribute"] == "inline_policy"]
    assert policy["statements"] == {
        "added": ["AllowCostExplorer"],
        "removed": [],
        "changed": ["DenySecretValues"],
    }
    assert json.dumps(policy["new"])  # the whole documents stay, as before


def test_the_markdown_plan_keeps_the_rule_of_each_assignment(access_repo: Path) -> None:
    code, document = run_json("plan", "--repo", str(access_repo))
    rules = {c["rule"] for c in document["changes"] if c["kind"] == "assignment" and "rule" in c}
    assert code == 2
    assert rules

    result = run_cli("plan", "--repo", str(access_repo), "--format", "markdown")

    assert result.returncode == 2, result.stderr
    for rule in rules:
        assert f"rule: {markdown_text(rule)}" in result.stdout


def _lines_under(text: str, heading: str) -> list[str]:
    """The lines indented under the change line ``heading`` of a text plan, stripped."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.strip() == heading)
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start + 1 :]:
        if len(line) - len(line.lstrip()) <= indent:
            break
        block.append(line.strip())
    return block
