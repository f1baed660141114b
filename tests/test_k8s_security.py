"""Secrets and network flows in production: each process gets exactly the Secret keys its code
reads, starts with prod settings, and talks only to what it needs.

Renders ``deploy/k8s/overlays/prod`` (``tests/k8s_render.py``): the base with the
network-policies component and the overlay's own policies and Secret references.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from engage.nats_auth import ADMIN, COMPONENTS, as_component
from shared.media_links import LinkCheck, MediaLinks
from shared.sealing import Sealer
from tests.k8s_render import (
    ACTOR_KEYS,
    CONFIG_MAP,
    CREDENTIAL_KEYS,
    DATABASE,
    DEPLOYMENTS,
    DNS_NAMESPACE,
    INGRESS_NAMESPACE,
    KEY_LISTS,
    KEY_READERS,
    MEDIA_KEYS,
    NATS_COMPONENTS,
    NATS_USER,
    OPERATOR_CONFIG,
    OPERATOR_SECRETS,
    PROD,
    PROD_SECRETS,
    ROOT,
    SECRET,
    SECRETS,
    SERVICE_PORTS,
    TEMPORAL_CLIENTS,
    TOKEN_KEYS,
    WORKLOAD_IDS,
    WORKLOADS,
    Manifest,
    allowed,
    containers,
    engage_pod,
    full_command,
    get,
    in_namespace,
    load_pod_settings,
    main_container,
    objects,
    outside,
    pod_labels,
    pod_spec,
    render,
    secret_references,
    selects,
)


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    """The prod overlay's objects."""
    return render(PROD)


# -- settings and secrets -----------------------------------------------------------------------


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
        assert secret_references(container) == PROD_SECRETS[name], where
        env = {variable["name"]: variable for variable in container.get("env", [])}
        # A key list the process does not use is explicitly empty: it neither gets the key nor
        # falls back to the development key (which prod refuses).
        for variable in KEY_LISTS:
            if variable not in PROD_SECRETS[name]:
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
        secrets = PROD_SECRETS[name]
        if DATABASE in secrets:
            assert settings.database_url == OPERATOR_SECRETS[secrets[DATABASE]], where
        held = {
            TOKEN_KEYS: settings.publisher.token_keys,
            CREDENTIAL_KEYS: settings.listening.credential_keys,
            MEDIA_KEYS: settings.media.url_signing_keys,
        }
        for variable, keys in held.items():
            assert bool(keys) == (variable in secrets), f"{where}: {variable}"
        # The media bucket's keys: the content service's only (it stores media in S3 in prod).
        assert settings.media.storage == "s3", where
        has_bucket_key = bool(settings.media.s3_secret_access_key.get_secret_value())
        assert has_bucket_key == (name == "content"), f"{where}: S3 keys"
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
    secret_variables = {variable for secrets in PROD_SECRETS.values() for variable in secrets}
    for variable in (*secret_variables, *KEY_LISTS, "ENGAGE_AUTH__JWT_SECRET"):
        assert variable not in data, f"{variable} is a secret and belongs in {SECRET}"


def test_no_secret_values_are_committed(manifests: list[Manifest]) -> None:
    for name, secret in objects(manifests, "Secret").items():
        assert not secret.get("data"), f"Secret {name} carries data"
        assert not secret.get("stringData"), f"Secret {name} carries stringData"


# -- network policies ---------------------------------------------------------------------------


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


# Platforms' APIs (publisher, its worker, the listening worker) and, in prod, the media bucket
# (content, overlays/prod/network-policies.yaml).
INTERNET_CLIENTS = {"publisher", "publisher-worker", "listening-worker", "content"}


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
