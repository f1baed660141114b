"""Tokens: HS256 in development, RS256 against a JWKS in production, which requires one."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from typer.testing import CliRunner

from engage.cli import app as cli
from shared.auth import UNAUTHORIZED_DETAIL, Role, TokenVerifier, issue_dev_token
from shared.errors import ProblemError
from shared.settings import (
    AuthSettings,
    ListeningSettings,
    MediaSettings,
    PublisherSettings,
    Settings,
)

# Real (not development) media link keys and sources' keys, for settings that must pass in prod.
MEDIA_KEYS = MediaSettings(url_signing_keys=["a-real-media-link-key-from-vault"])
LISTENING_KEYS = ListeningSettings(credential_keys=[Fernet.generate_key().decode()])


IDENTITY_PROVIDER = AuthSettings(jwks_url="https://idp.example/jwks")


def test_prod_requires_a_jwks_url_and_refuses_hs256_secrets() -> None:
    for refused in (
        AuthSettings(),
        AuthSettings(jwks_url=""),
        AuthSettings(jwt_secret="a-real-secret-from-vault"),
    ):
        with pytest.raises(ValidationError, match="JWKS_URL is required when"):
            Settings(environment="prod", auth=refused)
    for url, reason in (
        ("ftp://idp.example/jwks", "is not an http"),
        ("idp.example/jwks", "is not an http"),
        ("https://identity-provider.invalid/.well-known/jwks.json", "is a placeholder"),
    ):
        with pytest.raises(ValidationError, match=f"JWKS_URL {reason}"):
            Settings(environment="prod", auth=AuthSettings(jwks_url=url))
    with pytest.raises(ValidationError, match="jwks_algorithms"):
        AuthSettings.model_validate({"jwks_algorithms": ["HS256"]})
    # Development and tests keep HS256 with the secret.
    assert Settings(environment="dev").auth.jwks_url is None
    assert Settings(environment="test").auth.jwks_url is None


def test_prod_refuses_the_development_keys() -> None:
    keys = PublisherSettings(token_keys=[Fernet.generate_key().decode()])
    with pytest.raises(ValidationError, match="TOKEN_KEYS holds the development key"):
        Settings(environment="prod", auth=IDENTITY_PROVIDER)
    with pytest.raises(ValidationError, match="CREDENTIAL_KEYS holds the development key"):
        Settings(environment="prod", auth=IDENTITY_PROVIDER, publisher=keys)
    with pytest.raises(ValidationError, match="URL_SIGNING_KEYS holds the development key"):
        Settings(
            environment="prod",
            auth=IDENTITY_PROVIDER,
            publisher=keys,
            listening=LISTENING_KEYS,
        )
    assert Settings(
        environment="prod",
        auth=IDENTITY_PROVIDER,
        publisher=keys,
        listening=LISTENING_KEYS,
        media=MEDIA_KEYS,
    )


async def test_dev_token_round_trip_carries_roles_and_organizations() -> None:
    settings = Settings(environment="test")
    organization = uuid.uuid4()
    token = issue_dev_token(settings, "giulia", [Role.CLIENT_APPROVER], [str(organization)])
    principal = await TokenVerifier(settings).verify(token)
    assert principal.subject == "giulia"
    assert principal.roles_in(organization) == {Role.CLIENT_APPROVER}
    assert principal.roles_in(uuid.uuid4()) == frozenset()
    assert principal.organizations == {organization}
    assert principal.all_organizations is False
    assert principal.scope.allows(organization)
    assert not principal.scope.allows(uuid.uuid4())


async def test_roles_differ_between_organisations() -> None:
    settings = Settings(environment="test")
    client, other = uuid.uuid4(), uuid.uuid4()
    token = issue_dev_token(
        settings,
        "giulia",
        [Role.CLIENT_VIEWER],
        [str(other)],
        org_roles={str(client): [Role.CLIENT_APPROVER], "*": [Role.EDITOR]},
    )
    principal = await TokenVerifier(settings).verify(token)
    assert principal.roles_in(client) == {Role.CLIENT_APPROVER, Role.EDITOR}
    assert principal.roles_in(other) == {Role.CLIENT_VIEWER, Role.EDITOR}
    assert principal.roles_in(uuid.uuid4()) == {Role.EDITOR}
    assert principal.all_organizations
    # Acting for an approval, it sees only where it approves; for a manager's action, nothing.
    approving = principal.acting_as(frozenset({Role.MANAGER, Role.CLIENT_APPROVER}))
    assert approving.organizations == {client}
    assert not approving.all_organizations
    with pytest.raises(ProblemError) as refused:
        principal.acting_as(frozenset({Role.MANAGER}))
    assert refused.value.status == 403


async def test_a_client_role_in_every_organisation_is_refused_with_the_generic_401(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(environment="test")
    verifier = TokenVerifier(settings)
    for token in (
        issue_dev_token(settings, "x", [Role.CLIENT_VIEWER], ["*"]),
        issue_dev_token(settings, "x", [], [], org_roles={"*": [Role.CLIENT_APPROVER]}),
        issue_dev_token(settings, "x", [Role.MANAGER, Role.CLIENT_APPROVER], ["*"]),
    ):
        with caplog.at_level("INFO", logger="shared.auth"), pytest.raises(ProblemError) as caught:
            await verifier.verify(token)
        assert caught.value.status == 401
        assert caught.value.detail == UNAUTHORIZED_DETAIL
    assert "granted in every organisation" in caplog.text
    # Agency roles in every organisation, client roles in one: accepted.
    organization = uuid.uuid4()
    principal = await verifier.verify(
        issue_dev_token(
            settings,
            "x",
            [Role.MANAGER],
            ["*"],
            org_roles={str(organization): [Role.CLIENT_APPROVER]},
        )
    )
    assert principal.roles_in(organization) == {Role.MANAGER, Role.CLIENT_APPROVER}


async def test_token_for_another_audience_is_rejected() -> None:
    settings = Settings(environment="test")
    other = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"audience": "another-product"})}
    )
    token = issue_dev_token(other, "x", [Role.ADMIN], ["*"])
    with pytest.raises(ProblemError) as caught:
        await TokenVerifier(settings).verify(token)
    assert caught.value.status == 401


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """An identity provider's key set, served over HTTP as PyJWKClient expects it."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class KeySet(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeySet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def rs256_token(key: rsa.RSAPrivateKey, **overrides: object) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "sso|marco",
        "roles": ["manager"],
        "orgs": ["*"],
        "iss": "atlantide-engage",
        "aud": "atlantide-engage",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "key-1"})


