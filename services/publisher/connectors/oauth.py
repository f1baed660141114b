"""OAuth 2.0 authorization-code flow (RFC 6749 §4.1) with PKCE (RFC 7636) where the platform
supports it, for every platform that uses it, plus the refresh grant (RFC 6749 §6).

Each platform's endpoints, scopes and client authentication are documented at:

- Facebook and Instagram (Facebook Login for Business):
  https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow and, for
  long-lived tokens (Meta has no refresh grant; a token is exchanged for a fresh one),
  https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived
- X: https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code
  (PKCE required; confidential clients authenticate with HTTP Basic)
- YouTube: https://developers.google.com/identity/protocols/oauth2/web-server
- Pinterest: https://developers.pinterest.com/docs/getting-started/authentication-and-scopes/
  (HTTP Basic at ``/v5/oauth/token``)
- Vimeo: https://developer.vimeo.com/api/authentication (tokens do not expire)
- Mastodon: https://docs.joinmastodon.org/methods/oauth/ (per instance; PKCE since 4.3)

Secrets are sent in the request body or the ``Authorization`` header, never in a URL.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, SecretStr

from services.publisher.connectors.base import AuthError, ConnectorError, Credentials
from services.publisher.connectors.http import PlatformApi, classify_by_status, error_detail
from shared.domain import Channel

GRAPH_VERSION = "v21.0"


@dataclass(frozen=True)
class OAuthApp:
    """The agency's registered app on one platform."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str


@dataclass(frozen=True)
class OAuthEndpoints:
    authorize_url: str
    tokens_url: str
    scopes: tuple[str, ...]
    scope_separator: str = " "
    pkce: bool = False
    # Where the client secret goes at the token endpoint.
    client_auth: Literal["basic", "body"] = "body"
    # Meta exchanges a token for a fresh long-lived one instead of a refresh grant.
    refresh_grant: Literal["refresh_token", "fb_exchange_token"] = "refresh_token"
    extra_authorize_params: tuple[tuple[str, str], ...] = ()

    def rebased(self, base_url: str) -> OAuthEndpoints:
        """The same endpoints on another host (a local fake or a Mastodon instance)."""
        return replace(
            self,
            authorize_url=_rebase(self.authorize_url, base_url),
            tokens_url=_rebase(self.tokens_url, base_url),
        )


def _rebase(url: str, base_url: str) -> str:
    base = urlsplit(base_url)
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, "", ""))


_META_LOGIN = OAuthEndpoints(
    authorize_url=f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
    tokens_url=f"https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token",
    scopes=("pages_show_list", "pages_read_engagement", "pages_manage_posts", "read_insights"),
    scope_separator=",",
    refresh_grant="fb_exchange_token",
)

