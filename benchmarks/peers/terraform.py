"""Terraform's AWS provider as a peer, run against a sandbox: apply an organization, then count
the calls and time of a ``terraform plan`` that reads it back.

``measure_seeded_plan`` does the same for an organization seeded with
``reconciler.sandbox.seeding`` (the benchmark's): it writes a configuration declaring every
object seeded (``aws_identitystore_*`` and ``aws_ssoadmin_*`` resources) with an ``import``
block each, imports them into a state with ``terraform apply``, then times and counts a
``terraform plan`` over that state.

Needs ``terraform`` on PATH and the hashicorp/aws provider (``terraform.tf`` pins 5.100.0) in a
local filesystem mirror (``TF_PLUGIN_MIRROR``, default ``/opt/tf-plugins``): nothing is fetched
from the network. ``available()`` says why not when either is missing.

Run ``python -m benchmarks.peers.terraform`` for the figures of a small organization.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.identitystore.models import IdentityStoreData, identitystore_backends

from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.faults import FaultConfig

TERRAFORM_CONFIG = Path(__file__).with_name("terraform.tf")
PLUGIN_MIRROR = Path(os.environ.get("TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
PROVIDER = "registry.terraform.io/hashicorp/aws"
PARALLELISM = 50


def available() -> str | None:
    """``None`` when Terraform and the provider mirror are here, else why not (one line)."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    if not (PLUGIN_MIRROR / PROVIDER).is_dir():
        return f"no hashicorp/aws provider in the filesystem mirror {PLUGIN_MIRROR}"
    return None


@dataclass(frozen=True)
class TerraformRun:
    """One ``terraform`` command: exit code, seconds, the provider's debug log."""

    returncode: int
    seconds: float
    output: str
    provider_log: str

    @property
    def retries(self) -> list[str]:
        """The provider's ``retrying request <service>/<operation>, attempt N`` lines."""
        return [line for line in self.provider_log.splitlines() if "retrying request" in line]


