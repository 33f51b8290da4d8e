"""Regenerate the IAM policies of the ECS module (deploy/terraform/ecs/policies/*.json) from
``reconciler iam-policy``: the task role's ``apply`` policy and its ``lease`` policy, scoped with
Terraform template variables (``${instance_id}``, ``${identity_store_id}``, ``${table_name}``,
``${region}``, ``${account_id}``, ``${partition}``) that the module fills in with
``templatefile()``.

    python -m scripts.deploy_policies          # rewrite the files
    python -m scripts.deploy_policies --check  # exit 1 when a file is stale

``tests/deploy/test_terraform.py`` fails when a file differs from what this writes, so a change to
the permission registry (reconciler/adapters/aws/permissions.py) reaches the module with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scripts.iam_docs import command_output

POLICIES = Path(__file__).resolve().parents[1] / "deploy" / "terraform" / "ecs" / "policies"

ARGUMENTS: dict[str, list[str]] = {
    "apply": [
        "--role",
        "apply",
        "--instance-arn",
        "arn:${partition}:sso:::instance/${instance_id}",
        "--identity-store-id",
        "${identity_store_id}",
        "--partition",
        "${partition}",
    ],
    "lease": [
        "--role",
        "lease",
        "--table",
        "${table_name}",
        "--region",
        "${region}",
        "--account",
        "${account_id}",
        "--partition",
        "${partition}",
    ],
}
"""The ``reconciler iam-policy`` arguments of each file (``<name>.json``)."""


def generated(name: str) -> str:
    """What ``policies/<name>.json`` must hold: ``reconciler iam-policy ARGUMENTS[name]``."""
    return command_output(["iam-policy", *ARGUMENTS[name]])


def main(argv: list[str] | None = None) -> int:
    """Rewrite the policy files, or with ``--check`` say which are stale (exit 1)."""
    argv = sys.argv[1:] if argv is None else argv
    stale = []
    for name in ARGUMENTS:
        path = POLICIES / f"{name}.json"
        fresh = generated(name)
        if "--check" in argv:
            if not path.is_file() or path.read_text() != fresh:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fresh)
    for path in stale:
        sys.stderr.write(f"{path} is stale: run `python -m scripts.deploy_policies`\n")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
