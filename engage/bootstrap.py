"""One-off preparation before services start: database, schemas, event stream."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.migrations import upgrade_all
from shared.events.jetstream import connect_nats, ensure_stream
from shared.settings import DATA_SERVICES, Settings


async def ensure_database(settings: Settings) -> None:
    """Create the configured database when the server does not have it yet."""
    url = make_url(settings.database_url)
    database = url.database
    assert database, "ENGAGE_DATABASE_URL must name a database"
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database="postgres",
        timeout=settings.dependency_timeout_seconds,
    )
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()


async def prepare(settings: Settings) -> None:
    await ensure_database(settings)
    await upgrade_all(DATA_SERVICES, settings.database_url)
    nc = await connect_nats(settings, "bootstrap")
    try:
        await ensure_stream(nc.jetstream(), settings.events)
    finally:
        await nc.drain()
