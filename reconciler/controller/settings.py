"""Settings of ``reconciler run``: where the desired state is, how often to reconcile, what to do.

Every option has a default, and is read, highest priority first, from:

1. a command-line flag of ``reconciler run`` (only flags actually given);
2. an environment variable: ``RECONCILER_`` + the option's name in capitals
   (``RECONCILER_INTERVAL_SECONDS=600``); lists as JSON (``'["a", "b"]'``); a ``RECONCILER_*``
   variable naming no option is an error, like an unknown key of the file;
3. a TOML configuration file, named by ``--config`` or ``RECONCILER_CONFIG_FILE``, with the
   options as top-level keys (``interval_seconds = 600``);
4. the default.

``docs/controller.md`` documents every option with its default; a test keeps the two in step.
Durations are in seconds (floats); ``deletion_guard_window_seconds`` also takes an ISO-8601
duration (``PT24H``).
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from reconciler.errors import ConfigurationError
from reconciler.planning.reports import Mode

__all__ = [
    "CONFIG_FILE_VARIABLE",
    "ENV_PREFIX",
    "ControllerSettings",
    "SettingsError",
    "load_settings",
    "parse_listen",
    "read_secret",
]

ENV_PREFIX = "RECONCILER_"
CONFIG_FILE_VARIABLE = "RECONCILER_CONFIG_FILE"
"""Environment variable naming the TOML configuration file (``--config`` wins over it)."""

LEASE_RENEWALS = 4
"""Renewals per lease (``reconciler.adapters.locking.RENEWALS_PER_LEASE``; not imported, so
that reading the settings does not load boto3)."""
_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)
"""pydantic's parser of ISO-8601 durations (``PT24H``, ``P1DT2H``)."""

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("controller_config_file", default=None)

MIN_SECRET_CHARACTERS = 16
"""The shortest webhook secret or sync token accepted: guessing one must be out of reach
(``openssl rand -hex 32`` makes a good one)."""
MAX_SECRET_FILE_BYTES = 4096
"""The largest secret file read (a secret is a line, not a document)."""


def read_secret(value: SecretStr | None, file: Path | None, *, name: str) -> bytes | None:
    """The secret ``name`` as bytes (UTF-8): ``value``, else the contents of ``file`` (one
    trailing newline dropped, as ``kubectl create secret --from-file`` and editors leave one),
    else ``None``. Raises ``ValueError`` (naming ``name``, never the secret) when both are
    given, the file cannot be read or is larger than ``MAX_SECRET_FILE_BYTES``, or the secret is
    shorter than ``MIN_SECRET_CHARACTERS`` characters, or holds whitespace at an end or a
    control character (a header value loses the one and cannot carry the other)."""
    if value is not None and file is not None:
        raise ValueError(f"give {name} or {name}_file, not both")
    if value is not None:
        text = value.get_secret_value()
    elif file is not None:
        try:
            with file.open("rb") as stream:
                data = stream.read(MAX_SECRET_FILE_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"{name}_file {file} cannot be read: {exc.strerror or exc}") from exc
        if len(data) > MAX_SECRET_FILE_BYTES:
            raise ValueError(f"{name}_file {file} is larger than {MAX_SECRET_FILE_BYTES} bytes")
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name}_file {file} is not UTF-8 text") from exc
        text = text.removesuffix("\n").removesuffix("\r")
    else:
        return None
    if len(text) < MIN_SECRET_CHARACTERS:
        raise ValueError(
            f"{name} is shorter than {MIN_SECRET_CHARACTERS} characters: make one with "
            "`openssl rand -hex 32`"
        )
    if text != text.strip() or any(not char.isprintable() and char != " " for char in text):
        raise ValueError(
            f"{name} begins or ends with whitespace or holds a control character: no HTTP "
            "header can carry it back; make one with `openssl rand -hex 32`"
        )
    return text.encode()


class SettingsError(ConfigurationError):
    """The controller's settings are invalid; the message names every bad option (a
    ``ConfigurationError``: reported as kind ``configuration``)."""


def parse_listen(value: str) -> tuple[str, int] | None:
    """``"HOST:PORT"`` as ``(host, port)``; ``""`` or ``"off"`` as ``None`` (no endpoint).

    IPv6 hosts go in brackets (``[::1]:8080``). Port 0 picks a free port. Raises
    ``ValueError`` for anything else.
    """
    text = value.strip()
    if text.lower() in ("", "off", "none"):
        return None
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"listen address {value!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"listen port {port} is above 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _repository_identity(repository: str) -> str:
    """The repository as one string per repository: a local path made absolute (``.`` in two
    folders is two repositories), a URL as given."""
    if "://" in repository or (":" in repository and not Path(repository).exists()):
        return repository
    return str(Path(repository).expanduser().resolve())


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "identity-center-reconciler"


