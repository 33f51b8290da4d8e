"""The example pull-request workflow: its shape, and its comment script run under Node.js
against a fake GitHub API (issue comments in a JSON file)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.planning.plans import DeleteUser, Kind, Plan, Unmanaged
from reconciler.planning.rendering import PLAN_COMMENT_MARKER, plan_markdown

yaml = pytest.importorskip("yaml")

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github" / "desired-state-pr.yml"
REVISION = "0123456789abcdef0123456789abcdef01234567"

# Runs the workflow's github-script body with fakes of `github`, `context` and `core`. The
# comments live in comments.json in the working directory: [{id, body, user: {type}}].
_HARNESS = r"""
const fs = require('fs');
const script = fs.readFileSync(process.argv[2], 'utf8');
const state = JSON.parse(fs.readFileSync('comments.json', 'utf8'));
let nextId = 1000 + state.length;
const issues = {
  listComments: 'listComments',
  createComment: async ({ body }) => { state.push({ id: nextId++, body, user: { type: 'Bot' } }); },
  updateComment: async ({ comment_id, body }) => {
    state.find((c) => c.id === comment_id).body = body;
  },
  deleteComment: async ({ comment_id }) => {
    state.splice(state.findIndex((c) => c.id === comment_id), 1);
  },
};
const github = {
  rest: { issues },
  paginate: async (method, params) => {
    if (method !== 'listComments' || params.issue_number !== 7) throw new Error('bad call');
    return state.map((c) => ({ ...c }));
  },
};
const context = {
  repo: { owner: 'org', repo: 'access' }, issue: { number: 7 }, sha: 'abcdef0123456789',
  serverUrl: 'https://github.com', runId: 42,
};
const summary = { addRaw: () => summary, write: async () => summary };
const core = { summary };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core)
  .then(() => fs.writeFileSync('comments.json', JSON.stringify(state)))
  .catch((error) => { console.error(error); process.exit(1); });
