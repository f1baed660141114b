"""One-off preparation before services start: database, schemas, the services' roles, event
stream."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.migrations import upgrade_all
from shared.db.roles import ensure_roles
from shared.db.tls import plain_tls_default
from shared.events.jetstream import connect_nats, ensure_stream
from shared.settings import DATA_SERVICES, Settings


def _database_name(settings: Settings) -> str:
    database = make_url(settings.database_url).database
    assert database, "ENGAGE_DATABASE_URL must name a database"
    return database


async def _server(settings: Settings) -> asyncpg.Connection:
    """The configured server's maintenance database, for creating and dropping ours."""
    url = make_url(settings.database_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database="postgres",
        timeout=settings.dependency_timeout_seconds,
        **plain_tls_default(settings.database_url),
    )


async def ensure_database(settings: Settings) -> None:
    """Create the configured database when the server does not have it yet."""
    database = _database_name(settings)
    connection = await _server(settings)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


async def drop_database(settings: Settings) -> None:
    """Drop the configured database, connections and all (a scratch database's end)."""
    database = _database_name(settings)
    connection = await _server(settings)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


async def prepare(settings: Settings) -> None:
    await ensure_database(settings)
    await upgrade_all(DATA_SERVICES, settings.database_url)
    await ensure_roles(settings)
    nc = await connect_nats(settings, "bootstrap")
    try:
        await ensure_stream(nc.jetstream(), settings.events)
    finally:
        await nc.drain()
