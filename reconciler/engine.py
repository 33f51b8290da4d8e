"""One reconcile pass: fetch → load → read → plan → (guard → apply), each phase named in logs.

The engine orchestrates; it does no I/O of its own (the desired-state files come from the
commit's tree, through the Git source; a plain folder is read by the source's safe reader).
The Git source, AWS and everything else it touches are adapters passed in, so tests and the
CLI drive the same code.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import structlog

from reconciler.adapters.aws.applying import apply_plan
from reconciler.adapters.aws.clients import AwsClients
from reconciler.adapters.aws.reading import read_live_state
from reconciler.adapters.source import Checkout, GitSource, read_directory
from reconciler.errors import (
    AwsError,
    ConfigurationError,
    InvalidRevisionError,
    PlanRefusedError,
    Problem,
    SourceError,
)
from reconciler.model.documents import DEFAULT_PRIVILEGED_PERMISSION_SETS, DeletionGuard
from reconciler.model.loading import Documents, check_documents, load_config
from reconciler.model.resolving import DesiredState, expiry_notes, live_directory, resolve
from reconciler.model.state import AssignmentKey, IdentityCenterState, LiveState
from reconciler.model.targets import TargetReads, target_reads
from reconciler.planning.access_reports import AccessDirectory, desired_access_state
from reconciler.planning.diffing import plan
from reconciler.planning.guards import (
    GuardLimit,
    check_deletion_guard,
    deletion_guard_violations,
)
from reconciler.planning.outcomes import Outcome
from reconciler.planning.plans import Plan
from reconciler.planning.saved_plans import Approval

log = structlog.get_logger("reconciler.engine")


def _read_directory(folder: Path) -> tuple[dict[str, bytes], tuple[Problem, ...]]:
    if not folder.is_dir():
        raise InvalidRevisionError(
            [
                Problem(
                    file=str(folder),
                    path="$",
                    rule="missing_folder",
                    message="the desired-state folder does not exist: give the folder that "
                    "holds reconciler.json and assignments.json",
                )
            ]
        )
    return read_directory(folder)


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision:
    """A revision to reconcile: ``revision`` is the commit SHA (``None`` for a plain folder).

    ``files`` are its desired-state files (POSIX path relative to the folder → bytes) and
    ``problems`` the entries refused unread (links, submodules, files over a bound), both from
    :attr:`Checkout.files` and :attr:`Checkout.problems`; ``uncommitted`` is True when the files
    hold edits not in that commit (a local work tree). ``folder`` names where the files are on a
    disk, for messages; a revision made with a ``folder`` and no ``files`` (tests, benchmarks)
    is read from that folder, safely, when loaded.
    """

    revision: str | None
    folder: Path | None = None
    uncommitted: bool = False
    files: Mapping[str, bytes] | None = None
    problems: tuple[Problem, ...] = ()
    parent_revisions: tuple[str, ...] = ()


def revision_of(checked_out: Checkout) -> Revision:
    """The revision to reconcile of a checkout (its files, problems and uncommitted flag)."""
    return Revision(
        revision=checked_out.revision,
        folder=checked_out.path,
        uncommitted=checked_out.uncommitted,
        files=checked_out.files,
        problems=checked_out.problems,
        parent_revisions=checked_out.parent_revisions,
    )


def checkout(source: GitSource) -> Revision:
    """Fetch ``source`` and return the revision to reconcile (raises ``SourceError``)."""
    return revision_of(source.fetch())


@dataclass(frozen=True, slots=True)
class BaseRules:
    """What the commits a revision builds on say, that the revision cannot weaken for itself.

    ``guard_limits`` are their deletion-guard limits (the strictest applies with the
    revision's own); ``privileged`` the union of their ``privileged_permission_sets``
    patterns, highlighted in the revision's plan besides its own (a commit cannot hide a
    privileged gain it brings by emptying the list in the same commit).
    """

    guard_limits: tuple[GuardLimit, ...] = ()
    privileged: tuple[str, ...] = ()


def base_rules(source: GitSource, revision: Revision) -> BaseRules:
    """The rules of the commits ``revision`` builds on, so that no commit weakens its own: for
    uncommitted edits of a local work tree, the commit they are made on; for a commit, every
    parent (a merge cannot bring in a side branch's weakened rules); for a root commit, the
    defaults (a history of one commit cannot weaken them either). A base that cannot be
    fetched, or whose ``reconciler.json`` is absent or not valid, adds nothing (logged). Empty
    for a plain folder. Never raises."""
    if revision.revision is None:
        return BaseRules()
    if revision.uncommitted:
        bases: tuple[str, ...] = (revision.revision,)
        what = "the commit the edits are made on"
    else:
        bases = revision.parent_revisions
        what = "a parent commit"
    if not bases:
        return BaseRules(
            guard_limits=(
                GuardLimit.of(
                    DeletionGuard(), source="the default deletion_guard (the commit has no parent)"
                ),
            ),
            privileged=DEFAULT_PRIVILEGED_PERMISSION_SETS,
        )
    limits: list[GuardLimit] = []
    privileged: dict[str, None] = {}
    for base in bases:
        try:
            config = load_config(source.fetch_at(base).files)
        except SourceError as exc:
            log.info("guard.base_unreadable", revision=base, error=str(exc))
            continue
        if config is not None:
            limits.append(
                GuardLimit.of(
                    config.deletion_guard,
                    source=f"reconciler.json of revision {base[:12]} ({what})",
                )
            )
            privileged.update(dict.fromkeys(config.privileged_permission_sets))
    return BaseRules(guard_limits=tuple(limits), privileged=tuple(privileged))


def load(revision: Revision) -> Documents:
    """Load and validate the files of ``revision`` (raises ``InvalidRevisionError``).

    The problems of ``revision`` (entries refused unread) are reported with those of the files;
    a file refused unread is reported for that alone, not also as missing.
    """
    documents, problems = check(revision)
    if problems:
        raise InvalidRevisionError(problems)
    return documents


def check(revision: Revision) -> tuple[Documents, tuple[Problem, ...]]:
    """Validate the files of ``revision`` as far as they go: ``(documents, problems)``.

    Like ``load``, but what did validate is returned with the problems (see
    :func:`reconciler.model.loading.check_documents`), so that ``validate`` can go on to resolve
    it and report every problem in one run; documents returned with problems must never be
    planned or applied. Raises ``InvalidRevisionError`` only when there are no files to check
    (the folder does not exist).
    """
    if revision.files is not None:
        files, refused_problems = revision.files, revision.problems
    elif revision.folder is not None:
        files, refused_problems = _read_directory(revision.folder)
    else:
        raise InvalidRevisionError(
            [Problem(file=".", path="$", rule="missing_folder", message="no files to load")]
        )
    refused = {problem.file for problem in refused_problems}
    try:
        documents, problems = check_documents(files)
    except Exception as exc:  # a bug met by odd input: refuse the revision, never crash a pass
        raise InvalidRevisionError(
            [
                *refused_problems,
                Problem(
                    file=".",
                    path="$",
                    rule="unreadable",
                    message=f"the revision could not be loaded ({type(exc).__name__}: {exc})",
                ),
            ]
        ) from exc
    return documents, (
        *refused_problems,
        *(problem for problem in problems if problem.file not in refused),
    )


def target_reads_of(documents: Documents) -> TargetReads:
    """What ``read_live_state(..., targets=...)`` must read for the targets of ``documents``
    (OU tree, account tags, management account), and the attributes for access control when
    ``documents`` declare them."""
    reads = target_reads(item.value for item in documents.assignments)
    if documents.access_control_attributes is not None:
        reads = replace(reads, access_control_attributes=True)
    return reads


def resolve_against(
    documents: Documents, live: LiveState, *, now: datetime | None = None
) -> DesiredState:
    """Resolve ``documents`` against ``live`` (raises ``InvalidRevisionError``, with the
    problems of a delegated administrator too when ``live.caller`` is one: ``resolve``).

    ``now`` (timezone-aware, default: the current time) decides which assignments have
    expired (noted, left out of the desired state).
    """
    return resolve(
        documents,
        live_directory(
            accounts=live.accounts,
            user_names=live.state.users.keys(),
            group_names=live.state.groups.keys(),
            organization=live.organization,
            account_tags=live.account_tags,
            caller=live.caller,
            provisioned_accounts=live.provisioned_accounts,
        ),
        now=now or datetime.now(UTC),
    )


def reasons_in_folder(folder: Path, live: LiveState) -> Mapping[AssignmentKey, str]:
    """The ``reason`` of each assignment the desired-state files in ``folder`` declare
    (``DesiredState.reasons``), for ``export`` to write them back over those files.

    Raises ``InvalidRevisionError`` when the files there do not validate against ``live``.
    """
    documents, problems = check(Revision(revision=None, folder=folder))
    if problems:
        raise InvalidRevisionError(problems)
    return resolve_against(documents, live).reasons


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """Every problem of one revision that can be found, for ``validate``, ``plan`` and
    ``apply`` alike (:func:`check_revision`).

    ``problems`` are those of the files and, when live state was read, of their references;
    ``warnings`` do not refuse the revision (expired or expiring access, file names...).
    ``live`` and ``desired`` are set when live state was read, and ``desired`` only when there
    is no problem. ``live_error`` is why live state could not be read (AWS unreachable, no
    credentials, no Region): the references were then not checked.
    """

    documents: Documents
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    live: LiveState | None = None
    desired: DesiredState | None = None
    live_error: AwsError | ConfigurationError | None = None

    def raise_for_problems(self) -> None:
        """Raise ``InvalidRevisionError`` (with ``live_error``) when there are problems, else
        ``live_error`` itself when live state could not be read; return when neither."""
        if self.problems:
            raise InvalidRevisionError(self.problems, live_error=self.live_error)
        if self.live_error is not None:
            raise self.live_error


def check_revision(
    revision: Revision,
    *,
    aws: Callable[[], AwsClients] | None,
    instance_arn: str | None = None,
    now: datetime | None = None,
) -> Checked:
    """Check ``revision`` as far as it goes, in one run: its files, then what of them did load
    against live state (accounts, OUs, users, groups), even when other files have problems.

    ``aws`` makes the clients (called once, so that a missing Region or profile is met here
    like an unreachable endpoint); ``None`` checks the files alone (no reference to live state
    is checked; expiry is still noted). An ``AwsError`` or ``ConfigurationError`` met making
    the clients or reading is returned in ``live_error``, with the problems of the files.
    Raises ``InvalidRevisionError`` only when there are no files to check. Documents checked
    with problems must never be planned or applied.
    """
    now = now or datetime.now(UTC)
    documents, problems = check(revision)
    if aws is None:
        warnings = (*documents.warnings, *expiry_notes(documents, now=now))
        return Checked(documents=documents, problems=problems, warnings=warnings)
    try:
        live = read_live_state(aws(), instance_arn=instance_arn, targets=target_reads_of(documents))
    except (AwsError, ConfigurationError) as error:
        warnings = (*documents.warnings, *expiry_notes(documents, now=now))
        return Checked(documents=documents, problems=problems, warnings=warnings, live_error=error)
    try:
        desired = resolve_against(documents, live, now=now)
    except InvalidRevisionError as unresolved:
        warnings = (*documents.warnings, *expiry_notes(documents, now=now))
        return Checked(
            documents=documents,
            problems=(*problems, *unresolved.problems),
            warnings=warnings,
            live=live,
        )
    return Checked(
        documents=documents,
        problems=problems,
        warnings=desired.warnings,
        live=live,
        desired=None if problems else desired,
    )


def plan_revision(
    documents: Documents, live: LiveState, *, revision: str | None, now: datetime | None = None
) -> tuple[DesiredState, Plan]:
    """Resolve ``documents`` (one revision, already loaded) against ``live`` and plan.

    The controller calls it twice per pass on one live read: for the target revision (the
    changes to make) and for the last applied revision (the drift: what changed by hand since).
    Raises ``InvalidRevisionError`` when the documents do not resolve (unknown account, user,
    group). Pure apart from logging.
    """
    desired = resolve_against(documents, live, now=now)
    return desired, plan(desired, live, revision=revision)


@dataclass(frozen=True, slots=True, kw_only=True)
class PassResult:
    """Everything one pass produced, for rendering and reports.

    ``outcome`` is None for a plan-only pass; ``seconds`` is the pass's wall time;
    ``guard_violations`` says why the deletion guard would refuse the plan (empty when not).
    """

    pass_id: str
    revision: str | None
    desired: DesiredState
    live: LiveState
    plan: Plan
    outcome: Outcome | None = None
    seconds: float = 0.0
    account_names: Mapping[str, str] = field(default_factory=dict)
    guard_violations: tuple[str, ...] = ()


def reconcile(
    *,
    revision: Revision,
    aws: AwsClients,
    apply: bool,
    allow_deletions: bool = False,
    allow_uncommitted: bool = False,
    instance_arn: str | None = None,
    now: datetime | None = None,
    base: BaseRules = BaseRules(),
    approved: Approval | None = None,
    fence: Callable[[], None] | None = None,
) -> PassResult:
    """Run one pass on ``revision``: load, read live state, plan, and with ``apply`` apply.

    A revision with uncommitted edits is planned with a note saying so, and applied only with
    ``allow_uncommitted``: access changes are meant to go through review, and a report naming
    the commit must describe what was applied.

    ``now`` (timezone-aware, default: the current time) is the clock expiring assignments are
    judged by. ``base`` holds the rules of the commits the revision builds on (``base_rules``):
    their deletion-guard limits apply besides the revision's own (the strictest wins,
    ``guards``), and their ``privileged_permission_sets`` patterns are highlighted besides
    the revision's.
    ``approved`` (``apply FILE``) holds the pass to a saved plan: once planned, the plan and the
    live objects it touches must be those of the saved plan (``Approval.check``), else
    ``SavedPlanRefusedError`` (a ``PlanRefusedError``) is raised and nothing is written; the
    deletion guard then applies as to any plan. ``fence`` (the writer lock's check,
    ``WriterLock.fence``) is called before every write (``apply_plan(fence=...)``): once it
    raises ``WriterLockLostError`` the rest of the plan is skipped.

    Raises ``InvalidRevisionError`` with every problem :func:`check_revision` finds (the
    files', and their references' against what live state could be read; nothing written),
    ``PlanRefusedError`` when the deletion guard refuses the plan or uncommitted edits are
    not allowed (nothing written), and ``AwsError`` or ``ConfigurationError`` when live state
    cannot be read and the files have no problem. Failures of individual operations during
    apply are not raised: they are in ``PassResult.outcome``.
    """
    pass_id = uuid.uuid4().hex[:12]
    started = time.monotonic()
    calls_before = aws.calls.snapshot()
    bound = log.bind(pass_id=pass_id, revision=revision.revision)
    bound.info("pass.started", phase="load", apply=apply)
    if apply and revision.uncommitted and not allow_uncommitted:
        raise PlanRefusedError(
            f"the desired-state folder {revision.folder} has uncommitted changes, so what would "
            f"be applied is not revision {revision.revision}. Commit them (access changes go "
            "through review), or pass --allow-uncommitted. Nothing was applied."
        )
    # Every problem of the revision in one run, as validate finds them: a problem in one file
    # does not hide those of the others, nor their references to live state.
    bound.info("pass.phase", phase="read")
    checked = check_revision(revision, aws=lambda: aws, instance_arn=instance_arn, now=now)
    checked.raise_for_problems()
    desired, live = checked.desired, checked.live
    if desired is None or live is None:  # pragma: no cover - raise_for_problems raised
        raise InvalidRevisionError(checked.problems)
    bound.info("pass.phase", phase="plan")
    the_plan = plan(desired, live, revision=revision.revision, base_privileged=base.privileged)
    if revision.uncommitted:
        the_plan = replace(
            the_plan,
            notes=(
                f"the desired-state folder has uncommitted changes: this plan is of revision "
                f"{revision.revision} plus those edits",
                *the_plan.notes,
            ),
        )
    if approved is not None:
        approved.check(the_plan, live)
    account_names = {account.id: account.name for account in live.accounts.values()}
    violations = (
        ()
        if allow_deletions
        else tuple(deletion_guard_violations(the_plan, desired, live, limits=base.guard_limits))
    )
    outcome = None
    if apply and not the_plan.is_empty:
        check_deletion_guard(
            the_plan, desired, live, allow_deletions=allow_deletions, limits=base.guard_limits
        )
        bound.info("pass.phase", phase="apply", operations=len(the_plan.operations))
        read_calls = aws.calls.since(calls_before)
        outcome = replace(apply_plan(aws, the_plan, live, fence=fence), read_calls=read_calls)
    seconds = time.monotonic() - started
    bound.info(
        "pass.finished",
        changes=the_plan.summary(),
        outcome=outcome.counts() if outcome else None,
        seconds=round(seconds, 3),
    )
    return PassResult(
        pass_id=pass_id,
        revision=revision.revision,
        desired=desired,
        live=live,
        plan=the_plan,
        outcome=outcome,
        seconds=seconds,
        account_names=account_names,
        guard_violations=violations,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessState:
    """The state an access report expands, and what names its principals and accounts.

    ``state`` is the live state, or a revision's desired state (with the live members of the
    groups it assigns without declaring them: ``desired_access_state``); ``directory`` holds
    the principals that exist (live ones, plus those the revision declares) and the accounts,
    and the OU tree when it was read; ``revision`` is the commit SHA of a desired state (None
    for live state); ``live`` is what was read; ``privileged`` the shell-style patterns of the
    permission sets that count as privileged: the revision's ``privileged_permission_sets``, or
    the default ones for live state (no revision is read then).
    """

    state: IdentityCenterState
    directory: AccessDirectory
    live: LiveState
    revision: str | None = None
    desired: bool = False
    privileged: tuple[str, ...] = DEFAULT_PRIVILEGED_PERMISSION_SETS


def read_access_state(
    aws: AwsClients,
    *,
    revision: Revision | None = None,
    instance_arn: str | None = None,
    units: bool = False,
) -> AccessState:
    """What ``reconciler access`` reports on: the live state, or with ``revision`` its desired
    state resolved against live state the way a plan resolves it.

    Live state is read as a pass reads it (``read_live_state``), with the OU tree when
    ``units`` (an ``--ou`` filter) or the revision's targets need it. A desired state needs AWS
    too: account names, OU and tag targets are resolved through Organizations and undeclared
    principals through the identity store, so it cannot be made offline.

    Raises ``InvalidRevisionError`` (the revision does not load or resolve) and ``AwsError``.
    """
    documents = load(revision) if revision is not None else None
    reads = target_reads_of(documents) if documents is not None else TargetReads()
    if units:
        reads = replace(reads, organization=True, units=True)
    live = read_live_state(aws, instance_arn=instance_arn, targets=reads)
    if documents is None:
        return AccessState(
            state=live.state,
            directory=AccessDirectory(
                users=live.state.users,
                groups=live.state.groups,
                accounts=live.accounts,
                organization=live.organization,
            ),
            live=live,
        )
    desired = resolve_against(documents, live)
    return AccessState(
        state=desired_access_state(desired.state, live.state),
        directory=AccessDirectory(
            users={**live.state.users, **desired.state.users},
            groups={**live.state.groups, **desired.state.groups},
            accounts=live.accounts,
            organization=live.organization,
        ),
        live=live,
        revision=revision.revision if revision is not None else None,
        desired=True,
        privileged=tuple(desired.config.privileged_permission_sets),
    )
