"""The ``reconciler`` command: validate, plan, apply, access, export, sandbox serve,
demo.

Exit codes (like ``terraform plan -detailed-exitcode``):

- ``validate``: 0 valid, 1 invalid or error.
- ``plan``: 0 nothing to do, 2 not converged (changes to make, or unmanaged objects with
  ``"unmanaged": "fail"`` in ``reconciler.json``), 1 error (invalid revision, AWS
  unreachable...).
- ``apply``: 0 every operation succeeded (or nothing to do), 1 otherwise.
- ``export``: 0 files written, 1 error (``--out`` not empty without ``--force``, bad ``--kinds``).
- ``access``: 0 report made (whatever it shows), 1 error (an unknown filter value, AWS...).
- ``run --once``: 0 converged, 2 changes or drift left, 1 failure.
- ``sync``: the exit code of ``run --once``, for the pass it asked a running controller for;
  1 when it got no report (unreachable, token refused, timed out).
- every command: 1 for a usage error (unknown option or command, missing or bad value), with
  argparse's message and a hint on stderr; never 2, so CI cannot read a typo as "changes".

Documents (``--format json``) and verdicts (problems, refusals, errors, in text as in JSON) go
to stdout; logs go to stderr (JSON off a terminal, console on one), so ``reconciler plan
--format json | jq`` always works. Logs are warnings and errors only by default (info for
``run`` and ``sandbox``); ``-v`` asks for info, ``-vv`` for debug. Logging options are accepted
before the command or after it. AWS is reached through the standard configuration:
``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_PROFILE`` and the usual credential chain.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, NoReturn

from rich.console import Console

from reconciler.errors import (
    AwsError,
    ConfigurationError,
    InvalidRevisionError,
    PlanRefusedError,
    Problem,
    ReconcilerError,
    SourceError,
    SyncError,
    UnknownFilterError,
    WriterLockLostError,
)
from reconciler.logs import configure_logging
from reconciler.model.collection import collection_paused
from reconciler.model.wording import noun
from reconciler.planning.escaping import rich_text

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_USAGE = EXIT_ERROR
"""A command line argparse refuses (unknown option, missing or bad value, unknown command):
not argparse's own 2, which ``plan`` and ``run --once`` use for "changes"."""

FORMATS = ("text", "json", "markdown")


def _stdout() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _print_large_json(document: Any) -> None:
    """``_print_json`` for documents that may be large (a plan lists every grant gained and
    lost: 222,058 of them, 49 MB, for 1% of 100,000 assignments): the same text, written by
    orjson (15x faster than ``json.dumps(indent=2)``, whose C encoder does not indent), or by
    ``_print_json`` when orjson cannot write the document (a key that is not a string)."""
    from reconciler.planning.rendering import json_text  # noqa: PLC0415

    try:
        text = json_text(document)
    except TypeError:
        _print_json(document)
        return
    sys.stdout.write(text + "\n")


def _problem_json(problem: Problem) -> dict[str, Any]:
    document: dict[str, Any] = {
        "file": problem.file,
        "path": problem.path,
        "rule": problem.rule,
        "message": problem.message,
    }
    if problem.line is not None:
        document["line"] = problem.line
        document["column"] = problem.column
    return document


INVALID_OUTCOMES = {
    "validate": "fix {them} and run validate again",
    "access": "no report was made",
    "plan": "no plan was made",
    "apply": "nothing was applied",
}
"""What an invalid revision meant for each command, said after the count of problems: only an
apply refused says that nothing was applied (validate and plan never apply). ``{them}`` is "it"
or "them", after the count."""

UNCHECKED_REFERENCES = (
    "references to accounts, organizational units, users and groups were not checked: live "
    "state could not be read"
)
"""Said before the error met reading live state, when a revision was checked without it."""


def _where(revision: str | None, *, uncommitted: bool) -> str:
    """What files a verdict is about: ``<sha>``, ``<sha> plus uncommitted edits`` or ``working
    tree`` (a folder outside Git)."""
    if revision is None:
        return "working tree"
    return f"{revision} plus uncommitted edits" if uncommitted else revision


def _report_invalid(
    error: InvalidRevisionError,
    output_format: str,
    revision: str | None,
    *,
    command: str = "validate",
    hints: Sequence[str] = (),
    warnings: Sequence[Problem] = (),
    uncommitted: bool = False,
) -> int:
    """Print the problems of an invalid revision on stdout, in text as in JSON; exit 1.

    ``uncommitted``: the files checked are ``revision`` plus uncommitted edits of the work
    tree (said in the text, ``"uncommitted": true`` in JSON), so the commit is not blamed.

    When live state could not be read (``error.live_error``), the error follows the problems,
    with its advice and ``hints`` (JSON: ``"error"``, as :func:`_report_error` prints it).
    stdout carries the verdict (the exit code says it too), stderr only logs and warnings.
    """
    live_error = error.live_error
    if output_format == "json":
        document: dict[str, Any] = {
            "revision": revision,
            "uncommitted": uncommitted,
            "valid": False,
            "problems": [_problem_json(problem) for problem in error.problems],
            "warnings": [_problem_json(problem) for problem in warnings],
        }
        if live_error is not None:
            document["checked_against_live_state"] = False
            document["error"] = _error_json(live_error, hints)
        _print_json(document)
    else:
        console = _stdout()
        where = f" at {_where(revision, uncommitted=uncommitted)}" if revision else ""
        them = noun(len(error.problems), "it", "them")
        outcome = INVALID_OUTCOMES.get(command, "nothing was done").format(them=them)
        heading, message = _escape(where), _escape(f"{error}; {outcome}.")
        console.print(f"[bold red]✗ invalid desired state{heading}:[/] {message}")
        for problem in error.problems:
            console.print(f"  [red]✗[/] {_escape(str(problem))}")
        for problem in warnings:
            console.print(f"  [yellow]warning:[/] {_escape(str(problem))}")
        if live_error is not None:
            console.print(f"[yellow]{UNCHECKED_REFERENCES}:[/]")
            _print_error_text(console, _error_json(live_error, hints))
    return EXIT_ERROR


def _escape(text: str) -> str:
    """``text`` as literal rich markup, each of its lines made one line and every line after
    the first indented (``reconciler.planning.escaping``): a name holding a newline or
    carriage return cannot print a line of its own."""
    return "\n    ".join(rich_text(line) for line in text.split("\n"))


