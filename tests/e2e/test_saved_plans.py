"""Saved plans as a user runs them: ``reconciler plan --out FILE`` then ``reconciler apply
FILE``, subprocesses against the sandbox, on a real Git repository. What is checked: the
operations applied are exactly the saved ones, and a refusal names what changed and writes
nothing (the sandbox's recorded write calls)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.planning.saved_plans import MAX_SAVED_PLAN_BYTES, SAVED_PLAN_FORMAT
from reconciler.sandbox import Sandbox, SeededOrganization
from reconciler.sandbox.console import ConsoleActions
from tests.e2e.test_cli import run_cli, run_json
from tests.e2e.test_guard_limits import _drop_read_only_access, _edit, _limit
from tests.support import HandMade, commit_all

pytestmark = pytest.mark.usefixtures("aws_environment")


def saved_plan(repository: Path, tmp_path: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    """``plan --out`` on ``repository``: the file written and the plan document printed."""
    out = tmp_path / "plans" / "reviewed.json"
    code, document = run_json("plan", "--repo", str(repository), "--out", str(out), *extra)
    assert code == 2, document
    assert out.is_file()
    return out, document


def changes(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(change["action"], change["key"]) for change in document["changes"]]


def refusal(document: dict[str, Any]) -> str:
    """The refusal's message and advice, in one string."""
    error = document["error"]
    assert error["kind"] == "refused", error
    return "\n".join([error["message"], *error.get("advice", ())])


def writes(sandbox: Sandbox) -> int:
    return len(sandbox.recorder.write_calls())


