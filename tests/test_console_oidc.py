"""The console's sign-in at an identity provider (OpenID Connect, authorization code with PKCE),
against a local fake provider, in a real headless Chromium.

A gateway configured with the provider's JWKS and the console's client id (and a strategy
service verifying tokens the same way, since the gateway forwards the caller's token) runs beside
the test platform. The person clicks "Sign in with the provider", is sent back with a code, the
gateway exchanges it with the PKCE verifier, and the console keeps the access token: the
engagements page opens and the token works on ``/v1``. A callback whose state is not the one the
browser's sign-in started with is refused with a message saying so.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from services.gateway.app import build_app as build_gateway
from services.strategy.app import build_app as build_strategy
from tests.conftest import Platform, as_role, free_port
from tests.console_browser import chromium, in_browser, screenshots, wait_for, wait_for_text
from tests.console_oidc import CLIENT_ID, SUBJECT, FakeProvider, serving


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


@dataclass
class SignInAtProvider:
    provider: FakeProvider
    gateway_url: str


@pytest.fixture
async def with_provider(platform: Platform) -> AsyncIterator[SignInAtProvider]:
    provider_port, strategy_port, gateway_port = free_port(), free_port(), free_port()
    provider = FakeProvider(
        issuer=f"http://127.0.0.1:{provider_port}", audience=platform.settings.auth.audience
    )
    auth = platform.settings.auth.model_copy(
        update={
            "jwks_url": f"{provider.issuer}/jwks",
            "issuer": provider.issuer,
            "console_client_id": CLIENT_ID,
        }
    )
    ports = platform.settings.ports.model_copy(
        update={"strategy": strategy_port, "gateway": gateway_port}
    )
    settings = platform.settings.model_copy(update={"auth": auth, "ports": ports})
    async with contextlib.AsyncExitStack() as running:
        await running.enter_async_context(serving(provider.app(), provider_port))
        await running.enter_async_context(
            serving(build_strategy(as_role(settings, "strategy")), strategy_port)
        )
        await running.enter_async_context(serving(build_gateway(settings), gateway_port))
        yield SignInAtProvider(provider, f"http://127.0.0.1:{gateway_port}")


async def test_the_console_signs_in_at_the_identity_provider_with_pkce(
    with_provider: SignInAtProvider, browser: WebDriver
) -> None:
    base = with_provider.gateway_url

    def sign_in_at_the_provider() -> str:
        browser.get(f"{base}/console")
        browser.execute_script("sessionStorage.clear()")
        browser.get(f"{base}/console/engagements?lang=en")
        # Tokens come from the provider here: no development sign-in is offered.
        wait_for(browser, "#oidc-start")
        assert not browser.find_elements("css selector", "#dev-sign-in")
        screenshots(browser, "12-sign-in-oidc")
        wait_for(browser, "#oidc-start").click()
        wait_for_text(browser, "#who-name", SUBJECT)
        # Back where the person was going, signed in.
        assert browser.current_url == f"{base}/console/engagements?lang=en"
        wait_for(browser, "#engagements table, #engagements p")
        token: str = browser.execute_script("return sessionStorage.getItem('engage.console.token')")
        return token

    token = await in_browser(sign_in_at_the_provider)
    # The code was exchanged once, with the verifier whose challenge the provider was given.
    [exchange] = with_provider.provider.exchanges
    assert exchange["client_id"] == CLIENT_ID
    assert exchange["redirect_uri"] == f"{base}/console/oidc/callback"
    assert len(exchange["code_verifier"]) >= 43
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        listed = await client.get("/v1/organizations", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.text


async def test_a_callback_with_another_state_is_refused(
    with_provider: SignInAtProvider,
) -> None:
    async with httpx.AsyncClient(base_url=with_provider.gateway_url, timeout=30) as client:
        started = await client.get("/console/oidc/start", params={"next": "/console/engagements"})
        assert started.status_code == 303, started.text
        asked = parse_qs(urlsplit(started.headers["location"]).query)
        assert asked["code_challenge_method"] == ["S256"]
        assert asked["client_id"] == [CLIENT_ID]
        # The provider answers, but with a state this browser's sign-in did not start.
        at_provider = await client.get(started.headers["location"])
        code = parse_qs(urlsplit(at_provider.headers["location"]).query)["code"][0]
        refused = await client.get(
            "/console/oidc/callback",
            params={"code": code, "state": "made-up"},
            headers={"Accept-Language": "en"},
        )
        assert refused.status_code == 400
        shown = html.unescape(refused.text)
        assert "does not carry the state this browser's sign-in started with" in shown
        assert with_provider.provider.exchanges == []  # the code was never exchanged

        # Without the flow's cookie (another browser), nothing is under way.
        client.cookies.clear()
        stranger = await client.get(
            "/console/oidc/callback", params={"code": code, "state": asked["state"][0]}
        )
        assert stranger.status_code == 400
        assert "no sign-in under way" in html.unescape(stranger.text)