ERROR_KINDS: tuple[tuple[type[ReconcilerError], str], ...] = (
    (ConfigurationError, "configuration"),
    (SourceError, "source"),
    (PlanRefusedError, "refused"),
    (WriterLockLostError, "lock"),
    (SyncError, "sync"),
    (AwsError, "aws"),
    (UnknownFilterError, "filter"),
)
"""The ``kind`` of an error document, by the error's class (else ``"error"``)."""


def _error_json(error: ReconcilerError, hints: Sequence[str] = ()) -> dict[str, Any]:
    """``{"kind", "message", "advice": [str]}`` (no ``advice`` when there is none): the advice
    is the ``AwsError``'s own (what to check, from the AWS adapter), then ``hints``."""
    kind = next((name for cls, name in ERROR_KINDS if isinstance(error, cls)), "error")
    message = str(error)
    advice = list(hints)
    if isinstance(error, UnknownFilterError):
        message = f"unknown filter {noun(len(error.unknown), 'value', 'values')}"
        advice = [*error.unknown, *advice]
    if isinstance(error, AwsError) and error.advice:
        message = error.detail
        advice.insert(0, error.advice)
    document: dict[str, Any] = {"kind": kind, "message": message}
    if advice:
        document["advice"] = advice
    return document


def _print_error_text(console: Console, document: Mapping[str, Any]) -> None:
    console.print(f"[bold red]Error ({document['kind']}):[/] {_escape(document['message'])}")
    for line in document.get("advice", ()):
        console.print(f"  [yellow]→[/] {_escape(line)}")
    if document.get("more"):
        console.print(f"  [yellow]→[/] … and {document['more']} more")


def _print_error(
    document: Mapping[str, Any], output_format: str, *, text_to_stderr: bool = False
) -> int:
    """Print an error document (:func:`_error_json`'s shape) and return ``EXIT_ERROR``.

    JSON: ``{"error": document}`` on stdout. Text: the message, then each piece of advice on
    its own line (then ``… and N more`` when the document has ``more``: advice not listed),
    on stdout (stderr with ``text_to_stderr``: ``run``, whose stdout is its pass report)."""
    if output_format == "json":
        _print_json({"error": dict(document)})
    else:
        stream = sys.stderr if text_to_stderr else sys.stdout
        _print_error_text(Console(file=stream, highlight=False, soft_wrap=True), document)
    return EXIT_ERROR


def _report_error(
    error: ReconcilerError,
    output_format: str,
    *,
    hints: Sequence[str] = (),
    text_to_stderr: bool = False,
) -> int:
    """Print ``error`` (JSON: ``{"error": {"kind", "message", "advice": [str]}}``; text: the
    message, then each piece of advice on its own line) and return ``EXIT_ERROR``."""
    return _print_error(_error_json(error, hints), output_format, text_to_stderr=text_to_stderr)


OFFLINE_HINT = (
    "validate reads AWS to check accounts, users and groups; to check the files alone, run "
    "`reconciler validate --offline`"
)
"""Added to the advice of a ``validate`` that cannot use AWS."""


DESIRED_ACCESS_HINT = (
    "access --desired reads AWS as plan does: account names, OU and tag targets are resolved "
    "through Organizations and undeclared users and groups through the identity store, so it "
    "cannot run offline"
)
"""Added to the advice of an ``access --desired`` that cannot use AWS."""


def _hint(args: argparse.Namespace, error: ReconcilerError) -> str | None:
    """What else to do after ``error``: ``validate --offline`` when AWS could not be used;
    for ``access --desired``, why it needs AWS at all."""
    if not isinstance(error, AwsError | ConfigurationError):
        return None
    if args.command == "validate" and not getattr(args, "offline", True):
        return OFFLINE_HINT
    if args.command == "access" and getattr(args, "desired", False):
        return DESIRED_ACCESS_HINT
    return None


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        default=".",
        help="Git repository holding the desired state: a local path (any folder of a work "
        "tree: its top is used) or a URL (file://, https://, ssh). Default: the current "
        "directory.",
    )
    parser.add_argument(
        "--ref",
        default=None,
        help="branch, tag, commit or any revision expression git accepts in a local repository "
        "(HEAD~3, main~1; default: the checkout of a local repository, as it is; the default "
        "branch of a URL)",
    )
    parser.add_argument(
        "--path",
        default="desired-state",
        help="folder of the desired state inside the repository (default: desired-state)",
    )
    parser.add_argument(
        "--instance-arn",
        default=None,
        help="Identity Center instance ARN (default: the only instance of the account)",
    )


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535; anything else is a usage error."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: give 0 (any free) to 65535")
    return port


def _controller_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="a controller's state file: warn when the revision is older than the one that "
        "controller last applied (default: the state file `reconciler run` keeps for this "
        "repository, ref and path, when it exists)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits ``EXIT_USAGE`` (1), never 2, with a hint, and options
    are not abbreviated (``--allow-d`` is not ``--allow-deletions``: a flag that lifts a safety
    rule is spelt out).

    Sub-command parsers are made of the same class (``add_subparsers`` uses the parent's), so
    every usage error of every command goes through ``error``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: error: {message}\n"
            f"hint: '{self.prog} --help' lists the options and their values\n",
        )


LOG_LEVELS = ("debug", "info", "warning", "error")


def _logging_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """``--log-level``, ``--log-format`` and ``-v``, accepted before the command and after it.

    Before the command they are the top-level parser's (with their defaults); after it, each
    command's parser has them too, with no default (``argparse.SUPPRESS``), so an option given
    only before is not reset by the command's parser. ``-v`` counts into ``verbose`` before the
    command and ``verbose_after`` after it, and :func:`_log_level` adds them.
    """

    def default(value: object) -> Any:
        return argparse.SUPPRESS if after_command else value

    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="log events at this level and above, to stderr (default: warning; info for run "
        "and sandbox). Also accepted before the command",
        default=default(None),
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        help="logs go to stderr: JSON off a terminal, console on one (auto)",
        default=default("auto"),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        dest="verbose_after" if after_command else "verbose",
        help="more logs: -v for info, -vv for debug (ignored with --log-level)",
        default=default(0),
    )


