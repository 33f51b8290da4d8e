"""The controller on revisions that reach outside the commit: a symbolic link under the
desired-state folder is refused like any invalid revision, naming the file, and what it points
to is never read nor reported; the last good revision stays in force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.adapters.aws.clients import AwsClients
from reconciler.model.state import Membership
from reconciler.planning.reports import PassStatus, report_json, report_text
from reconciler.sandbox.console import ConsoleActions
from tests.controller.conftest import ControllerFactory, memberships
from tests.controller.test_passes import JANE_ADMIN, head
from tests.support import commit_all

MARKER = "HOST-SECRET-5be0a1"


def test_a_committed_symlink_is_refused_unread_and_the_last_good_revision_is_healed(
    make_controller: ControllerFactory,
    access_repo: Path,
    tmp_path: Path,
    console: ConsoleActions,
    aws: AwsClients,
) -> None:
    host_file = tmp_path / "host.json"
    host_file.write_text(json.dumps({"users": [], MARKER: MARKER}))
    controller = make_controller()
    controller.run_once()
    good = head(access_repo)
    users = access_repo / "desired-state" / "users.json"
    users.unlink()
    users.symlink_to(host_file)
    linked = commit_all(access_repo, "Link users.json out of the repository")
    console.remove_user_from_group(group="AdminAccess", user_name="jane.doe")

    report = controller.tick(force=False)

    assert report is not None
    assert report.status is PassStatus.INVALID
    assert report.revision == linked
    assert report.error is not None
    assert "users.json: $: symlink" in report.error
    assert MARKER not in json.dumps(report_json(report)) + report_text(report)
    assert report.applied_revision == good
    assert JANE_ADMIN in memberships(aws)
    assert controller.state.last_applied_revision == good


def _evil_admin(repository: Path) -> Path:
    path = repository / "desired-state" / "permission-sets" / "EvilAdmin.json"
    path.write_text(
        json.dumps(
            {
                "name": "EvilAdmin",
                "managed_policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            }
        )
    )
    return path


def _edit_in_place(repository: Path) -> None:
    groups = repository / "desired-state" / "groups.json"
    document = json.loads(groups.read_text())
    next(g for g in document["groups"] if g["name"] == "AdminAccess")["members"].append("sam.lee")
    groups.write_text(json.dumps(document))


@pytest.mark.parametrize("edit", ["ignored", "untracked", "tracked"])
def test_a_controller_on_a_local_work_tree_refuses_uncommitted_edits(
    make_controller: ControllerFactory,
    access_repo: Path,
    aws: AwsClients,
    console: ConsoleActions,
    edit: str,
) -> None:
    """Without a ref, a local work tree is read in place: what nobody committed (an ignored
    file, a new file, an edited one) must not be applied, and the committed revision stays in
    force."""
    controller = make_controller(ref=None)
    assert controller.run_once().status is PassStatus.APPLIED
    good = head(access_repo)
    if edit == "tracked":
        _edit_in_place(access_repo)
    else:
        _evil_admin(access_repo)
        if edit == "ignored":
            exclude = access_repo / ".git" / "info" / "exclude"
            exclude.write_text(exclude.read_text() + "EvilAdmin.json\n")

    report = controller.run_once()

    assert report.status is PassStatus.INVALID, report.error
    assert report.phase == "verify"
    assert report.error is not None
    assert "uncommitted changes" in report.error
    assert report.applied_revision == good
    assert Membership(group="AdminAccess", user="sam.lee") not in memberships(aws)
    with pytest.raises(LookupError):
        console.permission_set_arn("EvilAdmin")
