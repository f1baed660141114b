"""The Kubernetes manifests render, and every process in them is probed, bounded and locked down.

Renders ``deploy/k8s`` with ``kubectl kustomize`` (skipped when kubectl is not installed) and
checks the objects that come out, so a regression in any base file fails here.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import tomllib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from pydantic import ValidationError

from engage.nats_auth import ADMIN, COMPONENTS, as_component
from shared.media_links import LinkCheck, MediaLinks
from shared.sealing import Sealer
from shared.settings import GatewaySettings, MediaSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
KUSTOMIZE_DIR = ROOT / "deploy" / "k8s"

PART_OF = "atlantide-engage"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"atlantide-engage:{VERSION}"
CONFIG_MAP = "engage-config"
SECRET = "engage-secrets"
TEMPORAL_TLS_SECRET = "engage-temporal-tls"
TEMPORAL_TLS_DIR = "/etc/engage/temporal-tls"
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

TOKEN_KEYS = "ENGAGE_PUBLISHER__TOKEN_KEYS"
CREDENTIAL_KEYS = "ENGAGE_LISTENING__CREDENTIAL_KEYS"
MEDIA_KEYS = "ENGAGE_MEDIA__URL_SIGNING_KEYS"
# Key lists prod refuses to default (shared/settings.py): a process holds them from the Secret,
# or holds none ("[]").
KEY_LISTS = (TOKEN_KEYS, CREDENTIAL_KEYS, MEDIA_KEYS)
DATABASE = "ENGAGE_DATABASE_URL"
ACTOR_KEYS = "ENGAGE_TEMPORAL__ACTOR_SIGNING_KEYS"
NATS_USER = "ENGAGE_NATS_USER"
NATS_PASSWORD = "ENGAGE_NATS_PASSWORD"
# Whom each workload is to NATS (engage/nats_auth.py): a service's processes are the service,
# the workflow worker is ``workflows``, the Job (which ensures the stream) is ``admin``.
NATS_COMPONENTS: dict[str, str] = {
    **{name: name for name in SERVICE_PORTS},
    **WORKERS,
    MIGRATIONS_JOB: ADMIN,
}
ROLE_PASSWORDS = {
    f"ENGAGE_DATABASE_ROLES__{service.upper()}__PASSWORD": f"{service}-database-password"
    for service in ("strategy", "content", "publisher", "listening", "reporting")
}
# What each process reads from the Secret (environment variable -> Secret key), from what its
# code reads of the settings:
# - ENGAGE_DATABASE_URL: every process with a database (``ServiceRuntime(database=True)``, the
#   workers with an outbox): a data service and its worker connect as the service's own role;
#   the Job connects as the owner and creates those roles with their passwords. The gateway and
#   the workflow worker have no database.
# - token keys: the publisher and its worker (``TokenVault``: OAuth callbacks, publishing).
# - credential keys: the listening service and its worker (``Sealer`` of sources, notifications).
# - media link keys: content (checks ``/public/media`` links) and publisher (signs them), and
#   their workers (``MediaLinks``).
# In prod tokens are verified against the JWKS: no process gets ENGAGE_AUTH__JWT_SECRET.
# - NATS password: every process, its component's user's own (its user name is a plain value).
SECRETS: dict[str, dict[str, str]] = {
    # The actors of workflow updates: signed by the gateway, checked by the workflow worker.
    "gateway": {ACTOR_KEYS: "temporal-actor-signing-keys"},
    "workflow-worker": {ACTOR_KEYS: "temporal-actor-signing-keys"},
    MIGRATIONS_JOB: {DATABASE: "database-url", **ROLE_PASSWORDS},
    **{
        name: {DATABASE: f"{service}-database-url"}
        for service in ("strategy", "reporting")
        for name in (service, f"{service}-worker")
    },
    **{
        name: {DATABASE: "content-database-url", MEDIA_KEYS: "media-url-signing-keys"}
        for name in ("content", "content-worker")
    },
    **{
        name: {
            DATABASE: "publisher-database-url",
            TOKEN_KEYS: "publisher-token-keys",
            MEDIA_KEYS: "media-url-signing-keys",
        }
        for name in ("publisher", "publisher-worker")
    },
    **{
        name: {DATABASE: "listening-database-url", CREDENTIAL_KEYS: "listening-credential-keys"}
        for name in ("listening", "listening-worker")
    },
}
for _workload, _component in NATS_COMPONENTS.items():
    SECRETS[_workload][NATS_PASSWORD] = f"nats-{_component}-password"
# Where each key list is read (a pattern in the code of services/ and workflows/): a package
# reading one must run only in workloads given it, or the table above is out of date.
KEY_READERS: dict[str, str] = {
    TOKEN_KEYS: r"\btoken_keys\b|\bTokenVault\b",
    CREDENTIAL_KEYS: r"\bcredential_keys\b",
    MEDIA_KEYS: r"\bMediaLinks\b|\burl_signing_keys\b",
}
# The processes that connect to Temporal (``TemporalConnection`` or ``connect_temporal``): they
# alone mount its client certificate and may reach it.
TEMPORAL_CLIENTS = frozenset(
    {"gateway", "publisher", "listening", "reporting", *WORKERS},
)

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


def test_images_are_pinned_by_version_tag_or_digest(manifests: list[Manifest]) -> None:
    """No ``latest`` and no untagged image: a rollout runs the build it names."""
    images = [
        container["image"]
        for manifest in manifests
        if "template" in manifest.get("spec", {})
        for container in containers(manifest)
    ]
    assert images
    for image in images:
        name, _, digest = image.partition("@")
        if digest:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image
            continue
        last_part = name.rpartition("/")[2]
        tag = last_part.rpartition(":")[2] if ":" in last_part else ""
        assert tag, f"{image} has no tag"
        assert tag != "latest", f"{image} runs whatever was pushed last"


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


def largest_upload() -> int:
    """The largest body the content service takes, from the settings' defaults: the gateway's
    upload cap and the content service's per-kind caps (a video's, 512 MiB)."""
    media = MediaSettings()
    return max(
        GatewaySettings().max_upload_bytes,
        media.max_video_bytes,
        media.max_image_bytes,
        media.max_audio_bytes,
    )


def test_the_content_service_has_room_for_the_largest_upload(
    manifests: list[Manifest],
) -> None:
    """An upload is spooled whole to a file before it is stored: under the data directory with
    the local store, in /tmp with S3 (services/content/uploads.py, storage.py). Each of those
    volumes holds the largest upload, and a volume in memory counts against the memory limit."""
    data_dir = get(manifests, "ConfigMap", CONFIG_MAP)["data"]["ENGAGE_DATA_DIR"]
    deployment = get(manifests, "Deployment", "content")
    container = main_container(deployment, ["engage", "serve", "content"])
    volumes = {volume["name"]: volume for volume in pod_spec(deployment)["volumes"]}
    mounted = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    cap = largest_upload()
    assert cap >= 512 * 2**20, "the video cap this test was written for has shrunk"
    memory_volumes = 0.0
    for path in ("/tmp", data_dir):  # noqa: S108 - mount paths, not temporary files
        empty_dir = volumes[mounted[path]]["emptyDir"]
        size = quantity(empty_dir["sizeLimit"])
        assert size >= cap, f"content: the volume at {path} ({size:.0f} B) is below {cap} B"
        if empty_dir.get("medium") == "Memory":
            memory_volumes += size
    limit = quantity(container["resources"]["limits"]["memory"])
    request = quantity(container["resources"]["requests"]["memory"])
    assert limit >= memory_volumes + request, "content: in-memory volumes exceed the limit"
    # The page cache of the upload being written is charged to the container too.
    assert limit >= request + cap, f"content: memory limit {limit:.0f} B leaves no room"


# -- settings and secrets -----------------------------------------------------------------------


def secret_references(container: dict[str, Any]) -> dict[str, str]:
    """Environment variable -> key of ``engage-secrets``, for every variable read from it."""
    found: dict[str, str] = {}
    for variable in container.get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference is not None:
            assert reference["name"] == SECRET, f"{variable['name']} reads {reference['name']}"
            assert not reference.get("optional"), f"{variable['name']} may be left out"
            found[variable["name"]] = reference["key"]
    return found


def test_the_secret_table_covers_every_workload() -> None:
    assert set(SECRETS) == {name for _, name in WORKLOADS}


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_each_workload_gets_exactly_the_secrets_it_uses(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    config_maps = objects(manifests, "ConfigMap")
    for container in containers(get(manifests, kind, name)):
        where = f"{name}/{container['name']}"
        sources = container.get("envFrom", [])
        referenced = {s["configMapRef"]["name"] for s in sources if "configMapRef" in s}
        assert CONFIG_MAP in referenced, f"{where} does not load {CONFIG_MAP}"
        assert referenced <= set(config_maps), f"{where} loads a missing ConfigMap"
        assert not any("secretRef" in source for source in sources), f"{where} loads a Secret"
        assert secret_references(container) == SECRETS[name], where
        env = {variable["name"]: variable for variable in container.get("env", [])}
        # A key list the process does not use is explicitly empty: it neither gets the key nor
        # falls back to the development key (which prod refuses).
        for variable in KEY_LISTS:
            if variable not in SECRETS[name]:
                assert env.get(variable, {}).get("value") == "[]", f"{where}: {variable}"
        assert "ENGAGE_AUTH__JWT_SECRET" not in env, f"{where} gets the HS256 secret"


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_each_workload_is_its_own_component_to_nats(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    """The NATS user follows the command the pod runs (``serve``/``worker <component>``,
    ``migrate`` as admin), with the user name NatsUsersSettings gives that component."""
    workload = get(manifests, kind, name)
    command = full_command(pod_spec(workload)["containers"][0])
    component = ADMIN if command == ["engage", "migrate"] else command[-1]
    assert component in COMPONENTS, f"{name} runs {command}: no NATS user for it"
    assert NATS_COMPONENTS[name] == component, name
    for container in containers(workload):
        env = {variable["name"]: variable for variable in container.get("env", [])}
        assert env[NATS_USER].get("value") == f"engage-{component}", name
        assert "ENGAGE_NATS_CREDENTIALS_FILE" not in env, name


def test_the_secret_table_follows_the_code() -> None:
    """Every package that reads a key list runs only in workloads that are given it."""
    for variable, pattern in KEY_READERS.items():
        holders = {name for name, secrets in SECRETS.items() if variable in secrets}
        readers: set[str] = set()
        for path in [*ROOT.glob("services/*/**/*.py"), *ROOT.glob("workflows/**/*.py")]:
            if re.search(pattern, path.read_text()):
                parts = path.relative_to(ROOT).parts
                if parts[0] == "workflows":
                    readers.add("workflow-worker")
                else:
                    readers |= {parts[1], f"{parts[1]}-worker"} & set(SECRETS)
        assert readers, f"nothing reads {variable}: the pattern is out of date"
        assert readers <= holders, f"{sorted(readers - holders)} read {variable} without it"


# Values an operator would put in the Secret (by key): not the development defaults.
OPERATOR_SECRETS = {
    "database-url": "postgresql+asyncpg://engage:pw@postgres:5432/engage",
    **{
        f"{service}-database-url": f"postgresql+asyncpg://engage_{service}:pw@postgres:5432/engage"
        for service in ("strategy", "content", "publisher", "listening", "reporting")
    },
    **{key: f"operator-password-for-{key}" for key in ROLE_PASSWORDS.values()},
    "publisher-token-keys": '["b3BlcmF0b3ItdG9rZW4ta2V5LTAxMjM0NTY3ODlhYmM="]',
    "listening-credential-keys": '["bGlzdGVuaW5nLWNyZWRlbnRpYWwta2V5LTAxMjM0NTY="]',
    "media-url-signing-keys": '["operator-media-key-0123456789abcdef"]',
    "temporal-actor-signing-keys": '["operator-actor-key-0123456789abcdef"]',
    **{f"nats-{component}-password": f"operator-nats-{component}" for component in COMPONENTS},
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
        if "value" in variable:
            monkeypatch.setenv(variable["name"], variable["value"])
    for variable, key in secret_references(container).items():
        monkeypatch.setenv(variable, OPERATOR_SECRETS[key])
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
        where = f"{name}/{container['name']}"
        assert settings.environment == "prod", where
        assert settings.auth.jwks_url == OPERATOR_CONFIG["ENGAGE_AUTH__JWKS_URL"]
        assert not settings.serves_docs, f"{where} serves /docs in prod"
        assert settings.temporal.uses_tls(settings.environment), f"{where}: plaintext Temporal"
        secrets = SECRETS[name]
        if DATABASE in secrets:
            assert settings.database_url == OPERATOR_SECRETS[secrets[DATABASE]], where
        held = {
            TOKEN_KEYS: settings.publisher.token_keys,
            CREDENTIAL_KEYS: settings.listening.credential_keys,
            MEDIA_KEYS: settings.media.url_signing_keys,
        }
        for variable, keys in held.items():
            assert bool(keys) == (variable in secrets), f"{where}: {variable}"
        # Its component's NATS user, which `engage migrate` keeps rather than defaulting to admin's.
        component = NATS_COMPONENTS[name]
        assert settings.nats_user == f"engage-{component}", where
        assert settings.nats_password.get_secret_value() == f"operator-nats-{component}", where
        assert as_component(settings, ADMIN).nats_user == settings.nats_user, where
        # The gateway signs updates' actors, the workflow worker verifies them (prod verifies).
        actor_keys = settings.temporal.actor_keys(settings.environment)
        assert bool(actor_keys) == (ACTOR_KEYS in secrets), f"{where}: {ACTOR_KEYS}"
        assert settings.temporal.verifies_actors(settings.environment), where


def test_a_process_without_a_key_can_neither_seal_nor_sign(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[]`` means no key at all, not the development one: the strategy service cannot open a
    channel token or sign a media link, nor accept one the publisher signed; the publisher can."""
    data: dict[str, str] = {
        **get(manifests, "ConfigMap", CONFIG_MAP)["data"],
        **OPERATOR_CONFIG,
    }
    strategy = main_container(
        get(manifests, "Deployment", "strategy"), ["engage", "serve", "strategy"]
    )
    settings = load_pod_settings(monkeypatch, data, strategy)
    with pytest.raises(ValueError, match="requires at least one"):
        Sealer(settings.publisher.token_keys)
    with pytest.raises(ValueError, match="requires at least one"):
        Sealer(settings.listening.credential_keys)
    keyless = MediaLinks.from_settings(settings)
    assert keyless.keys == ()
    organization, media = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(IndexError):
        keyless.url(organization, media)

    publisher = main_container(
        get(manifests, "Deployment", "publisher"), ["engage", "serve", "publisher"]
    )
    settings = load_pod_settings(monkeypatch, data, publisher)
    Sealer(settings.publisher.token_keys).seal(b"token")
    query = parse_qs(urlsplit(MediaLinks.from_settings(settings).url(organization, media)).query)
    expires, signature = query["expires"][0], query["signature"][0]
    assert keyless.check(organization, media, expires, signature) is LinkCheck.INVALID


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
    secret_variables = {variable for secrets in SECRETS.values() for variable in secrets}
    for variable in (*secret_variables, *KEY_LISTS, "ENGAGE_AUTH__JWT_SECRET"):
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