DEFAULT_LOG_LEVELS = {"run": "info", "sandbox": "info"}
"""Log level of the commands that do not default to ``warning``: the controller and the
sandbox are long-running services whose info lines are their record of work. Every other
command (validate, plan, apply, export, schema, demo) prints what a person asked for on stdout
and logs only warnings and errors, on a terminal and off it alike, unless ``-v`` or
``--log-level`` asks for more."""


def _log_level(args: argparse.Namespace) -> str:
    """The level ``--log-level`` names, else the command's default lowered by each ``-v``."""
    if args.log_level is not None:
        return str(args.log_level)
    default = DEFAULT_LOG_LEVELS.get(args.command, "warning")
    verbose = int(args.verbose) + int(getattr(args, "verbose_after", 0))
    index = max(LOG_LEVELS.index(default) - verbose, 0)
    return LOG_LEVELS[index]


def _format_option(parser: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    parser.add_argument("--format", choices=choices, default="text", help="output format")


def _build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one statement per option
    parser = _Parser(
        prog="reconciler",
        description="GitOps reconciler for AWS IAM Identity Center: makes Identity Center match "
        "the desired-state JSON in a Git repository.",
    )
    _logging_options(parser, after_command=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate", help="check the desired state; exit 1 when anything is wrong"
    )
    _source_options(validate)
    _format_option(validate, ("text", "json"))
    validate.add_argument(
        "--offline",
        action="store_true",
        help="check the files only: do not read AWS to check accounts, users and groups",
    )
    _logging_options(validate, after_command=True)
    validate.set_defaults(handler=_validate, command_parser=validate)

    plan = commands.add_parser(
        "plan",
        help="show what apply would change; exit 0 nothing, 2 changes (or unmanaged objects "
        "with unmanaged: fail), 1 error",
    )
    _source_options(plan)
    _format_option(plan, FORMATS)
    _controller_state_option(plan)
    _logging_options(plan, after_command=True)
    plan.set_defaults(handler=_plan, command_parser=plan)

    apply = commands.add_parser(
        "apply", help="make Identity Center match the desired state; exit 0 only on success"
    )
    _source_options(apply)
    _format_option(apply, FORMATS)
    _controller_state_option(apply)
    apply.add_argument(
        "--allow-deletions",
        action="store_true",
        help="lift the deletion guard for this run (reconciler.json deletion_guard)",
    )
    apply.add_argument(
        "--allow-uncommitted",
        action="store_true",
        help="apply a local work tree's uncommitted edits to the desired state (refused by "
        "default: what is applied must be the revision the report names)",
    )
    _logging_options(apply, after_command=True)
    apply.set_defaults(handler=_apply, command_parser=apply)
    _saved_plan_options(plan, apply)

    sandbox = commands.add_parser("sandbox", help="the local Identity Center simulator")
    sandbox_commands = sandbox.add_subparsers(
        dest="sandbox_command", required=True, metavar="COMMAND"
    )
    serve = sandbox_commands.add_parser(
        "serve", help="serve a simulated organization and Identity Center on loopback"
    )
    serve.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=5000, help="TCP port (default 5000)")
    serve.add_argument(
        "--faults",
        default=None,
        help="fault injection, e.g. 'throttle=0.05,http500=0.01,latency=0.02,seed=7'",
    )
    serve.add_argument(
        "--region",
        default="us-east-1",
        help="the Region of the simulated instance (default us-east-1): clients must use it "
        "(AWS_REGION), as with AWS, where an instance lives in one Region",
    )
    serve.add_argument(
        "--delegated-administrator",
        action="store_true",
        help="call as a delegated administrator: a member account 'identity', which AWS does "
        "not let change the management account's assignments",
    )
    _logging_options(serve, after_command=True)
    serve.set_defaults(handler=_sandbox_serve, command_parser=serve)
    seed = sandbox_commands.add_parser(
        "seed",
        help="serve a sandbox filled with a generated organization and write its desired state",
    )
    for flag, default in (
        ("--accounts", 20),
        ("--permission-sets", 10),
        ("--groups", 20),
        ("--users", 100),
        ("--assignments", 200),
        ("--seed", 1),
    ):
        seed.add_argument(flag, type=int, default=default, help=f"(default {default})")
    seed.add_argument("--out", required=True, help="desired-state folder to write")
    seed.add_argument(
        "--empty",
        action="store_true",
        help="seed only the accounts: the desired state is then a converge from empty",
    )
    seed.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    seed.add_argument("--port", type=_port, default=5000, help="TCP port (default 5000)")
    seed.add_argument("--faults", default=None, help="fault injection, as for sandbox serve")
    _logging_options(seed, after_command=True)
    seed.set_defaults(handler=_sandbox_seed, command_parser=seed)

    export = commands.add_parser(
        "export",
        help="write the live state as desired-state files: how an existing Identity Center "
        "is adopted (see docs/adoption.md)",
    )
    export.add_argument("--out", required=True, help="folder to write the files to")
    export.add_argument(
        "--kinds",
        default="users,groups,permission_sets,assignments,access_control_attributes",
        help="comma-separated kinds to export (default: all of "
        "users,groups,permission_sets,assignments,access_control_attributes)",
    )
    export.add_argument(
        "--instance-arn",
        default=None,
        help="Identity Center instance ARN (default: the only instance of the account)",
    )
    export.add_argument(
        "--identities",
        choices=("managed", "external"),
        default="managed",
        help="external: users and groups belong to an identity provider (SCIM); they are not "
        "exported and reconciler.json says so (default: managed)",
    )
    export.add_argument(
        "--force", action="store_true", help="overwrite desired-state files already in --out"
    )
    _format_option(export, ("text", "json"))
    _logging_options(export, after_command=True)
    export.set_defaults(handler=_export, command_parser=export)

    access = commands.add_parser(
        "access",
        help="who has access to what: every user's permission sets per account, groups "
        "expanded, from live state (or a revision with --desired)",
        description="Who has access to what: every grant (user, account, permission set, "
        "directly or via which group), from live state; with --desired, from the revision "
        "that --repo, --ref and --path name (they matter only then). Deleted principals still "
        "holding access and group assignments that grant nobody are listed apart. Values of "
        "one filter are alternatives; different filters must all hold. Exit 0 when the report "
        "is made, 1 on an error (an unknown filter value, AWS unreachable...).",
    )
    _access_options(access)
    _logging_options(access, after_command=True)
    access.set_defaults(handler=_access, command_parser=access)

    iam_policy = commands.add_parser(
        "iam-policy",
        help="print the least-privilege IAM policy of a role (plan, apply, lease, "
        "management-account)",
        description="Print the IAM policy document (JSON) granting what the reconciler calls "
        "as ROLE: plan (validate, plan, access, export, run --mode detect), apply (apply, run: "
        "plan's reads and the writes), lease (the DynamoDB lease of run --lock dynamodb), "
        "management-account (what the caller needs in the management account to provision "
        "permission sets there). Resources are scoped by the options given, * otherwise (a "
        "note on stderr says which). docs/iam.md shows every policy.",
    )
    iam_policy.add_argument(
        "--role",
        required=True,
        choices=("plan", "apply", "lease", "management-account"),
        help="the role whose policy to print",
    )
    iam_policy.add_argument("--instance-arn", help="the Identity Center instance ARN")
    iam_policy.add_argument("--identity-store-id", help="the identity store id (d-...)")
    iam_policy.add_argument("--table", help="the DynamoDB lease table's name")
    iam_policy.add_argument("--region", help="the lease table's Region")
    iam_policy.add_argument(
        "--account", help="the account id of the lease table (or of the management account)"
    )
    iam_policy.add_argument("--partition", default="aws", help="the AWS partition (default: aws)")
    _logging_options(iam_policy, after_command=True)
    iam_policy.set_defaults(handler=_iam_policy, command_parser=iam_policy)

    schema = commands.add_parser(
        "schema", help="write the JSON Schemas of the desired-state files, for editors"
    )
    schema.add_argument("--out", default="schema", help="folder to write to (default: schema)")
    _logging_options(schema, after_command=True)
    schema.set_defaults(handler=_schema, command_parser=schema)

    demo = commands.add_parser(
        "demo", help="converge a sandbox to desired-state/, then find and heal a hand change"
    )
    demo.add_argument(
        "--path",
        default="desired-state",
        help="desired-state folder to demonstrate with (default: desired-state)",
    )
    _logging_options(demo, after_command=True)
    demo.set_defaults(handler=_demo, command_parser=demo)

    from reconciler.controller.command import add_run_options  # noqa: PLC0415 - argparse only

    run = commands.add_parser(
        "run",
        help="the controller: reconcile on every new commit and every interval, until stopped",
    )
    add_run_options(run)
    _logging_options(run, after_command=True)
    run.set_defaults(handler=_run, command_parser=run)

    from reconciler.controller.syncing import add_sync_options  # noqa: PLC0415 - argparse only

    sync = commands.add_parser(
        "sync",
        help="ask a running controller to fetch and reconcile now and print the pass's report; "
        "exit 0 converged, 2 drift or changes left, 1 failure",
    )
    add_sync_options(sync)
    _logging_options(sync, after_command=True)
    sync.set_defaults(handler=_sync, command_parser=sync)
    return parser