class ControllerSettings(BaseSettings):
    """Every option of ``reconciler run`` (see the module docstring for where they come from)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    # --- the desired state ----------------------------------------------------------------
    repository: str = Field(
        default=".",
        description="Git repository of the desired state: a URL (https://, ssh://, file://, "
        "git@host:org/repo) or a local path.",
    )
    ref: str | None = Field(
        default=None,
        description="Branch, tag or commit to follow; none: the remote's default branch "
        "(a local work tree: its HEAD).",
    )
    path: str = Field(
        default="desired-state", description="Folder of the desired state in the repository."
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where fetched repositories are kept; none: "
        "$XDG_CACHE_HOME/identity-center-reconciler/sources (else ~/.cache/...).",
    )
    git_timeout_seconds: float = Field(
        default=300.0, gt=0, description="How long one git command may run before it is killed."
    )
    allow_rewind_revision: str | None = Field(
        default=None,
        description="The full commit SHA of one revision that may be applied although it does "
        "not descend from the last applied revision (a deliberate rollback after a force push): "
        "logged and reported when used, ignored for any other revision. none: a rewind or a "
        "rewritten history is refused.",
    )

    # --- AWS --------------------------------------------------------------------------------
    instance_arn: str | None = Field(
        default=None,
        description="Identity Center instance ARN; none: the only instance of the account.",
    )

    # --- the loop ---------------------------------------------------------------------------
    mode: Mode = Field(
        default=Mode.HEAL,
        description="heal: apply new revisions and heal drift; detect: report only, never write.",
    )
    interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Drift interval: a full pass (read AWS, plan, heal or report) at least this "
        "often even when no new commit came.",
    )
    poll_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the repository is fetched; a new commit starts a pass at once.",
    )
    retry_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="First wait after a failed pass; doubles after each further failure, up to "
        "interval_seconds.",
    )
    jitter: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Every wait is multiplied by a random factor in [1 - jitter, 1 + jitter], so "
        "that replicas do not call AWS in step.",
    )
    complete_read_every: int = Field(
        default=12,
        ge=1,
        description="One live-state read in this many is complete (per permission set: every "
        "provisioned set and account), as is the first after start and the first after this "
        "controller wrote; the others are hybrid (per principal, given the previous read: "
        "about a third of the calls on a large organization). 1: every read is complete. "
        "Bounds, in passes, how long a hybrid read's one blind spot can last: an assignment of a "
        "principal created and deleted between two reads, in a (set, account) that also holds "
        "a live principal's assignment.",
    )
    state_file: Path | None = Field(
        default=None,
        description="JSON file keeping last_applied_revision, last_attempted_revision and the "
        "deletions of the deletion guard's window across restarts; none: "
        "$XDG_STATE_HOME/identity-center-reconciler/state-<hash of repository, ref and "
        "path>.json (else ~/.local/state/...).",
    )

    # --- suspend switch ---------------------------------------------------------------------
    suspend: bool = Field(
        default=False,
        description="Pause writes: passes still read AWS and report drift and pending changes.",
    )
    suspend_file: Path | None = Field(
        default=None,
        description="While a file exists at this path, writes are paused (checked every pass).",
    )

    # --- applying ---------------------------------------------------------------------------
    # The defaults are ApplySettings' (what `reconciler apply` and the benchmark use; a test
    # keeps them equal).
    apply_assignment_concurrency: int = Field(
        default=15,
        ge=1,
        le=15,
        description="Account assignment requests in flight at once (AWS allows 15 outstanding "
        "per instance; lower it to leave room for other tools writing assignments).",
    )
    apply_poll_interval_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Least pause between status polls of asynchronous requests (assignments, "
        "provisioning).",
    )
    apply_request_status: Literal["lists", "describe"] = Field(
        default="lists",
        description="How the final status of account assignment requests is learnt: 'lists' "
        "(from the List...Status calls, a Describe only for failures and two canaries per run; "
        "about one call per 15 requests) or 'describe' (one Describe per request: twice the "
        "calls of a converge, and no assumption about the lists; see docs/benchmarks.md).",
    )
    apply_poll_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long an asynchronous request may stay IN_PROGRESS before its operation "
        "fails as timed out; also bounds how long a stop (SIGTERM) may wait.",
    )

    # --- the deletion guard -----------------------------------------------------------------
    deletion_guard_window_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="Sliding window of the deletion guard: deletions made by the passes of this "
        "window count with the planned ones against the limits. Seconds, or an ISO-8601 "
        "duration (PT24H, P1D).",
    )
    deletion_guard_max_deletions: int | None = Field(
        default=None,
        ge=0,
        description="A cap on deletions over the window, whatever the revisions' reconciler.json "
        "say (the strictest applies); none: the revisions' limits alone.",
    )
    deletion_guard_max_fraction: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="A cap (0 to 1) on the share of the managed objects of one kind deleted over "
        "the window, whatever the revisions say (the strictest applies); none: theirs alone.",
    )
    allow_deletions_revision: str | None = Field(
        default=None,
        description="Full commit SHA of one revision for which the deletion guard is lifted "
        "(an audited large deletion): logged at warning and noted in its reports; ignored, "
        "with a note, while the target is another revision.",
    )

    # --- operations surface ----------------------------------------------------------------
    listen: str = Field(
        default="127.0.0.1:8080",
        description="HOST:PORT of the HTTP endpoint (/healthz, /readyz, /metrics); off: none. "
        "Loopback by default: give 0.0.0.0:8080 in a container for probes and scraping.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret of the push webhooks (POST /hooks/git): the GitHub webhook's "
        "secret (HMAC-SHA256) or the GitLab webhook's secret token; at least "
        f"{MIN_SECRET_CHARACTERS} characters, never logged. none (and no webhook_secret_file): "
        "webhooks are refused.",
    )
    webhook_secret_file: Path | None = Field(
        default=None,
        description="File holding webhook_secret (a mounted Kubernetes Secret; one trailing "
        "newline is ignored), read at start; instead of webhook_secret.",
    )
    sync_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of POST /api/sync (`reconciler sync`); at least "
        f"{MIN_SECRET_CHARACTERS} characters, never logged. none (and no sync_token_file): "
        "sync requests are refused.",
    )
    sync_token_file: Path | None = Field(
        default=None,
        description="File holding sync_token (a mounted Kubernetes Secret; one trailing "
        "newline is ignored), read at start; instead of sync_token.",
    )

    # --- single writer ----------------------------------------------------------------------
    lock: Literal["none", "file", "dynamodb"] = Field(
        default="none",
        description="Writer lock taken before any write: none, file (one host) or dynamodb "
        "(a lease shared by every host).",
    )
    lock_file: Path | None = Field(
        default=None,
        description="Lock file for lock = file; none: next to the state file, named *.lock.",
    )
    lock_table: str | None = Field(
        default=None, description="DynamoDB table of the lease for lock = dynamodb."
    )
    lock_name: str | None = Field(
        default=None,
        description="Name of the lease (the item's key) for lock = dynamodb; none: the "
        "Identity Center instance ARN, or 'identity-center-reconciler'.",
    )
    lock_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Lease duration for lock = dynamodb: a dead holder blocks others at most this "
        "long; renewed every quarter of it while held.",
    )
    lock_safety_margin_seconds: float = Field(
        default=35.0,
        gt=0,
        description="Safety margin of the write fence: a write is made only while the writer "
        "lease stays ours at least this much longer. It must exceed the longest one write may "
        "take to reach AWS (default: the connect timeout, 5 s, plus the read timeout, 30 s); "
        "with lock = dynamodb it must stay under three quarters of lock_lease_seconds.",
    )
    lock_holder: str | None = Field(
        default=None,
        description="This controller's name in the lock; none: host name and process id.",
    )

    # --- signed revisions -------------------------------------------------------------------
    trusted_gpg_keys: list[Path] = Field(
        default_factory=list,
        description="Files of OpenPGP public keys trusted to sign revisions. With this or "
        "ssh_allowed_signers, a revision not signed by a trusted key is refused.",
    )
    ssh_allowed_signers: Path | None = Field(
        default=None,
        description="SSH allowed_signers file (ssh-keygen(1) format) of keys trusted to sign "
        "revisions.",
    )

    # --- Slack ------------------------------------------------------------------------------
    slack_webhook_url: SecretStr | None = Field(
        default=None,
        description="Slack incoming webhook URL (a secret: give it through the environment, "
        "never logged); none: no Slack summaries.",
    )
    slack_dedup_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="An identical drift or failure message is posted at most once per window.",
    )
    slack_heartbeat: bool = Field(
        default=False,
        description="Post a daily 'all in sync' message when nothing else was posted.",
    )
    repository_web_url: str | None = Field(
        default=None,
        description="Web URL of the repository (https://github.com/org/access); revisions on "
        "the status page and in Slack link to <url>/commit/<sha>. An http(s) URL without "
        "credentials, query or fragment.",
    )

    @field_validator("deletion_guard_window_seconds", mode="before")
    @classmethod
    def _window_may_be_a_duration(cls, value: Any) -> Any:
        """An ISO-8601 duration (``PT24H``, ``P1D``) as seconds; numbers pass unchanged."""
        if isinstance(value, str) and value.strip().upper().startswith("P"):
            return _DURATION.validate_python(value.strip()).total_seconds()
        return value

    @field_validator("allow_deletions_revision", "allow_rewind_revision")
    @classmethod
    def _revision_is_a_full_sha(cls, value: str | None) -> str | None:
        """Each override names one revision exactly: a branch, tag or short SHA could come to
        name another commit later."""
        if value is None or not value.strip():
            return None
        sha = value.strip().lower()
        if len(sha) not in (40, 64) or not set(sha) <= set("0123456789abcdef"):
            raise ValueError(
                "give the full commit SHA (40 or 64 hex digits) of the one revision it allows"
            )
        return sha

    @field_validator("repository_web_url")
    @classmethod
    def _web_url_is_plain_http(cls, value: str | None) -> str | None:
        """An ``http(s)://host/...`` URL without user information, query, fragment, spaces or
        control characters, its trailing ``/`` removed: it becomes links on the status page
        and in Slack, so a ``javascript:`` URL or one carrying a token must not pass."""
        if value is None or not value.strip():
            return None
        url = value.strip()
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc})") from exc
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("give an http:// or https:// URL, e.g. https://github.com/org/access")
        if "@" in parts.netloc:
            raise ValueError("the web URL may not carry credentials (user@ or user:token@)")
        if parts.query or parts.fragment or "?" in url or "#" in url:
            raise ValueError("the web URL may not carry a query or a fragment")
        if any(char.isspace() or not char.isprintable() or char in "<>\"'`" for char in url):
            raise ValueError("the web URL may not hold spaces, quotes or control characters")
        return url.rstrip("/")

    @field_validator("listen")
    @classmethod
    def _listen_is_host_port(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("webhook_secret", "sync_token")
    @classmethod
    def _secret_is_long_enough(cls, value: SecretStr | None, info: ValidationInfo) -> Any:
        read_secret(value, None, name=str(info.field_name))
        return value

    @field_validator("webhook_secret_file", "sync_token_file")
    @classmethod
    def _secret_file_is_readable(cls, value: Path | None, info: ValidationInfo) -> Any:
        read_secret(None, value, name=str(info.field_name).removesuffix("_file"))
        return value

    @model_validator(mode="after")
    def _secrets_are_given_once(self) -> ControllerSettings:
        self.webhook_secret_bytes()
        self.sync_token_bytes()
        return self

    @model_validator(mode="after")
    def _lock_is_complete(self) -> ControllerSettings:
        if self.lock == "dynamodb" and not self.lock_table:
            raise ValueError("lock = dynamodb needs lock_table (RECONCILER_LOCK_TABLE)")
        usable = self.lock_lease_seconds * (1 - 1 / LEASE_RENEWALS)
        if self.lock == "dynamodb" and self.lock_safety_margin_seconds >= usable:
            raise ValueError(
                f"lock_safety_margin_seconds ({self.lock_safety_margin_seconds:g}) must be under "
                f"three quarters of lock_lease_seconds ({usable:g}): the lease left right before "
                "a renewal; otherwise writes would stop between renewals"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init arguments), then the environment, then the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def verifies_signatures(self) -> bool:
        """Whether revisions must be signed by a trusted key."""
        return bool(self.trusted_gpg_keys) or self.ssh_allowed_signers is not None

    def webhook_secret_bytes(self) -> bytes | None:
        """The webhook secret (``webhook_secret`` or ``webhook_secret_file``), ``None`` when
        not configured. Raises ``ValueError`` as :func:`read_secret`."""
        return read_secret(self.webhook_secret, self.webhook_secret_file, name="webhook_secret")

    def sync_token_bytes(self) -> bytes | None:
        """The sync token (``sync_token`` or ``sync_token_file``), ``None`` when not
        configured. Raises ``ValueError`` as :func:`read_secret`."""
        return read_secret(self.sync_token, self.sync_token_file, name="sync_token")

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the operations endpoint, ``None`` when switched off."""
        return parse_listen(self.listen)

    def resolved_state_file(self) -> Path:
        """``state_file``, or the default: one file per (repository, ref, path)."""
        if self.state_file is not None:
            return self.state_file
        key = "\0".join((_repository_identity(self.repository), self.ref or "", self.path))
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return _state_dir() / f"state-{digest}.json"

    def resolved_lock_file(self) -> Path:
        """``lock_file``, or the state file's path with the suffix ``.lock``."""
        if self.lock_file is not None:
            return self.lock_file
        return self.resolved_state_file().with_suffix(".lock")


