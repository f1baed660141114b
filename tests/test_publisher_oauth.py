"""Connecting a channel account with the OAuth 2.0 authorization-code flow: through the gateway
against the sandbox (whose authorize endpoint approves at once), with PKCE against the fake X
token endpoint (tests/fakes/x.py), and Facebook Pages and Instagram accounts through the publisher's
HTTP API against the fake Graph API (tests/fakes/graph.py: a login's short-lived token becomes a
Page token that does not expire)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from pydantic import HttpUrl, SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.app import build_app as build_publisher
from services.publisher.connectors.oauth import code_challenge
from services.publisher.crypto import TokenVault
from services.publisher.models import Connection, OAuthState
from services.publisher.oauth_flow import OAuthFlow
from services.publisher.schemas import OAuthComplete, OAuthStart
from shared.auth import Principal, Role, issue_dev_token
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.settings import OAuthAppSettings, Settings
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages
from tests.fakes import facebook, graph, instagram, x
from tests.fakes.common import VALID_TOKEN, FakePlatform, serve
from tests.publisher_helpers import REDIRECT_URI, SandboxAccount, schedule, settled
from tests.test_thin_thread import create_org

CONNECTION_FIELDS = {
    "id",
    "organization_id",
    "channel",
    "account_id",
    "display_name",
    "status",
    "expires_at",
    "created_at",
}


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def start(
    platform: Platform, organization_id: str, role: Role = Role.MANAGER, **fields: Any
) -> httpx.Response:
    return await platform.gateway.post(
        "/v1/connections/oauth/start",
        json={
            "organization_id": organization_id,
            "channel": "sandbox",
            "redirect_uri": REDIRECT_URI,
            **fields,
        },
        headers=platform.auth(role, orgs=[organization_id]),
    )


async def approve(sandbox: httpx.AsyncClient, authorize_url: str) -> dict[str, str]:
    """The user approves on the platform, which redirects back with the code and the state."""
    redirect = await sandbox.get(authorize_url)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return query_of(location)


async def complete(
    platform: Platform, organization_id: str, state: str, code: str
) -> httpx.Response:
    return await platform.gateway.post(
        "/v1/connections/oauth/complete",
        json={"state": state, "code": code},
        headers=platform.auth(Role.MANAGER, orgs=[organization_id]),
    )


async def state_exists(sessions: async_sessionmaker[AsyncSession], state: str) -> bool:
    async with session_scope(sessions, SYSTEM) as session:
        return await session.get(OAuthState, state) is not None


async def test_oauth_connects_a_sandbox_account_that_can_then_publish(
    platform: Platform,
    sandbox: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    organization_id = await create_org(platform)
    started = await start(platform, organization_id)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body.keys() == {"authorize_url", "state", "expires_at"}
    expires_in = datetime.fromisoformat(body["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=9) < expires_in <= timedelta(minutes=10)
    sandbox_url = f"http://127.0.0.1:{platform.settings.ports.sandbox}"
    assert body["authorize_url"].startswith(f"{sandbox_url}/oauth/authorize?")
    assert query_of(body["authorize_url"])["state"] == body["state"]
    assert await state_exists(sessions, body["state"])

    returned = await approve(sandbox, body["authorize_url"])
    assert returned["state"] == body["state"]
    completed = await complete(platform, organization_id, returned["state"], returned["code"])

    assert completed.status_code == 200, completed.text
    connection = completed.json()
    assert connection.keys() == CONNECTION_FIELDS
    assert connection["organization_id"] == organization_id
    assert (connection["channel"], connection["status"]) == ("sandbox", "active")
    assert connection["account_id"].startswith("acct-")
    assert not await state_exists(sessions, body["state"])
    reused = await complete(platform, organization_id, returned["state"], returned["code"])
    assert reused.status_code == 404

    async with session_scope(sessions, SYSTEM) as session:
        row = await session.get(Connection, uuid.UUID(connection["id"]))
        assert row is not None
        credentials = TokenVault(platform.settings.publisher).open(row.token_ciphertext)
    account = SandboxAccount(
        organization_id,
        connection["id"],
        connection["account_id"],
        credentials.access_token,
        sandbox,
    )
    publication = await schedule(platform, account, in_seconds=0.5)
    assert (await settled(platform, publication["id"]))["status"] == "published"
    assert len(await account.posts(publication["idempotency_key"])) == 1

    events = platform.settings.events

    async def announced() -> bool:
        messages = await stream_messages(
            nats_client.jetstream(), events.stream, f"{events.subject_prefix}.publisher.>"
        )
        told = [json.loads(msg.data) for msg in messages]
        return any(
            event["data"].get("connection_id") == connection["id"]
            and event["type"] == "engage.publisher.channel_connected.v1"
            for event in told
        )

    await wait_until(announced, timeout=10, interval=0.2)


async def test_oauth_reconnects_the_account_it_was_asked_for(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    organization_id = await create_org(platform)
    account = await sandbox.post("/v1/accounts", json={"name": "Cantina Aperta"})
    account_id = account.json()["id"]
    connection_ids: set[str] = set()
    for _ in range(2):
        started = await start(platform, organization_id, account_id=account_id)
        returned = await approve(sandbox, started.json()["authorize_url"])
        completed = await complete(platform, organization_id, returned["state"], returned["code"])
        assert completed.status_code == 200, completed.text
        assert completed.json()["account_id"] == account_id
        connection_ids.add(completed.json()["id"])
    assert len(connection_ids) == 1, "re-authorising updates the same connection"


async def test_an_expired_state_is_refused_and_forgotten(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    started = (await start(platform, organization_id)).json()
    returned = await approve(sandbox, started["authorize_url"])
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(OAuthState)
            .where(OAuthState.state == started["state"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    expired = await complete(platform, organization_id, started["state"], returned["code"])
    assert expired.status_code == 400, expired.text
    assert expired.json()["type"] == "urn:engage:problem:oauth-state-expired"
    assert not await state_exists(sessions, started["state"])
    again = await complete(platform, organization_id, started["state"], returned["code"])
    assert again.status_code == 404


async def test_unknown_and_foreign_states_are_not_found(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, other_id = await create_org(platform), await create_org(platform)
    unknown = await complete(platform, organization_id, "no-such-state-value", "code")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:engage:problem:not-found"

    started = (await start(platform, organization_id)).json()
    returned = await approve(sandbox, started["authorize_url"])
    foreign = await complete(platform, other_id, started["state"], returned["code"])
    assert foreign.status_code == 404, foreign.text
    assert await state_exists(sessions, started["state"]), "another organisation cannot use it"
    own = await complete(platform, organization_id, started["state"], returned["code"])
    assert own.status_code == 200, own.text


async def test_a_refused_code_ends_the_authorisation(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    started = (await start(platform, organization_id)).json()
    refused = await complete(platform, organization_id, started["state"], "forged-code")
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"] == "urn:engage:problem:oauth-code-refused"
    assert not await state_exists(sessions, started["state"])


async def test_starting_needs_a_connecting_role_and_a_connectable_channel(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    for role in (Role.EDITOR, Role.CLIENT_APPROVER, Role.CLIENT_VIEWER):
        forbidden = await start(platform, organization_id, role=role)
        assert forbidden.status_code == 403, role
    foreign = await platform.gateway.post(
        "/v1/connections/oauth/start",
        json={
            "organization_id": organization_id,
            "channel": "sandbox",
            "redirect_uri": REDIRECT_URI,
        },
        headers=platform.auth(Role.MANAGER, orgs=[str(uuid.uuid4())]),
    )
    assert foreign.status_code == 404

    not_a_url = await start(platform, organization_id, redirect_uri="not a url")
    assert not_a_url.status_code == 422
    assert [error["field"] for error in not_a_url.json()["errors"]] == ["body.redirect_uri"]
    no_api = await start(platform, organization_id, channel="foursquare", account_id="fsq")
    assert no_api.status_code == 422
    assert no_api.json()["type"] == "urn:engage:problem:channel-not-connectable"
    no_app = await start(platform, organization_id, channel="x", account_id="2244994945")
    assert no_app.status_code == 422
    assert "ENGAGE_PUBLISHER__OAUTH_APPS" in no_app.json()["detail"]
    no_account = await start(platform, organization_id, channel="x")
    assert no_account.status_code == 422
    assert [error["field"] for error in no_account.json()["errors"]] == ["body.account_id"]


async def test_x_is_connected_with_pkce_and_the_agencys_app(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fake = x.FakeX()
    organization_id = uuid.uuid4()
    principal = Principal(
        subject="manager",
        roles=frozenset({Role.MANAGER}),
        organizations=frozenset({organization_id}),
    )
    async with serve(fake.app) as base_url:
        publisher = settings.publisher.model_copy(
            update={
                "api_base_urls": {"x": base_url},
                "oauth_apps": {
                    "x": OAuthAppSettings(
                        client_id=x.CLIENT_ID, client_secret=SecretStr(x.CLIENT_SECRET)
                    )
                },
            }
        )
        vault = TokenVault(publisher)
        flow = OAuthFlow(settings.model_copy(update={"publisher": publisher}), vault)
        async with session_scope(sessions, principal.scope) as session:
            started = await flow.start(
                session,
                principal,
                OAuthStart(
                    organization_id=organization_id,
                    channel=Channel.X,
                    account_id=x.USER_ID,
                    redirect_uri=HttpUrl(REDIRECT_URI),
                ),
            )
        query = query_of(started.authorize_url)
        assert started.authorize_url.startswith(f"{base_url}/i/oauth2/authorize?")
        assert query["client_id"] == x.CLIENT_ID
        assert x.CLIENT_SECRET not in started.authorize_url
        assert query["code_challenge_method"] == "S256"
        async with session_scope(sessions, principal.scope) as session:
            kept = await session.get(OAuthState, started.state)
            assert kept is not None
            assert code_challenge(kept.code_verifier) == query["code_challenge"]
        fake.codes["approved-code"] = query["code_challenge"]

        async with session_scope(sessions, principal.scope) as session:
            connection = await flow.complete(
                session, OAuthComplete(state=started.state, code="approved-code")
            )
            credentials = vault.open(connection.token_ciphertext)
            assert await session.get(OAuthState, started.state) is None
            stored = await session.scalar(
                select(Connection).where(Connection.organization_id == organization_id)
            )
    assert stored is not None
    assert (stored.channel, stored.account_id, stored.status) == ("x", x.USER_ID, "active")
    assert credentials.access_token.startswith("x-access-")
    assert credentials.refresh_token == fake.refresh_token
    assert stored.expires_at is not None
    assert stored.expires_at - datetime.now(UTC) > timedelta(hours=1)
    token_call = fake.requests("token")[0].payload
    assert token_call["grant_type"] == "authorization_code"
    assert token_call["redirect_uri"] == REDIRECT_URI


# A login token Meta no longer exchanges (its hour has passed, or the user logged out).
EXPIRED_LOGIN = "expired-user-token"


def meta_fake(channel: str) -> facebook.FakeFacebook | instagram.FakeInstagram:
    return facebook.FakeFacebook() if channel == "facebook" else instagram.FakeInstagram()


@contextlib.asynccontextmanager
async def meta_publisher(
    settings: Settings, fake: FakePlatform, channel: str, organization_id: uuid.UUID
) -> AsyncIterator[httpx.AsyncClient]:
    """The publisher service over HTTP, with the agency's Meta app and the Graph API host pointed
    at ``fake``, called by a manager of the organisation."""
    async with serve(fake.app) as graph_url:
        publisher = settings.publisher.model_copy(
            update={
                "api_base_urls": {channel: graph_url},
                "oauth_apps": {
                    channel: OAuthAppSettings(
                        client_id=graph.APP_ID, client_secret=SecretStr(graph.APP_SECRET)
                    )
                },
            }
        )
        app = build_publisher(settings.model_copy(update={"publisher": publisher}))
        token = issue_dev_token(settings, "manager", [Role.MANAGER], [str(organization_id)])
        async with (
            serve(app) as url,
            httpx.AsyncClient(
                base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"}
            ) as client,
        ):
            yield client


async def meta_login(
    client: httpx.AsyncClient, organization_id: uuid.UUID, channel: str, page_id: str
) -> str:
    """Start the authorisation for ``page_id``; the state to come back with."""
    started = await client.post(
        "/connections/oauth/start",
        json={
            "organization_id": str(organization_id),
            "channel": channel,
            "account_id": page_id,
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert started.status_code == 201, started.text
    url = started.json()["authorize_url"]
    assert urlsplit(url).path == "/v21.0/dialog/oauth"
    assert query_of(url)["client_id"] == graph.APP_ID
    assert graph.APP_SECRET not in url
    state: str = started.json()["state"]
    return state


@pytest.mark.parametrize(
    ("channel", "page_id", "account_id", "display_name"),
    [
        ("facebook", facebook.PAGE_ID, facebook.PAGE_ID, facebook.PAGE_NAME),
        ("instagram", instagram.LINKED_PAGE_ID, instagram.IG_USER_ID, instagram.IG_USERNAME),
    ],
)
async def test_a_meta_login_stores_the_page_token_without_expiry(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    page_id: str,
    account_id: str,
    display_name: str,
) -> None:
    fake = meta_fake(channel)
    organization_id = uuid.uuid4()
    async with meta_publisher(settings, fake, channel, organization_id) as client:
        state = await meta_login(client, organization_id, channel, page_id)
        fake.codes[graph.APPROVED_CODE] = graph.SHORT_LIVED_TOKEN
        completed = await client.post(
            "/connections/oauth/complete", json={"state": state, "code": graph.APPROVED_CODE}
        )

    assert completed.status_code == 200, completed.text
    connection = completed.json()
    assert connection.keys() == CONNECTION_FIELDS
    assert (connection["channel"], connection["account_id"]) == (channel, account_id)
    assert (connection["display_name"], connection["status"]) == (display_name, "active")
    # No expiry: the maintenance schedule never tries to refresh it.
    assert connection["expires_at"] is None
    async with session_scope(sessions, SYSTEM) as session:
        row = await session.get(Connection, uuid.UUID(connection["id"]))
        assert row is not None
        assert row.expires_at is None
        assert VALID_TOKEN.encode() not in row.token_ciphertext
        credentials = TokenVault(settings.publisher).open(row.token_ciphertext)
        assert await session.get(OAuthState, state) is None
    assert credentials.access_token == VALID_TOKEN
    assert credentials.refresh_token is None
    assert credentials.extra == {"token_kind": "page", "page_id": page_id}
    code_grant, exchange = (seen.payload for seen in fake.requests("token"))
    assert code_grant["grant_type"] == "authorization_code"
    assert code_grant["redirect_uri"] == REDIRECT_URI
    assert exchange["grant_type"] == "fb_exchange_token"
    assert exchange["fb_exchange_token"] == graph.SHORT_LIVED_TOKEN
    [page] = fake.requests("page")
    assert page.headers["authorization"] == f"Bearer {graph.LONG_LIVED_TOKEN}"


@pytest.mark.parametrize(
    ("channel", "page_id", "login_token", "problem"),
    [
        ("facebook", facebook.PAGE_ID, EXPIRED_LOGIN, "oauth-token-exchange-refused"),
        (
            "instagram",
            instagram.LINKED_PAGE_ID,
            EXPIRED_LOGIN,
            "oauth-token-exchange-refused",
        ),
        ("facebook", facebook.UNGRANTED_PAGE_ID, graph.SHORT_LIVED_TOKEN, "oauth-page-not-granted"),
        ("instagram", "3003", graph.SHORT_LIVED_TOKEN, "oauth-page-not-granted"),
        (
            "instagram",
            instagram.UNLINKED_PAGE_ID,
            graph.SHORT_LIVED_TOKEN,
            "oauth-instagram-not-linked",
        ),
    ],
)
async def test_a_meta_login_that_cannot_connect_is_a_clear_400_and_ends_the_authorisation(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    page_id: str,
    login_token: str,
    problem: str,
) -> None:
    fake = meta_fake(channel)
    organization_id = uuid.uuid4()
    async with meta_publisher(settings, fake, channel, organization_id) as client:
        state = await meta_login(client, organization_id, channel, page_id)
        fake.codes[graph.APPROVED_CODE] = login_token
        refused = await client.post(
            "/connections/oauth/complete", json={"state": state, "code": graph.APPROVED_CODE}
        )

    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == f"urn:engage:problem:{problem}"
    assert refused.json()["detail"]
    assert not await state_exists(sessions, state)
    async with session_scope(sessions, SYSTEM) as session:
        stored = await session.scalar(
            select(Connection).where(Connection.organization_id == organization_id)
        )
    assert stored is None
