"""Organisation scoping is applied by the session to every query on client data."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy.models import Organization
from shared.db.scoping import SYSTEM, MissingScopeError, Scope
from shared.db.session import session_scope


async def make_orgs(sessions: async_sessionmaker[AsyncSession], *names: str) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in names]
    async with session_scope(sessions, SYSTEM) as session:
        session.add_all(
            Organization(id=id_, name=name, created_by="test")
            for id_, name in zip(ids, names, strict=True)
        )
    return ids


async def test_session_without_scope_refuses_client_data(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with pytest.raises(MissingScopeError):
            await session.scalars(select(Organization))


async def test_queries_see_only_the_scope_s_organizations(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    mine, theirs = await make_orgs(sessions, "Mine", "Theirs")
    async with session_scope(sessions, Scope(organizations=frozenset({mine}))) as session:
        visible = set((await session.scalars(select(Organization.id))).all())
        assert mine in visible
        assert theirs not in visible
        assert await session.get(Organization, theirs) is None
        result = await session.execute(
            update(Organization).where(Organization.id == theirs).values(name="hijacked")
        )
        assert result.rowcount == 0  # type: ignore[attr-defined]
    async with session_scope(sessions, Scope()) as session:
        assert (
            await session.scalars(select(Organization).where(Organization.id == mine))
        ).all() == []
    async with session_scope(sessions, SYSTEM) as session:
        theirs_now = await session.scalar(select(Organization).where(Organization.id == theirs))
        assert theirs_now is not None
        assert theirs_now.name == "Theirs"
