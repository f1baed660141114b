"""Channel tokens: never in an API answer or its documentation, never in a log line, encrypted at
rest, and readable across a key rotation."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher import connections
from services.publisher.connectors.base import Credentials
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.crypto import TokenKeyError, TokenVault
from shared.auth import Principal, Role
from shared.db.scoping import Scope
from shared.db.session import session_scope
from shared.settings import PublisherSettings
from tests.conftest import Platform
from tests.publisher_helpers import REDIRECT_URI, SandboxAccount, connect_sandbox, schedule, settled
from tests.test_publisher_maintenance import expire_access_token, run_maintenance
from tests.test_publisher_oauth import CONNECTION_FIELDS, approve
from tests.test_thin_thread import create_org

TOKEN_WORDS = ("token", "secret", "ciphertext")


def vault_of(*keys: str) -> TokenVault:
    return TokenVault(PublisherSettings(token_keys=[SecretStr(key) for key in keys]))


def new_key() -> str:
    return Fernet.generate_key().decode()


async def sandbox_credentials(
    platform: Platform, sandbox: httpx.AsyncClient
) -> tuple[str, Credentials]:
    """A fresh sandbox account's id and first tokens, as its own OAuth flow issues them."""
    connector = SandboxConnector.from_settings(platform.settings)
    authorize = connector.authorize_url(REDIRECT_URI, "state-tokens")
    code = (await approve(sandbox, authorize))["code"]
    return await connector.exchange_code(code, REDIRECT_URI)


async def raw_ciphertext(sessions: async_sessionmaker[AsyncSession], connection_id: str) -> bytes:
    """The column as PostgreSQL holds it, read without the ORM."""
    async with sessions() as session:
        value = await session.scalar(
            text("SELECT token_ciphertext FROM publisher.connections WHERE id = :id"),
            {"id": uuid.UUID(connection_id)},
        )
    assert isinstance(value, bytes)
    return value


def secrets_of(credentials: Credentials) -> list[str]:
    return [value for value in (credentials.access_token, credentials.refresh_token) if value]


async def test_no_connection_route_answers_a_token(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    account_id, credentials = await sandbox_credentials(platform, sandbox)
    manager, admin = platform.auth(Role.MANAGER), platform.auth(Role.ADMIN)
    created = await platform.gateway.post(
        "/v1/connections",
        json={
            "organization_id": organization_id,
            "channel": "sandbox",
            "account_id": account_id,
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
        },
        headers=manager,
    )
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    started = await platform.gateway.post(
        "/v1/connections/oauth/start",
        json={
            "organization_id": organization_id,
            "channel": "sandbox",
            "redirect_uri": REDIRECT_URI,
        },
        headers=manager,
    )
    returned = await approve(sandbox, started.json()["authorize_url"])
    completed = await platform.gateway.post(
        "/v1/connections/oauth/complete", json=returned, headers=manager
    )
    assert completed.status_code == 200, completed.text
    oauth_credentials = await stored(platform, sessions, completed.json()["id"])
    answers = [
        created,
        completed,
        await platform.gateway.get("/v1/connections", headers=manager),
        await platform.gateway.get(
            "/v1/connections", params={"organization_id": organization_id}, headers=manager
        ),
        await platform.gateway.get(f"/v1/connections/{connection_id}", headers=manager),
        await platform.gateway.post("/v1/connections/rotate-keys", headers=admin),
    ]

    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        for secret in secrets_of(credentials) + secrets_of(oauth_credentials):
            assert secret not in answer.text
    for connection in (created.json(), completed.json(), answers[4].json()):
        assert connection.keys() == CONNECTION_FIELDS
    assert all(item.keys() == CONNECTION_FIELDS for item in answers[2].json())


async def stored(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], connection_id: str
) -> Credentials:
    return TokenVault(platform.settings.publisher).open(
        await raw_ciphertext(sessions, connection_id)
    )


def response_schemas(openapi: dict[str, Any], path_prefixes: tuple[str, ...]) -> list[Any]:
    return [
        content["schema"]
        for path, operations in openapi["paths"].items()
        if path.startswith(path_prefixes)
        for operation in operations.values()
        for response in operation["responses"].values()
        for content in response.get("content", {}).values()
    ]


def property_names(schema: Any, components: dict[str, Any], seen: set[str]) -> set[str]:
    """Every property name reachable from ``schema``, following ``$ref``s."""
    if isinstance(schema, list):
        return set().union(*(property_names(item, components, seen) for item in schema))
    if not isinstance(schema, dict):
        return set()
    names: set[str] = set(schema.get("properties", {}))
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference not in seen:
        seen.add(reference)
        names |= property_names(components[reference.rsplit("/", 1)[1]], components, seen)
    for value in schema.values():
        names |= property_names(value, components, seen)
    return names


async def test_the_openapi_documents_no_token_in_any_publishing_answer(
    platform: Platform,
) -> None:
    openapi = (await platform.gateway.get("/openapi.json")).json()
    components = openapi["components"]["schemas"]
    prefixes = ("/v1/connections", "/v1/publications")

    answered = property_names(response_schemas(openapi, prefixes), components, set())
    asked = property_names(
        openapi["paths"]["/v1/connections"]["post"]["requestBody"], components, set()
    )

    assert {"account_id", "status", "expires_at", "rotated"} <= answered
    assert not [name for name in answered if any(word in name for word in TOKEN_WORDS)]
    assert {"access_token", "refresh_token"} <= asked, "the walk does find token fields"


