"""deploy/terraform/ecs: its policies are what ``reconciler iam-policy`` prints, its lease table
has the lock adapter's key, and, where terraform and the hashicorp/aws provider are installed
(a local filesystem mirror: nothing is downloaded), ``terraform validate`` passes and
``terraform test`` (a mocked provider: no credentials) plans what the module promises."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.adapters import locking
from scripts.deploy_policies import ARGUMENTS, POLICIES, generated

MODULE = Path(__file__).resolve().parents[2] / "deploy" / "terraform" / "ecs"
PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
MIRRORS = [
    Path(os.environ["TF_PLUGIN_MIRROR"]) if os.environ.get("TF_PLUGIN_MIRROR") else None,
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
]
"""Where a filesystem mirror of the provider may be (``TF_PLUGIN_MIRROR`` first, as
benchmarks/peers/terraform.py looks for it)."""


def _mirror() -> Path | None:
    return next((path for path in MIRRORS if path and (path / PROVIDER).is_dir()), None)


def _why_not() -> str | None:
    if shutil.which("terraform") is None:
        return "terraform is not installed: the ECS module is not validated"
    if _mirror() is None:
        searched = ", ".join(str(path) for path in MIRRORS if path)
        return f"no hashicorp/aws provider in a filesystem mirror ({searched}): not downloaded"
    return None


needs_terraform = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
def test_the_policy_file_is_what_the_generator_prints(name: str) -> None:
    assert (POLICIES / f"{name}.json").read_text() == generated(name), (
        "stale: run `python -m scripts.deploy_policies`"
    )


def test_the_task_role_gets_the_apply_and_lease_policies() -> None:
    main = (MODULE / "main.tf").read_text()

    assert sorted(re.findall(r'templatefile\("\$\{path\.module\}/policies/(\w+)\.json"', main)) == [
        "apply",
        "lease",
    ]
    for name in ("apply", "lease"):
        assert f'resource "aws_iam_role_policy" "{name}"' in main
        assert f"jsonencode(local.{name}_policy)" in main
    assert json.loads(generated("apply"))["Statement"]  # the generator grants something


def test_the_lease_table_has_the_key_the_lock_adapter_expects() -> None:
    main = (MODULE / "main.tf").read_text()
    table = main[main.index('resource "aws_dynamodb_table" "lease"') :]
    table = table[: table.index("\n}\n")]

    assert re.search(rf'hash_key\s*=\s*"{locking._KEY}"', table)
    assert re.search(rf'name\s*=\s*"{locking._KEY}"\s*\n\s*type\s*=\s*"S"', table)
    assert "range_key" not in table
    assert "ttl" not in table  # the lease item is never deleted: its generation only grows


def _terraform(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    mirror = _mirror()
    (directory / "cli.tfrc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "TF_"))
    }
    environment |= {
        "TF_CLI_CONFIG_FILE": str(directory / "cli.tfrc"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    return subprocess.run(
        ["terraform", *arguments, "-no-color"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the module, ``terraform init -backend=false`` from the mirror."""
    directory = tmp_path_factory.mktemp("terraform") / "ecs"
    shutil.copytree(MODULE, directory, ignore=shutil.ignore_patterns(".terraform*"))
    init = _terraform(directory, "init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stdout + init.stderr
    return directory


@pytest.mark.slow
@needs_terraform
def test_terraform_validate_passes(initialised: Path) -> None:
    validate = _terraform(initialised, "validate")

    print(validate.stdout)  # shown with -s: the closing note quotes it
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Success! The configuration is valid." in validate.stdout


@pytest.mark.slow
@needs_terraform
def test_terraform_test_plans_what_the_module_promises(initialised: Path) -> None:
    """deploy/terraform/ecs/tests/module.tftest.hcl: two tasks on the lease table keyed
    ``lock_name``, the generated policies scoped to the instance, store and table, a read-only
    non-root container, secrets from Secrets Manager."""
    test = _terraform(initialised, "test")

    print(test.stdout)
    assert test.returncode == 0, test.stdout + test.stderr
    assert re.search(r"Success! \d+ passed, 0 failed", test.stdout)
