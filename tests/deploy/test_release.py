"""How the reconciler reaches its users: the release workflow that publishes the image, the
example pull-request workflow that runs it, and no workflow or document installing a package
named identity-center-reconciler from PyPI, where there is none."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE = REPO_ROOT / ".github" / "workflows" / "release.yml"
EXAMPLE = REPO_ROOT / "examples" / "github" / "desired-state-pr.yml"
PACKAGE = "identity-center-reconciler"

_INSTALL = re.compile(r"\b(?:pip3?|pipx|uv(?:\s+pip|\s+tool)?|poetry|pdm)\s+(?:install|add)\b")
_REQUIREMENT = re.compile(
    rf"""(?<![\w/.@-]){re.escape(PACKAGE)}(?![\w-])(?P<rest>\s*(?:\[[^\]]*\])?\s*(?P<next>@|==|~=|>=|<=|!=|<|>|$|["'\s]))""",
    re.IGNORECASE,
)
_PINNED_BY_NAME = re.compile(rf"{re.escape(PACKAGE)}\s*(?:\[[^\]]*\])?\s*(?:===?|~=|>=|<=)\s*\d")


def installs_from_pypi(text: str) -> list[str]:
    """The lines of ``text`` that would fetch the package by its name from a package index: an
    install command (pip, pipx, uv, poetry, pdm) naming it without a direct reference (``NAME
    @ git+https://...``, a path, a URL), and any ``NAME==X`` requirement (such as one kept in a
    variable that a later ``pip install "$VAR"`` uses)."""
    found = []
    for line in text.splitlines():
        if _PINNED_BY_NAME.search(line):
            found.append(line.strip())
            continue
        install = _INSTALL.search(line)
        if install is None:
            continue
        for requirement in _REQUIREMENT.finditer(line[install.end() :]):
            if requirement["next"] != "@":
                found.append(line.strip())
                break
    return found


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    suffixes = {".md", ".yml", ".yaml", ".toml", ".txt", ".sh", ".cfg", ".ini", ".json", ".tf"}
    names = {"Dockerfile", "Makefile"}
    return [
        REPO_ROOT / name
        for name in listed
        if (Path(name).suffix in suffixes or Path(name).name in names)
        and not name.startswith("tests/")
    ]


# -- no install from PyPI ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        'python -m pip install "identity-center-reconciler==0.1.0"',
        "pip install identity-center-reconciler",
        "pip3 install --quiet identity-center-reconciler[sandbox]",
        "uv tool install identity-center-reconciler",
        "pipx install identity-center-reconciler",
        '  RECONCILER_PACKAGE: "identity-center-reconciler==0.1.0"',
        "pip install 'identity-center-reconciler>=0.1'",
    ],
)
def test_an_install_by_name_is_found(line: str) -> None:
    assert installs_from_pypi(line) == [line.strip()]


@pytest.mark.parametrize(
    "line",
    [
        'python -m pip install "identity-center-reconciler @ git+https://github.com/o/identity-center-reconciler@v0.1.0"',
        "pip install git+https://github.com/o/identity-center-reconciler@v0.1.0",
        "pip install -c constraints.txt .",
        "docker pull ghcr.io/o/identity-center-reconciler:0.1.0",
        "make install  # identity-center-reconciler",
    ],
)
def test_an_install_from_a_pinned_source_is_not_flagged(line: str) -> None:
    assert installs_from_pypi(line) == []


def test_no_workflow_or_document_installs_the_package_from_pypi() -> None:
    files = _tracked_text_files()
    found = {
        str(path.relative_to(REPO_ROOT)): installs_from_pypi(path.read_text(errors="replace"))
        for path in files
    }

    assert any(path.name == "desired-state-pr.yml" for path in files)
    assert {path: lines for path, lines in found.items() if lines} == {}


# -- the example pull-request workflow ---------------------------------------------------------