ACCESS_FILTERS = (
    ("--user", "users", "user name"),
    ("--group", "groups", "group display name: the access that comes through that group"),
    ("--account", "accounts", "account name or 12-digit id"),
    ("--ou", "units", "organizational unit path (Root/Workloads) or id, with the OUs below it"),
    ("--permission-set", "permission_sets", "permission set name"),
)
"""The filters of ``access``: flag, ``AccessFilter`` field, what a value is."""


def _access_options(parser: argparse.ArgumentParser) -> None:
    _source_options(parser)
    parser.add_argument(
        "--desired",
        action="store_true",
        help="report the access the revision (--repo, --ref, --path) declares, resolved "
        "against AWS as plan resolves it, instead of live state",
    )
    for flag, field, what in ACCESS_FILTERS:
        parser.add_argument(
            flag,
            dest=f"filter_{field}",
            action="append",
            default=[],
            metavar="VALUE",
            help=f"keep only this {what}; repeat it or separate values with commas",
        )
    _format_option(parser, ("text", "json", "csv", "html"))
    parser.add_argument(
        "--by",
        choices=("user", "account"),
        default="user",
        help="text format: list the grants per user (default) or per account",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the report to this file instead of stdout (its path is printed)",
    )


def _source(args: argparse.Namespace) -> Any:
    """The ``GitSource`` of ``--repo``, ``--ref`` and ``--path``.

    A ``--repo`` folder inside a work tree but not its top (``.`` run from a subfolder) is
    replaced by the top (``args.repo`` too, so the controller's state file is found), with a
    note on stderr naming it; ``--path`` stays relative to the top.
    """
    from reconciler.adapters.source import GitSource, work_tree_top  # noqa: PLC0415 - fast --help

    top = work_tree_top(args.repo)
    if top is not None and top.resolve() != Path(args.repo).expanduser().resolve():
        sys.stderr.write(
            f"note: repository {args.repo} is inside the work tree {top}: using {top} "
            f"(--path {args.path} is relative to it)\n"
        )
        args.repo = str(top)
    return GitSource(repository=args.repo, ref=args.ref, subpath=args.path)


def _revision(args: argparse.Namespace, source: Any = None) -> Any:
    from reconciler.engine import checkout  # noqa: PLC0415

    return checkout(source if source is not None else _source(args))


def _behind_controller(args: argparse.Namespace, source: Any, revision: str | None) -> str | None:
    """A warning when ``revision`` does not descend from what a controller last applied.

    The controller's state file is ``--state-file``, else the one ``reconciler run`` keeps by
    default for the same repository, ref and path; ``None`` when there is none, it names no
    applied revision, or ``revision`` descends from it. A controller following the branch
    refuses such a revision (forward-only revisions); applying it by hand rolls back whatever
    was applied since.
    """
    from reconciler.adapters.source import RevisionRelation  # noqa: PLC0415
    from reconciler.controller.settings import SettingsError  # noqa: PLC0415
    from reconciler.controller.state import StateError, StateFile  # noqa: PLC0415

    path = args.state_file
    if path is None:
        try:
            settings = _controller_settings(args)
        except SettingsError:
            return None
        path = settings.resolved_state_file()
    if revision is None or not path.is_file():
        return None
    try:
        applied = StateFile(path).load().last_applied_revision
    except StateError as exc:
        return f"cannot tell what the controller last applied: {exc}"
    if applied is None or applied == revision:
        return None
    try:
        relation = source.relation(revision, applied)
    except SourceError as exc:
        return (
            f"could not check revision {revision} against the revision {applied} the controller "
            f"last applied (state file {path}): {exc}"
        )
    if relation.is_forward:
        return None
    where = {
        RevisionRelation.ANCESTOR: "is older than",
        RevisionRelation.DIVERGED: "does not descend from",
    }.get(relation, "cannot be shown to descend from")
    return (
        f"revision {revision} {where} the revision {applied} the controller last applied (state "
        f"file {path}): applying it rolls back what was applied since, and a controller "
        "following this branch refuses it"
    )