async def test_production_verifies_rs256_against_jwks(
    jwks_url: str, signing_key: rsa.RSAPrivateKey
) -> None:
    settings = Settings(
        environment="prod",
        auth=AuthSettings(jwks_url=jwks_url),
        publisher=PublisherSettings(token_keys=[Fernet.generate_key().decode()]),
        listening=LISTENING_KEYS,
        media=MEDIA_KEYS,
    )
    verifier = TokenVerifier(settings)

    principal = await verifier.verify(rs256_token(signing_key))
    assert principal.subject == "sso|marco"
    assert principal.all_organizations

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(ProblemError) as forged:
        await verifier.verify(rs256_token(stranger))
    assert forged.value.status == 401

    hs256 = issue_dev_token(Settings(environment="test"), "dev", [Role.ADMIN], ["*"])
    with pytest.raises(ProblemError) as downgraded:
        await verifier.verify(hs256)
    assert downgraded.value.status == 401


def test_engage_token_prints_a_verifiable_token_and_refuses_client_roles_without_org() -> None:
    runner = CliRunner()
    printed = runner.invoke(cli, ["token", "--role", "manager"])
    assert printed.exit_code == 0, printed.output
    claims = jwt.decode(printed.output.strip(), options={"verify_signature": False})
    assert claims["roles"] == ["manager"]
    assert claims["orgs"] == ["*"]

    refused = runner.invoke(cli, ["token", "--role", "client_viewer"])
    assert refused.exit_code != 0
    assert "--org" in refused.output

    organization = str(uuid.uuid4())
    granted = runner.invoke(
        cli, ["token", "--grant", f"{organization}=client_approver", "--grant", "*=editor"]
    )
    assert granted.exit_code == 0, granted.output
    claims = jwt.decode(granted.output.strip(), options={"verify_signature": False})
    assert claims["org_roles"] == {organization: ["client_approver"], "*": ["editor"]}
    for wrong in ("*=client_viewer", "not-an-org=editor", f"{organization}=owner"):
        refused = runner.invoke(cli, ["token", "--grant", wrong])
        assert refused.exit_code != 0, wrong
