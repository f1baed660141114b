"""Queries on assets. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.models import Asset, Organization
from shared.paging import Keyset, PageQuery, paged


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


# By kind, then oldest first; the id orders assets recorded in the same transaction.
ASSET_ORDER = Keyset((Asset.kind, Asset.created_at, Asset.id))


def _assets(organization_id: uuid.UUID, kind: str | None) -> Select[Asset]:
    statement = select(Asset).where(Asset.organization_id == organization_id)
    if kind is not None:
        statement = statement.where(Asset.kind == kind)
    return statement


async def list_assets(
    session: AsyncSession, organization_id: uuid.UUID, kind: str | None = None
) -> Sequence[Asset]:
    statement = _assets(organization_id, kind).order_by(*ASSET_ORDER.columns)
    return (await session.scalars(statement)).all()


async def page_of_assets(
    session: AsyncSession, organization_id: uuid.UUID, kind: str | None, page: PageQuery
) -> Sequence[Asset]:
    """A page of the organisation's assets from after the page's cursor (one more than the
    page when more follow)."""
    return (await session.scalars(paged(_assets(organization_id, kind), ASSET_ORDER, page))).all()


async def asset_ids(session: AsyncSession, organization_id: uuid.UUID) -> set[uuid.UUID]:
    found = await session.scalars(select(Asset.id).where(Asset.organization_id == organization_id))
    return set(found)
