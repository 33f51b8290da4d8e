"""The boto3 clients the reconciler talks to AWS through, with their rate limiters and counters.

Clients are built from a ``boto3.Session`` with the standard AWS configuration and nothing else:
the credentials chain, ``AWS_PROFILE``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) and
``AWS_ENDPOINT_URL`` (read by botocore itself). Every client carries:

- botocore's retries (``adaptive`` mode, 10 attempts: throttling, 5xx and connection errors are
  retried with backoff before an error reaches the reconciler);
- a client-side token bucket placed in front of every HTTP attempt (botocore event
  ``before-send``), sized slightly under AWS's documented rates: sso-admin shares about 20
  requests/s per instance and Region, identitystore allows about 20 requests/s per API
  (IAM Identity Center user guide, "Throttling limits"). Organizations gets one bucket;
- no retry of a connection refused by a loopback endpoint (botocore event ``needs-retry``,
  ahead of botocore's own handler): nothing listens there, so the error is reported at once
  instead of after ten attempts' backoff (about 10 s); other connection errors are retried;
- a thread-safe count of calls by operation name (botocore event ``before-call``: one per API
  call, retries not counted; pages of a paginator count one each);
- the write fence (botocore event ``before-send``, after the token bucket): when the context
  variable ``write_fence`` holds a check (applying sets it around each write call), the check
  runs before every HTTP attempt, botocore's retries included, and its exception
  (``WriterLockLostError``) ends the call unsent;
- the product and the role it calls as in the User-Agent (``user_agent``:
  ``identity-center-reconciler/0.1.0 role/plan``): CloudTrail records it (``userAgent``), and
  the sandbox tells the product's calls from the tests' own by it (``permissions`` is the
  registry of what each role may call).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError, ProfileNotFound
from botocore.loaders import Loader

from reconciler.adapters.aws.errors import is_loopback
from reconciler.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_identitystore import IdentityStoreClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_sso_admin import SSOAdminClient
    from mypy_boto3_sts import STSClient

MAX_ATTEMPTS = 10
"""botocore attempts per call (first try included) for throttling, 5xx and connection errors."""
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
WRITE_ATTEMPT_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
"""The longest one HTTP attempt of a write may take from the fence's check until AWS has it
(connect, then send and wait for the answer): the least safety margin of a writer lock."""
MAX_POOL_CONNECTIONS = 32
"""HTTP connections per client: enough for the bounded thread pools of reading and applying."""

PRODUCT = "identity-center-reconciler"
CallingRole = Literal["plan", "apply", "lease", "setup"]
"""The role a client calls AWS as (``permissions.CALLING_ROLES``); ``setup`` marks calls that
no command makes (``DynamoDbLease.ensure_table``, for tests and first runs)."""
USER_AGENT_ROLE = re.compile(rf"(?:^|\s){re.escape(PRODUCT)}/\S+ role/([a-z-]+)(?:\s|$)")
"""Finds the role in a User-Agent header made with ``user_agent``."""


def product_version() -> str:
    """The installed package's version (``0+unknown`` when run from a tree not installed)."""
    try:
        return metadata.version(PRODUCT)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def user_agent(role: CallingRole) -> str:
    """What the product's clients append to botocore's User-Agent (``user_agent_extra``):
    ``identity-center-reconciler/<version> role/<role>``."""
    return f"{PRODUCT}/{product_version()} role/{role}"


