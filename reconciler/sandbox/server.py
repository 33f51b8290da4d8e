"""The sandbox: our simulators in front of moto, served over HTTP on the loopback interface.

Layers of the WSGI application, outermost first::

    FaultLayer (faults.py: rate limits, injected faults, call recording, shape checks)
      └─ SimulatorRouter
           ├─ sso-admin            → SsoAdminApi over IdentityCenter (ours)
           ├─ identitystore (most) → IdentityStoreApi over moto's identitystore objects
           ├─ Organizations ListAccounts → OrganizationsApi over moto's organizations backend
           └─ everything else      → moto's DomainDispatcherApplication (Organizations, IAM,
                                      STS, DynamoDB, ...)

The server in front of them is waitress with HTTP/1.1 keep-alive (``serving.py`` says why not
werkzeug's development server: it lost responses to Terraform).

moto keeps its state in process-wide globals, so only one sandbox may run per process at a
time; ``start`` resets moto's state.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.identitystore.models import IdentityStoreData, identitystore_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.organizations.models import FakeAccount, organizations_backends

from reconciler.sandbox.directory import MotoDirectory
from reconciler.sandbox.faults import (
    CallRecorder,
    FaultConfig,
    FaultLayer,
    OperationLog,
    RecordedCall,
    ShapeViolation,
)
from reconciler.sandbox.identity_center import IdentityCenter, Instance
from reconciler.sandbox.identity_store import IdentityStoreApi
from reconciler.sandbox.organizations import OrganizationsApi
from reconciler.sandbox.routing import SimulatorRouter
from reconciler.sandbox.serving import SandboxHttpServer
from reconciler.sandbox.settings import SandboxSettings
from reconciler.sandbox.sso_admin import SsoAdminApi

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

#: Dummy credentials: the sandbox checks no signature; moto maps this key to DEFAULT_ACCOUNT_ID.
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"  # noqa: S105 - not a secret: the sandbox checks no signature
ACCOUNT_STATUSES = ("ACTIVE", "SUSPENDED", "PENDING_CLOSURE")
DELEGATED_ADMINISTRATOR_NAME = "identity"
"""Name of the member account registered as delegated administrator with
``SandboxSettings.delegated_administrator``."""


_active_lock = threading.Lock()
_active: list[Sandbox] = []
_stopped_violations: list[ShapeViolation] = []

SHAPE_CHECK_VARIABLE = "RECONCILER_SANDBOX_SHAPE_CHECK"
"""Environment variable giving ``Sandbox``'s default ``shape_check`` (``1``: on); the test
suite sets it, so every response of every test is checked."""


def shape_violations_seen() -> list[ShapeViolation]:
    """Output-shape violations of every sandbox run in this process so far, stopped or not,
    oldest first (the test suite fails its session on any)."""
    with _active_lock:
        running = [sandbox for sandbox in _active if sandbox._fault_layer is not None]
        seen = list(_stopped_violations)
    for sandbox in running:
        seen.extend(sandbox.fault_layer.shape_violations)
    return seen


_product_operations = OperationLog()


def product_operations_seen() -> frozenset[tuple[str, str, str]]:
    """(role, service, operation) of every call the reconciler's own clients made to any
    sandbox of this process so far (``faults.OperationLog``; the role comes from the
    User-Agent, see ``adapters.aws.clients.user_agent``). The test suite checks them against
    ``adapters.aws.permissions`` at the end of the session."""
    return _product_operations.snapshot()


EXAMPLE_CUSTOMER_MANAGED_POLICIES = (
    ("DeveloperExtras", "/platform/"),
    ("DeveloperBoundary", "/platform/"),
)
"""(name, path) of the IAM policies ``desired-state/permission-sets/DeveloperAccess.json``
references."""


@dataclass(frozen=True)
class SeededOrganization:
    """Ids of the example organization.

    ``accounts`` maps account name to 12-digit id, management account (``"management"``)
    included; ``instance_arn`` is ``arn:aws:sso:::instance/ssoins-<16>``;
    ``identity_store_id`` is ``d-<10 hex>``.
    """

    management_account_id: str
    accounts: dict[str, str] = field(default_factory=dict)
    instance_arn: str = ""
    identity_store_id: str = ""


class SandboxNotRunningError(RuntimeError):
    """The sandbox was used before ``start`` or after ``stop``."""


class Sandbox:
    """A loopback AWS for IAM Identity Center, the identity store, Organizations, IAM policies
    and DynamoDB (moto), reached by boto3 clients through ``endpoint_url``.

    ``settings`` tune delays and quotas; ``faults`` configures the fault layer (default:
    ``FaultConfig()``, i.e. AWS's request rates and no injected fault; pass
    ``FaultConfig.parse("none")`` for no limit at all); ``shape_check`` makes the fault layer
    check every JSON response against botocore's output shape (a violation becomes HTTP 500);
    its default is on when the environment variable ``RECONCILER_SANDBOX_SHAPE_CHECK`` is
    ``1`` (the test suite sets it), off otherwise.
    """

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        faults: FaultConfig | None = None,
        shape_check: bool | None = None,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self.recorder = CallRecorder()
        self._faults = faults or FaultConfig()
        if shape_check is None:
            shape_check = os.environ.get(SHAPE_CHECK_VARIABLE, "") in ("1", "true", "yes")
        self.shape_check = shape_check
        self._server: SandboxHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._center: IdentityCenter | None = None
        self._fault_layer: FaultLayer | None = None
        self._identity_store: IdentityStoreApi | None = None
        self.endpoint_url = ""
        self.management_account_id = DEFAULT_ACCOUNT_ID
        self.delegated_administrator_id: str | None = None
        """The member account registered as Identity Center's delegated administrator."""

    # --- lifecycle ------------------------------------------------------------------------

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> str:
        """Reset moto, build the simulators and serve them on ``host:port`` (0: a free port)
        from a daemon thread (``serving.SandboxHttpServer``: waitress, keep-alive). Returns the
        endpoint URL ``http://127.0.0.1:<port>``.

        Raises ``RuntimeError`` if another sandbox is running in this process.
        """
        with _active_lock:
            if _active:
                raise RuntimeError(
                    "another Sandbox is running in this process (moto's state is process-wide); "
                    "stop it first"
                )
            _active.append(self)
        try:
            moto_api_backend.reset()
            directory = MotoDirectory(
                management_account_id=self.management_account_id, region=self.settings.region
            )
            self._center = IdentityCenter(settings=self.settings, directory=directory)
            center = self._center
            self._identity_store = IdentityStoreApi(
                account_id=self.management_account_id,
                region=self.settings.region,
                known_store=lambda store_id: any(
                    i.identity_store_id == store_id for i in center.instances.values()
                ),
            )
            router = SimulatorRouter(
                services=[
                    SsoAdminApi(center).service(),
                    self._identity_store.service(),
                    OrganizationsApi(
                        management_account_id=self.management_account_id,
                        empty_first_page=self.settings.organizations_empty_first_page,
                    ).service(),
                ],
                fallback=DomainDispatcherApplication(create_backend_app),
                page_size=self.settings.list_page_size,
                region=self.settings.region,
                caller_account=lambda: self.caller_account_id,
            )
            app = self._compose(router)
            self._server = SandboxHttpServer(app, host=host, port=port)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="sandbox-http", daemon=True
            )
            self._thread.start()
        except BaseException:
            with _active_lock:
                _active.remove(self)
            raise
        self.endpoint_url = f"http://{host}:{self._server.port}"
        return self.endpoint_url

    def _compose(self, router: WSGIApplication) -> WSGIApplication:
        """The outermost layers around the router (the one place to add or remove a layer)."""
        self._fault_layer = FaultLayer(
            router,
            config=self._faults,
            recorder=self.recorder,
            shape_check=self.shape_check,
            operations=_product_operations,
        )
        return self._fault_layer

    def stop(self) -> None:
        """Stop serving and release the process-wide slot; a no-op when not running."""
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._server is not None:
            self._server.close()
        self._server = None
        self._thread = None
        with _active_lock:
            if self in _active:
                _active.remove(self)
                if self._fault_layer is not None:
                    _stopped_violations.extend(self._fault_layer.shape_violations)

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- access ---------------------------------------------------------------------------

    @property
    def identity_center(self) -> IdentityCenter:
        """The sso-admin simulator's state (hold ``identity_center.lock`` while reading)."""
        if self._center is None:
            raise SandboxNotRunningError("start the sandbox first")
        return self._center

    @property
    def fault_layer(self) -> FaultLayer:
        """The fault layer in front of the simulators (``configure`` it to change faults)."""
        if self._fault_layer is None:
            raise SandboxNotRunningError("start the sandbox first")
        return self._fault_layer

    def complete_operations(self) -> None:
        """Fast-forward: every IN_PROGRESS assignment or provisioning operation ends now
        (SUCCEEDED or FAILED), as if its delay had passed."""
        center = self.identity_center
        with center.lock:
            center.complete_in_progress()

    def configure_faults(self, config: FaultConfig) -> None:
        """Put a new fault config in force (see ``FaultLayer.configure``)."""
        self._faults = config
        if self._fault_layer is not None:
            self._fault_layer.configure(config)

    @property
    def calls(self) -> list[RecordedCall]:
        """Every AWS call so far: ``RecordedCall(service, operation, status, fault, ...)``."""
        return self.recorder.calls

    def client_environment(self) -> dict[str, str]:
        """Environment variables that point boto3 and the AWS CLI at the sandbox: endpoint,
        Region, dummy credentials (not secrets)."""
        if not self.endpoint_url:
            raise SandboxNotRunningError("start the sandbox first")
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.settings.region,
            "AWS_DEFAULT_REGION": self.settings.region,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        }

    @contextmanager
    def process_environment(self) -> Iterator[dict[str, str]]:
        """Point this process's standard AWS configuration at the sandbox for the ``with``
        block: ``client_environment()`` set and ``AWS_PROFILE`` unset (a profile could name
        another Region or credentials); the previous values are restored afterwards. Yields the
        variables set."""
        values = self.client_environment()
        saved = {key: os.environ.get(key) for key in (*values, "AWS_PROFILE")}
        os.environ.pop("AWS_PROFILE", None)
        os.environ.update(values)
        try:
            yield values
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    @property
    def caller_account_id(self) -> str:
        """The account STS GetCallerIdentity answers: the delegated administrator once one is
        registered (``register_delegated_administrator``), else the management account."""
        return self.delegated_administrator_id or self.management_account_id

    # --- seeding --------------------------------------------------------------------------

    def _organizations(self) -> Any:
        self.identity_center  # noqa: B018 - raises SandboxNotRunningError when stopped
        backend = organizations_backends[self.management_account_id]["aws"]
        if backend.org is None:
            backend.create_organization(region=self.settings.region, FeatureSet="ALL")
            for account in backend.accounts:
                if account.id == self.management_account_id:
                    account.name = "management"
            if self.settings.delegated_administrator:
                with self.identity_center.lock:
                    created = backend.create_account(
                        AccountName=DELEGATED_ADMINISTRATOR_NAME,
                        Email=f"{DELEGATED_ADMINISTRATOR_NAME}@example.com",
                    )
                self.register_delegated_administrator(
                    str(created["CreateAccountStatus"]["AccountId"])
                )
        return backend

    def register_delegated_administrator(self, account_id: str) -> None:
        """Register member account ``account_id`` as Identity Center's delegated administrator
        and make it the caller: STS GetCallerIdentity answers it from now on. The sandbox
        refuses that caller's writes in the management account only with
        ``SandboxSettings.delegated_administrator`` (which registers an account named
        ``identity`` when the organization is created). The registration is the sandbox's
        own: moto 5.2.5's RegisterDelegatedAdministrator refuses ``sso.amazonaws.com``.

        Raises ``ValueError`` for the management account (Organizations refuses it too).
        """
        if account_id == self.management_account_id:
            raise ValueError("the management account cannot be its own delegated administrator")
        with self.identity_center.lock:
            self.delegated_administrator_id = account_id

    def add_account(self, *, name: str, status: str = "ACTIVE", email: str | None = None) -> str:
        """Add a member account to the organization (created if needed); returns its id.

        ``status`` is the Organizations status: ``ACTIVE``, ``SUSPENDED`` or
        ``PENDING_CLOSURE``. Raises ``ValueError`` for another status.
        """
        if status not in ACCOUNT_STATUSES:
            raise ValueError(f"status must be one of {ACCOUNT_STATUSES}, not {status!r}")
        backend = self._organizations()
        with self.identity_center.lock:
            result = backend.create_account(
                AccountName=name, Email=email or f"{name.lower()}@example.com"
            )
            account_id = str(result["CreateAccountStatus"]["AccountId"])
            account: FakeAccount = backend.get_account_by_id(account_id)
            account.status = status
            account.state = status
        return account_id

    def create_instance(self, *, name: str = "") -> Instance:
        """Create an Identity Center instance owned by the management account, with an empty
        identity store."""
        center = self.identity_center
        with center.lock:
            instance = center.create_instance(
                owner_account_id=self.management_account_id, name=name
            )
        stores: dict[str, IdentityStoreData] = identitystore_backends[self.management_account_id][
            self.settings.region
        ].identity_stores
        stores.setdefault(instance.identity_store_id, IdentityStoreData())
        return instance

    def seed_example_organization(self) -> SeededOrganization:
        """An organization (management account = moto's default account ``123456789012``,
        named ``management``), ACTIVE member accounts ``prod`` and ``staging``, and one
        Identity Center instance with its identity store.

        Both member accounts hold the customer-managed IAM policies that the worked example's
        ``DeveloperAccess`` permission set references (``EXAMPLE_CUSTOMER_MANAGED_POLICIES``),
        as a platform team's StackSet would have put them there."""
        backend = self._organizations()
        for name in ("prod", "staging"):
            account_id = self.add_account(name=name)
            for policy, path in EXAMPLE_CUSTOMER_MANAGED_POLICIES:
                self.put_customer_managed_policy(account_id=account_id, name=policy, path=path)
        instance = self.create_instance(name="sandbox")
        return SeededOrganization(
            management_account_id=self.management_account_id,
            accounts={str(a.name): str(a.id) for a in backend.accounts},
            instance_arn=instance.arn,
            identity_store_id=instance.identity_store_id,
        )

    def put_customer_managed_policy(
        self, *, account_id: str, name: str, path: str = "/", document: str | None = None
    ) -> None:
        """Declare that IAM in ``account_id`` holds the customer-managed policy ``path`` +
        ``name`` (created in moto's IAM backend; a permission set referencing it, as policy
        or as permissions boundary, can then be provisioned there). ``path`` starts and ends
        with ``/``; ``document`` defaults to a read-only statement."""
        self.identity_center  # noqa: B018 - raises SandboxNotRunningError when stopped
        policy = document or json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        )
        iam_backends[account_id]["global"].create_policy(
            description="", path=path, policy_document=policy, policy_name=name, tags=[]
        )