# -- network policies ---------------------------------------------------------------------------

NAMESPACE = "engage"
INGRESS_NAMESPACE = "ingress-nginx"
DNS_NAMESPACE = "kube-system"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector selects an object with ``labels``."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In":
            matched = key in labels and labels[key] in values
        elif operator == "NotIn":
            matched = key not in labels or labels[key] not in values
        else:
            assert operator in {"Exists", "DoesNotExist"}, operator
            matched = (key in labels) == (operator == "Exists")
        if not matched:
            return False
    return True


def pod_labels(manifests: list[Manifest], name: str) -> dict[str, str]:
    kind = "Job" if name == MIGRATIONS_JOB else "Deployment"
    labels: dict[str, str] = get(manifests, kind, name)["spec"]["template"]["metadata"]["labels"]
    return labels


# The other end of a connection: an engage pod (by workload), a pod of another namespace, or an
# address outside the cluster.
Peer = tuple[str, dict[str, str] | None, str | None]  # namespace, pod labels, IP


def engage_pod(manifests: list[Manifest], name: str) -> Peer:
    return (NAMESPACE, pod_labels(manifests, name), None)


def outside(ip: str) -> Peer:
    return ("", None, ip)


def in_namespace(namespace: str) -> Peer:
    return (namespace, {"app": "anything"}, None)


