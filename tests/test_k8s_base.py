"""The base's processes: each is probed, bounded, locked down and reachable as it should be.

Renders ``deploy/k8s/base`` (``tests/k8s_render.py``), the project's own Deployments and Job that
every overlay runs, so a regression in any base file fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from shared.settings import GatewaySettings, MediaSettings
from tests.k8s_render import (
    BASE,
    CONFIG_MAP,
    DEPLOYMENTS,
    IMAGE,
    MIGRATIONS_JOB,
    OPERATOR_CONFIG,
    PART_OF,
    SERVICE_PORTS,
    TEMPORAL_CLIENTS,
    TEMPORAL_TLS_DIR,
    TEMPORAL_TLS_SECRET,
    USER_ID,
    WORKERS,
    WORKLOAD_IDS,
    WORKLOADS,
    Manifest,
    container_port,
    containers,
    effective_security,
    get,
    load_pod_settings,
    main_container,
    objects,
    pod_spec,
    quantity,
    render,
)


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    """The base's objects, as every overlay starts from them."""
    return render(BASE)


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
