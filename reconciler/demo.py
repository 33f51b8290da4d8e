"""``reconciler demo``: the whole loop on a sandbox, with nothing but Python installed.

1. Start the sandbox in-process on loopback, with an organization holding ``prod`` and
   ``staging`` and an Identity Center instance.
2. Commit ``desired-state/`` into a temporary Git repository.
3. Plan and apply, then plan again: nothing to do.
4. Make a hand change as someone in the console would (remove a user from ``AdminAccess``,
   attach an extra policy to ``AdministratorAccess``), then show the drift and heal it.

Every step runs the same engine as ``plan`` and ``apply``; the demo only points AWS's standard
configuration (``AWS_ENDPOINT_URL``...) at the sandbox.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from reconciler.adapters.aws.clients import make_clients
from reconciler.adapters.source import GitSource, commit_folder
from reconciler.engine import PassResult, Revision, checkout, reconcile
from reconciler.errors import ConfigurationError
from reconciler.planning.rendering import plan_text
from reconciler.sandbox import Sandbox, SandboxSettings
from reconciler.sandbox.console import ConsoleActions

HAND_CHANGE_GROUP = "AdminAccess"
HAND_CHANGE_PERMISSION_SET = "AdministratorAccess"
HAND_CHANGE_POLICY = "arn:aws:iam::aws:policy/job-function/Billing"


class _Demo:
    def __init__(self, console: Console, revision: Revision) -> None:
        self.console = console
        self.revision = revision
        self.aws = make_clients()

    def step(self, title: str) -> None:
        self.console.print(Rule(f"[bold]{title}[/]", align="left"))

    def run_pass(self, *, apply: bool) -> PassResult:
        result = reconcile(revision=self.revision, aws=self.aws, apply=apply)
        self.console.print(
            plan_text(result.plan, account_names=result.account_names, outcome=result.outcome)
        )
        return result


def run_demo(*, folder: Path, console: Console | None = None) -> int:
    """Run the demo on the desired-state ``folder``; returns 0 when every step behaved.

    Raises :class:`~reconciler.errors.ConfigurationError` when ``folder`` is not a directory
    (the message says where it looked and what to do), and other ``ReconcilerError``
    subclasses when the folder is invalid or a step fails outright.
    """
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a directory"
        raise ConfigurationError(
            f"the demo needs a desired-state folder, and {folder} {what} (looked in "
            f"{folder.absolute()}): run `reconciler demo` from the top of a clone of the "
            "identity-center-reconciler repository, whose desired-state/ is the example, or "
            "give --path FOLDER naming a desired-state folder"
        )
    out = console or Console(highlight=False, soft_wrap=True)
    checks: list[tuple[str, bool]] = []
    with (
        Sandbox(SandboxSettings()) as sandbox,
        sandbox.process_environment(),
        tempfile.TemporaryDirectory() as work,
    ):
        organization = sandbox.seed_example_organization()
        repository = Path(work) / "access-repo"
        commit_folder(
            source=folder,
            repository=repository,
            subpath="desired-state",
            message="Desired state of Identity Center",
        )
        out.print(
            f"Sandbox on {sandbox.endpoint_url}: organization with accounts "
            + ", ".join(f"{name} ({id_})" for name, id_ in sorted(organization.accounts.items()))
        )
        revision = checkout(GitSource(repository=str(repository), subpath="desired-state"))
        demo = _Demo(out, revision)

        demo.step("1. Plan: what the desired state asks for")
        first = demo.run_pass(apply=False)
        checks.append(("the first plan has changes", not first.plan.is_empty))

        demo.step("2. Apply: converge Identity Center")
        applied = demo.run_pass(apply=True)
        checks.append(
            (
                "every operation succeeded",
                applied.outcome is not None and applied.outcome.succeeded,
            )
        )

        demo.step("3. Plan again: nothing to do")
        again = demo.run_pass(apply=False)
        checks.append(("the second plan is empty", again.plan.is_empty))

        demo.step("4. A hand change in the console")
        hand = ConsoleActions(sandbox.client_environment())
        members = sorted(
            membership.user
            for membership in first.desired.state.memberships
            if membership.group == HAND_CHANGE_GROUP
        )
        user = members[0] if members else None
        if user is not None:
            hand.remove_user_from_group(group=HAND_CHANGE_GROUP, user_name=user)
            out.print(f"  removed {user} from {HAND_CHANGE_GROUP}")
        hand.attach_managed_policy(
            permission_set=HAND_CHANGE_PERMISSION_SET, policy_arn=HAND_CHANGE_POLICY
        )
        out.print(f"  attached {HAND_CHANGE_POLICY} to {HAND_CHANGE_PERMISSION_SET}")

        demo.step("5. Drift report: plan finds the hand change")
        drift = demo.run_pass(apply=False)
        checks.append(("the drift is found", not drift.plan.is_empty))

        demo.step("6. Heal: apply converges again")
        healed = demo.run_pass(apply=True)
        checks.append(
            ("the heal succeeded", healed.outcome is not None and healed.outcome.succeeded)
        )
        final = demo.run_pass(apply=False)
        checks.append(("Identity Center matches the desired state", final.plan.is_empty))

    demo_ok = all(ok for _, ok in checks)
    out.print(Rule("[bold]Summary[/]", align="left"))
    for what, ok in checks:
        out.print(f"  {'[green]✓' if ok else '[bold red]✗'}[/] {what}")
    return 0 if demo_ok else 1
