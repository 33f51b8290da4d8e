"""Terraform's AWS provider as a peer, run against a sandbox: apply an organization, then count
the calls and time of a ``terraform plan`` that reads it back.

Needs ``terraform`` on PATH and the hashicorp/aws provider (``terraform.tf`` pins 5.100.0) in a
local filesystem mirror (``TF_PLUGIN_MIRROR``, default ``/opt/tf-plugins``): nothing is fetched
from the network. ``available()`` says why not when either is missing.

Run ``python -m benchmarks.peers.terraform`` for the figures of a small organization.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

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

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        shutil.copy(TERRAFORM_CONFIG, directory / "main.tf")
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