class TerraformWorkspace:
    """A temporary working directory holding ``terraform.tf``, initialised from the mirror."""

    def __init__(self, directory: Path, *, config: dict[str, Any] | None = None) -> None:
        """Initialise ``directory`` with ``terraform.tf``, or with ``config`` (Terraform's JSON
        syntax) when given. Raises ``RuntimeError`` when ``terraform init`` fails."""
        self.directory = directory
        if config is None:
            shutil.copy(TERRAFORM_CONFIG, directory / "main.tf")
        else:
            (directory / "main.tf.json").write_text(json.dumps(config, indent=1))
        (directory / "cli.tfrc").write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{PLUGIN_MIRROR}"\n  }}\n'
            "}\n"
        )
        self._environment = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(directory / "cli.tfrc"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }
        for key in list(self._environment):
            if key.startswith("AWS_"):
                del self._environment[key]
        init = self.run("init", "-input=false", "-no-color")
        if init.returncode != 0:
            raise RuntimeError(f"terraform init failed:\n{init.output}")

    def run(self, *arguments: str, variables: dict[str, str] | None = None) -> TerraformRun:
        """Run ``terraform <arguments> -var k=v ...`` with the provider's debug log on."""
        log = self.directory / "provider.log"
        log.unlink(missing_ok=True)
        command = ["terraform", *arguments]
        for key, value in (variables or {}).items():
            command += ["-var", f"{key}={value}"]
        started = time.perf_counter()
        completed = subprocess.run(
            command,
            cwd=self.directory,
            env={**self._environment, "TF_LOG_PROVIDER": "DEBUG", "TF_LOG_PATH": str(log)},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        return TerraformRun(
            returncode=completed.returncode,
            seconds=seconds,
            output=completed.stdout + completed.stderr,
            provider_log=log.read_text(errors="replace") if log.exists() else "",
        )


def sandbox_variables(sandbox: Sandbox, **counts: int | list[str]) -> dict[str, str]:
    """``terraform.tf``'s variables for ``sandbox``'s first instance, plus ``counts``."""
    instance = next(iter(sandbox.identity_center.instances.values()))
    values = {
        "endpoint": sandbox.endpoint_url,
        "instance_arn": instance.arn,
        "identity_store_id": instance.identity_store_id,
    }
    for key, value in counts.items():
        values[key] = (
            "[" + ",".join(f'"{item}"' for item in value) + "]"
            if isinstance(value, list)
            else str(value)
        )
    return values


@dataclass(frozen=True)
class PlanFigures:
    """Calls and seconds of one ``terraform plan`` over an applied organization."""

    objects: dict[str, int]
    apply_seconds: float
    plan_seconds: float
    plan_calls: dict[str, int]

    @property
    def plan_call_count(self) -> int:
        return sum(self.plan_calls.values())


def measure_plan(
    *, accounts: int, permission_sets: int, groups: int, users: int, assignments_per_account: int
) -> PlanFigures:
    """Apply an organization of that size to a fresh sandbox (no rate limit), then run
    ``terraform plan`` and count the calls it makes. Raises ``RuntimeError`` on a failure."""
    with (
        tempfile.TemporaryDirectory() as folder,
        Sandbox(
            SandboxSettings(assignment_delay_seconds=0.05, provisioning_delay_seconds=0.05),
            faults=FaultConfig.parse("none"),
        ) as sandbox,
    ):
        sandbox.seed_example_organization()
        account_ids = [sandbox.add_account(name=f"member-{i}") for i in range(accounts)]
        workspace = TerraformWorkspace(Path(folder))
        variables = sandbox_variables(
            sandbox,
            account_ids=account_ids,
            users=users,
            groups=groups,
            permission_sets=permission_sets,
            assignments_per_account=assignments_per_account,
        )
        applied = workspace.run(
            "apply",
            "-input=false",
            "-no-color",
            "-auto-approve",
            f"-parallelism={PARALLELISM}",
            variables=variables,
        )
        if applied.returncode != 0:
            raise RuntimeError(f"terraform apply failed:\n{applied.output[-4000:]}")
        sandbox.recorder.reset()
        planned = workspace.run(
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-parallelism={PARALLELISM}",
            variables=variables,
        )
        if planned.returncode != 0:  # 2 would mean the plan is not empty
            raise RuntimeError(f"terraform plan failed or not empty:\n{planned.output[-4000:]}")
        calls = Counter(f"{c.service}:{c.operation}" for c in sandbox.calls)
    return PlanFigures(
        objects={
            "accounts": accounts,
            "permission_sets": permission_sets,
            "groups": groups,
            "users": users,
            "memberships": users if groups else 0,
            "assignments": accounts * assignments_per_account,
        },
        apply_seconds=applied.seconds,
        plan_seconds=planned.seconds,
        plan_calls=dict(sorted(calls.items())),
    )


def _name(prefix: str, value: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_-]", "_", value)


def seeded_config(sandbox: Sandbox, *, instance_arn: str) -> dict[str, Any]:
    """A Terraform JSON configuration that declares every user, group, membership, permission
    set (with its managed policies and inline policy) and account assignment of ``sandbox``'s
    instance as it is, each with an ``import`` block naming the existing object."""
    center = sandbox.identity_center
    instance = center.instance(instance_arn)
    store_id = instance.identity_store_id
    store: IdentityStoreData = identitystore_backends[sandbox.management_account_id][
        sandbox.settings.region
    ].identity_stores[store_id]
    resources: dict[str, dict[str, Any]] = {}
    imports: list[dict[str, str]] = []

    def declare(kind: str, name: str, body: dict[str, Any], import_id: str) -> str:
        resources.setdefault(kind, {})[name] = body
        imports.append({"to": f"{kind}.{name}", "id": import_id})
        return f"{kind}.{name}"

    users: dict[str, str] = {}
    for user_id, user in store.users.items():
        emails = [e for e in (user.Emails or []) if e.get("Value")]
        body: dict[str, Any] = {
            "identity_store_id": store_id,
            "user_name": user.UserName,
            "display_name": user.DisplayName,
            "name": {
                "given_name": user.Name.GivenName if user.Name else "",
                "family_name": user.Name.FamilyName if user.Name else "",
            },
        }
        if emails:
            body["emails"] = {"value": emails[0]["Value"], "primary": True, "type": "work"}
        users[user_id] = declare(
            "aws_identitystore_user", _name("u_", user.UserName), body, f"{store_id}/{user_id}"
        )
    groups: dict[str, str] = {}
    for group_id, group in store.groups.items():
        body = {"identity_store_id": store_id, "display_name": group.DisplayName}
        if group.Description:
            body["description"] = group.Description
        groups[group_id] = declare(
            "aws_identitystore_group",
            _name("g_", group.DisplayName),
            body,
            f"{store_id}/{group_id}",
        )
    for membership_id, membership in store.group_memberships.items():
        group_ref = groups.get(membership["GroupId"])
        user_ref = users.get(membership["MemberId"]["UserId"])
        if group_ref is None or user_ref is None:
            continue
        declare(
            "aws_identitystore_group_membership",
            _name("m_", membership_id),
            {
                "identity_store_id": store_id,
                "group_id": f"${{{group_ref}.group_id}}",
                "member_id": f"${{{user_ref}.user_id}}",
            },
            f"{store_id}/{membership_id}",
        )
    sets: dict[str, str] = {}
    with center.lock:
        permission_sets = center.list_permission_sets(instance_arn)
        assignments = list(center.assignments)
    for ps in permission_sets:
        target = f"{ps.arn},{instance_arn}"
        body = {"instance_arn": instance_arn, "name": ps.name, "tags": dict(ps.tags)}
        for key, attribute in (
            ("description", "description"),
            ("session_duration", "session_duration"),
            ("relay_state", "relay_state"),
        ):
            if getattr(ps, attribute, None):
                body[key] = getattr(ps, attribute)
        reference = sets[ps.arn] = declare(
            "aws_ssoadmin_permission_set", _name("s_", ps.name), body, target
        )
        for index, policy_arn in enumerate(sorted(ps.managed_policies)):
            declare(
                "aws_ssoadmin_managed_policy_attachment",
                _name("p_", f"{ps.name}_{index}"),
                {
                    "instance_arn": instance_arn,
                    "permission_set_arn": f"${{{reference}.arn}}",
                    "managed_policy_arn": policy_arn,
                },
                f"{policy_arn},{target}",
            )
        if ps.inline_policy:
            declare(
                "aws_ssoadmin_permission_set_inline_policy",
                _name("i_", ps.name),
                {
                    "instance_arn": instance_arn,
                    "permission_set_arn": f"${{{reference}.arn}}",
                    "inline_policy": ps.inline_policy,
                },
                target,
            )
    for index, a in enumerate(sorted(assignments, key=lambda a: (a.account_id, a.principal_id))):
        principal = (users if a.principal_type == "USER" else groups).get(a.principal_id)
        if principal is None or a.permission_set_arn not in sets:
            continue
        declare(
            "aws_ssoadmin_account_assignment",
            f"a_{index}",
            {
                "instance_arn": instance_arn,
                "permission_set_arn": f"${{{sets[a.permission_set_arn]}.arn}}",
                "principal_id": f"${{{principal}.{a.principal_type.lower()}_id}}",
                "principal_type": a.principal_type,
                "target_id": a.account_id,
                "target_type": "AWS_ACCOUNT",
            },
            f"{a.principal_id},{a.principal_type},{a.account_id},AWS_ACCOUNT,"
            f"{a.permission_set_arn},{instance_arn}",
        )
    provider = {
        "region": sandbox.settings.region,
        "access_key": "testing",
        "secret_key": "testing",
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
        "endpoints": [
            {
                "ssoadmin": sandbox.endpoint_url,
                "identitystore": sandbox.endpoint_url,
                "organizations": sandbox.endpoint_url,
                "sts": sandbox.endpoint_url,
            }
        ],
    }
    return {
        "terraform": {
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}
        },
        "provider": {"aws": provider},
        "resource": resources,
        "import": imports,
    }


