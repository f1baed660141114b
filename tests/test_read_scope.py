"""``read_scope``: a read outside any transaction, still scoped to the caller's organisations,
that cannot write; against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy.models import Organization
from shared.db.scoping import SYSTEM, Scope
from shared.db.session import ReadOnlySessionError, read_scope, session_scope


async def organizations(sessions: async_sessionmaker[AsyncSession], count: int) -> list[uuid.UUID]:
    async with session_scope(sessions, SYSTEM) as session:
        created = [
            Organization(id=uuid.uuid4(), name=f"Read scope {n}", created_by="test")
            for n in range(count)
        ]
        session.add_all(created)
    return [organization.id for organization in created]


async def test_each_statement_of_a_read_runs_in_a_transaction_of_its_own(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    transaction_started = select(func.transaction_timestamp())
    async with read_scope(sessions, SYSTEM) as session:
        first = await session.scalar(transaction_started)
        await asyncio.sleep(0.01)
        second = await session.scalar(transaction_started)
    assert first is not None
    assert second is not None
    assert second > first, "no BEGIN around them"
    # In a unit of work, both statements belong to one transaction.
    async with session_scope(sessions, SYSTEM) as session:
        first = await session.scalar(transaction_started)
        await asyncio.sleep(0.01)
        assert await session.scalar(transaction_started) == first


async def test_a_read_sees_only_the_callers_organisations(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    mine, theirs = await organizations(sessions, 2)
    async with read_scope(sessions, Scope(organizations=frozenset({mine}))) as session:
        both = select(Organization.id).where(Organization.id.in_([mine, theirs]))
        assert list(await session.scalars(both)) == [mine]
        assert await session.scalar(select(Organization).where(Organization.id == theirs)) is None


async def test_a_read_cannot_write(sessions: async_sessionmaker[AsyncSession]) -> None:
    (organization_id,) = await organizations(sessions, 1)
    async with read_scope(sessions, SYSTEM) as session:
        session.add(Organization(id=uuid.uuid4(), name="Written", created_by="test"))
        with pytest.raises(ReadOnlySessionError):
            await session.flush()
    async with read_scope(sessions, SYSTEM) as session:
        renamed = update(Organization).where(Organization.id == organization_id)
        with pytest.raises(ReadOnlySessionError):
            await session.execute(renamed.values(name="Renamed"))
    async with read_scope(sessions, SYSTEM) as session:
        organization = await session.get(Organization, organization_id)
        assert organization is not None
        organization.name = "Renamed"
        with pytest.raises(ReadOnlySessionError):
            await session.flush()
    async with session_scope(sessions, SYSTEM) as session:
        assert (
            await session.scalar(
                select(Organization.name).where(Organization.id == organization_id)
            )
            == "Read scope 0"
        )
    # The connection goes back to the pool in a transaction again.
    async with session_scope(sessions, SYSTEM) as session:
        transaction_started = select(func.transaction_timestamp())
        first = await session.scalar(transaction_started)
        await asyncio.sleep(0.01)
        assert await session.scalar(transaction_started) == first
