"""Temporal is not an open door: production connects over TLS (mTLS or an API key) and refuses
plaintext unless told the network is private; development keeps its plaintext server."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from shared.settings import (
    DEV_ACTOR_SIGNING_KEY,
    AuthSettings,
    ListeningSettings,
    MediaSettings,
    PublisherSettings,
    Settings,
    TemporalSettings,
)
from shared.temporal import ActorSigning, connect_options, connect_temporal


def prod(temporal: TemporalSettings) -> Settings:
    """Settings that pass every other production check, with ``temporal``."""
    return Settings(
        environment="prod",
        auth=AuthSettings(jwks_url="https://idp.example/jwks"),
        publisher=PublisherSettings(token_keys=[Fernet.generate_key().decode()]),
        listening=ListeningSettings(credential_keys=[Fernet.generate_key().decode()]),
        media=MediaSettings(url_signing_keys=["a-real-media-link-key-from-vault"]),
        temporal=temporal,
    )


def pem_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / f"{name}.crt"
    key_file = directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def captured_connect(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every ``Client.connect`` call of ``connect_temporal``, by keyword, instead of connecting."""
    calls: list[dict[str, Any]] = []

    async def connect(target_host: str, **kwargs: Any) -> Client:
        calls.append({"target_host": target_host, **kwargs})
        return object()  # type: ignore[return-value]

    monkeypatch.setattr(Client, "connect", connect)
    return calls


async def test_development_connects_in_plaintext_as_before(
    captured_connect: list[dict[str, Any]],
) -> None:
    settings = Settings(environment="dev")
    await connect_temporal(settings)
    [call] = captured_connect
    assert call["target_host"] == "127.0.0.1:7233"
    # Every client signs the actor of the updates it sends (the gateway's engagement updates).
    assert any(isinstance(i, ActorSigning) for i in call["interceptors"])
    assert call["namespace"] == "default"
    assert call["tls"] is False
    assert "api_key" not in call
    assert call["data_converter"] is pydantic_data_converter
    assert Settings(environment="test").temporal.uses_tls("test") is False


async def test_mtls_files_and_server_name_reach_the_connection(
    tmp_path: Path, captured_connect: list[dict[str, Any]]
) -> None:
    ca_file, _ = pem_pair(tmp_path, "temporal-ca")
    cert_file, key_file = pem_pair(tmp_path, "engage-client")
    settings = prod(
        TemporalSettings(
            address="temporal.internal:7233",
            namespace="engage-prod",
            tls_server_ca_cert_file=str(ca_file),
            tls_client_cert_file=str(cert_file),
            tls_client_key_file=str(key_file),
            tls_server_name="frontend.temporal.internal",
        )
    )
    await connect_temporal(settings)
    [call] = captured_connect
    assert call["namespace"] == "engage-prod"
    assert call["tls"] == TLSConfig(
        server_root_ca_cert=ca_file.read_bytes(),
        client_cert=cert_file.read_bytes(),
        client_private_key=key_file.read_bytes(),
        domain="frontend.temporal.internal",
    )
    assert "api_key" not in call


def test_prod_defaults_to_tls_with_the_system_roots() -> None:
    options = connect_options(prod(TemporalSettings()))
    assert options["tls"] == TLSConfig()
    assert "api_key" not in options


def test_an_api_key_travels_only_over_tls() -> None:
    options = connect_options(
        Settings(environment="dev", temporal=TemporalSettings(api_key="temporal-cloud-key"))
    )
    assert options["api_key"] == "temporal-cloud-key"
    assert isinstance(options["tls"], TLSConfig)
    with pytest.raises(ValidationError, match="TLS is false while TLS files or an API key"):
        TemporalSettings(tls=False, api_key="temporal-cloud-key")