"""


def _workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def _step(job: str, name: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = _workflow()["jobs"][job]["steps"]
    return next(step for step in steps if step.get("name") == name)


def test_the_workflow_runs_on_pull_requests_and_pushes_to_main() -> None:
    workflow = _workflow()
    triggers: dict[str, Any] = workflow[
        "on" if "on" in workflow else True
    ]  # YAML 1.1: `on` is true

    assert set(triggers) == {"pull_request", "push"}
    assert triggers["push"]["branches"] == ["main"]


def test_the_plan_job_assumes_a_role_through_oidc() -> None:
    job = _workflow()["jobs"]["plan"]
    assume = _step("plan", "Assume the read-only plan role")

    assert job["permissions"]["id-token"] == "write"
    assert assume["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert "role-to-assume" in assume["with"]
    assert not any("aws-access-key-id" in step.get("with", {}) for step in job["steps"])


def test_the_plan_is_made_as_markdown() -> None:
    assert "--format markdown" in _step("plan", "Plan against Identity Center")["run"]


def test_the_push_job_applies_nothing() -> None:
    job = _workflow()["jobs"]["note"]
    commands = " ".join(step.get("run", "") for step in job["steps"])

    assert "reconciler" not in commands.replace("reconciler controller", "")
    assert job["permissions"] == {}


def test_the_comment_script_uses_the_renderers_marker() -> None:
    script = _step("plan", "Post or update the plan comment")["with"]["script"]

    assert f"'{PLAN_COMMENT_MARKER}'" in script


# -- the comment script, run --------------------------------------------------------------


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def _plan_output(users: int, *, limit: int) -> str:
    """What `reconciler plan --format markdown` prints: each part, then a newline."""
    operations = tuple(DeleteUser(user_name=f"user-{index:04d}") for index in range(users))
    parts = plan_markdown(Plan(revision=REVISION, operations=operations), limit=limit)
    return "".join(part + "\n" for part in parts)


def _run_script(
    folder: Path, *, plan_output: str, comments: list[dict[str, Any]], exit_code: str = "2"
) -> list[dict[str, Any]]:
    script = folder / "script.js"
    script.write_text(_step("plan", "Post or update the plan comment")["with"]["script"])
    (folder / "harness.js").write_text(_HARNESS)
    (folder / "plan.md").write_text(plan_output)
    (folder / "comments.json").write_text(json.dumps(comments))
    subprocess.run(
        ["node", "harness.js", str(script)],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "EXIT_CODE": exit_code},
    )
    result: list[dict[str, Any]] = json.loads((folder / "comments.json").read_text())
    return result


@needs_node
def test_the_first_run_posts_one_comment_per_part(tmp_path: Path) -> None:
    output = _plan_output(300, limit=4000)

    comments = _run_script(tmp_path, plan_output=output, comments=[])

    assert len(comments) == output.count(PLAN_COMMENT_MARKER) > 1
    assert all(comment["body"].startswith(PLAN_COMMENT_MARKER) for comment in comments)


@needs_node
def test_a_later_run_updates_in_place_and_deletes_leftover_parts(tmp_path: Path) -> None:
    human = {"id": 1, "body": f"{PLAN_COMMENT_MARKER} quoted by a person", "user": {"type": "User"}}
    first = _run_script(tmp_path, plan_output=_plan_output(300, limit=4000), comments=[human])
    ids = [comment["id"] for comment in first if comment["user"]["type"] == "Bot"]

    second = _run_script(tmp_path, plan_output=_plan_output(3, limit=4000), comments=first)

    bots = [comment for comment in second if comment["user"]["type"] == "Bot"]
    assert [comment["id"] for comment in bots] == ids[:1]  # the first comment, updated
    assert "user-0002" in bots[0]["body"]
    assert human in second  # a person's comment is left alone


@needs_node
def test_a_failed_plan_replaces_the_comment_with_the_error(tmp_path: Path) -> None:
    (tmp_path / "plan-errors.txt").write_text("Invalid desired state: 1 problem")
    earlier = _run_script(tmp_path, plan_output=_plan_output(3, limit=4000), comments=[])

    comments = _run_script(tmp_path, plan_output="", comments=earlier, exit_code="1")

    (comment,) = comments
    assert "plan failed" in comment["body"]
    assert "Invalid desired state: 1 problem" in comment["body"]


def test_the_check_fails_on_the_markdown_of_a_plan_that_unmanaged_objects_fail(
    tmp_path: Path,
) -> None:
    """The plan step's shell, run on the Markdown of a plan with ``"unmanaged": "fail"``, sets
    the output that the "Fail on unmanaged access" step fails on."""
    failing = Plan(
        revision=REVISION,
        operations=(),
        unmanaged=(Unmanaged(kind=Kind.USER, key="user/carol", reason="r", remedy="m"),),
        unmanaged_fail=True,
    )
    lines = _step("plan", "Plan against Identity Center")["run"].splitlines()
    start = next(index for index, line in enumerate(lines) if "unmanaged-fail" in line)
    end = next(index for index in range(start, len(lines)) if lines[index].strip() == "fi")
    detect = "\n".join(lines[start : end + 1])
    outputs = []
    for plan_ in (failing, replace(failing, unmanaged_fail=False)):
        (tmp_path / "plan.md").write_text("".join(plan_markdown(plan_)))
        output = tmp_path / "output"
        output.write_text("")
        subprocess.run(
            ["bash", "-c", detect],
            cwd=tmp_path,
            env={**os.environ, "GITHUB_OUTPUT": str(output)},
            check=True,
        )
        outputs.append(output.read_text())
    fail_step = _step("plan", "Fail on unmanaged access")

    assert outputs == ["unmanaged_fail=true\n", ""]
    assert fail_step["if"] == "steps.plan.outputs.unmanaged_fail == 'true'"
    assert "exit 1" in fail_step["run"]
