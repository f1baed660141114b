"""The console's sign-in at the identity provider: OpenID Connect's authorization-code flow with
PKCE (RFC 7636), the console being a public client.

``/console/oidc/start`` makes a ``state``, a ``nonce`` and a ``code_verifier``, keeps them in a
short-lived HttpOnly cookie of the flow's own path, and sends the browser to the provider's
authorization endpoint with the verifier's S256 challenge. The provider sends the browser back
to ``/console/oidc/callback`` with a code: the state must be the one in the cookie (else the
answer came from a flow this browser did not start), and the code is exchanged at the token
endpoint with the verifier. The access token is handed to the console's page, which keeps it as
the development sign-in does (the tab's ``sessionStorage``).

The endpoints are the operator's configuration (``AuthSettings``): the issuer's discovery
document, or the two URLs set explicitly. Like the JWKS the gateway verifies tokens with, they
are usually on the cluster's private network, so they are fetched directly, not through
``shared.safe_fetch`` (which refuses private addresses, as it should for URLs users give).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from shared.settings import AuthSettings

FLOW_COOKIE = "engage_console_oidc"
FLOW_PATH = "/console/oidc"
# How long a person may take at the provider before the flow is forgotten.
FLOW_SECONDS = 600
DISCOVERY_PATH = "/.well-known/openid-configuration"


class OidcError(Exception):
    """Why a sign-in at the provider could not finish, said to the person signing in."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str


@dataclass(frozen=True)
class Flow:
    """One sign-in under way: what the callback must find again."""

    state: str
    nonce: str
    verifier: str
    next: str


def offered(auth: AuthSettings) -> bool:
    return bool(auth.jwks_url and auth.console_client_id)


def new_flow(next_page: str) -> Flow:
    return Flow(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        # 64 bytes: 86 characters, inside RFC 7636's 43 to 128.
        verifier=secrets.token_urlsafe(64),
        next=next_page,
    )


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def flow_cookie(flow: Flow) -> str:
    return base64.urlsafe_b64encode(json.dumps(asdict(flow)).encode()).decode("ascii")


def flow_of(cookie: str | None) -> Flow | None:
    if not cookie:
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(cookie.encode("ascii")))
        return Flow(**{name: str(fields[name]) for name in ("state", "nonce", "verifier", "next")})
    except (ValueError, KeyError, TypeError):
        return None


async def provider(auth: AuthSettings, wait_seconds: float) -> Provider:
    """The provider's endpoints: from the settings, else from the issuer's discovery document."""
    if auth.oidc_authorization_url and auth.oidc_token_url:
        return Provider(auth.oidc_authorization_url, auth.oidc_token_url)
    url = auth.issuer.rstrip("/") + DISCOVERY_PATH
    document = await _json(
        "GET", url, wait_seconds, what=f"the identity provider's discovery document ({url})"
    )
    if document.get("issuer") != auth.issuer:
        raise OidcError(
            502,
            f"the discovery document names the issuer {document.get('issuer')!r}, "
            f"not {auth.issuer!r} (ENGAGE_AUTH__ISSUER)",
        )
    try:
        return Provider(
            auth.oidc_authorization_url or str(document["authorization_endpoint"]),
            auth.oidc_token_url or str(document["token_endpoint"]),
        )
    except KeyError as missing:
        raise OidcError(502, f"the discovery document has no {missing}") from None


def authorization_url(
    endpoints: Provider, auth: AuthSettings, flow: Flow, redirect_uri: str
) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": auth.console_client_id or "",
            "redirect_uri": redirect_uri,
            "scope": auth.console_scopes,
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": code_challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in endpoints.authorization_endpoint else "?"
    return f"{endpoints.authorization_endpoint}{separator}{query}"


async def exchange(
    endpoints: Provider,
    auth: AuthSettings,
    flow: Flow,
    code: str,
    redirect_uri: str,
    wait_seconds: float,
) -> str:
    """The access token the provider gives for ``code`` and the flow's verifier."""
    answer = await _json(
        "POST",
        endpoints.token_endpoint,
        wait_seconds,
        what="the identity provider's token endpoint",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": auth.console_client_id or "",
            "code_verifier": flow.verifier,
        },
    )
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise OidcError(502, "the identity provider's token answer has no access_token")
    return token


async def _json(
    method: str, url: str, wait_seconds: float, *, what: str, data: dict[str, str] | None = None
) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=wait_seconds, trust_env=False) as client:
            response = await client.request(
                method, url, data=data, headers={"Accept": "application/json"}
            )
    except httpx.HTTPError as error:
        raise OidcError(502, f"{what} did not answer ({error.__class__.__name__})") from error
    try:
        body = response.json()
    except ValueError:
        body = None
    if not response.is_success:
        said = body.get("error_description") or body.get("error") if isinstance(body, dict) else ""
        raise OidcError(502, f"{what} answered {response.status_code} {said or ''}".strip())
    if not isinstance(body, dict):
        raise OidcError(502, f"{what} did not answer with a JSON object")
    return body