def _install_step() -> dict[str, Any]:
    steps: list[dict[str, Any]] = yaml.safe_load(EXAMPLE.read_text())["jobs"]["plan"]["steps"]
    return next(step for step in steps if step.get("name") == "Install the reconciler")


def test_the_example_workflow_runs_a_pinned_image_of_the_reconciler() -> None:
    image = yaml.safe_load(EXAMPLE.read_text())["env"]["RECONCILER_IMAGE"]

    assert re.fullmatch(r"ghcr\.io/[A-Za-z0-9-]+/identity-center-reconciler:\d+\.\d+\.\d+", image)


def test_the_reconciler_command_runs_the_image_with_the_checkout_and_credentials(
    tmp_path: Path,
) -> None:
    """The install step's wrapper, with a fake ``docker`` that records its arguments: every
    argument passes through, the AWS variables are forwarded by name (never by value), the
    checkout is the working folder, and the exit code is the container's."""
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    calls = tmp_path / "docker-calls"
    (fake / "docker").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{calls}"\necho --- >> "{calls}"\n'
        'case "$*" in *" plan "*) exit 2;; esac\n'
    )
    (fake / "docker").chmod(0o755)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    github_path = tmp_path / "github-path"
    environment = {
        **os.environ,
        "PATH": f"{fake}:{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_PATH": str(github_path),
        "RECONCILER_IMAGE": "ghcr.io/example/identity-center-reconciler:0.1.0",
        "AWS_SECRET_ACCESS_KEY": "not-on-the-command-line",
    }
    subprocess.run(
        ["bash", "-e", "-c", _install_step()["run"]],
        cwd=tmp_path,
        env=environment,
        check=True,
        timeout=60,
    )
    wrapper = Path(github_path.read_text().strip()) / "reconciler"

    plan = subprocess.run(
        [str(wrapper), "plan", "--repo", ".", "--format", "markdown"],
        cwd=tmp_path,
        env=environment,
        check=False,
        timeout=60,
    )

    *_, last = calls.read_text().split("---\n")[:-1]
    arguments = last.splitlines()
    assert plan.returncode == 2
    assert arguments[:2] == ["run", "--rm"]
    assert arguments[-6:] == [
        "ghcr.io/example/identity-center-reconciler:0.1.0",
        "plan",
        "--repo",
        ".",
        "--format",
        "markdown",
    ]
    assert f"{tmp_path}:/work" in arguments
    assert {"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} <= set(
        arguments
    )
    assert "not-on-the-command-line" not in calls.read_text()


# -- the release workflow ----------------------------------------------------------------------


def _release() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(RELEASE.read_text())
    return document


def _release_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _release()["jobs"]["image"]["steps"]
    return steps


def test_the_release_runs_on_version_tags_only() -> None:
    workflow = _release()
    triggers = workflow["on" if "on" in workflow else True]  # YAML 1.1: `on` is true

    assert triggers == {"push": {"tags": ["v*"]}}


def test_every_release_action_is_pinned_to_a_commit() -> None:
    uses = [step["uses"] for step in _release_steps() if "uses" in step]

    assert uses
    assert [use for use in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use)] == []


def test_the_image_is_pushed_to_ghcr_with_sbom_and_provenance() -> None:
    steps = _release_steps()
    (build,) = [step for step in steps if step.get("uses", "").startswith("docker/build-push-")]
    (meta,) = [step for step in steps if step.get("uses", "").startswith("docker/metadata-")]
    job = _release()["jobs"]["image"]

    assert build["with"]["push"] is True
    assert build["with"]["provenance"] is True
    assert build["with"]["sbom"] is True
    assert build["with"]["tags"] == "${{ steps.meta.outputs.tags }}"
    assert meta["id"] == "meta"
    assert meta["with"]["images"].startswith("ghcr.io/")
    assert meta["with"]["images"].endswith("/identity-center-reconciler")
    assert "type=semver,pattern={{version}}" in meta["with"]["tags"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
