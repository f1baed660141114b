"""The Kubernetes manifests render, and every process in them is probed, bounded and locked down.

Renders ``deploy/k8s`` with ``kubectl kustomize`` (skipped when kubectl is not installed) and
checks the objects that come out, so a regression in any base file fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
KUSTOMIZE_DIR = ROOT / "deploy" / "k8s"

PART_OF = "atlantide-engage"
IMAGE = "atlantide-engage:latest"
CONFIG_MAP = "engage-config"
SECRET = "engage-secrets"
SECRET_ENV = (
    "ENGAGE_DATABASE_URL",
    "ENGAGE_AUTH__JWT_SECRET",
    "ENGAGE_PUBLISHER__TOKEN_KEYS",
    "ENGAGE_LISTENING__CREDENTIAL_KEYS",
    "ENGAGE_MEDIA__URL_SIGNING_KEYS",
)
USER_ID = 10001

SERVICE_PORTS: dict[str, int] = {
    "gateway": 8000,
    "strategy": 8001,
    "content": 8002,
    "publisher": 8003,
    "listening": 8004,
    "reporting": 8005,
}
# Deployment name -> argument of `engage worker`.
WORKERS: dict[str, str] = {
    "strategy-worker": "strategy",
    "content-worker": "content",
    "publisher-worker": "publisher",
    "listening-worker": "listening",
    "reporting-worker": "reporting",
    "workflow-worker": "workflows",
}
DEPLOYMENTS: tuple[str, ...] = (*SERVICE_PORTS, *WORKERS)
MIGRATIONS_JOB = "engage-migrate"
# (kind, name) of everything that runs a pod.
WORKLOADS: tuple[tuple[str, str], ...] = (
    *(("Deployment", name) for name in DEPLOYMENTS),
    ("Job", MIGRATIONS_JOB),
)
WORKLOAD_IDS = [f"{kind}/{name}" for kind, name in WORKLOADS]

Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE_DIR)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize failed:\n{result.stderr}"
    documents: list[Manifest] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert documents, "kubectl kustomize rendered nothing"
    return documents


def objects(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    found: dict[str, Manifest] = {}
    for manifest in manifests:
        if manifest["kind"] == kind:
            name = manifest["metadata"]["name"]
            assert name not in found, f"{kind}/{name} is rendered twice"
            found[name] = manifest
    return found


def get(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = objects(manifests, kind)
    assert name in found, f"no {kind}/{name}; rendered: {sorted(found)}"
    return found[name]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    found: list[dict[str, Any]] = [*spec.get("initContainers", []), *spec["containers"]]
    assert found, f"{workload['metadata']['name']} has no containers"
    return found


def main_container(workload: Manifest, command: list[str]) -> dict[str, Any]:
    matching: list[dict[str, Any]] = [
        c for c in pod_spec(workload)["containers"] if full_command(c) == command
    ]
    assert len(matching) == 1, (
        f"{workload['metadata']['name']}: expected one container running {command}, got "
        f"{[full_command(c) for c in pod_spec(workload)['containers']]}"
    )
    return matching[0]


def full_command(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def effective_security(container: dict[str, Any], pod: dict[str, Any], key: str) -> Any:
    """A container's security setting, falling back to the pod's, as the kubelet resolves it."""
    container_context: dict[str, Any] = container.get("securityContext") or {}
    pod_context: dict[str, Any] = pod.get("securityContext") or {}
    return container_context.get(key, pod_context.get(key))


_SUFFIXES: dict[str, float] = {
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "m": 1e-3,
}


def quantity(value: object) -> float:
    """A Kubernetes resource quantity (``250m``, ``"1"``, ``512Mi``) as a number."""
    text = str(value)
    for suffix, factor in _SUFFIXES.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def container_port(container: dict[str, Any], port: int | str) -> int:
    """The container port a probe or Service ``targetPort`` refers to, by number or by name."""
    declared = container.get("ports", [])
    if isinstance(port, int):
        assert any(p["containerPort"] == port for p in declared), f"port {port} not declared"
        return port
    by_name = {p.get("name"): p["containerPort"] for p in declared}
    assert port in by_name, f"no container port named {port!r}; declared: {declared}"
    number: int = by_name[port]
    return number


# -- what is rendered ---------------------------------------------------------------------------


def test_a_deployment_per_service_and_worker(manifests: list[Manifest]) -> None:
    assert sorted(objects(manifests, "Deployment")) == sorted(DEPLOYMENTS)


def test_every_object_is_labelled_part_of_the_platform(manifests: list[Manifest]) -> None:
    for manifest in manifests:
        labels = manifest["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == PART_OF, manifest["metadata"]["name"]
    for kind, name in WORKLOADS:
        template_labels = get(manifests, kind, name)["spec"]["template"]["metadata"]["labels"]
        assert template_labels.get("app.kubernetes.io/part-of") == PART_OF, name


@pytest.mark.parametrize("service", SERVICE_PORTS)
def test_service_deployment_serves_its_service(manifests: list[Manifest], service: str) -> None:
    main_container(get(manifests, "Deployment", service), ["engage", "serve", service])


@pytest.mark.parametrize(("deployment", "worker"), WORKERS.items())
def test_worker_deployment_runs_its_worker(
    manifests: list[Manifest], deployment: str, worker: str
) -> None:
    main_container(get(manifests, "Deployment", deployment), ["engage", "worker", worker])


def test_migrations_job_runs_engage_migrate(manifests: list[Manifest]) -> None:
    job = get(manifests, "Job", MIGRATIONS_JOB)
    main_container(job, ["engage", "migrate"])
    assert pod_spec(job)["restartPolicy"] in {"Never", "OnFailure"}
    assert job["spec"].get("backoffLimit") is not None, "a failing migration must not retry forever"


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_every_container_runs_the_platform_image(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    for container in containers(get(manifests, kind, name)):
        assert container["image"] == IMAGE, f"{name}/{container['name']}"


# -- probes -------------------------------------------------------------------------------------

PROBE_HANDLERS = ("httpGet", "exec", "tcpSocket", "grpc")


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_every_deployment_container_has_probes(manifests: list[Manifest], deployment: str) -> None:
    for container in pod_spec(get(manifests, "Deployment", deployment))["containers"]:
        for probe_name in ("readinessProbe", "livenessProbe"):
            probe = container.get(probe_name)
            assert probe, f"{deployment}/{container['name']} has no {probe_name}"
            handlers = [handler for handler in PROBE_HANDLERS if handler in probe]
            assert len(handlers) == 1, f"{deployment}/{container['name']} {probe_name}: {probe}"


@pytest.mark.parametrize(("service", "port"), SERVICE_PORTS.items())
def test_service_probes_health_endpoints(
    manifests: list[Manifest], service: str, port: int
) -> None:
    container = main_container(get(manifests, "Deployment", service), ["engage", "serve", service])
    assert container_port(container, "http") == port
    probes = [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]
    if "startupProbe" in container:
        probes.append(("startupProbe", "/healthz"))
    for probe_name, path in probes:
        http_get = container[probe_name].get("httpGet")
        assert http_get, f"{service} {probe_name} is not an HTTP probe"
        assert http_get["path"] == path, f"{service} {probe_name}"
        assert container_port(container, http_get["port"]) == port, f"{service} {probe_name}"


@pytest.mark.parametrize(("deployment", "worker"), WORKERS.items())
def test_worker_probes_check_its_heartbeat(
    manifests: list[Manifest], deployment: str, worker: str
) -> None:
    container = main_container(
        get(manifests, "Deployment", deployment), ["engage", "worker", worker]
    )
    assert not container.get("ports"), f"{deployment} has no HTTP server to expose"
    probe_names = ["readinessProbe", "livenessProbe"]
    if "startupProbe" in container:
        probe_names.append("startupProbe")
    for probe_name in probe_names:
        exec_action = container[probe_name].get("exec")
        assert exec_action, f"{deployment} {probe_name} is not an exec probe"
        assert exec_action["command"] == ["engage", "worker-health", worker]


# -- resources and security ---------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_every_container_requests_and_limits_cpu_and_memory(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    for container in containers(get(manifests, kind, name)):
        where = f"{name}/{container['name']}"
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        for resource in ("cpu", "memory"):
            assert resource in requests, f"{where} requests no {resource}"
            assert resource in limits, f"{where} has no {resource} limit"
            assert 0 < quantity(requests[resource]) <= quantity(limits[resource]), (
                f"{where}: {resource} request {requests[resource]} above limit {limits[resource]}"
            )


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_every_container_is_locked_down(manifests: list[Manifest], kind: str, name: str) -> None:
    workload = get(manifests, kind, name)
    pod = pod_spec(workload)
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key), f"{name} sets {key}"
    for container in containers(workload):
        where = f"{name}/{container['name']}"
        context: dict[str, Any] = container.get("securityContext") or {}
        assert effective_security(container, pod, "runAsNonRoot") is True, where
        assert effective_security(container, pod, "runAsUser") == USER_ID, where
        seccomp = effective_security(container, pod, "seccompProfile") or {}
        assert seccomp.get("type") == "RuntimeDefault", where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert not context.get("privileged"), where
        assert "ALL" in (context.get("capabilities") or {}).get("drop", []), where
        assert not (context.get("capabilities") or {}).get("add"), where


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_writable_paths_are_empty_dirs(manifests: list[Manifest], kind: str, name: str) -> None:
    data_dir = get(manifests, "ConfigMap", CONFIG_MAP)["data"]["ENGAGE_DATA_DIR"]
    workload = get(manifests, kind, name)
    empty_dirs = {
        volume["name"] for volume in pod_spec(workload).get("volumes", []) if "emptyDir" in volume
    }
    for container in containers(workload):
        mounts = {
            mount["mountPath"]: mount
            for mount in container.get("volumeMounts", [])
            if mount["name"] in empty_dirs
        }
        for path in ("/tmp", data_dir):  # noqa: S108 - mount paths, not temporary files
            assert path in mounts, f"{name}/{container['name']}: no emptyDir at {path}"
            assert not mounts[path].get("readOnly"), f"{name}/{container['name']}: {path}"


# -- settings and secrets -----------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_settings_come_from_the_config_map_and_the_secret(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    config_maps = objects(manifests, "ConfigMap")
    for container in containers(get(manifests, kind, name)):
        where = f"{name}/{container['name']}"
        referenced = {
            source["configMapRef"]["name"]
            for source in container.get("envFrom", [])
            if "configMapRef" in source
        }
        assert CONFIG_MAP in referenced, f"{where} does not load {CONFIG_MAP}"
        assert referenced <= set(config_maps), f"{where} loads a missing ConfigMap"
        env = {variable["name"]: variable for variable in container.get("env", [])}
        for variable in SECRET_ENV:
            assert variable in env, f"{where} does not set {variable}"
            assert "value" not in env[variable], f"{where} has a literal {variable}"
            secret_ref = env[variable].get("valueFrom", {}).get("secretKeyRef")
            assert secret_ref == {"name": SECRET, "key": variable}, where


# Values an operator would put in the Secret: not the development defaults.
OPERATOR_SECRETS = {
    "ENGAGE_DATABASE_URL": "postgresql+asyncpg://engage:pw@postgres:5432/engage",
    "ENGAGE_AUTH__JWT_SECRET": "operator-jwt-secret-0123456789abcdef",
    "ENGAGE_PUBLISHER__TOKEN_KEYS": '["b3BlcmF0b3ItdG9rZW4ta2V5LTAxMjM0NTY3ODlhYg=="]',
    "ENGAGE_LISTENING__CREDENTIAL_KEYS": '["bGlzdGVuaW5nLWNyZWRlbnRpYWwta2V5LTAxMjM0NTY="]',
    "ENGAGE_MEDIA__URL_SIGNING_KEYS": '["operator-media-key-0123456789abcdef"]',
}
# What an operator's overlay puts in the ConfigMap in place of the base's placeholders.
OPERATOR_CONFIG = {
    "ENGAGE_AUTH__JWKS_URL": "https://idp.example.com/.well-known/jwks.json",
}


def load_pod_settings(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, str], container: dict[str, Any]
) -> Settings:
    """The settings a container loads from ``config`` and the operator's Secret."""
    for variable in [v for v in os.environ if v.startswith("ENGAGE_")]:
        monkeypatch.delenv(variable)
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    for variable in container.get("env", []):
        if variable.get("valueFrom", {}).get("secretKeyRef"):
            monkeypatch.setenv(variable["name"], OPERATOR_SECRETS[variable["name"]])
    return Settings()


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_every_pod_starts_with_prod_settings(
    manifests: list[Manifest], kind: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly the environment a pod gets (the ConfigMap with the operator's JWKS URL, plus its
    Secret references) loads as ``prod`` settings: a secret the settings refuse to default in
    prod is never left out."""
    data: dict[str, str] = get(manifests, "ConfigMap", CONFIG_MAP)["data"]
    for container in containers(get(manifests, kind, name)):
        settings = load_pod_settings(monkeypatch, {**data, **OPERATOR_CONFIG}, container)
        assert settings.environment == "prod", f"{name}/{container['name']}"
        assert settings.auth.jwks_url == OPERATOR_CONFIG["ENGAGE_AUTH__JWKS_URL"]
        assert not settings.serves_docs, f"{name}/{container['name']} serves /docs in prod"


def test_pods_refuse_to_start_with_the_placeholder_jwks_url(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base's JWKS URL is a placeholder: a cluster where no operator replaced it fails at
    start-up rather than answering 401 to every request."""
    data: dict[str, str] = get(manifests, "ConfigMap", CONFIG_MAP)["data"]
    assert data["ENGAGE_AUTH__JWKS_URL"].startswith("https://identity-provider.invalid/")
    gateway = main_container(
        get(manifests, "Deployment", "gateway"), ["engage", "serve", "gateway"]
    )
    with pytest.raises(ValidationError, match="ENGAGE_AUTH__JWKS_URL is a placeholder"):
        load_pod_settings(monkeypatch, data, gateway)


def test_config_map_suits_a_cluster(manifests: list[Manifest]) -> None:
    data: dict[str, str] = get(manifests, "ConfigMap", CONFIG_MAP)["data"]
    assert data["ENGAGE_HOST"] == "0.0.0.0"
    assert data["ENGAGE_ENVIRONMENT"] == "prod"
    assert data["ENGAGE_DATA_DIR"].startswith("/")
    for key in ("ENGAGE_NATS_URL", "ENGAGE_TEMPORAL__ADDRESS", "ENGAGE_TEMPORAL__NAMESPACE"):
        assert data.get(key), f"{key} is not configured"
    for service, port in SERVICE_PORTS.items():
        if service != "gateway":
            assert data[f"ENGAGE_SERVICE_URLS__{service.upper()}"] == f"http://{service}:{port}"
    # An empty value is not "unset": ENGAGE_AUTH__JWKS_URL="" would, for instance, bypass the
    # refusal of the development JWT secret in prod.
    assert all(value != "" for value in data.values()), data
    for variable in SECRET_ENV:
        assert variable not in data, f"{variable} is a secret and belongs in {SECRET}"


def test_no_secret_values_are_committed(manifests: list[Manifest]) -> None:
    for name, secret in objects(manifests, "Secret").items():
        assert not secret.get("data"), f"Secret {name} carries data"
        assert not secret.get("stringData"), f"Secret {name} carries stringData"


# -- Services and ServiceAccounts ---------------------------------------------------------------


@pytest.mark.parametrize(("service", "port"), SERVICE_PORTS.items())
def test_every_http_service_has_a_matching_service(
    manifests: list[Manifest], service: str, port: int
) -> None:
    deployment = get(manifests, "Deployment", service)
    container = main_container(deployment, ["engage", "serve", service])
    k8s_service = get(manifests, "Service", service)
    assert k8s_service["spec"].get("type", "ClusterIP") == "ClusterIP"
    selector: dict[str, str] = k8s_service["spec"]["selector"]
    assert selector, f"Service {service} selects nothing"
    selected = [
        name
        for name, other in objects(manifests, "Deployment").items()
        if selector.items() <= other["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert selected == [service], f"Service {service} selects {selected}"
    service_ports = k8s_service["spec"]["ports"]
    assert any(
        p["port"] == port and container_port(container, p.get("targetPort", p["port"])) == port
        for p in service_ports
    ), f"Service {service} does not expose port {port}: {service_ports}"


def test_workers_are_not_behind_services(manifests: list[Manifest]) -> None:
    deployments = objects(manifests, "Deployment")
    for name, k8s_service in objects(manifests, "Service").items():
        selector: dict[str, str] = k8s_service["spec"].get("selector", {})
        for worker in WORKERS:
            labels = deployments[worker]["spec"]["template"]["metadata"]["labels"]
            assert not selector.items() <= labels.items(), f"Service {name} selects {worker}"


def test_every_workload_has_its_own_service_account(manifests: list[Manifest]) -> None:
    accounts = objects(manifests, "ServiceAccount")
    used: dict[str, str] = {}
    for kind, name in WORKLOADS:
        pod = pod_spec(get(manifests, kind, name))
        account = pod.get("serviceAccountName")
        assert account, f"{name} runs as the namespace's default ServiceAccount"
        assert account in accounts, f"{name} uses ServiceAccount {account}, which is not rendered"
        assert account not in used, f"{name} shares ServiceAccount {account} with {used[account]}"
        used[account] = name
        # No engage process calls the Kubernetes API, so no pod gets an API token.
        automount = pod.get(
            "automountServiceAccountToken", accounts[account].get("automountServiceAccountToken")
        )
        assert automount is False, f"{name} mounts a Kubernetes API token"
