"""Async engine and sessions: commit on success, roll back on error; or, for a read, no
transaction at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

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


READ_ONLY_KEY = "engage_read_only"


class ReadOnlySessionError(RuntimeError):
    """A session opened to read tried to write."""


@asynccontextmanager
async def read_scope(
    factory: async_sessionmaker[AsyncSession], scope: Scope
) -> AsyncIterator[AsyncSession]:
    """A unit of work that only reads, on behalf of ``scope``, outside any transaction
    (PostgreSQL's autocommit): no ``BEGIN`` and no ``COMMIT`` around its statements, which were
    two of a read's three round trips to the database. Each statement sees what was committed
    when it started, so a read answered by one statement reads as it would in a transaction;
    a write through the session is refused (``ReadOnlySessionError``)."""
    async with factory() as session:
        set_scope(session.sync_session, scope)
        session.sync_session.info[READ_ONLY_KEY] = True
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


@event.listens_for(Session, "do_orm_execute")
def _refuse_statements_that_write(execute_state: ORMExecuteState) -> None:
    if execute_state.session.info.get(READ_ONLY_KEY) and not execute_state.is_select:
        raise ReadOnlySessionError("a session opened to read was asked to write")


@event.listens_for(Session, "before_flush")
def _refuse_flushes(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if session.info.get(READ_ONLY_KEY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlySessionError("a session opened to read was asked to write")