ENDPOINTS: dict[Channel, OAuthEndpoints] = {
    Channel.FACEBOOK: _META_LOGIN,
    Channel.INSTAGRAM: replace(
        _META_LOGIN,
        scopes=(
            "instagram_basic",
            "instagram_content_publish",
            "instagram_manage_insights",
            "pages_show_list",
            "pages_read_engagement",
        ),
    ),
    Channel.X: OAuthEndpoints(
        authorize_url="https://x.com/i/oauth2/authorize",
        tokens_url="https://api.x.com/2/oauth2/token",
        scopes=("tweet.read", "tweet.write", "users.read", "media.write", "offline.access"),
        pkce=True,
        client_auth="basic",
    ),
    Channel.YOUTUBE: OAuthEndpoints(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        tokens_url="https://oauth2.googleapis.com/token",
        scopes=(
            "https://www.googleapis.com/auth/youtube.upload",
            "https://www.googleapis.com/auth/youtube",
        ),
        pkce=True,
        # Without these Google issues no refresh token.
        extra_authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    ),
    Channel.PINTEREST: OAuthEndpoints(
        authorize_url="https://www.pinterest.com/oauth/",
        tokens_url="https://api.pinterest.com/v5/oauth/token",
        scopes=("boards:read", "pins:read", "pins:write", "user_accounts:read"),
        scope_separator=",",
        client_auth="basic",
    ),
    Channel.VIMEO: OAuthEndpoints(
        authorize_url="https://api.vimeo.com/oauth/authorize",
        tokens_url="https://api.vimeo.com/oauth/access_token",
        scopes=("public", "private", "upload", "edit", "delete", "stats"),
        client_auth="basic",
    ),
    # Per instance: rebased on the instance's URL before use.
    Channel.MASTODON: OAuthEndpoints(
        authorize_url="https://mastodon.social/oauth/authorize",
        tokens_url="https://mastodon.social/oauth/token",
        scopes=("read:accounts", "read:statuses", "write:statuses", "write:media"),
        pkce=True,
    ),
}


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the user, and what to keep until the callback comes back."""

    url: str
    state: str
    code_verifier: str | None


def start_authorization(
    endpoints: OAuthEndpoints, app: OAuthApp, *, state: str | None = None
) -> AuthorizationStart:
    state = state or secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": endpoints.scope_separator.join(endpoints.scopes),
        "state": state,
        **dict(endpoints.extra_authorize_params),
    }
    verifier = None
    if endpoints.pkce:
        verifier = secrets.token_urlsafe(64)
        params |= {"code_challenge": code_challenge(verifier), "code_challenge_method": "S256"}
    return AuthorizationStart(f"{endpoints.authorize_url}?{urlencode(params)}", state, verifier)


def code_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str | None = None
    expires_in: int | None = None


async def exchange_code(
    http: httpx.AsyncClient,
    endpoints: OAuthEndpoints,
    app: OAuthApp,
    code: str,
    *,
    code_verifier: str | None = None,
) -> Credentials:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
    if code_verifier is not None:
        form["code_verifier"] = code_verifier
    token = await _token_request(http, endpoints, app, form)
    return _credentials(token, previous=None)


async def refresh_access_token(
    http: httpx.AsyncClient, endpoints: OAuthEndpoints, app: OAuthApp, credentials: Credentials
) -> Credentials:
    if endpoints.refresh_grant == "fb_exchange_token":
        form = {"grant_type": "fb_exchange_token", "fb_exchange_token": credentials.access_token}
    elif credentials.refresh_token is None:
        raise AuthError("no refresh token: the connection must be authorised again")
    else:
        form = {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token}
    token = await _token_request(http, endpoints, app, form)
    return _credentials(token, previous=credentials)


async def _token_request(
    http: httpx.AsyncClient, endpoints: OAuthEndpoints, app: OAuthApp, form: dict[str, str]
) -> TokenResponse:
    secret = app.client_secret.get_secret_value()
    auth: httpx.BasicAuth | None = None
    if endpoints.client_auth == "basic":
        auth = httpx.BasicAuth(app.client_id, secret)
    else:
        form = form | {"client_id": app.client_id, "client_secret": secret}
    api = PlatformApi(http, endpoints.tokens_url, classify_token_error, name="oauth")
    # A token request is a write: a lost answer may have rotated the refresh token.
    return await api.fetch(
        "POST", endpoints.tokens_url, TokenResponse, write=True, data=form, auth=auth
    )


def classify_token_error(response: httpx.Response, write: bool) -> ConnectorError:
    # RFC 6749 §5.2: 400 invalid_grant and friends mean the grant can no longer be used.
    if response.status_code in (400, 401, 403):
        return AuthError(f"token endpoint refused the grant: {error_detail(response)}")
    return classify_by_status(response, write, f"token endpoint: {error_detail(response)}")


def _credentials(token: TokenResponse, previous: Credentials | None) -> Credentials:
    expires_at = None
    if token.expires_in is not None:
        expires_at = datetime.now(UTC) + timedelta(seconds=token.expires_in)
    return Credentials(
        access_token=token.access_token,
        # Platforms that do not rotate refresh tokens leave it out of the refresh answer.
        refresh_token=token.refresh_token or (previous.refresh_token if previous else None),
        expires_at=expires_at,
        extra=previous.extra if previous else {},
    )
