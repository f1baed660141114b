"""What a unit of work does when PostgreSQL has ended the pool's connections (a restart, a
failover): the engine does not ping before each checkout, so one unit of work fails as a
disconnect, the API answers it 503 with Retry-After, and every later one gets a new connection."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import install_problem_handlers
from shared.settings import Settings

POOL = 3


async def backend_pid(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with session_scope(sessions, SYSTEM) as session:
        pid: int = await session.scalar(text("SELECT pg_backend_pid()"))
        return pid


async def end_connections(settings: Settings, pids: set[int]) -> None:
    url = make_url(settings.database_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )
    try:
        for pid in pids:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def open_pool(sessions: async_sessionmaker[AsyncSession]) -> set[int]:
    """Check out ``POOL`` connections at once, so the pool holds that many."""
    held = [sessions() for _ in range(POOL)]
    pids = set()
    for session in held:
        pids.add(int(await session.scalar(text("SELECT pg_backend_pid()"))))
    for session in held:
        await session.close()
    return pids


def app_over(sessions: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/now")
    async def now() -> dict[str, str]:
        async with session_scope(sessions, SYSTEM) as session:
            return {"now": str(await session.scalar(text("SELECT now()")))}

    return app


async def test_connections_postgres_ended_cost_one_503_and_are_replaced(
    fresh_sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    stale = await open_pool(fresh_sessions)
    assert len(stale) == POOL
    await end_connections(settings, stale)
    transport = httpx.ASGITransport(app=app_over(fresh_sessions))

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        failed = await client.get("/now")
        answered = [await client.get("/now") for _ in range(POOL)]

    assert failed.status_code == 503
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.headers["retry-after"]
    assert failed.json()["dependency"] == "database"
    assert [response.status_code for response in answered] == [200] * POOL
    assert await backend_pid(fresh_sessions) not in stale


async def test_a_unit_of_work_on_an_ended_connection_fails_as_a_disconnect(
    fresh_sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await end_connections(settings, {await backend_pid(fresh_sessions)})

    with pytest.raises(DBAPIError) as failed:
        await backend_pid(fresh_sessions)

    assert failed.value.connection_invalidated
    assert await backend_pid(fresh_sessions) > 0
