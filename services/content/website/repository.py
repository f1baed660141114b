"""Queries of the watched sites and their drafts (scoped to the caller by the session)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.website.models import SiteDraft, WatchedSite
from shared.paging import Keyset, PageQuery, paged

SITE_ORDER = Keyset((WatchedSite.created_at, WatchedSite.id))
# The most recent first.
DRAFT_ORDER = Keyset((SiteDraft.drafted_at, SiteDraft.id), descending=True)


async def page_of_sites(
    session: AsyncSession, engagement_id: uuid.UUID, page: PageQuery
) -> Sequence[WatchedSite]:
    statement = select(WatchedSite).where(WatchedSite.engagement_id == engagement_id)
    return (await session.scalars(paged(statement, SITE_ORDER, page))).all()


async def page_of_drafts(
    session: AsyncSession, site_id: uuid.UUID, page: PageQuery
) -> Sequence[SiteDraft]:
    statement = select(SiteDraft).where(SiteDraft.site_id == site_id)
    return (await session.scalars(paged(statement, DRAFT_ORDER, page))).all()