@contextmanager
def _config_file(path: Path | None) -> Iterator[None]:
    token = _CONFIG_FILE.set(path)
    try:
        yield
    finally:
        _CONFIG_FILE.reset(token)


_OTHER_VARIABLES_PREFIX = f"{ENV_PREFIX}SANDBOX_"
"""Variables of the sandbox (``RECONCILER_SANDBOX_SHAPE_CHECK``...), not settings."""


def _refuse_unknown_variables(environment: Mapping[str, str]) -> None:
    """Raise :class:`SettingsError` for a ``RECONCILER_*`` variable that names no option.

    A mistyped variable would otherwise be ignored, and the option it meant left at its default
    (``RECONCILER_LOKC=dynamodb``: no writer lock at all), as a mistyped key of the
    configuration file is refused. ``RECONCILER_CONFIG_FILE`` and the sandbox's
    ``RECONCILER_SANDBOX_*`` are not options and are allowed.
    """
    known = {f"{ENV_PREFIX}{name.upper()}" for name in ControllerSettings.model_fields}
    known.add(CONFIG_FILE_VARIABLE)
    unknown = sorted(
        name
        for name in environment
        if name.upper().startswith(ENV_PREFIX)
        and name.upper() not in known
        and not name.upper().startswith(_OTHER_VARIABLES_PREFIX)
    )
    if not unknown:
        return
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{name}{hint}")
    raise SettingsError(
        "unknown environment variables: " + "; ".join(problems) + ". Every RECONCILER_* "
        "variable must name an option (docs/controller.md lists them); unset the others"
    )