async def test_the_sdk_takes_the_built_options(tmp_path: Path) -> None:
    """The options are what ``Client.connect`` expects: a lazy client is built from them
    (PEM parsing included) without a server."""
    cert_file, key_file = pem_pair(tmp_path, "engage-client")
    settings = prod(
        TemporalSettings(
            address="127.0.0.1:1",
            tls_client_cert_file=str(cert_file),
            tls_client_key_file=str(key_file),
            api_key="temporal-key",
        )
    )
    client = await Client.connect(settings.temporal.address, lazy=True, **connect_options(settings))
    assert client.namespace == "default"


def test_prod_refuses_plaintext_unless_explicitly_allowed() -> None:
    with pytest.raises(ValidationError, match="ENGAGE_TEMPORAL__TLS=false is refused"):
        prod(TemporalSettings(tls=False))
    allowed = prod(TemporalSettings(tls=False, allow_plaintext=True))
    assert connect_options(allowed)["tls"] is False
    # Development and tests talk to the plaintext server of `engage up` without saying so.
    assert Settings(environment="dev", temporal=TemporalSettings(tls=False))


def test_prod_refusal_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an operator writes: ENGAGE_TEMPORAL__TLS=false in prod fails at start-up."""
    for variable, value in {
        "ENGAGE_ENVIRONMENT": "prod",
        "ENGAGE_AUTH__JWKS_URL": "https://idp.example/jwks",
        "ENGAGE_PUBLISHER__TOKEN_KEYS": f'["{Fernet.generate_key().decode()}"]',
        "ENGAGE_LISTENING__CREDENTIAL_KEYS": f'["{Fernet.generate_key().decode()}"]',
        "ENGAGE_MEDIA__URL_SIGNING_KEYS": '["a-real-media-link-key-from-vault"]',
        "ENGAGE_TEMPORAL__TLS": "false",
    }.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match="ENGAGE_TEMPORAL__TLS=false is refused"):
        Settings()
    monkeypatch.setenv("ENGAGE_TEMPORAL__ALLOW_PLAINTEXT", "true")
    assert Settings().temporal.uses_tls("prod") is False


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValidationError, match="go together"):
        TemporalSettings(tls_client_cert_file="/etc/engage/temporal-tls/tls.crt")


# -- workflow updates carry an actor the gateway signed ------------------------------------------

KEY = b"actor-signing-key-from-the-secret"
OLD_KEY = b"the-key-before-the-rotation"


class ProbeActor(BaseModel):
    subject: str
    roles: list[str]


class ProbeRequest(BaseModel):
    actor: ProbeActor
    note: str = ""


class ProbeOutcome(BaseModel):
    decided_by: str


PROBE_UPDATE = "probe-decide"
APPROVER = ProbeActor(subject="giulia", roles=["client_approver"])


def signed_header(
    signing: ActorSigning, workflow_id: str, update: str, actor: BaseModel
) -> Payload | None:
    return signing.sign(workflow_id, update, actor)


def test_a_signed_actor_is_believed_and_a_changed_one_refused() -> None:
    now = 1_800_000_000.0
    gateway = ActorSigning([KEY], verify=False, clock=lambda: now)
    worker = ActorSigning([KEY, OLD_KEY], verify=True)
    header = signed_header(gateway, "engagement-1", PROBE_UPDATE, APPROVER)
    worker.check("engagement-1", PROBE_UPDATE, APPROVER, header, now + 5)

    manager = APPROVER.model_copy(update={"roles": ["manager"]})
    refusals = {
        "unsigned": ("engagement-1", PROBE_UPDATE, APPROVER, None, now),
        "roles raised": ("engagement-1", PROBE_UPDATE, manager, header, now),
        "another engagement": ("engagement-2", PROBE_UPDATE, APPROVER, header, now),
        "another update": ("engagement-1", "cancel", APPROVER, header, now),
        "stale": ("engagement-1", PROBE_UPDATE, APPROVER, header, now + 301),
        "dated ahead": ("engagement-1", PROBE_UPDATE, APPROVER, header, now - 61),
    }
    for reason, arguments in refusals.items():
        with pytest.raises(ApplicationError) as refused:
            worker.check(*arguments)
        assert refused.value.type == "forbidden", reason
        assert refused.value.non_retryable, reason

    # Signed with the previous key (before a rotation), still accepted while listed.
    rotated = ActorSigning([OLD_KEY], verify=False, clock=lambda: now)
    worker.check(
        "engagement-1",
        PROBE_UPDATE,
        APPROVER,
        signed_header(rotated, "engagement-1", PROBE_UPDATE, APPROVER),
        now,
    )
    forged = ActorSigning([b"a-key-the-attacker-made-up"], verify=False, clock=lambda: now)
    with pytest.raises(ApplicationError, match="does not match"):
        worker.check(
            "engagement-1",
            PROBE_UPDATE,
            APPROVER,
            signed_header(forged, "engagement-1", PROBE_UPDATE, APPROVER),
            now,
        )
    # A worker without keys believes no one.
    with pytest.raises(ApplicationError, match="does not match"):
        ActorSigning([], verify=True).check("engagement-1", PROBE_UPDATE, APPROVER, header, now)


def test_actor_signing_follows_the_settings() -> None:
    dev = ActorSigning.from_settings(Settings(environment="dev"))
    assert dev.keys
    assert not dev.verify
    production = ActorSigning.from_settings(prod(TemporalSettings()))
    assert production.keys == ()
    assert production.verify
    configured = ActorSigning.from_settings(
        prod(TemporalSettings(actor_signing_keys=["k1-from-the-secret", "k0"]))
    )
    assert configured.keys == (b"k1-from-the-secret", b"k0")
    with pytest.raises(ValidationError, match="ACTOR_SIGNING_KEYS holds the development key"):
        prod(TemporalSettings(actor_signing_keys=[DEV_ACTOR_SIGNING_KEY]))


@workflow.defn(name="test-actor-probe")
class ActorProbeWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._done)

    @workflow.update(name=PROBE_UPDATE)
    async def decide(self, request: ProbeRequest) -> ProbeOutcome:
        self._done = True
        return ProbeOutcome(decided_by=request.actor.subject)

    @decide.validator
    def validate_decide(self, request: ProbeRequest) -> None:
        if not request.actor.roles:
            raise ApplicationError("no role", type="forbidden", non_retryable=True)


async def test_the_workflow_worker_refuses_unsigned_and_forged_actors(
    temporal_env: WorkflowEnvironment,
) -> None:
    """A sandboxed workflow behind a verifying worker: the gateway's signed update goes through;
    the same update sent straight to Temporal, or signed with another key, is refused."""
    base = temporal_env.client

    def client_with(*interceptors: Any) -> Client:
        return Client(
            base.service_client,
            namespace=base.namespace,
            data_converter=pydantic_data_converter,
            interceptors=interceptors,
        )

    gateway = client_with(ActorSigning([KEY], verify=False))
    forger = client_with(ActorSigning([b"made-up"], verify=False))
    task_queue = f"actor-probe-{uuid.uuid4()}"
    worker_client = client_with(ActorSigning([KEY], verify=True))
    # The sandbox as the workflow worker runs it; this module's own imports pass through.
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "cryptography", "pytest", "shared", "httpx"
        )
    )
    async with Worker(
        worker_client, task_queue=task_queue, workflows=[ActorProbeWorkflow], workflow_runner=runner
    ):
        workflow_id = f"actor-probe-{uuid.uuid4()}"
        await base.start_workflow(ActorProbeWorkflow.run, id=workflow_id, task_queue=task_queue)
        request = ProbeRequest(actor=APPROVER)
        for client in (base, forger):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await client.get_workflow_handle(workflow_id).execute_update(
                    PROBE_UPDATE, request, result_type=ProbeOutcome
                )
            assert isinstance(refused.value.cause, ApplicationError)
            assert refused.value.cause.type == "forbidden"
        outcome = await gateway.get_workflow_handle(workflow_id).execute_update(
            PROBE_UPDATE, request, result_type=ProbeOutcome
        )
        assert outcome == ProbeOutcome(decided_by="giulia")
        await gateway.get_workflow_handle(workflow_id).result()