class TokenBucket:
    """A thread-safe token bucket: at most ``rate`` acquisitions per second on average.

    ``capacity`` tokens (default: one second's worth) may be taken at once after a pause.
    ``acquire`` blocks until a token is available; it never fails.
    """

    def __init__(
        self,
        *,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.capacity = max(1.0, capacity if capacity is not None else rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                shortfall = (1.0 - self._tokens) / self.rate
            self._sleep(shortfall)
            waited += shortfall


class CallCounter:
    """Thread-safe count of AWS API calls by operation name (``ListUsers``: 3)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far, sorted by operation name."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def since(self, earlier: Mapping[str, int]) -> dict[str, int]:
        """Calls made after ``earlier`` (a ``snapshot``), without zero entries."""
        now = self.snapshot()
        return {
            name: count - earlier.get(name, 0)
            for name, count in now.items()
            if count - earlier.get(name, 0)
        }

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


@dataclass(frozen=True, kw_only=True)
class RateLimits:
    """Client-side request rates in requests per second (0 or less: no limit).

    Defaults sit slightly under AWS's throttling limits (IAM Identity Center user guide,
    "Throttling limits"): ``sso_admin`` is one bucket for the whole service (the limit is per
    instance and Region), ``identitystore_per_api`` one bucket per identitystore API,
    ``organizations`` one bucket (Organizations throttles its List calls at a few per second).
    """

    sso_admin: float = 19.0
    identitystore_per_api: float = 19.0
    organizations: float = 5.0


class _RateLimiter:
    """botocore ``before-send`` hook: takes a token before every HTTP attempt of a client."""

    def __init__(self, *, rate: float, per_operation: bool) -> None:
        self._rate = rate
        self._per_operation = per_operation
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, operation: str) -> TokenBucket:
        key = operation if self._per_operation else ""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(rate=self._rate)
            return bucket

    def __call__(self, *, event_name: str, **_: Any) -> None:
        # event_name is "before-send.<service-id>.<OperationName>"
        self._bucket(event_name.rsplit(".", 1)[-1]).acquire()


write_fence: ContextVar[Callable[[], None] | None] = ContextVar("write_fence", default=None)
"""A check called before every HTTP attempt of calls made while it is set (``None``: none)."""


def _check_write_fence(**_: Any) -> None:
    """botocore ``before-send`` hook: run ``write_fence``'s check, if one is set."""
    check = write_fence.get()
    if check is not None:
        check()


@dataclass(frozen=True, kw_only=True)
class AwsClients:
    """The clients the reconciler needs and the count of calls made through them.

    ``sts`` answers one GetCallerIdentity per pass (which account calls: the management
    account or a delegated administrator; ``reading.read_caller``).

    ``calls`` counts every API call made through these clients (one per page of a paginator).
    Clients are thread-safe (botocore); the session that built them is not used afterwards.
    """

    sso_admin: SSOAdminClient
    identitystore: IdentityStoreClient
    organizations: OrganizationsClient
    sts: STSClient
    calls: CallCounter = field(default_factory=CallCounter)

    @property
    def region(self) -> str:
        """The Region the sso-admin client calls (``eu-west-1``), where the instance must be."""
        return str(self.sso_admin.meta.region_name)


def client_config(role: CallingRole = "apply") -> Config:
    """botocore configuration shared by every client: adaptive retries, timeouts, pool size,
    and ``user_agent(role)`` in the User-Agent."""
    return Config(
        retries={"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        user_agent_extra=user_agent(role),
    )


def _no_retry_when_nothing_listens(*, caught_exception: object = None, **_: Any) -> bool | None:
    """botocore ``needs-retry`` hook: ``False`` (do not retry) for a connection that a loopback
    endpoint refused, ``None`` (let botocore decide) otherwise.

    botocore uses the first answer that is not ``None`` (``first_non_none_response``), so this
    hook, registered first, vetoes the retries of that one case.
    """
    if isinstance(caught_exception, EndpointConnectionError) and is_loopback(
        caught_exception.kwargs.get("endpoint_url")
    ):
        return False
    return None


def _instrument(client: Any, *, calls: CallCounter, rate: float, per_operation: bool) -> None:
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register_first(f"needs-retry.{service_id}", _no_retry_when_nothing_listens)

    def count(*, model: Any, **_: Any) -> None:
        calls.record(model.name)

    client.meta.events.register(f"before-call.{service_id}", count)
    if rate > 0:
        limiter = _RateLimiter(rate=rate, per_operation=per_operation)
        client.meta.events.register(f"before-send.{service_id}", limiter)
    client.meta.events.register(f"before-send.{service_id}", _check_write_fence)


class _SearchPaths(list[str]):
    """botocore data search paths that ignore a path they already hold: ``boto3.Session``
    appends its own data folder to the loader of every session it is given."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_loaders: dict[str | None, Loader] = {}
_loaders_lock = threading.Lock()


def _botocore_session(profile: str | None) -> botocore.session.Session:
    """A new botocore session (``profile``: None for the default chain) whose data loader
    (API models, endpoint rules; botocore's ``data_loader`` component) is shared with every
    session made here with the same ``AWS_DATA_PATH``.

    A session's own loader parses the models again (about 60 ms of CPU for the endpoint rules
    alone, and as much per service): with one loader they are parsed once per process, however
    many times clients are built (each pass of the controller, each command). The loader
    caches what it parsed and never changes it, so sharing it across threads is safe. Raises
    botocore's ``ProfileNotFound`` for an unknown ``profile``.
    """
    session = botocore.session.Session(profile=profile)
    data_path = session.get_config_variable("data_path")
    with _loaders_lock:
        loader = _loaders.get(data_path)
        if loader is None:
            extra = (
                [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)]
                if data_path
                else []
            )
            loader = _loaders[data_path] = Loader(extra_search_paths=_SearchPaths(extra))
    session.register_component("data_loader", loader)
    return session


def make_clients(
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    rates: RateLimits | None = None,
    role: CallingRole = "apply",
) -> AwsClients:
    """Build sso-admin, identitystore, organizations and sts clients that call AWS as ``role``
    (``plan`` for read-only commands: named in the User-Agent, see ``user_agent``).

    ``region`` defaults to ``AWS_REGION``, then ``AWS_DEFAULT_REGION`` and the profile's
    region (botocore itself reads only the latter two); ``profile`` to ``AWS_PROFILE``;
    ``endpoint_url`` to botocore's own resolution (``AWS_ENDPOINT_URL``,
    ``AWS_ENDPOINT_URL_<SERVICE>``, the profile's ``endpoint_url``, then AWS's endpoints).
    Raises ``ConfigurationError`` when no region is configured anywhere or the profile is
    unknown (configuration mistakes, not AWS errors).
    """
    rates = rates or RateLimits()
    config = client_config(role)
    try:  # botocore reads the profile lazily: any of these steps may meet it missing
        session = boto3.Session(
            botocore_session=_botocore_session(profile),
            region_name=region or os.environ.get("AWS_REGION") or None,
        )
        if session.region_name is None:
            raise ConfigurationError(
                "no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a "
                "region in the AWS profile) to the Region of the Identity Center instance"
            )
        sso_admin = session.client("sso-admin", config=config, endpoint_url=endpoint_url)
        identitystore = session.client("identitystore", config=config, endpoint_url=endpoint_url)
        organizations = session.client("organizations", config=config, endpoint_url=endpoint_url)
        sts = session.client("sts", config=config, endpoint_url=endpoint_url)
    except ProfileNotFound as exc:
        raise ConfigurationError(
            f"AWS profile not found: {exc}: AWS_PROFILE (or the profile asked for) must name a "
            "profile of ~/.aws/config (AWS_CONFIG_FILE); `aws configure list-profiles` lists them"
        ) from exc
    calls = CallCounter()
    _instrument(sso_admin, calls=calls, rate=rates.sso_admin, per_operation=False)
    _instrument(identitystore, calls=calls, rate=rates.identitystore_per_api, per_operation=True)
    _instrument(organizations, calls=calls, rate=rates.organizations, per_operation=False)
    _instrument(sts, calls=calls, rate=0, per_operation=False)  # one call per pass
    return AwsClients(
        sso_admin=sso_admin,
        identitystore=identitystore,
        organizations=organizations,
        sts=sts,
        calls=calls,
    )