def _setting_problem(error: Any, config_file: Path | None) -> str:
    """One invalid setting in words: the option, where it can be set (its flag is named in
    ``reconciler run --help``), pydantic's reason; for an unknown key of the configuration
    file, the closest option."""
    option = ".".join(str(part) for part in error["loc"]) or "settings"
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(option, sorted(ControllerSettings.model_fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = f" of the configuration file {config_file}" if config_file else ""
        return f"{option}: unknown option{where}{hint} (docs/controller.md lists the options)"
    variable = f"{ENV_PREFIX}{option.upper()}"
    return (
        f"{option} (set by a `reconciler run` flag, {variable} or the configuration file): "
        f"{error['msg']}"
    )


def load_settings(
    *, config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> ControllerSettings:
    """Read the settings: ``overrides`` (flags), then the environment, then ``config_file``.

    ``config_file`` defaults to ``$RECONCILER_CONFIG_FILE``. ``overrides`` maps option names to
    values; ``None`` values are ignored (a flag not given). Raises :class:`SettingsError` for a
    missing or unreadable configuration file and for invalid values, naming each option.
    """
    _refuse_unknown_variables(os.environ)
    if config_file is None and os.environ.get(CONFIG_FILE_VARIABLE):
        config_file = Path(os.environ[CONFIG_FILE_VARIABLE])
    if config_file is not None and not config_file.is_file():
        raise SettingsError(
            f"configuration file {config_file} does not exist (named by --config or "
            f"{CONFIG_FILE_VARIABLE}): give the path of a TOML file, or neither"
        )
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    try:
        with _config_file(config_file):
            return ControllerSettings(**given)
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(error, config_file) for error in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from exc
    except ValueError as exc:  # TOML syntax (tomllib.TOMLDecodeError is a ValueError)
        raise SettingsError(f"cannot read configuration file {config_file}: {exc}") from exc
