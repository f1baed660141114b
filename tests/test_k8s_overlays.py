"""Every overlay renders objects the Kubernetes 1.31 API accepts, keeps the platform's invariants,
and is what it says: ``dev`` a whole platform in one namespace, ``prod`` the processes against
external infrastructure, scaled, spread and published through two Ingresses.

Renders each of ``deploy/k8s/overlays/*`` with ``kubectl kustomize`` (``tests/k8s_render.py``) and
validates every object against the strict schemas bundled with ``kubernetes-validate``.
"""

from __future__ import annotations

import base64
import copy
import re
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from shared.media_links import PATH as PUBLIC_MEDIA_PATH
from shared.settings import DEV_PASSWORD_PREFIX, DEV_TOKEN_KEY
from tests.k8s_render import (
    CONFIG_MAP,
    DEPLOYMENTS,
    DEV,
    IMAGE,
    K8S_DIR,
    MIGRATIONS_JOB,
    NAMESPACE,
    OVERLAY_SECRETS,
    OVERLAYS,
    PART_OF,
    PROD,
    ROOT,
    SECRET,
    SERVICE_PORTS,
    TEMPORAL_CLIENTS,
    TEMPORAL_TLS_SECRET,
    WORKERS,
    Manifest,
    allowed,
    containers,
    effective_security,
    get,
    in_namespace,
    load_pod_settings,
    objects,
    outside,
    pod_spec,
    quantity,
    render,
    secret_references,
    selects,
    workloads,
)

KUBERNETES_VERSION = "1.31.0"
# Kinds whose schema is not Kubernetes' own (CRDs such as a ServiceMonitor) would be skipped here
# with a reason; none is rendered (Prometheus scrapes by annotations), so every object is checked.
SKIPPED_KINDS: dict[str, str] = {}
NAMESPACES = {DEV: "engage-dev", PROD: NAMESPACE}
ENGAGE_IMAGE_NAME = IMAGE.partition(":")[0]
# Third-party images of the dev overlay and the otel-collector component, by repository: a
# version tag of the form the issue asks for.
PINNED_IMAGES = {
    "postgres": r"17\.\d+",
    "nats": r"2\.10\.\d+",
    "temporalio/auto-setup": r"1\.\d+\.\d+",
    "otel/opentelemetry-collector-contrib": r"0\.\d+\.\d+",
}
DEV_INFRASTRUCTURE = ("postgres", "nats", "temporal", "otel-collector")
# The workloads that serve for as long as they run (a Job's pod does not).
LONG_RUNNING = ("Deployment", "StatefulSet")


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def validate(manifest: Manifest) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


# -- schemas and invariants of every overlay ----------------------------------------------------


def test_every_object_is_valid_for_kubernetes_1_31(overlay: str) -> None:
    checked = 0
    for manifest in render(overlay):
        if manifest["kind"] in SKIPPED_KINDS:
            continue
        validate(manifest)
        checked += 1
    assert checked > 50, f"{overlay}: only {checked} objects validated"


def test_every_overlay_and_component_is_covered() -> None:
    """A new overlay is rendered and checked here as soon as it exists; every component is used."""
    found = {
        f"overlays/{path.parent.name}" for path in K8S_DIR.glob("overlays/*/kustomization.yaml")
    }
    assert found == set(OVERLAYS)
    used = {
        line.strip().removeprefix("- ../../")
        for overlay in OVERLAYS
        for line in (K8S_DIR / overlay / "kustomization.yaml").read_text().splitlines()
        if line.strip().startswith("- ../../components/")
    }
    components = {f"components/{p.parent.name}" for p in K8S_DIR.glob("components/*/*.yaml")}
    assert used == components


