"""What the Kubernetes tests share: rendering ``deploy/k8s`` with ``kubectl kustomize``, the table
of what each workload runs and reads from its Secret, and a NetworkPolicy evaluator.

Without kubectl the tests skip on a developer's machine and fail in CI (``CI`` set), where the
manifests must be checked.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from engage.nats_auth import ADMIN, COMPONENTS
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
K8S_DIR = ROOT / "deploy" / "k8s"
BASE = "base"
DEV = "overlays/dev"
PROD = "overlays/prod"
OVERLAYS = (DEV, PROD)
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
S3_KEYS = {
    "ENGAGE_MEDIA__S3_ACCESS_KEY_ID": "media-s3-access-key-id",
    "ENGAGE_MEDIA__S3_SECRET_ACCESS_KEY": "media-s3-secret-access-key",
}
# The prod overlay keeps media in S3: the content service alone holds the bucket's keys.
PROD_SECRETS: dict[str, dict[str, str]] = {
    **SECRETS,
    "content": {**SECRETS["content"], **S3_KEYS},
    "otel-collector": {},
}
# The dev overlay adds its infrastructure: PostgreSQL's superuser password (PostgreSQL, and
# Temporal, which keeps its schemas there), every NATS user's password (NATS's users' set-up),
# nothing for the sandbox platform and the OpenTelemetry Collector.
DEV_SECRETS: dict[str, dict[str, str]] = {
    **SECRETS,
    "postgres": {"POSTGRES_PASSWORD": "postgres-password"},
    "temporal": {"POSTGRES_PWD": "postgres-password"},
    "nats": {
        f"ENGAGE_NATS_USERS__{component.upper()}__PASSWORD": f"nats-{component}-password"
        for component in COMPONENTS
    },
    "sandbox": {},
    "otel-collector": {},
}
OVERLAY_SECRETS = {DEV: DEV_SECRETS, PROD: PROD_SECRETS}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")

# The processes that connect to Temporal (``TemporalConnection`` or ``connect_temporal``): they
# alone mount its client certificate and may reach it.
TEMPORAL_CLIENTS = frozenset(
    {"gateway", "publisher", "listening", "reporting", *WORKERS},
)


Manifest = dict[str, Any]


@functools.cache
def _kustomize(directory: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        message = "kubectl is not installed: the Kubernetes manifests cannot be rendered"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI checks them, install kubectl there", pytrace=False)
        pytest.skip(message)
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR / directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


@functools.cache
def _parsed(directory: str) -> list[Manifest]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    documents = [doc for doc in yaml.load_all(_kustomize(directory), Loader=loader) if doc]
    assert documents, f"kubectl kustomize {directory} rendered nothing"
    return documents


def render(directory: str) -> list[Manifest]:
    """The objects ``kubectl kustomize deploy/k8s/<directory>`` renders (a copy of its own for
    each caller, rendered once)."""
    return copy.deepcopy(_parsed(directory))


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


def workloads(manifests: list[Manifest]) -> dict[str, Manifest]:
    """Everything that runs a pod, by name (names are unique across these kinds here)."""
    found: dict[str, Manifest] = {}
    for kind in WORKLOAD_KINDS:
        for name, workload in objects(manifests, kind).items():
            assert name not in found, f"{kind}/{name} and another workload share a name"
            found[name] = workload
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
    "media-s3-access-key-id": "operator-s3-key-id",
    "media-s3-secret-access-key": "operator-s3-secret",
    **{f"nats-{component}-password": f"operator-nats-{component}" for component in COMPONENTS},
}
# What an operator's overlay puts in the ConfigMap in place of the base's placeholders.
OPERATOR_CONFIG = {
    "ENGAGE_AUTH__JWKS_URL": "https://idp.example.com/.well-known/jwks.json",
}


def load_pod_settings(
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, str],
    container: dict[str, Any],
    secrets: dict[str, str] | None = None,
) -> Settings:
    """The settings a container loads from ``config`` and the Secret (by key; the operator's
    values of ``OPERATOR_SECRETS`` unless given)."""
    values = OPERATOR_SECRETS if secrets is None else secrets
    for variable in [v for v in os.environ if v.startswith("ENGAGE_")]:
        monkeypatch.delenv(variable)
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    for variable in container.get("env", []):
        if "value" in variable:
            monkeypatch.setenv(variable["name"], variable["value"])
    for variable, key in secret_references(container).items():
        monkeypatch.setenv(variable, values[key])
    return Settings()


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
