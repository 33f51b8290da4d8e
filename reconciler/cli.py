"""The ``reconciler`` command: validate, plan, apply, sandbox serve, demo.

Exit codes (like ``terraform plan -detailed-exitcode``):

- ``validate``: 0 valid, 1 invalid or error.
- ``plan``: 0 nothing to do, 2 changes to make, 1 error (invalid revision, AWS unreachable...).
- ``apply``: 0 every operation succeeded (or nothing to do), 1 otherwise.

Documents (``--format json``) go to stdout; logs go to stderr (JSON off a terminal, console on
one), so ``reconciler plan --format json | jq`` always works. AWS is reached through the
standard configuration: ``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_PROFILE`` and the usual
credential chain.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from reconciler.errors import (
    AwsError,
    InvalidRevisionError,
    PlanRefusedError,
    Problem,
    ReconcilerError,
    SourceError,
)
from reconciler.logs import configure_logging

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2

FORMATS = ("text", "json", "markdown")


def _stdout() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


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


def _report_invalid(error: InvalidRevisionError, output_format: str, revision: str | None) -> int:
    if output_format == "json":
        _print_json(
            {
                "revision": revision,
                "valid": False,
                "problems": [_problem_json(problem) for problem in error.problems],
            }
        )
    else:
        console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        console.print(f"[bold red]Invalid desired state:[/] {error}; nothing was applied.")
        for problem in error.problems:
            console.print(f"  [red]✗[/] {_escape(str(problem))}")
    return EXIT_ERROR


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def _report_error(error: ReconcilerError, output_format: str) -> int:
    kind = {
        SourceError: "source",
        PlanRefusedError: "refused",
        AwsError: "aws",
    }
    category = next((name for cls, name in kind.items() if isinstance(error, cls)), "error")
    if output_format == "json":
        _print_json({"error": {"kind": category, "message": str(error)}})
    else:
        Console(file=sys.stderr, highlight=False, soft_wrap=True).print(
            f"[bold red]Error ({category}):[/] {_escape(str(error))}"
        )
    return EXIT_ERROR


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        default=".",
        help="Git repository holding the desired state: a local path or a URL (file://, "
        "https://, ssh). Default: the current directory.",
    )
    parser.add_argument("--ref", default=None, help="branch, tag or commit (default: HEAD)")
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


def _format_option(parser: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    parser.add_argument("--format", choices=choices, default="text", help="output format")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="GitOps reconciler for AWS IAM Identity Center: makes Identity Center match "
        "the desired-state JSON in a Git repository.",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        choices=("debug", "info", "warning", "error"),
        help="default: info (warning for demo, whose own output tells the story)",
    )
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=("auto", "json", "console"),
        help="logs go to stderr: JSON off a terminal, console on one (auto)",
    )
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
    validate.set_defaults(handler=_validate)

    plan = commands.add_parser(
        "plan", help="show what apply would change; exit 0 nothing, 2 changes, 1 error"
    )
    _source_options(plan)
    _format_option(plan, FORMATS)
    plan.set_defaults(handler=_plan)

    apply = commands.add_parser(
        "apply", help="make Identity Center match the desired state; exit 0 only on success"
    )
    _source_options(apply)
    _format_option(apply, FORMATS)
    apply.add_argument(
        "--allow-deletions",
        action="store_true",
        help="lift the deletion guard for this run (reconciler.json deletion_guard)",
    )
    apply.set_defaults(handler=_apply)

    sandbox = commands.add_parser("sandbox", help="the local Identity Center simulator")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_commands.add_parser(
        "serve", help="serve a simulated organization and Identity Center on loopback"
    )
    serve.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5000, help="TCP port (default 5000)")
    serve.add_argument(
        "--faults",
        default=None,
        help="fault injection, e.g. 'throttle=0.05,http500=0.01,latency=0.02,seed=7'",
    )
    serve.set_defaults(handler=_sandbox_serve)

    schema = commands.add_parser(
        "schema", help="write the JSON Schemas of the desired-state files, for editors"
    )
    schema.add_argument("--out", default="schema", help="folder to write to (default: schema)")
    schema.set_defaults(handler=_schema)

    demo = commands.add_parser(
        "demo", help="converge a sandbox to desired-state/, then find and heal a hand change"
    )
    demo.add_argument(
        "--path",
        default="desired-state",
        help="desired-state folder to demonstrate with (default: desired-state)",
    )
    demo.set_defaults(handler=_demo)
    return parser


def _revision(args: argparse.Namespace) -> Any:
    from reconciler.adapters.source import GitSource  # noqa: PLC0415 - keeps --help fast
    from reconciler.engine import checkout  # noqa: PLC0415

    return checkout(GitSource(repository=args.repo, ref=args.ref, subpath=args.path))


def _clients() -> Any:
    from reconciler.adapters.aws.clients import make_clients  # noqa: PLC0415

    return make_clients()


def _validate(args: argparse.Namespace) -> int:
    from reconciler.adapters.aws.reading import read_live_state  # noqa: PLC0415
    from reconciler.engine import load, resolve_against  # noqa: PLC0415

    revision = _revision(args)
    try:
        documents = load(revision)
        checked_live = not args.offline
        if checked_live:
            resolve_against(documents, read_live_state(_clients(), instance_arn=args.instance_arn))
    except InvalidRevisionError as error:
        return _report_invalid(error, args.format, revision.revision)
    warnings = [_problem_json(problem) for problem in documents.warnings]
    if args.format == "json":
        _print_json(
            {
                "revision": revision.revision,
                "valid": True,
                "checked_against_live_state": checked_live,
                "warnings": warnings,
            }
        )
    else:
        console = _stdout()
        scope = "" if checked_live else " (files only: accounts and principals not checked)"
        console.print(
            f"[green]✓[/] desired state at {revision.revision or 'working tree'} is valid{scope}"
        )
        for problem in documents.warnings:
            console.print(f"  [yellow]warning:[/] {_escape(str(problem))}")
    return EXIT_OK


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
        _print_json(document)
    elif output_format == "markdown":
        for part in rendering.plan_markdown(result.plan, account_names=names):
            sys.stdout.write(part + "\n")
    else:
        console = _stdout()
        console.print(rendering.plan_text(result.plan, account_names=names, outcome=result.outcome))
        for note in notes:
            console.print(f"[yellow]{_escape(note)}[/]")


def _run_pass(args: argparse.Namespace, *, apply: bool) -> int:
    from reconciler.engine import reconcile  # noqa: PLC0415

    revision = _revision(args)
    try:
        result = reconcile(
            revision=revision,
            aws=_clients(),
            apply=apply,
            allow_deletions=getattr(args, "allow_deletions", False),
            instance_arn=args.instance_arn,
        )
    except InvalidRevisionError as error:
        return _report_invalid(error, args.format, revision.revision)
    _render_pass(result, args.format)
    if apply:
        return EXIT_OK if result.outcome is None or result.outcome.succeeded else EXIT_ERROR
    return EXIT_OK if result.plan.is_empty else EXIT_CHANGES


def _plan(args: argparse.Namespace) -> int:
    return _run_pass(args, apply=False)


def _apply(args: argparse.Namespace) -> int:
    return _run_pass(args, apply=True)


def _schema(args: argparse.Namespace) -> int:
    from reconciler.model.schema import json_schemas  # noqa: PLC0415

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        sys.stdout.write(f"{out / name}\n")
    return EXIT_OK


SANDBOX_MISSING = (
    "the sandbox needs moto, installed with the 'sandbox' extra: "
    "pip install 'identity-center-reconciler[sandbox]' (make demo and make test install it)"
)


def _sandbox_serve(args: argparse.Namespace) -> int:
    from reconciler.sandbox import serve  # noqa: PLC0415
    from reconciler.sandbox.faults import FaultConfig, FaultSpecError  # noqa: PLC0415

    try:
        faults = FaultConfig.parse(args.faults) if args.faults else None
    except FaultSpecError as error:
        sys.stderr.write(f"error: --faults: {error}\n")
        return EXIT_ERROR
    serve(host=args.host, port=args.port, faults=faults)
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from reconciler.demo import run_demo  # noqa: PLC0415

    return run_demo(folder=Path(args.path))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reconciler`` console script; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    log_json = {"auto": None, "json": True, "console": False}[args.log_format]
    default_level = "warning" if args.command == "demo" else "info"
    configure_logging(level=args.log_level or default_level, json=log_json)
    handler: Callable[[argparse.Namespace], int] = args.handler
    output_format = getattr(args, "format", "text")
    try:
        return handler(args)
    except InvalidRevisionError as error:
        return _report_invalid(error, output_format, None)
    except ReconcilerError as error:
        return _report_error(error, output_format)
    except ModuleNotFoundError as error:
        if error.name != "moto":
            raise
        sys.stderr.write(f"error: {SANDBOX_MISSING}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
