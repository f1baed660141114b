"""Identity in production: tokens verified against the identity provider's JWKS (RS256/ES256
only), key-set fetches rate-limited whatever the tokens' key ids, one 401 for every refused
token, and the interactive API pages off in prod."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI

from services.gateway.app import build_app as build_gateway
from shared.auth import (
    UNAUTHORIZED_DETAIL,
    CurrentPrincipal,
    RateLimitedJWKClient,
    Role,
    TokenVerifier,
    issue_dev_token,
)
from shared.errors import ProblemError, install_problem_handlers
from shared.permissions import EVERYONE, PERMISSIONS
from shared.settings import (
    AuthSettings,
    ListeningSettings,
    MediaSettings,
    PublisherSettings,
    Settings,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class IdentityProvider:
    """A JWKS endpoint on 127.0.0.1 that counts the requests it answers."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False
    requests: int = 0

    def publish(self, kid: str, key: PrivateKey) -> None:
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        else:
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        self.keys.append({**jwk, "kid": kid, "use": "sig"})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()

    class KeySet(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests += 1
            if provider.failing:
                self.send_response(500)
                self.end_headers()
                return
            body = json.dumps({"keys": provider.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeySet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    yield provider
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def prod_settings(jwks_url: str, **settings: Any) -> Settings:
    return Settings(
        environment="prod",
        auth=AuthSettings(jwks_url=jwks_url),
        publisher=PublisherSettings(token_keys=[Fernet.generate_key().decode()]),
        listening=ListeningSettings(credential_keys=[Fernet.generate_key().decode()]),
        media=MediaSettings(url_signing_keys=["a-real-media-link-key-from-vault"]),
        **settings,
    )


def claims(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "sub": "sso|marco",
        "roles": ["manager"],
        "orgs": ["*"],
        "iss": "atlantide-engage",
        "aud": "atlantide-engage",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }


def signed(key: PrivateKey, kid: str, algorithm: str = "RS256", **overrides: object) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(key: rsa.RSAPrivateKey, kid: str) -> str:
    """The algorithm-confusion forgery: HS256 with the provider's public key as the secret."""
    secret = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims(iat=0, exp=2**31)).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


async def refused(verifier: TokenVerifier, token: str) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        await verifier.verify(token)
    assert caught.value.status == 401
    assert caught.value.detail == UNAUTHORIZED_DETAIL
    return caught.value


# -- verification against the JWKS -------------------------------------------------------------


async def test_rs256_and_es256_tokens_verify_against_the_key_set(
    idp: IdentityProvider, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    idp.publish("rsa-1", rsa_key)
    idp.publish("ec-1", ec_key)
    verifier = TokenVerifier(prod_settings(idp.url))

    assert (await verifier.verify(signed(rsa_key, "rsa-1"))).subject == "sso|marco"
    principal = await verifier.verify(signed(ec_key, "ec-1", "ES256", sub="sso|giulia"))
    assert principal.subject == "sso|giulia"
    assert principal.roles_in(uuid.uuid4()) == {Role.MANAGER}
    assert idp.requests == 1


async def test_hs256_and_keys_for_other_algorithms_are_refused(
    idp: IdentityProvider, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    idp.publish("rsa-1", rsa_key)
    idp.publish("ec-1", ec_key)
    verifier = TokenVerifier(prod_settings(idp.url))

    await refused(verifier, hs256_with_public_key(rsa_key, "rsa-1"))
    # The header names another algorithm than the key's.
    await refused(verifier, signed(rsa_key, "ec-1"))
    await refused(verifier, signed(rsa_key, "rsa-1", "RS512"))
    dev = issue_dev_token(Settings(environment="test"), "dev", [Role.ADMIN], ["*"])
    await refused(verifier, dev)

    only_es256 = prod_settings(idp.url).model_copy(
        update={"auth": AuthSettings(jwks_url=idp.url, jwks_algorithms=["ES256"])}
    )
    await refused(TokenVerifier(only_es256), signed(rsa_key, "rsa-1"))
    assert await TokenVerifier(only_es256).verify(signed(ec_key, "ec-1", "ES256"))


# -- rate-limited fetches ----------------------------------------------------------------------


async def test_unknown_key_ids_do_not_refetch_the_key_set_within_the_window(
    idp: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    idp.publish("rsa-1", rsa_key)
    verifier = TokenVerifier(prod_settings(idp.url))
    assert await verifier.verify(signed(rsa_key, "rsa-1"))

    for _ in range(50):
        await refused(verifier, signed(rsa_key, uuid.uuid4().hex))
    await refused(verifier, jwt.encode(claims(), rsa_key, algorithm="RS256"))  # no kid at all

    assert idp.requests == 1
    assert await verifier.verify(signed(rsa_key, "rsa-1")), "the cached keys still answer"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rotated_key_is_fetched_once_the_window_has_passed(
    idp: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    client = RateLimitedJWKClient(
        idp.url, min_refetch_seconds=60, cache_seconds=300, timeout=5, clock=clock
    )
    idp.publish("old", rsa_key)
    assert client.get_signing_key("old").key_id == "old"

    idp.publish("new", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    clock.now += 59
    with pytest.raises(jwt.PyJWKClientError):
        client.get_signing_key("new")
    assert idp.requests == 1

    clock.now += 1
    assert client.get_signing_key("new").key_id == "new"
    for _ in range(10):
        with pytest.raises(jwt.PyJWKClientError):
            client.get_signing_key("made-up")
    assert idp.requests == 2


def test_a_failing_identity_provider_is_not_asked_again_within_the_window(
    idp: IdentityProvider, rsa_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    client = RateLimitedJWKClient(
        idp.url, min_refetch_seconds=60, cache_seconds=300, timeout=5, clock=clock
    )
    idp.publish("rsa-1", rsa_key)
    idp.failing = True
    for _ in range(10):
        with pytest.raises(jwt.PyJWKClientConnectionError):
            client.get_signing_key("rsa-1")
    assert idp.requests == 1

    idp.failing = False
    clock.now += 60
    assert client.get_signing_key("rsa-1").key_id == "rsa-1"
    assert idp.requests == 2


# -- one 401 for every refused token -----------------------------------------------------------


def protected_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setitem(PERMISSIONS, "whoami", EVERYONE)
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    return app


async def test_every_refused_token_gets_the_same_401(
    idp: IdentityProvider,
    rsa_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    idp.publish("rsa-1", rsa_key)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app = protected_app(prod_settings(idp.url), monkeypatch)
    tokens = {
        "expired": signed(rsa_key, "rsa-1", exp=datetime.now(UTC) - timedelta(minutes=1)),
        "bad signature": signed(stranger, "rsa-1"),
        "wrong algorithm": hs256_with_public_key(rsa_key, "rsa-1"),
        "unknown key": signed(rsa_key, "rsa-2"),
        "another audience": signed(rsa_key, "rsa-1", aud="another-product"),
        "bad claims": signed(rsa_key, "rsa-1", orgs=["not-a-uuid"]),
        "garbage": "not-a-jwt",
    }
    caplog.set_level("INFO", logger="shared.auth")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        valid = await client.get(
            "/whoami", headers={"Authorization": f"Bearer {signed(rsa_key, 'rsa-1')}"}
        )
        answers = {
            case: await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
            for case, token in tokens.items()
        }
        answers["missing"] = await client.get("/whoami")

    assert valid.status_code == 200, valid.text
    expected = {
        "type": "urn:engage:problem:unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": UNAUTHORIZED_DETAIL,
        "instance": "/whoami",
    }
    for case, response in answers.items():
        assert response.status_code == 401, case
        assert response.headers["content-type"].startswith("application/problem+json"), case
        assert response.headers["www-authenticate"].startswith("Bearer"), case
        assert response.json() == expected, case
    # Whoever runs the gateway still learns why.
    logged = caplog.text
    assert "ExpiredSignatureError" in logged
    assert "InvalidSignatureError" in logged
    assert "InvalidAudienceError" in logged


# -- interactive API pages ---------------------------------------------------------------------


async def fetch_pages(settings: Settings) -> dict[str, int]:
    transport = httpx.ASGITransport(app=build_gateway(settings, apis=[]))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return {
            path: (await client.get(path)).status_code
            for path in ("/docs", "/redoc", "/openapi.json")
        }


async def test_docs_are_served_outside_prod_and_off_in_prod_unless_enabled() -> None:
    jwks_url = "https://idp.example/.well-known/jwks.json"
    assert await fetch_pages(Settings(environment="test")) == {
        "/docs": 200,
        "/redoc": 200,
        "/openapi.json": 200,
    }
    assert await fetch_pages(prod_settings(jwks_url)) == {
        "/docs": 404,
        "/redoc": 404,
        "/openapi.json": 200,
    }
    assert await fetch_pages(prod_settings(jwks_url, docs_enabled=True)) == {
        "/docs": 200,
        "/redoc": 200,
        "/openapi.json": 200,
    }
    assert (await fetch_pages(Settings(environment="dev", docs_enabled=False)))["/docs"] == 404