def _clients(role: Literal["plan", "apply"] = "plan") -> Any:
    """Clients that call AWS as ``role`` (named in the User-Agent): ``plan`` for every
    read-only command, ``apply`` for ``apply`` (``reconciler iam-policy`` prints each role's
    policy)."""
    from reconciler.adapters.aws.clients import make_clients  # noqa: PLC0415

    return make_clients(role=role)


def _validate(args: argparse.Namespace) -> int:
    """Every problem of the revision in one run (``engine.check_revision``): the files, then
    what did load against live state. When AWS cannot be read, the problems of the files are
    reported with the error and its advice (``--offline`` among it), and the exit code is 1."""
    from reconciler.engine import check_revision  # noqa: PLC0415

    revision = _revision(args)
    checked = check_revision(
        revision, aws=None if args.offline else _clients, instance_arn=args.instance_arn
    )
    hints = (OFFLINE_HINT,) if checked.live_error is not None else ()
    if checked.problems:
        error = InvalidRevisionError(checked.problems, live_error=checked.live_error)
        return _report_invalid(
            error,
            args.format,
            revision.revision,
            hints=hints,
            warnings=checked.warnings,
            uncommitted=revision.uncommitted,
        )
    warnings = [_problem_json(problem) for problem in checked.warnings]
    checked_live = checked.live is not None
    if args.format == "json":
        document: dict[str, Any] = {
            "revision": revision.revision,
            "uncommitted": revision.uncommitted,
            "valid": checked.live_error is None,
            "checked_against_live_state": checked_live,
            "problems": [],
            "warnings": warnings,
        }
        if checked.live_error is not None:
            document["error"] = _error_json(checked.live_error, hints)
        _print_json(document)
    else:
        console = _stdout()
        where = _where(revision.revision, uncommitted=revision.uncommitted)
        if checked.live_error is not None:
            console.print(
                f"[yellow]the files of the desired state at {where} have no problems, but "
                f"{UNCHECKED_REFERENCES}:[/]"
            )
            _print_error_text(console, _error_json(checked.live_error, hints))
        else:
            scope = "" if checked_live else " (files only: accounts and principals not checked)"
            console.print(f"[green]✓[/] desired state at {_escape(where)} is valid{scope}")
        for problem in checked.warnings:
            console.print(f"  [yellow]warning:[/] {_escape(str(problem))}")
    return EXIT_OK if checked.live_error is None else EXIT_ERROR


@collection_paused
def _render_pass(result: Any, output_format: str) -> None:
    from reconciler.planning import rendering  # noqa: PLC0415

    names = result.account_names
    notes = tuple(f"apply would be refused: {reason}" for reason in result.guard_violations)
    if output_format == "json":
        if result.outcome is None:
            document = rendering.plan_json(result.plan, account_names=names)
        else:
            document = rendering.outcome_json(result.plan, result.outcome, account_names=names)
        document["notes"] = [*document["notes"], *notes]
        _print_large_json(document)
    elif output_format == "markdown":
        for part in rendering.plan_markdown(result.plan, account_names=names):
            sys.stdout.write(part + "\n")
    else:
        console = _stdout()
        console.print(rendering.plan_text(result.plan, account_names=names, outcome=result.outcome))
        for note in notes:
            console.print(f"[yellow]{_escape(note)}[/]")


def _controller_settings(args: argparse.Namespace) -> Any:
    """The settings a controller following the same repository, ref and path would have
    (environment and ``RECONCILER_CONFIG_FILE``): where its state file and writer lock are.
    Raises ``SettingsError``."""
    from reconciler.controller.settings import load_settings  # noqa: PLC0415

    return load_settings(overrides={"repository": args.repo, "ref": args.ref, "path": args.path})


@contextlib.contextmanager
def _writer_lock(args: argparse.Namespace) -> Iterator[Callable[[], None] | None]:
    """Hold the controller's writer lock for an ``apply`` and give its write fence.

    The lock is the one ``reconciler run`` takes (``RECONCILER_LOCK``, ``RECONCILER_LOCK_TABLE``
    ... or the configuration file): an ``apply`` from a laptop or CI never writes beside a
    running controller. With ``lock = none`` (the default) nothing is taken and the fence is
    None. Raises ``WriterLockLostError`` when another writer holds the lock or it cannot be
    reached, ``ConfigurationError`` when it cannot work (no such table); nothing is written
    then. Released on the way out.
    """
    from reconciler.controller.wiring import make_lock  # noqa: PLC0415

    settings = _controller_settings(args)
    lock = make_lock(settings)
    if lock is None:
        yield None
        return
    try:
        acquired = lock.acquire()
    except ReconcilerError:
        raise
    except Exception as exc:  # an OS error of the lock file
        raise WriterLockLostError(f"the writer lock is unavailable: {exc}") from exc
    if not acquired:
        raise WriterLockLostError(
            f"the writer lock ({settings.lock}) is held by {lock.holder or 'another writer'}: "
            "a controller (or another apply) is writing. Nothing was applied; suspend or stop "
            "that controller, or let it apply the revision, then try again",
            holder=lock.holder,
        )
    margin = settings.lock_safety_margin_seconds
    try:
        yield lambda: lock.fence(margin)
    finally:
        lock.release()


