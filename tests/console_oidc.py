"""A local OpenID Connect provider for the console's sign-in tests, and a server to run it on.

It serves discovery, an authorization endpoint that signs the person in at once and sends the
browser back with a code, a token endpoint that checks the code, the redirect URI, the client
and the PKCE verifier (S256) before it signs an RS256 access token, and the JWKS with the public
half of the RSA key it generated.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm

from shared.auth import ALL_ORGANIZATIONS, Role

CLIENT_ID = "engage-console"
KEY_ID = "console-test-key"
SUBJECT = "giulia.pm@agency.example"
TOKEN_SECONDS = 600
SHUTDOWN_SECONDS = 3
SHUTDOWN_SECONDS = 3


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str


@dataclass
class FakeProvider:
    """The provider at ``issuer``; what its token endpoint was sent is kept in ``exchanges``."""

    issuer: str
    audience: str
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    grants: dict[str, Grant] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/.well-known/openid-configuration", self.discovery)
        app.add_api_route("/authorize", self.authorize)
        app.add_api_route("/token", self.token, methods=["POST"])
        app.add_api_route("/jwks", self.jwks)
        return app

    async def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        }

    async def authorize(self, request: Request) -> Response:
        asked = request.query_params
        if (
            asked.get("response_type") != "code"
            or asked.get("client_id") != CLIENT_ID
            or asked.get("code_challenge_method") != "S256"
            or not asked.get("code_challenge")
            or "openid" not in asked.get("scope", "").split()
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            asked["client_id"], asked["redirect_uri"], asked["code_challenge"]
        )
        back = urlencode({"code": code, "state": asked.get("state", "")})
        return RedirectResponse(f"{asked['redirect_uri']}?{back}", status_code=302)

    async def token(self, request: Request) -> Response:
        sent = {
            name: values[0] for name, values in parse_qs((await request.body()).decode()).items()
        }
        self.exchanges.append(sent)
        grant = self.grants.pop(sent.get("code", ""), None)
        verifier = sent.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            grant is None
            or sent.get("grant_type") != "authorization_code"
            or sent.get("client_id") != grant.client_id
            or sent.get("redirect_uri") != grant.redirect_uri
            or challenge != grant.challenge
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": SUBJECT,
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            "org_roles": {ALL_ORGANIZATIONS: [Role.MANAGER.value]},
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KEY_ID})
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}
        )

    async def jwks(self) -> dict[str, Any]:
        public: dict[str, Any] = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    """``app`` on 127.0.0.1:``port`` until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            # A live stream the console left open must not hold the shutdown.
            timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task
