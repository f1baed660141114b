"""OAuth 2.0 helpers: authorize URLs with state and PKCE, the code exchange and the refresh
grant, against the fake X token endpoint (tests/fakes/x.py)."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from services.publisher.connectors.base import (
    AuthError,
    Credentials,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.connectors.oauth import (
    ENDPOINTS,
    OAuthApp,
    OAuthEndpoints,
    code_challenge,
    exchange_code,
    refresh_access_token,
    start_authorization,
)
from shared.domain import Channel
from tests.fakes import x
from tests.fakes.common import Fault, serve

APP = OAuthApp(x.CLIENT_ID, SecretStr(x.CLIENT_SECRET), "https://engage.example/oauth/callback")
Fake = tuple[x.FakeX, OAuthEndpoints, httpx.AsyncClient]


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    platform = x.FakeX()
    async with serve(platform.app) as base_url, httpx.AsyncClient(timeout=0.5) as http:
        yield platform, ENDPOINTS[Channel.X].rebased(base_url), http


def params(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_pkce_follows_the_rfc_7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_x_authorize_url_carries_state_scopes_and_an_s256_challenge() -> None:
    start = start_authorization(ENDPOINTS[Channel.X], APP)
    query = params(start.url)

    assert start.url.startswith("https://x.com/i/oauth2/authorize?")
    assert start.code_verifier is not None
    assert 43 <= len(start.code_verifier) <= 128
    assert set(start.code_verifier) <= set(string.ascii_letters + string.digits + "-._~")
    assert query == {
        "response_type": "code",
        "client_id": x.CLIENT_ID,
        "redirect_uri": APP.redirect_uri,
        "scope": "tweet.read tweet.write users.read media.write offline.access",
        "state": start.state,
        "code_challenge": code_challenge(start.code_verifier),
        "code_challenge_method": "S256",
    }


def test_each_authorization_gets_its_own_state_unless_one_is_given() -> None:
    first, second = (start_authorization(ENDPOINTS[Channel.X], APP) for _ in range(2))
    assert first.state != second.state
    assert start_authorization(ENDPOINTS[Channel.X], APP, state="mine").state == "mine"


def test_meta_uses_comma_scopes_and_no_pkce_and_google_asks_for_offline_access() -> None:
    meta = params(start_authorization(ENDPOINTS[Channel.FACEBOOK], APP).url)
    google = params(start_authorization(ENDPOINTS[Channel.YOUTUBE], APP).url)

    assert "code_challenge" not in meta
    assert meta["scope"] == "pages_show_list,pages_read_engagement,pages_manage_posts,read_insights"
    assert (google["access_type"], google["prompt"]) == ("offline", "consent")
    assert google["code_challenge_method"] == "S256"


def test_mastodon_endpoints_are_rebased_on_the_instance() -> None:
    endpoints = ENDPOINTS[Channel.MASTODON].rebased("https://social.example")
    assert endpoints.tokens_url == "https://social.example/oauth/token"
    assert endpoints.authorize_url == "https://social.example/oauth/authorize"


async def test_the_code_is_exchanged_with_its_verifier_for_tokens(fake: Fake) -> None:
    platform, endpoints, http = fake
    start = start_authorization(endpoints, APP)
    assert start.code_verifier is not None
    platform.codes["code-1"] = code_challenge(start.code_verifier)

    credentials = await exchange_code(
        http, endpoints, APP, "code-1", code_verifier=start.code_verifier
    )

    assert credentials.access_token.startswith("x-access-")
    assert credentials.refresh_token == platform.refresh_token
    assert credentials.expires_at is not None
    expected = datetime.now(UTC) + timedelta(seconds=7200)
    assert abs((credentials.expires_at - expected).total_seconds()) < 5
    [seen] = platform.requests("token")
    assert seen.payload["redirect_uri"] == APP.redirect_uri
    assert "client_secret" not in seen.payload


async def test_a_wrong_verifier_is_refused_as_an_auth_error(fake: Fake) -> None:
    platform, endpoints, http = fake
    platform.codes["code-2"] = code_challenge("the-real-verifier-" + "v" * 30)
    with pytest.raises(AuthError):
        await exchange_code(http, endpoints, APP, "code-2", code_verifier="another-" + "v" * 40)


async def test_refresh_needs_a_refresh_token(fake: Fake) -> None:
    _, endpoints, http = fake
    with pytest.raises(AuthError, match="no refresh token"):
        await refresh_access_token(http, endpoints, APP, Credentials(access_token="t"))


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.SERVER_ERROR, UnknownOutcomeError),
        (Fault.RATE_LIMITED, RetryableError),
        (Fault.SLOW_AFTER_ACCEPT, UnknownOutcomeError),
    ],
)
async def test_a_token_request_is_a_write_whose_lost_answer_is_unknown(
    fake: Fake, fault: Fault, error: type[Exception]
) -> None:
    platform, endpoints, http = fake
    platform.fail_next("token", fault)
    credentials = Credentials(access_token="t", refresh_token=x.REFRESH_TOKEN)
    with pytest.raises(error):
        await refresh_access_token(http, endpoints, APP, credentials)