async def test_tokens_are_encrypted_at_rest(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await connect_sandbox(platform, sandbox, await create_org(platform))
    raw = await raw_ciphertext(sessions, account.connection_id)

    credentials = TokenVault(platform.settings.publisher).open(raw)
    assert credentials.access_token == account.access_token
    assert credentials.refresh_token
    for secret in secrets_of(credentials):
        assert secret.encode() not in raw
    assert b"access_token" not in raw, "not even the field names are readable"
    with pytest.raises(TokenKeyError):
        vault_of(new_key()).open(raw)


def test_a_rotated_key_set_reads_old_tokens_and_seals_with_the_newest_key() -> None:
    old, new = new_key(), new_key()
    credentials = Credentials(access_token="access-1", refresh_token="refresh-1")
    sealed_with_old = vault_of(old).seal(credentials)

    both = vault_of(new, old)
    assert both.open(sealed_with_old) == credentials
    rotated = both.rotate(sealed_with_old)
    assert rotated != sealed_with_old
    assert vault_of(new).open(rotated) == credentials
    assert vault_of(new).open(both.seal(credentials)) == credentials
    with pytest.raises(TokenKeyError):
        vault_of(new).open(sealed_with_old)
    with pytest.raises(TokenKeyError):
        vault_of(old).open(rotated)


async def test_rotating_every_connection_onto_a_new_key(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await connect_sandbox(platform, sandbox, await create_org(platform))
    elsewhere = await connect_sandbox(platform, sandbox, await create_org(platform))
    untouched = await raw_ciphertext(sessions, elsewhere.connection_id)
    current = platform.settings.publisher.token_keys[0].get_secret_value()
    new = new_key()
    scope = Scope(organizations=frozenset({uuid.UUID(account.organization_id)}))
    admin = Principal(subject="key-keeper", agency_roles=frozenset({Role.ADMIN}))

    async with session_scope(sessions, scope) as session:
        outcome = await connections.rotate_keys(session, vault_of(new, current), admin)

    assert (outcome.rotated, outcome.unreadable) == (1, [])
    raw = await raw_ciphertext(sessions, account.connection_id)
    assert vault_of(new).open(raw).access_token == account.access_token
    with pytest.raises(TokenKeyError):
        vault_of(current).open(raw)
    assert await raw_ciphertext(sessions, elsewhere.connection_id) == untouched
    async with session_scope(sessions, scope) as session:
        again = await connections.rotate_keys(session, vault_of(new_key()), admin)
    assert (again.rotated, again.unreadable) == (0, [uuid.UUID(account.connection_id)])


async def test_the_rotate_keys_route_is_for_admins_and_keeps_connections_working(
    platform: Platform, sandbox: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = await connect_sandbox(platform, sandbox, await create_org(platform))
    before = await raw_ciphertext(sessions, account.connection_id)
    for role in (Role.MANAGER, Role.EDITOR, Role.CLIENT_VIEWER):
        refused = await platform.gateway.post(
            "/v1/connections/rotate-keys",
            headers=platform.auth(role, orgs=[account.organization_id]),
        )
        assert refused.status_code == 403, role
        assert refused.json()["required_roles"] == ["admin"]

    rotated = await platform.gateway.post(
        "/v1/connections/rotate-keys", headers=platform.auth(Role.ADMIN)
    )

    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["rotated"] >= 1
    after = await raw_ciphertext(sessions, account.connection_id)
    assert after != before, "re-encrypted (with the newest key: here the only one)"
    vault = TokenVault(platform.settings.publisher)
    assert vault.open(after) == vault.open(before)
    publication = await schedule(platform, account, in_seconds=0.3)
    assert (await settled(platform, publication["id"]))["status"] == "published"


async def test_tokens_never_reach_the_logs(
    platform: Platform,
    sandbox: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # API processes quiet httpx (shared/app.py); here its request lines are what is checked.
    caplog.set_level(logging.DEBUG, logger="httpx")
    organization_id = await create_org(platform)
    manager = platform.auth(Role.MANAGER)
    started = await platform.gateway.post(
        "/v1/connections/oauth/start",
        json={
            "organization_id": organization_id,
            "channel": "sandbox",
            "redirect_uri": REDIRECT_URI,
        },
        headers=manager,
    )
    returned = await approve(sandbox, started.json()["authorize_url"])
    completed = await platform.gateway.post(
        "/v1/connections/oauth/complete", json=returned, headers=manager
    )
    assert completed.status_code == 200, completed.text
    connection = completed.json()
    first = await stored(platform, sessions, connection["id"])
    account = SandboxAccount(
        organization_id, connection["id"], connection["account_id"], first.access_token, sandbox
    )
    publication = await schedule(platform, account, in_seconds=0.3)
    assert (await settled(platform, publication["id"]))["status"] == "published"
    await expire_access_token(account, sessions)
    assert (await run_maintenance(platform, refresh_within_seconds=300)).tokens.refreshed >= 1
    refreshed = await stored(platform, sessions, connection["id"])

    logged = caplog.text
    assert "/oauth/token" in logged, "the token requests were logged, so the check means something"
    assert f"/v1/accounts/{account.account_id}/posts" in logged
    assert refreshed.access_token != first.access_token
    for secret in secrets_of(first) + secrets_of(refreshed):
        assert secret not in logged
