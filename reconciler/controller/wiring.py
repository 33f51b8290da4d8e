"""A :class:`~reconciler.controller.loop.Controller` built from settings: the Git source (with
signature verification), the AWS clients, the writer lock, Slack and the metrics."""

from __future__ import annotations

import os
import random
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from reconciler.adapters.aws.applying import ApplySettings
from reconciler.adapters.aws.clients import AwsClients, make_clients
from reconciler.adapters.locking import DynamoDbLease, FileLock, WriterLock
from reconciler.adapters.notify import SlackNotifier
from reconciler.adapters.source import GitSource, SignaturePolicy
from reconciler.controller.loop import Controller
from reconciler.controller.protocols import Notifier
from reconciler.controller.scheduling import Schedule, ScheduleSettings
from reconciler.controller.settings import ControllerSettings, SettingsError
from reconciler.controller.state import StateFile
from reconciler.planning.guards import GuardLimit

__all__ = ["build_controller", "guard_limits", "make_lock", "make_notifier", "make_source"]

DEFAULT_LEASE_NAME = "identity-center-reconciler"


def make_source(settings: ControllerSettings, *, ref: str | None) -> GitSource:
    """The Git source of ``settings`` at ``ref`` (``settings.ref`` for the newest revision, a
    SHA for the last applied one), verifying signatures when trusted keys are configured."""
    verification = None
    if settings.verifies_signatures:
        verification = SignaturePolicy(
            gpg_public_keys=tuple(settings.trusted_gpg_keys),
            ssh_allowed_signers=settings.ssh_allowed_signers,
        )
    return GitSource(
        repository=settings.repository,
        ref=ref,
        subpath=settings.path,
        cache_dir=settings.cache_dir,
        timeout_seconds=settings.git_timeout_seconds,
        verification=verification,
    )


def _holder_name(settings: ControllerSettings) -> str:
    return settings.lock_holder or f"{socket.gethostname()}:{os.getpid()}"


def make_lock(settings: ControllerSettings) -> WriterLock | None:
    """The writer lock ``settings.lock`` names, or ``None`` for ``none``.

    The DynamoDB lease uses the standard AWS configuration (``AWS_ENDPOINT_URL``, Region,
    credentials), like the Identity Center clients; its table must exist (``WriterLock.check``
    says so at start).
    """
    holder = _holder_name(settings)
    if settings.lock == "file":
        return FileLock(path=settings.resolved_lock_file(), holder_id=holder)
    if settings.lock == "dynamodb" and settings.lock_table:
        return DynamoDbLease(
            table=settings.lock_table,
            lock_name=settings.lock_name or settings.instance_arn or DEFAULT_LEASE_NAME,
            holder_id=holder,
            lease_seconds=settings.lock_lease_seconds,
        )
    return None


def make_notifier(settings: ControllerSettings) -> Notifier | None:
    """The Slack notifier, when a webhook URL is configured."""
    if settings.slack_webhook_url is None:
        return None
    try:
        return SlackNotifier(
            webhook_url=settings.slack_webhook_url.get_secret_value(),
            dedup_window_seconds=settings.slack_dedup_seconds,
            heartbeat=settings.slack_heartbeat,
            repository_web_url=settings.repository_web_url,
        )
    except ValueError as exc:
        raise SettingsError(f"slack_webhook_url: {exc}") from exc


def guard_limits(settings: ControllerSettings) -> tuple[GuardLimit, ...]:
    """The deletion-guard limits of the settings (none when neither is set)."""
    if (
        settings.deletion_guard_max_deletions is None
        and settings.deletion_guard_max_fraction is None
    ):
        return ()
    return (
        GuardLimit(
            source="the controller settings",
            max_deletions=settings.deletion_guard_max_deletions,
            max_fraction=settings.deletion_guard_max_fraction,
        ),
    )


def build_controller(
    settings: ControllerSettings,
    *,
    stop: threading.Event | None = None,
    aws: AwsClients | None = None,
    rng: random.Random | None = None,
    now: Callable[[], datetime] | None = None,
) -> Controller:
    """A controller configured by ``settings``; ``aws`` defaults to ``make_clients()`` (the
    standard AWS configuration: ``AWS_ENDPOINT_URL``, ``AWS_REGION``, credentials chain; the
    ``plan`` role in ``detect`` mode, ``apply`` otherwise, see ``permissions``);
    ``now`` (UTC wall clock of the deletion guard's window) defaults to the system clock.

    Raises :class:`SettingsError` for settings that cannot be put together (and
    ``SourceError`` for an impossible ref or path).
    """
    clients = (
        aws
        if aws is not None
        else make_clients(role="plan" if settings.mode == "detect" else "apply")
    )
    return Controller(
        source=make_source(settings, ref=settings.ref),
        aws=clients,
        state_file=StateFile(settings.resolved_state_file()),
        schedule=Schedule(
            ScheduleSettings(
                interval_seconds=settings.interval_seconds,
                poll_interval_seconds=settings.poll_interval_seconds,
                retry_interval_seconds=settings.retry_interval_seconds,
                jitter=settings.jitter,
            ),
            rng=rng,
        ),
        mode=settings.mode,
        instance_arn=settings.instance_arn,
        complete_read_every=settings.complete_read_every,
        apply_settings=ApplySettings(
            assignment_concurrency=settings.apply_assignment_concurrency,
            poll_interval_seconds=settings.apply_poll_interval_seconds,
            poll_timeout_seconds=settings.apply_poll_timeout_seconds,
            request_status=settings.apply_request_status,
        ),
        lock=make_lock(settings),
        lock_margin_seconds=settings.lock_safety_margin_seconds,
        notifier=make_notifier(settings),
        suspend=settings.suspend,
        suspend_file=settings.suspend_file,
        allow_rewind_revision=settings.allow_rewind_revision,
        stop=stop,
        guard_limits=guard_limits(settings),
        guard_window_seconds=settings.deletion_guard_window_seconds,
        allow_deletions_revision=settings.allow_deletions_revision,
        now=now,
    )