def peer_matches(rule_peer: dict[str, Any], peer: Peer) -> bool:
    namespace, labels, ip = peer
    if "ipBlock" in rule_peer:
        if ip is None:
            return False
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(ip)
        network = ipaddress.ip_network(block["cidr"])
        if address.version != network.version or address not in network:
            return False
        return not any(
            address in ipaddress.ip_network(excluded)
            for excluded in block.get("except", [])
            if ipaddress.ip_network(excluded).version == address.version
        )
    if labels is None:
        return False
    if "namespaceSelector" in rule_peer:
        namespace_labels = {"kubernetes.io/metadata.name": namespace}
        if not selects(rule_peer["namespaceSelector"], namespace_labels):
            return False
    elif namespace != NAMESPACE:
        return False
    return selects(rule_peer.get("podSelector", {}), labels)


def rule_allows(rule: dict[str, Any], peers_key: str, peer: Peer, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if ports and not any(
        p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports
    ):
        return False
    peers = rule.get(peers_key)
    return not peers or any(peer_matches(rule_peer, peer) for rule_peer in peers)


def allowed(
    manifests: list[Manifest],
    direction: str,
    workload: str,
    peer: Peer,
    port: int,
    protocol: str = "TCP",
) -> bool:
    """Whether the policies let ``workload``'s pods connect to (Egress) or be reached from
    (Ingress) ``peer`` on ``port``, as the API server's NetworkPolicy semantics say: a pod
    selected by no policy of that direction is open; otherwise some rule must allow it."""
    labels = pod_labels(manifests, workload)
    rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    applying = [
        policy["spec"]
        for policy in objects(manifests, "NetworkPolicy").values()
        if direction in policy["spec"].get("policyTypes", [])
        and selects(policy["spec"]["podSelector"], labels)
    ]
    if not applying:
        return True
    return any(
        rule_allows(rule, peers_key, peer, port, protocol)
        for spec in applying
        for rule in spec.get(rules_key, [])
    )


def test_a_default_deny_selects_every_pod(manifests: list[Manifest]) -> None:
    deny_all = [
        name
        for name, policy in objects(manifests, "NetworkPolicy").items()
        if set(policy["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
    ]
    assert deny_all, "no default-deny NetworkPolicy"
    for _, name in WORKLOADS:
        labels = pod_labels(manifests, name)
        assert any(
            selects(get(manifests, "NetworkPolicy", policy)["spec"]["podSelector"], labels)
            for policy in deny_all
        ), f"{name} is not under a default-deny policy"


def test_policies_select_only_the_platforms_pods(manifests: list[Manifest]) -> None:
    """PostgreSQL, NATS or Temporal may share the namespace: the default deny is not theirs."""
    for name, policy in objects(manifests, "NetworkPolicy").items():
        assert not selects(policy["spec"]["podSelector"], {"app": "postgres"}), name


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_every_pod_resolves_names_and_reaches_nats(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    dns = in_namespace(DNS_NAMESPACE)
    assert allowed(manifests, "Egress", name, dns, 53, "UDP"), name
    assert allowed(manifests, "Egress", name, dns, 53, "TCP"), name
    assert not allowed(manifests, "Egress", name, in_namespace("elsewhere"), 53, "UDP"), name
    assert allowed(manifests, "Egress", name, outside("10.0.12.7"), 4222), name
    # No pod takes connections from anything but what its flows name.
    assert not allowed(manifests, "Ingress", name, in_namespace("elsewhere"), 8000), name


def test_only_the_gateway_is_reached_from_the_ingress_controller(
    manifests: list[Manifest],
) -> None:
    controller = in_namespace(INGRESS_NAMESPACE)
    assert allowed(manifests, "Ingress", "gateway", controller, 8000)
    assert not allowed(manifests, "Ingress", "gateway", in_namespace("elsewhere"), 8000)
    assert not allowed(manifests, "Ingress", "gateway", engage_pod(manifests, "strategy"), 8000)
    # The public media links: platforms fetch /public/media/... from the content service.
    assert allowed(manifests, "Ingress", "content", controller, SERVICE_PORTS["content"])
    for service in ("strategy", "publisher", "listening", "reporting"):
        assert not allowed(manifests, "Ingress", service, controller, SERVICE_PORTS[service])


@pytest.mark.parametrize("service", [s for s in SERVICE_PORTS if s != "gateway"])
def test_data_services_take_calls_from_the_gateway_only(
    manifests: list[Manifest], service: str
) -> None:
    port = SERVICE_PORTS[service]
    gateway = engage_pod(manifests, "gateway")
    assert allowed(manifests, "Egress", "gateway", engage_pod(manifests, service), port)
    assert allowed(manifests, "Ingress", service, gateway, port)
    for other in DEPLOYMENTS:
        if other in {"gateway", service} or (service, other) == ("content", "publisher-worker"):
            continue
        caller = engage_pod(manifests, other)
        assert not allowed(manifests, "Ingress", service, caller, port), f"{other} -> {service}"


def test_the_publisher_worker_streams_media_from_the_content_service(
    manifests: list[Manifest],
) -> None:
    content = engage_pod(manifests, "content")
    assert allowed(manifests, "Egress", "publisher-worker", content, SERVICE_PORTS["content"])
    worker = engage_pod(manifests, "publisher-worker")
    assert allowed(manifests, "Ingress", "content", worker, SERVICE_PORTS["content"])


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_database_and_temporal_only_where_used(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    database = outside("10.0.20.5")
    assert allowed(manifests, "Egress", name, database, 5432) == (DATABASE in SECRETS[name])
    temporal = outside("10.0.30.5")
    assert allowed(manifests, "Egress", name, temporal, 7233) == (name in TEMPORAL_CLIENTS)


INTERNET_CLIENTS = {"publisher", "publisher-worker", "listening-worker"}


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_internet_on_https_for_platform_clients_only(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    for ip in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"):
        expected = name in INTERNET_CLIENTS
        assert allowed(manifests, "Egress", name, outside(ip), 443) == expected, f"{name} {ip}"
        assert not allowed(manifests, "Egress", name, outside(ip), 22), f"{name} {ip}:22"
    # A platform URL never reaches the cluster's network or the cloud's metadata service.
    for ip in ("10.1.2.3", "172.20.0.9", "192.168.1.1", "169.254.169.254", "127.0.0.1", "fd00::1"):
        assert not allowed(manifests, "Egress", name, outside(ip), 443), f"{name} -> {ip}"
        assert not allowed(manifests, "Egress", name, outside(ip), 80), f"{name} -> {ip}"


# -- Temporal client certificate ----------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), WORKLOADS, ids=WORKLOAD_IDS)
def test_only_temporal_clients_mount_its_certificate(
    manifests: list[Manifest], kind: str, name: str
) -> None:
    workload = get(manifests, kind, name)
    volumes = {
        volume["name"]: volume["secret"]["secretName"]
        for volume in pod_spec(workload).get("volumes", [])
        if "secret" in volume
    }
    holds = TEMPORAL_TLS_SECRET in volumes.values()
    assert holds == (name in TEMPORAL_CLIENTS), name
    assert set(volumes.values()) <= {TEMPORAL_TLS_SECRET}, f"{name} mounts {volumes}"
    for container in containers(workload):
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
        if holds:
            assert mounts[TEMPORAL_TLS_DIR]["readOnly"] is True, name
            assert volumes[mounts[TEMPORAL_TLS_DIR]["name"]] == TEMPORAL_TLS_SECRET, name
        else:
            assert TEMPORAL_TLS_DIR not in mounts, name


def test_temporal_clients_use_mutual_tls_from_the_mounted_secret(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    data: dict[str, str] = {**get(manifests, "ConfigMap", CONFIG_MAP)["data"], **OPERATOR_CONFIG}
    gateway = main_container(
        get(manifests, "Deployment", "gateway"), ["engage", "serve", "gateway"]
    )
    temporal = load_pod_settings(monkeypatch, data, gateway).temporal
    assert temporal.uses_tls("prod")
    assert not temporal.allow_plaintext
    files = (
        temporal.tls_server_ca_cert_file,
        temporal.tls_client_cert_file,
        temporal.tls_client_key_file,
    )
    assert [Path(f).parent for f in files] == [Path(TEMPORAL_TLS_DIR)] * 3, files