def test_the_schema_validation_refuses_what_the_api_server_would() -> None:
    """The check above can fail: strict schemas refuse an unknown field and a wrong type."""
    deployment = copy.deepcopy(get(render(PROD), "Deployment", "gateway"))
    validate(deployment)
    pod_spec(deployment)["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    deployment = copy.deepcopy(get(render(PROD), "Deployment", "gateway"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


def test_everything_lands_in_the_overlays_namespace(overlay: str) -> None:
    manifests = render(overlay)
    namespace = get(manifests, "Namespace", NAMESPACES[overlay])
    # The restricted Pod Security Standard: the admission controller enforces the invariants.
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for manifest in manifests:
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == NAMESPACES[overlay], manifest["metadata"]


def test_long_running_containers_are_probed(overlay: str) -> None:
    for name, workload in workloads(render(overlay)).items():
        if workload["kind"] not in LONG_RUNNING:
            continue
        for container in pod_spec(workload)["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                handlers = set(container.get(probe) or {}) & {"httpGet", "exec", "tcpSocket"}
                assert len(handlers) == 1, f"{overlay} {name}/{container['name']}: {probe}"


def test_every_container_is_bounded_and_locked_down(overlay: str) -> None:
    for name, workload in workloads(render(overlay)).items():
        pod = pod_spec(workload)
        for container in containers(workload):
            where = f"{overlay} {name}/{container['name']}"
            resources = container.get("resources") or {}
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                assert 0 < request <= quantity(resources["limits"][resource]), where
            context: dict[str, Any] = container.get("securityContext") or {}
            assert effective_security(container, pod, "runAsNonRoot") is True, where
            seccomp = effective_security(container, pod, "seccompProfile") or {}
            assert seccomp.get("type") == "RuntimeDefault", where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not context.get("capabilities", {}).get("add"), where


def test_images_are_pinned(overlay: str) -> None:
    """No ``latest``, no untagged image: the project's own at this version, the others at the
    versions pinned for them."""
    seen: set[str] = set()
    for name, workload in workloads(render(overlay)).items():
        for container in containers(workload):
            image: str = container["image"]
            repository, _, tag = image.rpartition(":")
            assert repository, f"{overlay} {name}: {image} has no tag"
            assert "/" not in tag, f"{overlay} {name}: {image} has no tag"
            if repository == ENGAGE_IMAGE_NAME:
                assert image == IMAGE, f"{overlay} {name}: {image}"
                continue
            assert repository in PINNED_IMAGES, f"{overlay} {name}: unexpected image {image}"
            assert re.fullmatch(PINNED_IMAGES[repository], tag), f"{overlay} {name}: {image}"
            seen.add(repository)
    assert "otel/opentelemetry-collector-contrib" in seen


def test_each_workload_gets_only_the_secret_keys_it_uses(overlay: str) -> None:
    table = OVERLAY_SECRETS[overlay]
    rendered = workloads(render(overlay))
    assert set(rendered) == set(table), f"{overlay}: the secret table is out of date"
    for name, workload in rendered.items():
        references: dict[str, str] = {}
        for container in containers(workload):
            sources = container.get("envFrom", [])
            assert not any("secretRef" in s for s in sources), f"{name} loads a whole Secret"
            references |= secret_references(container)
        assert references == table[name], f"{overlay} {name}"
        secret_volumes = {
            volume["secret"]["secretName"]
            for volume in pod_spec(workload).get("volumes", [])
            if "secret" in volume
        }
        # Only prod's Temporal has TLS: its clients mount the client certificate there alone.
        mounts_certificate = overlay == PROD and name in TEMPORAL_CLIENTS
        assert secret_volumes == ({TEMPORAL_TLS_SECRET} if mounts_certificate else set()), name


def test_every_engage_process_is_scraped_by_prometheus(overlay: str) -> None:
    """Annotated for Prometheus's pod discovery, on the one port that serves ``/metrics`` (a
    worker's ENGAGE_WORKER__METRICS_PORT), which the policies open to ``monitoring`` alone."""
    manifests = render(overlay)
    prometheus, elsewhere = in_namespace("monitoring"), in_namespace("elsewhere")
    for name, deployment in objects(manifests, "Deployment").items():
        template = deployment["spec"]["template"]
        if template["metadata"]["labels"].get("app.kubernetes.io/part-of") != PART_OF:
            continue
        annotations = template["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", f"{overlay} {name}"
        assert annotations.get("prometheus.io/path") == "/metrics", f"{overlay} {name}"
        container = template["spec"]["containers"][0]
        [port] = [p["containerPort"] for p in container["ports"]]
        if name in WORKERS:
            env = {v["name"]: v.get("value") for v in container["env"]}
            assert env["ENGAGE_WORKER__METRICS_PORT"] == str(port), f"{overlay} {name}"
        assert allowed(manifests, "Ingress", name, prometheus, port), f"{overlay} {name}"
        assert not allowed(manifests, "Ingress", name, elsewhere, port), f"{overlay} {name}"


# -- dev: the whole platform in one namespace ---------------------------------------------------


def secret_values(manifests: list[Manifest]) -> dict[str, str]:
    secret = get(manifests, "Secret", SECRET)
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def test_dev_runs_its_infrastructure_the_migrations_and_the_sandbox() -> None:
    rendered = workloads(render(DEV))
    for name in (*DEPLOYMENTS, MIGRATIONS_JOB, "sandbox", *DEV_INFRASTRUCTURE):
        assert name in rendered, f"dev has no {name}"
    sandbox = pod_spec(rendered["sandbox"])["containers"][0]
    assert sandbox["command"] == ["engage", "serve", "sandbox"]
    # NATS serves the users `engage nats-config` writes, with JetStream.
    nats = pod_spec(rendered["nats"])
    [users] = nats["initContainers"]
    assert "engage nats-config > /etc/nats-users/users.json" in users["command"][-1]
    assert {"--config=/etc/nats-users/users.json", "--jetstream"} <= set(
        nats["containers"][0]["args"]
    )


def service_port(manifests: list[Manifest], host: str, port: int) -> bool:
    services = objects(manifests, "Service")
    return host in services and any(p["port"] == port for p in services[host]["spec"]["ports"])


def test_dev_addresses_are_the_overlays_services() -> None:
    """Every address a dev process is given is a Service of the overlay, on a port it exposes."""
    manifests = render(DEV)
    data: dict[str, str] = get(manifests, "ConfigMap", CONFIG_MAP)["data"]
    nats = urlsplit(data["ENGAGE_NATS_URL"])
    addresses = [(nats.hostname, nats.port)]
    host, _, port = data["ENGAGE_TEMPORAL__ADDRESS"].rpartition(":")
    addresses.append((host, int(port)))
    urls = [value for key, value in data.items() if key.startswith("ENGAGE_SERVICE_URLS__")]
    urls += [data["ENGAGE_OTLP_ENDPOINT"], "http://sandbox:8010"]
    assert '"sandbox": "http://sandbox:8010"' in data["ENGAGE_PUBLISHER__API_BASE_URLS"]
    addresses += [(urlsplit(url).hostname, urlsplit(url).port) for url in urls]
    for key, value in secret_values(manifests).items():
        if key.endswith("database-url"):
            url = make_url(value)
            addresses.append((url.host, url.port))
    for host_name, port_number in addresses:
        assert host_name, (host_name, port_number)
        assert port_number, (host_name, port_number)
        assert service_port(manifests, host_name, port_number), f"{host_name}:{port_number}"


def test_dev_secrets_are_development_values_only() -> None:
    """Nothing in dev's generated Secret is a secret: each value is a development password or
    key that ``ENGAGE_ENVIRONMENT=prod`` refuses, or a URL made of them."""
    values = secret_values(render(DEV))
    assert set(values) == {key for table in OVERLAY_SECRETS[DEV].values() for key in table.values()}
    for key, value in values.items():
        assert DEV_PASSWORD_PREFIX in value or DEV_TOKEN_KEY in value, key


def test_dev_processes_start_with_dev_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = render(DEV)
    data: dict[str, str] = get(manifests, "ConfigMap", CONFIG_MAP)["data"]
    values = secret_values(manifests)
    for name in (*DEPLOYMENTS, MIGRATIONS_JOB, "sandbox"):
        container = pod_spec(workloads(manifests)[name])["containers"][0]
        settings = load_pod_settings(monkeypatch, data, container, values)
        assert settings.environment == "dev", name
        assert not settings.temporal.uses_tls(settings.environment), f"{name}: TLS in dev"
        if name != "sandbox":
            assert settings.nats_user.startswith("engage-"), name
            assert settings.nats_password.get_secret_value().startswith(DEV_PASSWORD_PREFIX)


def test_dev_policies_let_the_publisher_reach_the_sandbox_and_leave_infrastructure_open() -> None:
    manifests = render(DEV)
    sandbox = (NAMESPACE, pod_spec_labels(manifests, "sandbox"), None)
    for name in ("publisher", "publisher-worker"):
        assert allowed(manifests, "Egress", name, sandbox, 8010), name
        caller = (NAMESPACE, pod_spec_labels(manifests, name), None)
        assert allowed(manifests, "Ingress", "sandbox", caller, 8010), name
    gateway = (NAMESPACE, pod_spec_labels(manifests, "gateway"), None)
    assert not allowed(manifests, "Ingress", "sandbox", gateway, 8010)
    assert not allowed(manifests, "Egress", "gateway", sandbox, 8010)
    # The infrastructure is no engage pod: no policy selects it, so the engage pods reach it.
    for name in DEV_INFRASTRUCTURE:
        labels = pod_spec_labels(manifests, name)
        for policy_name, policy in objects(manifests, "NetworkPolicy").items():
            assert not selects(policy["spec"]["podSelector"], labels), f"{policy_name}: {name}"
    assert allowed(manifests, "Egress", "content", outside("10.96.0.12"), 5432)
    assert allowed(manifests, "Egress", "workflow-worker", outside("10.96.0.13"), 7233)
    collector = (NAMESPACE, pod_spec_labels(manifests, "otel-collector"), None)
    assert allowed(manifests, "Egress", "gateway", collector, 4318)


def pod_spec_labels(manifests: list[Manifest], name: str) -> dict[str, str]:
    labels: dict[str, str] = workloads(manifests)[name]["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_readme_port_forward_reaches_the_gateway() -> None:
    readme = (K8S_DIR / "README.md").read_text()
    commands = re.findall(r"kubectl -n (\S+) port-forward service/(\S+) (\d+):(\d+)", readme)
    assert commands, "deploy/k8s/README.md documents no port-forward command"
    for namespace, service, _, port in commands:
        assert namespace == NAMESPACES[DEV]
        assert service == "gateway"
        assert service_port(render(DEV), service, int(port))
        assert int(port) == SERVICE_PORTS["gateway"]


# -- prod: external infrastructure, scaled, spread, published -----------------------------------


def test_prod_runs_no_infrastructure() -> None:
    manifests = render(PROD)
    assert not objects(manifests, "StatefulSet")
    assert set(workloads(manifests)) == {*DEPLOYMENTS, MIGRATIONS_JOB, "otel-collector"}
    data: dict[str, str] = get(manifests, "ConfigMap", CONFIG_MAP)["data"]
    nats_host = urlsplit(data["ENGAGE_NATS_URL"]).hostname or ""
    temporal_host = data["ENGAGE_TEMPORAL__ADDRESS"].rpartition(":")[0]
    for host in (nats_host, temporal_host):
        assert host, data
        assert host not in objects(manifests, "Service"), host


def test_prod_autoscales_the_gateway_and_the_workers() -> None:
    manifests = render(PROD)
    scaled = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]
        for hpa in objects(manifests, "HorizontalPodAutoscaler").values()
    }
    assert set(scaled) == {"gateway", *WORKERS}
    deployments = objects(manifests, "Deployment")
    for name, spec in scaled.items():
        assert spec["scaleTargetRef"]["kind"] == "Deployment", name
        assert name in deployments, name
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"], name
        # `kubectl apply` would otherwise reset the autoscaler's count at every release.
        assert "replicas" not in deployments[name]["spec"], name
    for name in SERVICE_PORTS:
        if name != "gateway":
            assert deployments[name]["spec"]["replicas"] >= 2, name


def test_prod_budgets_disruptions_and_spreads_every_deployment() -> None:
    manifests = render(PROD)
    budgets = objects(manifests, "PodDisruptionBudget")
    deployments = objects(manifests, "Deployment")
    for name in DEPLOYMENTS:
        labels = pod_spec_labels(manifests, name)
        covering = [b for b in budgets.values() if selects(b["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{name}: {len(covering)} disruption budgets"
        assert covering[0]["spec"].get("maxUnavailable") == 1, name
        for other, deployment in deployments.items():
            other_labels = deployment["spec"]["template"]["metadata"]["labels"]
            if other != name:
                assert not selects(covering[0]["spec"]["selector"], other_labels), other
        constraints = pod_spec(deployments[name]).get("topologySpreadConstraints", [])
        keys = {c["topologyKey"] for c in constraints}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, name
        for constraint in constraints:
            assert selects(constraint["labelSelector"], labels), name
            assert "app.kubernetes.io/name" in constraint["matchLabelKeys"], name


def test_prod_publishes_the_gateway_and_the_public_media_path_only() -> None:
    manifests = render(PROD)
    routes: list[tuple[str, str, str, Any]] = []
    for ingress in objects(manifests, "Ingress").values():
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                routes.append((path["path"], path["pathType"], backend["name"], backend["port"]))
    # The gateway's /metrics goes to a Service without endpoints: refused, not published.
    assert ("/metrics", "Exact", "not-published") in [r[:3] for r in routes], routes
    assert not get(manifests, "Service", "not-published")["spec"].get("selector")
    published = [r for r in routes if r[2] != "not-published"]
    assert sorted(r[2] for r in published) == ["content", "gateway"], routes
    for path, path_type, service, port in published:
        assert path_type == "Prefix"
        assert path == ("/" if service == "gateway" else f"{PUBLIC_MEDIA_PATH}/"), routes
        ports = get(manifests, "Service", service)["spec"]["ports"]
        assert any(p.get("name") == port.get("name") for p in ports), (service, port)


def test_the_migrations_apply_alone_before_the_rest() -> None:
    """The upgrade's first step (docs/upgrades.md) applies the objects labelled
    ``app.kubernetes.io/component=migrations``: the Job, its ServiceAccount and the ConfigMap it
    loads, and nothing that serves."""
    selector = "app.kubernetes.io/component=migrations"
    upgrades = (ROOT / "docs" / "upgrades.md").read_text()
    assert f"kubectl apply -k deploy/k8s/overlays/prod -l {selector}" in upgrades
    key, _, value = selector.partition("=")
    for overlay in OVERLAYS:
        selected = {
            (m["kind"], m["metadata"]["name"])
            for m in render(overlay)
            if m["metadata"].get("labels", {}).get(key) == value
        }
        assert selected == {
            ("Job", MIGRATIONS_JOB),
            ("ServiceAccount", MIGRATIONS_JOB),
            ("ConfigMap", CONFIG_MAP),
        }, overlay
