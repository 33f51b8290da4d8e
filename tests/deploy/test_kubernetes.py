"""deploy/kubernetes: rendered with ``kubectl kustomize``, every object validated against the
Kubernetes OpenAPI schemas (kubernetes-validate's bundled, strict schemas: no network), and the
controller's deployment checked: two replicas sharing the DynamoDB lease, settings that the
settings model accepts, no root user, a read-only root file system, the real probe endpoints.

The example overlay reads three secret files that are never committed; the tests render a copy
of the tree with placeholder files in their place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from prometheus_client import CollectorRegistry

from reconciler.adapters.locking import DynamoDbLease
from reconciler.controller.serving import OperationsServer
from reconciler.controller.settings import ENV_PREFIX, ControllerSettings, load_settings
from reconciler.sandbox import Sandbox
from tests.e2e.test_cli import run_cli
from tests.support import git

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
KUBECTL = shutil.which("kubectl")
KUBERNETES_VERSIONS = ("1.30", "1.33")
"""The oldest Kubernetes release the manifests support (EKS standard support, December 2026)
and a recent one; both schemas bundled with kubernetes-validate."""
CRD_KINDS = {"ServiceMonitor"}
"""Kinds of CustomResourceDefinitions, for which no schema is bundled (checked by hand below)."""
SECRET_FILES = ("identity", "known_hosts", "slack-webhook-url")

needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl is not installed: the manifests are not rendered"
)
pytestmark = needs_kubectl

RENDERINGS = ("base", "overlays/example", "overlays/with-components")
"""What is rendered: the base, the example overlay, and the example overlay with both
optional components (a kustomization the tests write next to it)."""


def render(tree: Path, folder: str) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize tree/folder`` prints."""
    assert KUBECTL is not None
    completed = subprocess.run(
        [KUBECTL, "kustomize", str(tree / folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return [document for document in yaml.safe_load_all(completed.stdout) if document]


def copy_tree(destination: Path) -> Path:
    """A copy of deploy/kubernetes with placeholder secret files and a kustomization adding the
    components to the example overlay."""
    tree = destination / "kubernetes"
    shutil.copytree(KUBERNETES, tree)
    secrets = tree / "overlays" / "example" / "secrets"
    for name in SECRET_FILES:
        (secrets / name).write_text(f"placeholder {name}\n")
    with_components = tree / "overlays" / "with-components"
    with_components.mkdir()
    (with_components / "kustomization.yaml").write_text(
        "resources: [../example]\n"
        "components: [../../components/servicemonitor, ../../components/eks-pod-identity]\n"
    )
    return tree


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    tree = copy_tree(tmp_path_factory.mktemp("deploy"))
    return {folder: render(tree, folder) for folder in RENDERINGS}


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        item
        for item in objects
        if item["kind"] == kind and (name is None or item["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{len(found)} {kind} objects named {name}"
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (reconciler,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = reconciler
    return result


def environment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The container's environment: the ConfigMaps of ``envFrom``, then ``env`` over them (as
    the kubelet resolves it); a variable from a reference keeps its ``valueFrom``."""
    result: dict[str, Any] = {}
    reconciler = container(objects)
    for source in reconciler.get("envFrom", []):
        config_map = one(objects, "ConfigMap", source["configMapRef"]["name"])
        result.update(config_map.get("data", {}))
    for variable in reconciler.get("env", []):
        result[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return result


@pytest.fixture
def example(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["overlays/example"]


@pytest.mark.parametrize("folder", RENDERINGS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]], folder: str, version: str
) -> None:
    problems = []
    for item in rendered[folder]:
        if item["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(item, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(part) for part in error.path)
            problems.append(f"{item['kind']}/{item['metadata']['name']} {where}: {error.message}")
    assert problems == []


def test_every_kind_but_the_crds_has_a_schema(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """A kind without a schema (a typo in ``kind``, a wrong apiVersion) is not silently let
    through: only the CRD kinds may lack one."""
    unknown = set()
    for item in rendered["overlays/with-components"]:
        try:
            kubernetes_validate.validate(item, KUBERNETES_VERSIONS[-1], strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unknown.add(item["kind"])
    assert unknown == CRD_KINDS


@pytest.mark.parametrize("folder", RENDERINGS)
def test_the_controller_runs_two_replicas(
    rendered: dict[str, list[dict[str, Any]]], folder: str
) -> None:
    assert one(rendered[folder], "Deployment")["spec"]["replicas"] == 2


def test_the_replicas_share_the_dynamodb_lease_each_under_its_pod_name(
    example: list[dict[str, Any]],
) -> None:
    env = environment(example)

    assert env[f"{ENV_PREFIX}LOCK"] == "dynamodb"
    assert env[f"{ENV_PREFIX}LOCK_TABLE"]
    assert env[f"{ENV_PREFIX}LOCK_HOLDER"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.parametrize("folder", RENDERINGS)
def test_the_region_is_in_the_containers_own_env(
    rendered: dict[str, list[dict[str, Any]]], folder: str
) -> None:
    """The EKS webhooks add AWS_REGION (the cluster's) unless the container's ``env`` has it,
    and ``env`` wins over ``envFrom``: the Identity Center Region must be in ``env``."""
    names = [variable["name"] for variable in container(rendered[folder])["env"]]

    assert "AWS_REGION" in names


def test_every_reconciler_variable_names_a_setting(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """Parsed from the settings model: renaming a setting fails this test until the manifests
    follow (the controller would refuse the old name at start)."""
    known = {f"{ENV_PREFIX}{name.upper()}" for name in ControllerSettings.model_fields}
    used = {
        name
        for folder in RENDERINGS
        for name in environment(rendered[folder])
        if name.startswith(ENV_PREFIX)
    }

    assert used  # the manifests do configure the controller through RECONCILER_* variables
    assert used - known == set()


def test_the_settings_load_with_the_controllers_own_model(
    example: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendered values, given to ``load_settings`` as the container's environment (values
    from Secrets and the downward API as placeholders), make valid settings with the lease."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in environment(example).items():
        monkeypatch.setenv(name, value if isinstance(value, str) else "from-a-reference")

    settings = load_settings()

    assert settings.lock == "dynamodb"
    assert settings.listen_address == ("0.0.0.0", 8080)  # noqa: S104 - the pod's address


def test_no_container_runs_as_root(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for folder in RENDERINGS:
        pod = one(rendered[folder], "Deployment")["spec"]["template"]["spec"]
        contexts = [pod["securityContext"]] + [
            item.get("securityContext", {})
            for item in pod["containers"] + pod.get("initContainers", [])
        ]

        assert pod["securityContext"]["runAsNonRoot"] is True
        assert all(context.get("runAsUser", 1) != 0 for context in contexts)
        assert all(context.get("runAsGroup", 1) != 0 for context in contexts)
        assert all(context.get("runAsNonRoot", True) is True for context in contexts)


def test_the_pods_user_is_the_images_user(example: list[dict[str, Any]]) -> None:
    (user,) = [
        line.split()[1]
        for line in (REPO_ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("USER ")
    ]
    pod = one(example, "Deployment")["spec"]["template"]["spec"]

    assert user == f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"


def test_the_container_is_locked_down(example: list[dict[str, Any]]) -> None:
    context = container(example)["securityContext"]
    pod = one(example, "Deployment")["spec"]["template"]["spec"]

    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert "add" not in context["capabilities"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False


def test_everything_the_controller_writes_is_on_an_empty_dir(example: list[dict[str, Any]]) -> None:
    """The root file system is read-only: the state file, the Git cache and TMPDIR (keyrings of
    signature checks) must each be under a mounted emptyDir."""
    reconciler = container(example)
    volumes = one(example, "Deployment")["spec"]["template"]["spec"]["volumes"]
    empty_dirs = {volume["name"] for volume in volumes if "emptyDir" in volume}
    writable = [
        Path(mount["mountPath"])
        for mount in reconciler["volumeMounts"]
        if mount["name"] in empty_dirs and not mount.get("readOnly", False)
    ]
    env = environment(example)
    written = [
        Path(env[f"{ENV_PREFIX}STATE_FILE"]),
        Path(env[f"{ENV_PREFIX}CACHE_DIR"]),
        Path(env["TMPDIR"]),  # tempfile.mkdtemp: the keyrings of signature checks
    ]

    for path in written:
        assert any(path.is_relative_to(mount) for mount in writable), path


def test_the_probes_ask_the_controllers_endpoints_on_its_port(
    example: list[dict[str, Any]],
) -> None:
    reconciler = container(example)
    ports = {port["name"]: port["containerPort"] for port in reconciler["ports"]}
    listen_port = int(environment(example)[f"{ENV_PREFIX}LISTEN"].rsplit(":", 1)[1])
    probes = {
        kind: reconciler[kind]["httpGet"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }

    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert {ports.get(probe["port"], probe["port"]) for probe in probes.values()} == {listen_port}


@pytest.fixture
def operations_server() -> Iterator[tuple[OperationsServer, list[bool]]]:
    ready = [False]
    server = OperationsServer(
        host="127.0.0.1", port=0, registry=CollectorRegistry(), ready=lambda: ready[0]
    )
    with server:
        yield server, ready


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_probe_paths_are_answered_by_the_operations_endpoint(
    example: list[dict[str, Any]], operations_server: tuple[OperationsServer, list[bool]]
) -> None:
    """Liveness answers at once; readiness only once the controller is ready."""
    server, ready = operations_server
    reconciler = container(example)
    liveness = reconciler["livenessProbe"]["httpGet"]["path"]
    readiness = reconciler["readinessProbe"]["httpGet"]["path"]

    before = (_status(server.url + liveness), _status(server.url + readiness))
    ready[0] = True
    after = _status(server.url + readiness)

    assert before == (200, 503)
    assert after == 200


def test_secrets_come_from_secret_objects_never_from_literals(
    example: list[dict[str, Any]],
) -> None:
    reconciler = container(example)
    env = {variable["name"]: variable for variable in reconciler["env"]}
    volumes = one(example, "Deployment")["spec"]["template"]["spec"]["volumes"]
    (git,) = [volume for volume in volumes if volume["name"] == "git"]
    ssh = env["GIT_SSH_COMMAND"]["value"]
    generated_secrets = {item["metadata"]["name"] for item in example if item["kind"] == "Secret"}

    assert "value" not in env[f"{ENV_PREFIX}SLACK_WEBHOOK_URL"]
    assert env[f"{ENV_PREFIX}SLACK_WEBHOOK_URL"]["valueFrom"]["secretKeyRef"]["name"] in (
        generated_secrets
    )
    assert git["secret"]["secretName"] in generated_secrets
    assert {item["key"] for item in git["secret"].get("items", [])} <= {"identity", "known_hosts"}
    assert "StrictHostKeyChecking=yes" in ssh
    assert "UserKnownHostsFile=/etc/identity-center-reconciler/git/known_hosts" in ssh


def test_no_secret_file_is_committed() -> None:
    committed = subprocess.run(
        ["git", "ls-files", "deploy/kubernetes/overlays/example/secrets"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert sorted(Path(name).name for name in committed) in (
        [".gitignore", "README.md"],
        [],  # not a Git checkout (an sdist): nothing to check
    )


def test_the_network_policy_admits_only_the_operations_port(
    example: list[dict[str, Any]],
) -> None:
    policy = one(example, "NetworkPolicy")["spec"]
    (ingress,) = policy["ingress"]
    egress_ports = {
        (port["port"], port["protocol"]) for rule in policy["egress"] for port in rule["ports"]
    }

    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert "from" not in ingress or ingress["from"]
    assert [(port["port"], port["protocol"]) for port in ingress["ports"]] == [(8080, "TCP")]
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (22, "TCP")}


def test_a_disruption_keeps_one_replica_running(example: list[dict[str, Any]]) -> None:
    budget = one(example, "PodDisruptionBudget")["spec"]
    labels = one(example, "Deployment")["spec"]["template"]["metadata"]["labels"]

    assert budget["minAvailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= labels.items()


def test_the_service_monitor_scrapes_the_metrics_of_the_service(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["overlays/with-components"]
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    (endpoint,) = monitor["spec"]["endpoints"]

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert not any(item["kind"] == "ServiceMonitor" for item in rendered["overlays/example"])


def test_pod_identity_replaces_the_irsa_annotation_and_reaches_its_agent(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    irsa = one(rendered["overlays/example"], "ServiceAccount")
    pod_identity = rendered["overlays/with-components"]
    account = one(pod_identity, "ServiceAccount")
    agent = one(pod_identity, "NetworkPolicy", "identity-center-reconciler-pod-identity-agent")
    (rule,) = agent["spec"]["egress"]

    assert irsa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert "eks.amazonaws.com/role-arn" not in account["metadata"].get("annotations", {})
    assert {"ipBlock": {"cidr": "169.254.170.23/32"}} in rule["to"]
    assert rule["ports"] == [{"port": 80, "protocol": "TCP"}]


DATA = "/var/lib/identity-center-reconciler"
"""The emptyDir of the pod's state file and Git cache (the image's writable folder)."""


@pytest.mark.slow
def test_a_replica_with_the_rendered_settings_converges_under_the_lease(
    example: list[dict[str, Any]],
    aws_environment: dict[str, str],
    sandbox: Sandbox,
    access_repo: Path,
    tmp_path: Path,
) -> None:
    """One pass (``run --once``) of a replica given exactly the example's environment, its
    emptyDirs mapped to folders of the test, the repository to a local clone URL, AWS to the
    sandbox (whose instance is in its own Region), the pod name to a fixed one and the optional
    Slack Secret absent: it takes the DynamoDB lease under the pod's name, converges, and keeps
    its state and Git cache on the emptyDir."""
    data, temporary = tmp_path / "data", tmp_path / "tmp"
    temporary.mkdir()
    pod = "identity-center-reconciler-6f7d8c9b5d-x2x4q"
    env: dict[str, str] = {}
    for name, value in environment(example).items():
        if name == f"{ENV_PREFIX}LOCK_HOLDER":
            env[name] = pod
        elif isinstance(value, str):
            env[name] = value.replace(DATA, str(data)).replace("/tmp", str(temporary))
    env |= {
        f"{ENV_PREFIX}REPOSITORY": access_repo.as_uri(),
        f"{ENV_PREFIX}LISTEN": "off",  # --once serves nothing anyway
        "AWS_REGION": aws_environment["AWS_REGION"],
    }
    table = env[f"{ENV_PREFIX}LOCK_TABLE"]
    DynamoDbLease(table=table, lock_name="setup", holder_id="setup").ensure_table()
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}

    result = run_cli("run", "--once", "--format", "json", env={**inherited, **env})

    assert result.returncode == 0, result.stdout + result.stderr
    state = json.loads(Path(env[f"{ENV_PREFIX}STATE_FILE"]).read_text())
    assert state["last_applied_revision"] == git(access_repo, "rev-parse", "HEAD").strip()
    assert any(Path(env[f"{ENV_PREFIX}CACHE_DIR"]).iterdir())
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=sandbox.endpoint_url,
        region_name=aws_environment["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    holders = {item["holder_id"]["S"] for item in dynamodb.scan(TableName=table)["Items"]} - {
        "setup"
    }
    assert holders == {pod}