def _example_organization(sandbox: Sandbox) -> list[str]:
    seeded = sandbox.seed_example_organization()
    return [
        f"instance:       {seeded.instance_arn}",
        f"identity store: {seeded.identity_store_id}",
        *(f"account {name}: {account_id}" for name, account_id in seeded.accounts.items()),
    ]


def serve(
    settings: SandboxSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultConfig | None = None,
    seed: bool = True,
    prepare: Callable[[Sandbox], Sequence[str]] | None = None,
) -> None:
    """Run a sandbox until SIGINT or SIGTERM, printing the environment to export first.

    ``prepare`` fills the running sandbox and returns lines to print about it; by default (with
    ``seed``) it seeds the example organization and prints its ids.
    """
    if prepare is None:
        prepare = _example_organization if seed else (lambda _: [])
    sandbox = Sandbox(settings, faults=faults)
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    sandbox.start(host=host, port=port)
    try:
        lines = prepare(sandbox)
        out = sys.stdout
        out.write(f"Sandbox listening on {sandbox.endpoint_url}\n")
        out.write("# export these to point boto3 / the AWS CLI at it (dummy credentials):\n")
        for key, value in sandbox.client_environment().items():
            out.write(f"export {key}={value}\n")
        out.writelines(f"# {line}\n" for line in lines)
        out.write("# Ctrl-C to stop\n")
        out.flush()
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
