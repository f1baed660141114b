"""Queries for content items, variants, media and review events.

Organisation scoping is applied by the session; ``organization_id`` filters here narrow further.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.contracts import ReviewState
from services.content.models import ContentItem, Media, ReviewEvent, Variant
from shared.domain import Channel
from shared.paging import Keyset, PageQuery, paged


async def get_item(session: AsyncSession, item_id: uuid.UUID) -> ContentItem | None:
    return await session.scalar(select(ContentItem).where(ContentItem.id == item_id))


# Oldest first; the id orders items created in the same transaction (an import's rows).
ITEM_ORDER = Keyset((ContentItem.created_at, ContentItem.id))
MEDIA_ORDER = Keyset((Media.created_at, Media.id))
# In the order the steps were taken.
REVIEW_ORDER = Keyset((ReviewEvent.id,))


def _items(
    organization_id: uuid.UUID | None, engagement_id: uuid.UUID | None, status: ReviewState | None
) -> Select[ContentItem]:
    statement = select(ContentItem)
    if organization_id is not None:
        statement = statement.where(ContentItem.organization_id == organization_id)
    if engagement_id is not None:
        statement = statement.where(ContentItem.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(ContentItem.status == status.value)
    return statement


async def list_items(
    session: AsyncSession,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: ReviewState | None = None,
) -> Sequence[ContentItem]:
    """Every item matching, oldest first (the export's rows)."""
    statement = _items(organization_id, engagement_id, status).order_by(*ITEM_ORDER.columns)
    return (await session.scalars(statement)).all()


async def page_of_items(
    session: AsyncSession,
    page: PageQuery,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: ReviewState | None = None,
) -> Sequence[ContentItem]:
    """A page of the items matching from after the page's cursor (one more than the page when
    more follow)."""
    statement = _items(organization_id, engagement_id, status)
    return (await session.scalars(paged(statement, ITEM_ORDER, page))).all()


async def get_variant(session: AsyncSession, variant_id: uuid.UUID) -> Variant | None:
    return await session.scalar(select(Variant).where(Variant.id == variant_id))


async def get_media(session: AsyncSession, media_id: uuid.UUID) -> Media | None:
    return await session.scalar(select(Media).where(Media.id == media_id))


async def list_media(
    session: AsyncSession, page: PageQuery, organization_id: uuid.UUID | None = None
) -> Sequence[Media]:
    """A page of the media from after the page's cursor (one more than the page when more
    follow)."""
    statement = select(Media)
    if organization_id is not None:
        statement = statement.where(Media.organization_id == organization_id)
    return (await session.scalars(paged(statement, MEDIA_ORDER, page))).all()


async def media_of_organization(
    session: AsyncSession, organization_id: uuid.UUID, media_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Media]:
    wanted = set(media_ids)
    if not wanted:
        return {}
    found = await session.scalars(
        select(Media).where(Media.organization_id == organization_id, Media.id.in_(wanted))
    )
    return {media.id: media for media in found}


async def visible_media(
    session: AsyncSession, media_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Media]:
    wanted = set(media_ids)
    if not wanted:
        return {}
    found = await session.scalars(select(Media).where(Media.id.in_(wanted)))
    return {media.id: media for media in found}


async def media_in_use(session: AsyncSession, media_id: uuid.UUID) -> bool:
    used = or_(
        exists().where(ContentItem.media_ids.contains([media_id])),
        exists().where(Variant.media_ids.contains([media_id])),
    )
    return bool(await session.scalar(select(used)))


async def review_events(
    session: AsyncSession, item_id: uuid.UUID, page: PageQuery
) -> Sequence[ReviewEvent]:
    """A page of the item's review steps from after the page's cursor (one more than the page
    when more follow)."""
    statement = select(ReviewEvent).where(ReviewEvent.item_id == item_id)
    return (await session.scalars(paged(statement, REVIEW_ORDER, page))).all()


async def approved_variants(
    session: AsyncSession,
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID | None,
    channel: Channel | None,
) -> Sequence[tuple[Variant, ContentItem]]:
    statement = (
        select(Variant, ContentItem)
        .join(ContentItem, Variant.item_id == ContentItem.id)
        .where(
            ContentItem.organization_id == organization_id,
            ContentItem.status == ReviewState.APPROVED.value,
        )
        .order_by(ContentItem.created_at, Variant.channel)
    )
    if engagement_id is not None:
        statement = statement.where(ContentItem.engagement_id == engagement_id)
    if channel is not None:
        statement = statement.where(Variant.channel == channel.value)
    return [(variant, item) for variant, item in (await session.execute(statement)).all()]
