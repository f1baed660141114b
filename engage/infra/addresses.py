"""Where the local infrastructure is, and whether it answers there."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.tls import plain_tls_default
from shared.settings import Settings

PROBE_TIMEOUT_SECONDS = 2.0


def postgres_target(settings: Settings) -> tuple[str, int]:
    url = make_url(settings.database_url)
    return url.host or "127.0.0.1", url.port or 5432


def nats_target(settings: Settings) -> tuple[str, int]:
    first = settings.nats_url.split(",")[0].strip()
    parts = urlsplit(first if "://" in first else f"nats://{first}")
    return parts.hostname or "127.0.0.1", parts.port or 4222


def temporal_target(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.temporal.address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port or 7233)


def data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser().resolve()


async def tcp_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), PROBE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def postgres_probe(settings: Settings) -> Exception | None:
    """Connect to the ``postgres`` database; the error says why not (None: it answers)."""
    url = make_url(settings.database_url)
    host, port = postgres_target(settings)
    try:
        connection = await asyncpg.connect(
            host=host,
            port=port,
            user=url.username or "postgres",
            password=url.password,
            database="postgres",
            timeout=PROBE_TIMEOUT_SECONDS,
            **plain_tls_default(settings.database_url),
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        return error
    await connection.close()
    return None


async def postgres_reachable(settings: Settings) -> bool:
    return await postgres_probe(settings) is None


async def nats_reachable(settings: Settings) -> bool:
    return await tcp_open(*nats_target(settings))


async def temporal_reachable(settings: Settings) -> bool:
    return await tcp_open(*temporal_target(settings))
