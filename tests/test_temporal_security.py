"""Temporal is not an open door: production connects over TLS (mTLS or an API key) and refuses
plaintext unless told the network is private; development keeps its plaintext server."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from shared.settings import (
    AuthSettings,
    ListeningSettings,
    MediaSettings,
    PublisherSettings,
    Settings,
    TemporalSettings,
)
from shared.temporal import connect_options, connect_temporal


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
