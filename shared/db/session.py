"""Async engine and sessions: commit on success, roll back on error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.db.scoping import Scope, set_scope
from shared.db.tls import plain_tls_default
from shared.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    # No ping at checkout: with asyncpg it is a BEGIN and a ROLLBACK before every unit of work
    # (about a fifth of an activity's client CPU on the database). A connection PostgreSQL has
    # ended fails its unit of work instead, as a disconnect: SQLAlchemy then replaces every
    # connection of the pool opened before it, the API answers that one request 503 with
    # Retry-After, and Temporal retries that one activity.
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_pre_ping=False,
        connect_args={
            "timeout": settings.dependency_timeout_seconds,
            **plain_tls_default(settings.database_url),
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(
    factory: async_sessionmaker[AsyncSession], scope: Scope
) -> AsyncIterator[AsyncSession]:
    """One unit of work on behalf of ``scope``: committed if the block succeeds."""
    async with factory() as session:
        set_scope(session.sync_session, scope)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