@contextlib.contextmanager
def _apply_progress(*, enabled: bool) -> Iterator[None]:
    """While applying, a rich progress bar (counts, ETA) on stderr, never stdout; off a
    terminal the apply logs ``apply_progress`` lines instead (see ``applying``)."""
    if not enabled:
        yield
        return
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from reconciler.adapters.aws.applying import ApplyProgress, progress_listener  # noqa: PLC0415

    with Progress(
        TextColumn("applying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("apply", total=None, failed=0)

        def show(update: ApplyProgress) -> None:
            progress.update(task, total=update.total, completed=update.done, failed=update.failed)

        token = progress_listener.set(show)
        try:
            yield
        finally:
            progress_listener.reset(token)


def _run_pass(args: argparse.Namespace, *, apply: bool) -> int:
    from dataclasses import replace  # noqa: PLC0415

    from reconciler.engine import base_rules, reconcile  # noqa: PLC0415

    source = _source(args)
    revision = _revision(args, source)
    behind = _behind_controller(args, source, revision.revision)
    if behind is not None:
        sys.stderr.write(f"warning: {behind}\n")
    base = base_rules(source, revision)
    try:
        with (
            _writer_lock(args) if apply else contextlib.nullcontext() as fence,
            _apply_progress(enabled=apply and sys.stderr.isatty()),
        ):
            result = reconcile(
                revision=revision,
                aws=_clients("apply" if apply else "plan"),
                apply=apply,
                allow_deletions=getattr(args, "allow_deletions", False),
                allow_uncommitted=getattr(args, "allow_uncommitted", False),
                instance_arn=args.instance_arn,
                base=base,
                fence=fence,
            )
    except InvalidRevisionError as error:
        return _report_invalid(
            error,
            args.format,
            revision.revision,
            command=args.command,
            uncommitted=revision.uncommitted,
        )
    if behind is not None:
        result = replace(result, plan=replace(result.plan, notes=(behind, *result.plan.notes)))
    _render_pass(result, args.format)
    if apply:
        return EXIT_OK if result.outcome is None or result.outcome.succeeded else EXIT_ERROR
    converged = result.plan.is_empty and not result.plan.failed_by_unmanaged
    return EXIT_OK if converged else EXIT_CHANGES


def _plan(args: argparse.Namespace) -> int:
    if getattr(args, "out", None) is not None:
        return _plan_saved(args)
    return _run_pass(args, apply=False)


def _apply(args: argparse.Namespace) -> int:
    if getattr(args, "plan_file", None) is not None:
        return _apply_saved(args)
    return _run_pass(args, apply=True)


def _saved_plan_options(plan: argparse.ArgumentParser, apply: argparse.ArgumentParser) -> None:
    """``plan --out FILE [--allow-deletions]`` and ``apply [FILE]`` (see docs/saved-plans.md)."""
    plan.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="also write the plan to FILE (a saved plan), for `reconciler apply FILE` to apply "
        "exactly that plan later; the revision must be committed",
    )
    plan.add_argument(
        "--allow-deletions",
        action="store_true",
        help="with --out: the saved plan is to be applied with --allow-deletions (a saved "
        "plan is applied only with the settings it was made with)",
    )
    apply.add_argument(
        "plan_file",
        nargs="?",
        default=None,
        metavar="FILE",
        help="a saved plan (`plan --out FILE`): apply exactly it, refused if the revision, the "
        "settings or the live objects it touches changed since it was made",
    )


def _plan_saved(args: argparse.Namespace) -> int:
    """``plan --out FILE``: plan as ``plan`` does, print it, and write the saved plan (the
    revision, the fingerprints of the live objects the operations touch, the settings).
    Refused (nothing written) for uncommitted edits or a folder outside Git."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from reconciler.engine import base_rules, reconcile  # noqa: PLC0415
    from reconciler.planning.saved_plans import (  # noqa: PLC0415
        SavedPlanFileError,
        SavedSettings,
        saved_plan_bytes,
    )

    source = _source(args)
    revision = _revision(args, source)
    if revision.uncommitted:
        raise SavedPlanFileError(
            f"the desired-state folder {revision.folder} has uncommitted changes: a saved plan "
            f"names a commit, and `apply FILE` applies that commit. Commit them first. No plan "
            "was saved."
        )
    base = base_rules(source, revision)
    try:
        result = reconcile(
            revision=revision,
            aws=_clients(),
            apply=False,
            allow_deletions=args.allow_deletions,
            instance_arn=args.instance_arn,
            base=base,
        )
    except InvalidRevisionError as error:
        return _report_invalid(
            error,
            args.format,
            revision.revision,
            command=args.command,
            uncommitted=revision.uncommitted,
        )
    content = saved_plan_bytes(
        result.plan,
        result.live,
        settings=SavedSettings(path=args.path, allow_deletions=args.allow_deletions),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    out = Path(args.out)
    try:
        _write_under(out.parent, out.name, content)
    except OSError as error:
        return _print_error(
            {"kind": "file", "message": f"cannot write {out}: {error.strerror or error}"},
            args.format,
        )
    sys.stderr.write(f"saved plan written to {out}: apply it with `reconciler apply {out}`\n")
    _render_pass(result, args.format)
    converged = result.plan.is_empty and not result.plan.failed_by_unmanaged
    return EXIT_OK if converged else EXIT_CHANGES


def _read_saved_plan(path: Path) -> Any:
    """The saved plan at ``path``, read with a bound (``MAX_SAVED_PLAN_BYTES``) and checked
    (``parse_saved_plan``); raises ``SavedPlanFileError``."""
    from reconciler.planning.saved_plans import (  # noqa: PLC0415
        MAX_SAVED_PLAN_BYTES,
        SavedPlanFileError,
        parse_saved_plan,
    )

    try:
        with path.open("rb") as handle:
            content = handle.read(MAX_SAVED_PLAN_BYTES + 1)
    except OSError as error:
        raise SavedPlanFileError(
            f"cannot read the saved plan {path}: {error.strerror or error}"
        ) from error
    return parse_saved_plan(content, name=str(path))


def _apply_saved(args: argparse.Namespace) -> int:
    """``apply FILE``: apply exactly the saved plan, through the same pass as ``apply``
    (deletion guard included), or refuse naming every difference (nothing written).

    The revision of the repository (``--repo``/``--ref``) must still be the plan's; its files
    are read from that commit (edits not committed are not applied). Live state is read whole,
    as a pass reads it, and the fingerprints of the objects the saved operations touch are
    compared; then the revision is re-planned and must give the saved operations."""
    from dataclasses import replace  # noqa: PLC0415

    from reconciler.engine import base_rules, reconcile, revision_of  # noqa: PLC0415
    from reconciler.planning.saved_plans import (  # noqa: PLC0415
        Approval,
        SavedPlanRefusedError,
        SavedSettings,
    )

    saved = _read_saved_plan(Path(args.plan_file))
    source = _source(args)
    try:
        head = _revision(args, source)
        if head.revision != saved.revision:
            raise SavedPlanRefusedError(
                [
                    f"revision changed: the plan was made at {saved.revision}, "
                    f"{args.ref or 'the checkout'} is now at {head.revision}"
                ]
            )
        revision = revision_of(source.fetch_at(saved.revision))
        behind = _behind_controller(args, source, revision.revision)
        if behind is not None:
            sys.stderr.write(f"warning: {behind}\n")
        base = base_rules(source, revision)
        with _writer_lock(args) as fence, _apply_progress(enabled=sys.stderr.isatty()):
            result = reconcile(
                revision=revision,
                aws=_clients("apply"),
                apply=True,
                fence=fence,
                allow_deletions=args.allow_deletions,
                instance_arn=args.instance_arn,
                base=base,
                approved=Approval(
                    saved=saved,
                    settings=SavedSettings(path=args.path, allow_deletions=args.allow_deletions),
                ),
            )
    except InvalidRevisionError as error:
        return _report_invalid(error, args.format, saved.revision, command=args.command)
    except SavedPlanRefusedError as error:
        document = _error_json(error, error.listed)
        if error.more:
            document["more"] = error.more
        return _print_error(document, args.format)
    if behind is not None:
        result = replace(result, plan=replace(result.plan, notes=(behind, *result.plan.notes)))
    _render_pass(result, args.format)
    return EXIT_OK if result.outcome is None or result.outcome.succeeded else EXIT_ERROR


def _export(args: argparse.Namespace) -> int:
    """Write the live state as files under ``--out``. Text: each path written on stdout, notes
    on stderr; JSON: ``{"files": [path], "notes": [str]}``. Errors as every command's
    (:func:`_print_error`): kinds ``usage`` (``--kinds``), ``refused`` (``--out`` not empty),
    ``file`` (cannot write), and those of AWS."""
    from reconciler.adapters.aws.reading import read_live_state  # noqa: PLC0415
    from reconciler.model.exporting import ExportKind, export_files, parse_kinds  # noqa: PLC0415
    from reconciler.model.targets import TargetReads  # noqa: PLC0415
    from reconciler.model.wording import count  # noqa: PLC0415

    def fail(kind: str, message: str, *advice: str) -> int:
        document: dict[str, Any] = {"kind": kind, "message": message}
        if advice:
            document["advice"] = list(advice)
        return _print_error(document, args.format)

    try:
        kinds = parse_kinds(args.kinds)
    except ValueError as error:
        return fail("usage", f"--kinds: {error}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return fail(
            "usage",
            f"--out {out} is a file: export writes a folder of desired-state files",
            "name a folder that does not exist yet or is empty",
        )
    existing = sorted(out.rglob("*.json")) if out.is_dir() else []
    if existing and not args.force:
        return fail(
            "refused",
            f"{out} already holds {count(len(existing), 'JSON file')}",
            "export into an empty folder, or pass --force to overwrite them",
        )
    reads = TargetReads(access_control_attributes=ExportKind.ACCESS_CONTROL_ATTRIBUTES in kinds)
    live = read_live_state(_clients(), instance_arn=args.instance_arn, targets=reads)
    reasons, kept_notes = _reasons_kept(out, live) if existing else ({}, [])
    try:
        export = export_files(live, kinds=kinds, identities=args.identities, reasons=reasons)
    except ValueError as error:
        return fail("usage", f"--kinds: {error}")
    export = replace(export, notes=(*kept_notes, *export.notes))
    written = []
    for relative, content in sorted(export.files.items()):
        try:
            path = _write_under(out, relative, content)
        except OSError as error:
            return fail("file", f"cannot write {out / relative}: {error.strerror or error}")
        written.append(str(path))
        if args.format == "text":
            sys.stdout.write(f"{path}\n")
    if args.format == "json":
        _print_json({"files": written, "notes": list(export.notes)})
    else:
        console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        for note in export.notes:
            console.print(f"[yellow]note:[/] {_escape(note)}")
    return EXIT_OK


def _reasons_kept(out: Path, live: Any) -> tuple[Mapping[Any, str], list[str]]:
    """The assignments' ``reason`` of the desired-state files ``export --force`` replaces in
    ``out`` (AWS keeps none), and notes: files of ``users/``, ``groups/`` and ``assignments/``
    are not replaced (export writes the single files) and would declare their entries twice;
    reasons cannot be kept from files that do not validate."""
    from reconciler.engine import reasons_in_folder  # noqa: PLC0415
    from reconciler.model.loading import SPLIT_FOLDERS  # noqa: PLC0415

    notes = [
        f"{out / folder}/ holds files per team that export does not replace: entries also in "
        f"the exported {single} are declared twice (a validation problem); move them back into "
        "the team files or delete those files"
        for single, folder in SPLIT_FOLDERS.items()
        if any((out / folder).glob("*.json"))
    ]
    try:
        return reasons_in_folder(out, live), notes
    except ReconcilerError as error:
        notes.append(
            f"the reasons of assignments in {out} are not kept: its files do not validate ({error})"
        )
        return {}, notes


def _access_filter(args: argparse.Namespace) -> Any:
    from reconciler.planning.access_reports import AccessFilter  # noqa: PLC0415

    values = {
        field: tuple(
            value.strip()
            for given in getattr(args, f"filter_{field}")
            for value in given.split(",")
            if value.strip()
        )
        for _, field, _ in ACCESS_FILTERS
    }
    return AccessFilter(**values)


def _access(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from reconciler.engine import read_access_state  # noqa: PLC0415
    from reconciler.model.policies import allows_broad_access  # noqa: PLC0415
    from reconciler.planning import access_rendering  # noqa: PLC0415
    from reconciler.planning.access import is_privileged  # noqa: PLC0415
    from reconciler.planning.access_reports import ReportSource, access_report  # noqa: PLC0415

    filters = _access_filter(args)
    revision = _revision(args) if args.desired else None
    try:
        read = read_access_state(
            _clients(), revision=revision, instance_arn=args.instance_arn, units=bool(filters.units)
        )
    except InvalidRevisionError as error:
        return _report_invalid(
            error, args.format, revision.revision if revision else None, command="access"
        )
    broad = {
        name
        for name, permission_set in read.state.permission_sets.items()
        if allows_broad_access(permission_set.managed_policies, permission_set.inline_policy)
    }
    report = access_report(
        read.state,
        read.directory,
        generated_at=datetime.now(UTC),
        instance_arn=read.live.instance_arn,
        source=ReportSource.DESIRED if read.desired else ReportSource.LIVE,
        revision=read.revision,
        filters=filters,
        privileged=lambda name: name in broad or is_privileged(name, read.privileged),
    )
    if args.format == "json":
        text = json.dumps(access_rendering.access_json(report), indent=2, ensure_ascii=False) + "\n"
    elif args.format == "csv":
        text = access_rendering.access_csv(report)
        if report.idle_assignments:
            sys.stderr.write(
                f"note: {len(report.idle_assignments)} group assignments grant nobody (groups "
                "with no members or deleted): a CSV row is a grant, so they are listed only in "
                "the text, JSON and HTML formats\n"
            )
    elif args.format == "html":
        text = access_rendering.access_html(report)
    elif args.out is None:
        _stdout().print(access_rendering.access_text(report, by=args.by))
        return EXIT_OK
    else:
        buffer = io.StringIO()  # markup rendered to plain text: a file is not a terminal
        Console(file=buffer, highlight=False, soft_wrap=True).print(
            access_rendering.access_text(report, by=args.by)
        )
        text = buffer.getvalue()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        path = _write_under(args.out.parent, args.out.name, text.encode())
    except OSError as error:
        sys.stderr.write(f"error: cannot write {args.out}: {error.strerror or error}\n")
        return EXIT_ERROR
    sys.stdout.write(f"{path}\n")
    return EXIT_OK


def _iam_policy(args: argparse.Namespace) -> int:
    """Print ``permissions.render_policy`` for ``--role``; notes about wildcards on stderr."""
    from reconciler.adapters.aws.permissions import (  # noqa: PLC0415
        PolicyScope,
        policy_notes,
        render_policy,
    )

    where = PolicyScope(
        instance_arn=args.instance_arn,
        identity_store_id=args.identity_store_id,
        table=args.table,
        region=args.region,
        account=args.account,
        partition=args.partition,
    )
    sys.stdout.write(render_policy(args.role, where))
    for note in policy_notes(args.role, where):
        sys.stderr.write(f'note: Resource "*": {note}\n')
    return 0


def _schema(args: argparse.Namespace) -> int:
    from reconciler.model.schema import json_schemas  # noqa: PLC0415

    out = Path(args.out)
    for name, schema in json_schemas().items():
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        try:
            _write_under(out, name, text.encode())
        except OSError as error:
            sys.stderr.write(f"error: cannot write {out / name}: {error.strerror or error}\n")
            return EXIT_ERROR
        sys.stdout.write(f"{out / name}\n")
    return EXIT_OK


def _write_under(out: Path, relative: str, content: bytes) -> Path:
    """Write ``content`` to ``out/relative`` (a POSIX relative path) without following a
    symbolic link below ``out``: a folder of the path that is a link is an error, and the file
    is written next to its place and renamed onto it, so a link planted there is replaced, not
    written through (and a crash leaves the old file or the new one, whole). Returns the path
    written.

    Raises ``OSError`` (``ELOOP`` for a folder that is a link, ``EISDIR``...) naming the path.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out
    for part in relative.split("/")[:-1]:
        path = path / part
        if path.is_symlink():
            raise OSError(errno.ELOOP, f"{path} is a symbolic link", str(path))
        path.mkdir(exist_ok=True)
    path = path / relative.rsplit("/", maxsplit=1)[-1]  # a link there is replaced, not followed
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as written:
            written.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


SANDBOX_MISSING = (
    "the sandbox needs moto, installed with the 'sandbox' extra: "
    "pip install 'identity-center-reconciler[sandbox]' (make demo and make test install it)"
)


def _sandbox_seed(args: argparse.Namespace) -> int:
    from reconciler.sandbox.faults import FaultConfig, FaultSpecError  # noqa: PLC0415
    from reconciler.sandbox.seeding import ScaleSpec, serve_seeded  # noqa: PLC0415

    try:
        faults = FaultConfig.parse(args.faults) if args.faults else None
        spec = ScaleSpec(
            accounts=args.accounts,
            permission_sets=args.permission_sets,
            groups=args.groups,
            users=args.users,
            assignments=args.assignments,
            seed=args.seed,
            populate_live=not args.empty,
        )
        serve_seeded(spec, folder=Path(args.out), host=args.host, port=args.port, faults=faults)
    except (FaultSpecError, ValueError) as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_ERROR
    return EXIT_OK


def _sandbox_serve(args: argparse.Namespace) -> int:
    from reconciler.sandbox import SandboxSettings, serve  # noqa: PLC0415
    from reconciler.sandbox.faults import FaultConfig, FaultSpecError  # noqa: PLC0415

    try:
        faults = FaultConfig.parse(args.faults) if args.faults else None
    except FaultSpecError as error:
        sys.stderr.write(f"error: {error}\n")  # the message names --faults
        return EXIT_ERROR
    settings = SandboxSettings(
        region=args.region, delegated_administrator=args.delegated_administrator
    )
    serve(settings, host=args.host, port=args.port, faults=faults)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from reconciler.controller.command import run_command  # noqa: PLC0415

    return run_command(args)


def _sync(args: argparse.Namespace) -> int:
    from reconciler.controller.syncing import sync_command  # noqa: PLC0415

    return sync_command(args)


def _demo(args: argparse.Namespace) -> int:
    from reconciler.demo import run_demo  # noqa: PLC0415

    return run_demo(folder=Path(args.path))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reconciler`` console script; returns the exit code."""
    parser = _build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's own parser, so the hint names its --help
        command_parser: argparse.ArgumentParser = args.command_parser
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    log_json = {"auto": None, "json": True, "console": False}[args.log_format]
    configure_logging(level=_log_level(args), json=log_json)
    handler: Callable[[argparse.Namespace], int] = args.handler
    output_format = getattr(args, "format", "text")
    try:
        return handler(args)
    except InvalidRevisionError as error:
        return _report_invalid(error, output_format, None, command=args.command)
    except ReconcilerError as error:
        hint = _hint(args, error)
        return _report_error(
            error,
            output_format,
            hints=(hint,) if hint else (),
            text_to_stderr=args.command == "run",
        )
    except ModuleNotFoundError as error:
        if error.name != "moto":
            raise
        sys.stderr.write(f"error: {SANDBOX_MISSING}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `reconciler schema | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_ERROR


def _version() -> str:
    """The installed package's version (``unknown`` when run from a tree not installed)."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("identity-center-reconciler")
    except PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
