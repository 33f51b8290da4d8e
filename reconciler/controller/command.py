"""``reconciler run``: the controller as a command.

``add_run_options`` builds the sub-command's flags (light: argparse only, so ``--help`` stays
fast); ``run_command`` runs it. Exit codes:

- the loop (default): 0 after SIGTERM or SIGINT, once the pass in progress has ended (an apply
  in progress starts no new operation and polls those in flight to their end); 1 when the
  settings are invalid, the writer lock cannot work (its DynamoDB table missing, or without
  the ``lock_name`` string key; checked at start) or the endpoint cannot listen.
- ``--once``: 0 converged (in sync, or every change applied); 2 not converged but nothing
  wrong (drift or pending changes left by ``detect`` mode or the suspend switch); 1 otherwise
  (a revision refused, an operation failed, the pass abandoned because the writer lock was
  lost, Git or AWS unavailable, invalid settings). In ``heal`` mode with writes not
  suspended, the writer lock is taken at start: held by another controller, or unavailable,
  is exit 1 at once, naming the holder, before anything is read.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller
    from reconciler.errors import ReconcilerError
    from reconciler.planning.reports import PassStatus

__all__ = ["add_run_options", "exit_code", "run_command"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_CONVERGED = 2


def exit_code(status: PassStatus) -> int:
    """The exit code of a pass that ended with ``status`` (``run --once``, ``sync``): 0
    converged, 2 completed but not converged, 1 otherwise."""
    if status.converged:
        return EXIT_OK
    return EXIT_NOT_CONVERGED if status.completed else EXIT_ERROR


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The flags of ``reconciler run``; each overrides the setting of the same name."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML configuration file (default: $RECONCILER_CONFIG_FILE, else none)",
    )
    parser.add_argument(
        "--repo", dest="repository", default=None, help="Git repository (URL or path)"
    )
    parser.add_argument("--ref", default=None, help="branch, tag or commit to follow")
    parser.add_argument("--path", default=None, help="desired-state folder in the repository")
    parser.add_argument("--instance-arn", default=None, help="Identity Center instance ARN")
    parser.add_argument(
        "--mode",
        choices=("heal", "detect"),
        default=None,
        help="heal: apply and heal drift; detect: report only (default: heal)",
    )
    parser.add_argument(
        "--interval",
        dest="interval_seconds",
        type=float,
        default=None,
        help="drift interval, seconds",
    )
    parser.add_argument(
        "--poll-interval",
        dest="poll_interval_seconds",
        type=float,
        default=None,
        help="seconds between fetches of the repository",
    )
    parser.add_argument(
        "--retry-interval",
        dest="retry_interval_seconds",
        type=float,
        default=None,
        help="first wait after a failed pass, doubled per failure up to the interval",
    )
    parser.add_argument("--jitter", type=float, default=None, help="random spread of waits, 0..1")
    parser.add_argument(
        "--listen",
        default=None,
        help="HOST:PORT of the status page, /healthz, /readyz, /metrics; 'off' for none "
        "(default 127.0.0.1:8080)",
    )
    parser.add_argument("--state-file", type=Path, default=None, help="state file (JSON)")
    parser.add_argument(
        "--suspend",
        action="store_const",
        const=True,
        default=None,
        help="pause writes (drift is still reported)",
    )
    parser.add_argument(
        "--suspend-file", type=Path, default=None, help="writes pause while this file exists"
    )
    parser.add_argument(
        "--lock", choices=("none", "file", "dynamodb"), default=None, help="writer lock"
    )
    parser.add_argument("--lock-file", type=Path, default=None, help="lock file (lock = file)")
    parser.add_argument(
        "--lock-table", default=None, help="DynamoDB table of the lease (lock = dynamodb)"
    )
    parser.add_argument(
        "--trusted-gpg-key",
        dest="trusted_gpg_keys",
        type=Path,
        action="append",
        default=None,
        help="OpenPGP public key file trusted to sign revisions (repeatable)",
    )
    parser.add_argument(
        "--ssh-allowed-signers",
        type=Path,
        default=None,
        help="SSH allowed_signers file of keys trusted to sign revisions",
    )
    parser.add_argument(
        "--allow-rewind-revision",
        default=None,
        metavar="SHA",
        help="apply this one revision (full SHA) although it does not descend from the last "
        "applied revision: a deliberate rollback after a force push; logged and reported",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="one pass, then exit: 0 converged, 2 drift or changes left, 1 failure",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="with --once: how the pass report is printed on stdout",
    )


_OVERRIDES = (
    "repository",
    "ref",
    "path",
    "instance_arn",
    "mode",
    "interval_seconds",
    "poll_interval_seconds",
    "retry_interval_seconds",
    "jitter",
    "listen",
    "state_file",
    "suspend",
    "suspend_file",
    "lock",
    "lock_file",
    "lock_table",
    "trusted_gpg_keys",
    "ssh_allowed_signers",
    "allow_rewind_revision",
)


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the loop ends after the operation in flight)."""
    import structlog  # noqa: PLC0415 - keeps --help fast

    log = structlog.get_logger("reconciler.controller")

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("controller.already_stopping", signal=name)
        else:
            log.info("controller.stopping", signal=name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_writer_lock(controller: Controller, *, once: bool) -> ReconcilerError | None:
    """At start: whether the writer lock can work (``WriterLock.check``); with ``once`` in a
    pass that may write, take it (the pass keeps it). Returns the error to exit with
    (``ConfigurationError`` when the lock cannot work, ``WriterLockLostError`` when it is
    unavailable or held by another), or ``None``. In the loop a temporary AWS error is only
    logged: the passes retry the lock."""
    import structlog  # noqa: PLC0415 - keeps --help fast

    from reconciler.errors import (  # noqa: PLC0415
        ConfigurationError,
        TemporaryAwsError,
        WriterLockLostError,
    )
    from reconciler.planning.reports import Mode  # noqa: PLC0415

    lock = controller.lock
    if lock is None:
        return None
    try:
        lock.check()
    except ConfigurationError as exc:
        return ConfigurationError(f"the writer lock cannot work: {exc}")
    except TemporaryAwsError as exc:
        if once:
            return WriterLockLostError(f"the writer lock is unavailable: {exc}")
        structlog.get_logger("reconciler.controller").warning("lock.check_failed", error=str(exc))
        return None
    except Exception as exc:  # a permanent AWS error (access denied) or an OS error
        return WriterLockLostError(f"the writer lock is unavailable: {exc}")
    if not once or controller.mode is not Mode.HEAL or controller.suspended():
        return None
    try:
        acquired = lock.acquire()
    except Exception as exc:
        return WriterLockLostError(f"the writer lock is unavailable: {exc}")
    if not acquired:
        return WriterLockLostError(
            f"the writer lock is held by {lock.holder or 'another writer'}: this pass may not "
            "write (run it when that controller is done, or with --mode detect)",
            holder=lock.holder,
        )
    return None


def run_command(args: argparse.Namespace) -> int:
    """Run ``reconciler run`` with the parsed ``args``; returns the exit code.

    An error at start (invalid settings, a writer lock that cannot work or is held, an
    endpoint that cannot listen) is raised, not printed: the CLI reports it as every
    command's errors (on stderr in text, ``{"error": ...}`` on stdout with ``--format json``).
    Raises ``SettingsError``, ``ConfigurationError`` or ``WriterLockLostError``.
    """
    from reconciler.controller.hooks import HookEndpoints  # noqa: PLC0415
    from reconciler.controller.serving import OperationsServer  # noqa: PLC0415
    from reconciler.controller.settings import load_settings  # noqa: PLC0415
    from reconciler.controller.status_page import StatusPages  # noqa: PLC0415
    from reconciler.controller.wiring import build_controller  # noqa: PLC0415
    from reconciler.errors import ConfigurationError  # noqa: PLC0415
    from reconciler.planning.reports import report_json, report_text  # noqa: PLC0415

    overrides: dict[str, Any] = {name: getattr(args, name, None) for name in _OVERRIDES}
    settings = load_settings(config_file=args.config, overrides=overrides)
    stop = threading.Event()
    with _stopping_on_signals(stop):
        controller = build_controller(settings, stop=stop)
        problem = _check_writer_lock(controller, once=args.once)
        if problem is not None:
            raise problem
        if args.once:
            try:
                report = controller.run_once()
            finally:
                if controller.lock is not None:
                    controller.lock.release()  # a no-op when the pass released it
            if args.format == "json":
                sys.stdout.write(json.dumps(report_json(report), indent=2) + "\n")
            else:
                sys.stdout.write(report_text(report) + "\n")
            return exit_code(report.status)
        server = None
        address = settings.listen_address
        if address is not None:
            try:
                server = OperationsServer(
                    host=address[0],
                    port=address[1],
                    registry=controller.metrics.registry,
                    ready=lambda: controller.ready,
                    hooks=HookEndpoints(
                        triggers=controller.triggers,
                        webhook_secret=settings.webhook_secret_bytes(),
                        sync_token=settings.sync_token_bytes(),
                        branch=settings.ref,
                        registry=controller.metrics.registry,
                    ),
                    pages=StatusPages.of(controller, settings),
                ).start()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot listen on {settings.listen} (--listen, RECONCILER_LISTEN): "
                    f"{exc.strerror or exc}; give another HOST:PORT, or 'off' for no endpoint"
                ) from exc
        try:
            controller.run()
        finally:
            if server is not None:
                server.stop()
    return EXIT_OK