def test_apply_of_an_unchanged_saved_plan_makes_exactly_its_operations(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    out, planned = saved_plan(access_repo, tmp_path)
    saved = json.loads(out.read_text())
    assert saved["format"] == SAVED_PLAN_FORMAT
    assert [(item["action"], item["key"]) for item in saved["operations"]] == changes(planned)
    assert writes(sandbox) == 0

    code, applied = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 0, applied
    assert changes(applied) == changes(planned)
    assert all(change["status"] == "succeeded" for change in applied["changes"])
    code, again = run_json("plan", "--repo", str(access_repo))
    assert (code, again["changes"]) == (0, [])


def test_a_hand_change_to_an_object_the_plan_touches_refuses_naming_it(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox, organization: SeededOrganization
) -> None:
    out, _ = saved_plan(access_repo, tmp_path)
    HandMade(organization).user("jane.doe")  # the plan creates jane.doe
    before = writes(sandbox)

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert "user/jane.doe was created since the plan was made" in refusal(document)
    assert writes(sandbox) == before


def test_a_hand_change_to_an_object_the_plan_does_not_touch_does_not_refuse(
    access_repo: Path, tmp_path: Path, organization: SeededOrganization
) -> None:
    out, planned = saved_plan(access_repo, tmp_path)
    HandMade(organization).user("outsider")  # prune.users is false: left alone

    code, applied = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 0, applied
    assert changes(applied) == changes(planned)


def test_a_commit_after_the_plan_refuses_naming_the_revisions(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    out, planned = saved_plan(access_repo, tmp_path)
    (access_repo / "desired-state" / "notes.txt").write_text("unrelated\n")
    new = commit_all(access_repo, "A later commit")

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert f"the plan was made at {planned['revision']}" in refusal(document)
    assert new in refusal(document)
    assert writes(sandbox) == 0


def test_apply_with_other_settings_than_the_plan_refuses(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    out, _ = saved_plan(access_repo, tmp_path)

    code, document = run_json("apply", str(out), "--repo", str(access_repo), "--allow-deletions")

    assert code == 1
    assert "setting allow_deletions changed" in refusal(document)
    assert writes(sandbox) == 0


def test_a_hand_edited_plan_file_is_refused_by_its_digest(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    out, _ = saved_plan(access_repo, tmp_path)
    saved = json.loads(out.read_text())
    saved["operations"] = saved["operations"][:1]
    out.write_text(json.dumps(saved))

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert "changed after it was written" in refusal(document)
    assert writes(sandbox) == 0


def test_an_operation_added_with_a_recomputed_digest_is_refused(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    out, _ = saved_plan(access_repo, tmp_path)
    saved = json.loads(out.read_text())
    added = {
        "action": "create",
        "kind": "user",
        "key": "user/mallory",
        "user": {
            "user_name": "mallory",
            "display_name": "Mallory",
            "given_name": "Mallory",
            "family_name": "Example",
            "email": None,
        },
    }
    saved["operations"].append(added)
    saved["fingerprints"]["user/mallory"] = None
    del saved["digest"]
    canonical = json.dumps(saved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    saved["digest"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()  # as documented
    out.write_text(json.dumps(saved))

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert "operation no longer planned: create user/mallory" in refusal(document)
    assert writes(sandbox) == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "not whole, valid JSON"),
        (b"\x00\xff garbage", "not whole, valid JSON"),
        (b"[" * 100_000, "its JSON is nested too deeply"),
        (b'{"version": ' + b"9" * 5000 + b"}", "it holds a number longer than 100 digits"),
        (b'{"format": "something-else"}', "is not a saved plan"),
    ],
    ids=["empty", "garbage", "deeply-nested", "long-number", "another-format"],
)
def test_a_file_that_is_not_a_saved_plan_gives_a_clear_error(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox, content: bytes, says: str
) -> None:
    out = tmp_path / "plan.json"
    out.write_bytes(content)

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert says in refusal(document)
    assert str(out) in refusal(document)
    assert "sys." not in refusal(document)
    assert "maximum recursion depth" not in refusal(document)
    assert writes(sandbox) == 0


def test_a_truncated_saved_plan_gives_a_clear_error(access_repo: Path, tmp_path: Path) -> None:
    out, _ = saved_plan(access_repo, tmp_path)
    content = out.read_bytes()
    out.write_bytes(content[: len(content) // 2])

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert "truncated" in refusal(document)


def test_a_saved_plan_over_the_size_bound_is_refused_unread(
    access_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "huge.json"
    with out.open("wb") as handle:
        handle.truncate(MAX_SAVED_PLAN_BYTES + 1)  # sparse: no disk used

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert f"larger than {MAX_SAVED_PLAN_BYTES} bytes" in refusal(document)


def test_a_missing_saved_plan_file_gives_a_clear_error(access_repo: Path, tmp_path: Path) -> None:
    code, document = run_json("apply", str(tmp_path / "absent.json"), "--repo", str(access_repo))

    assert code == 1
    assert "cannot read the saved plan" in refusal(document)


def test_plan_out_refuses_uncommitted_edits_and_writes_no_file(
    access_repo: Path, tmp_path: Path
) -> None:
    (access_repo / "desired-state" / "users.json").write_text(
        (access_repo / "desired-state" / "users.json").read_text().replace("Sam Lee", "Sam L.")
    )
    out = tmp_path / "plan.json"

    code, document = run_json("plan", "--repo", str(access_repo), "--out", str(out))

    assert code == 1
    assert "uncommitted changes" in refusal(document)
    assert not out.exists()


def test_apply_of_a_saved_plan_prints_text_and_markdown_like_apply(
    access_repo: Path, tmp_path: Path
) -> None:
    out, _ = saved_plan(access_repo, tmp_path)

    text = run_cli("apply", str(out), "--repo", str(access_repo))
    assert text.returncode == 0, text.stdout + text.stderr
    assert "jane.doe" in text.stdout

    out_again = tmp_path / "empty.json"
    code, _ = run_json("plan", "--repo", str(access_repo), "--out", str(out_again))
    assert code == 0
    markdown = run_cli("apply", str(out_again), "--repo", str(access_repo), "--format", "markdown")
    assert markdown.returncode == 0, markdown.stdout + markdown.stderr


def test_the_deletion_guard_still_refuses_a_saved_plan(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    _edit(access_repo, "reconciler.json", _limit(2))
    commit_all(access_repo, "At most 2 deletions")
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    _edit(access_repo, "assignments.json", _drop_read_only_access)
    commit_all(access_repo, "Delete 4 assignments")
    out, planned = saved_plan(access_repo, tmp_path)
    assert any("apply would be refused" in note for note in planned["notes"])
    before = writes(sandbox)

    result = run_cli("apply", str(out), "--repo", str(access_repo))

    assert result.returncode == 1
    assert "deletes 4 objects, more than the limit of 2" in result.stdout + result.stderr
    assert writes(sandbox) == before


def _add_walter_to_developers(access_repo: Path) -> None:
    folder = access_repo / "desired-state"
    users = json.loads((folder / "users.json").read_text())
    users["users"].append(
        {
            "user_name": "walter",
            "display_name": "Walter Example",
            "given_name": "Walter",
            "family_name": "Example",
        }
    )
    (folder / "users.json").write_text(json.dumps(users))
    groups = json.loads((folder / "groups.json").read_text())
    next(g for g in groups["groups"] if g["name"] == "Developers")["members"].append("walter")
    (folder / "groups.json").write_text(json.dumps(groups))
    commit_all(access_repo, "walter joins Developers")


def test_a_grant_the_reviewed_access_did_not_show_refuses_naming_it(
    access_repo: Path,
    tmp_path: Path,
    sandbox: Sandbox,
    organization: SeededOrganization,
    aws_environment: dict[str, str],
) -> None:
    settings = access_repo / "desired-state" / "reconciler.json"
    config = json.loads(settings.read_text())
    config["prune"]["assignments"] = False  # the assignment made by hand is left alone
    settings.write_text(json.dumps(config))
    commit_all(access_repo, "Assignments made by hand are left alone")
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    _add_walter_to_developers(access_repo)
    out, planned = saved_plan(access_repo, tmp_path)
    assert {(g["user"], g["permission_set"]) for g in planned["access"]["gained"]} == {
        ("walter", "DeveloperAccess")
    }
    console = ConsoleActions(aws_environment)
    developers = console.identitystore.get_group_id(
        IdentityStoreId=console.identity_store_id,
        AlternateIdentifier={
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "Developers"}
        },
    )["GroupId"]
    console.sso_admin.create_account_assignment(
        InstanceArn=console.instance_arn,
        TargetId=organization.accounts["prod"],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=console.permission_set_arn("AdministratorAccess"),
        PrincipalType="GROUP",
        PrincipalId=developers,
    )
    before = writes(sandbox)

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1, document
    prod = organization.accounts["prod"]
    assert (
        f"access not in the plan as made: walter: AdministratorAccess in prod ({prod}) "
        "(via group Developers) gains it now"
    ) in refusal(document)
    assert writes(sandbox) == before


def _forge(out: Path, edit: Any) -> None:
    """Edit the saved plan at ``out`` with ``edit(document)`` and recompute its digest."""
    saved = json.loads(out.read_text())
    edit(saved)
    del saved["digest"]
    canonical = json.dumps(saved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    saved["digest"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    out.write_text(json.dumps(saved))


def _mallory(number: int) -> dict[str, Any]:
    return {
        "action": "create",
        "kind": "user",
        "key": f"user/mallory{number}",
        "user": {
            "user_name": f"mallory{number}",
            "display_name": "Mallory",
            "given_name": "Mallory",
            "family_name": "Example",
            "email": None,
        },
    }


def test_a_refusal_of_many_differences_counts_them_all_and_says_how_many_are_not_listed(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    out, _ = saved_plan(access_repo, tmp_path)

    def add_many(saved: dict[str, Any]) -> None:
        for number in range(1000):
            saved["operations"].append(_mallory(number))
            saved["fingerprints"][f"user/mallory{number}"] = None

    _forge(out, add_many)

    code, document = run_json("apply", str(out), "--repo", str(access_repo))
    text = run_cli("apply", str(out), "--repo", str(access_repo)).stdout

    assert code == 1
    error = document["error"]
    assert "1000 differences since it was made" in error["message"]
    assert len(error["advice"]) == 20
    assert all(line.startswith("operation no longer planned") for line in error["advice"])
    assert error["more"] == 980
    assert "… and 980 more" in text
    assert writes(sandbox) == 0


def test_a_forged_operation_without_a_fingerprint_is_named_as_not_in_the_plan_as_made(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    out, _ = saved_plan(access_repo, tmp_path)
    _forge(out, lambda saved: saved["operations"].append(_mallory(1)))

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert "user/mallory1: not in the plan as made" in refusal(document)
    assert "operation no longer planned: create user/mallory1" in refusal(document)
    assert "changed since" not in refusal(document)
    assert writes(sandbox) == 0


def test_a_policy_attached_by_hand_to_a_permission_set_the_plan_updates_is_named_with_its_arn(
    access_repo: Path, tmp_path: Path, sandbox: Sandbox, aws_environment: dict[str, str]
) -> None:
    assert run_cli("apply", "--repo", str(access_repo)).returncode == 0
    path = access_repo / "desired-state" / "permission-sets" / "DeveloperAccess.json"
    path.write_text(path.read_text().replace("Power user access", "Developer access"))
    commit_all(access_repo, "Describe DeveloperAccess")
    out, _ = saved_plan(access_repo, tmp_path)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    ConsoleActions(aws_environment).attach_managed_policy(
        permission_set="DeveloperAccess", policy_arn=admin
    )
    before = writes(sandbox)

    code, document = run_json("apply", str(out), "--repo", str(access_repo))

    assert code == 1
    assert (
        f"permission-set/DeveloperAccess changed since the plan was made: managed_policies +{admin}"
    ) in refusal(document)
    assert writes(sandbox) == before