@dataclass(frozen=True)
class SeededPlanFigures:
    """A ``terraform plan`` over a seeded organization imported into a state: its calls
    (operation -> count) and seconds, the resources declared, and the writes the import's
    apply made (0 when the configuration matched the organization)."""

    resources: int
    import_seconds: float
    import_writes: int
    plan_seconds: float
    plan_calls: dict[str, int]
    plan_exit_code: int

    @property
    def plan_call_count(self) -> int:
        return sum(self.plan_calls.values())


def measure_seeded_plan(sandbox: Sandbox, *, instance_arn: str) -> SeededPlanFigures:
    """Import every object of ``sandbox``'s instance into a Terraform state (``seeded_config``,
    ``terraform apply``), then count the calls and time of ``terraform plan``. Raises
    ``RuntimeError`` when a Terraform command fails."""
    config = seeded_config(sandbox, instance_arn=instance_arn)
    with tempfile.TemporaryDirectory() as folder:
        workspace = TerraformWorkspace(Path(folder), config=config)
        mark = len(sandbox.calls)
        imported = workspace.run(
            "apply", "-input=false", "-no-color", "-auto-approve", f"-parallelism={PARALLELISM}"
        )
        if imported.returncode != 0:
            raise RuntimeError(f"terraform apply (import) failed:\n{imported.output[-4000:]}")
        writes = sum(1 for c in sandbox.calls[mark:] if c.is_write)
        mark = len(sandbox.calls)
        planned = workspace.run(
            "plan", "-input=false", "-no-color", "-detailed-exitcode", f"-parallelism={PARALLELISM}"
        )
        if planned.returncode not in (0, 2):
            raise RuntimeError(f"terraform plan failed:\n{planned.output[-4000:]}")
        calls = Counter(c.operation for c in sandbox.calls[mark:])
    return SeededPlanFigures(
        resources=len(config["import"]),
        import_seconds=imported.seconds,
        import_writes=writes,
        plan_seconds=planned.seconds,
        plan_calls=dict(sorted(calls.items())),
        plan_exit_code=planned.returncode,
    )


def main() -> int:
    """Print the figures of a small organization (or why Terraform cannot run here)."""
    reason = available()
    if reason is not None:
        print(f"terraform: skipped ({reason})")
        return 0
    figures = measure_plan(
        accounts=5, permission_sets=3, groups=6, users=30, assignments_per_account=3
    )
    print(f"organization: {figures.objects}")
    print(f"apply: {figures.apply_seconds:.1f} s (parallelism {PARALLELISM})")
    print(f"plan: {figures.plan_seconds:.1f} s, {figures.plan_call_count} calls")
    for operation, count in figures.plan_calls.items():
        print(f"  {operation}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
