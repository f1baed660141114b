"""Queries on assets. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.models import Asset, Organization


async def lock_organization(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Serialise changes to one organisation's assets until the transaction ends."""
    await session.execute(
        select(Organization.id).where(Organization.id == organization_id).with_for_update()
    )


async def get_asset(
    session: AsyncSession, organization_id: uuid.UUID, asset_id: uuid.UUID
) -> Asset | None:
    return await session.scalar(
        select(Asset).where(Asset.id == asset_id, Asset.organization_id == organization_id)
    )


async def list_assets(
    session: AsyncSession, organization_id: uuid.UUID, kind: str | None = None
) -> Sequence[Asset]:
    statement = (
        select(Asset)
        .where(Asset.organization_id == organization_id)
        .order_by(Asset.kind, Asset.created_at, Asset.id)
    )
    if kind is not None:
        statement = statement.where(Asset.kind == kind)
    return (await session.scalars(statement)).all()


async def asset_ids(session: AsyncSession, organization_id: uuid.UUID) -> set[uuid.UUID]:
    found = await session.scalars(select(Asset.id).where(Asset.organization_id == organization_id))
    return set(found)
