"""Reading mentions: one as the API answers it, and an engagement's a page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import repository
from services.listening.models import Mention, engagements
from services.listening.schemas import (
    AuthorOut,
    MentionFilters,
    MentionOut,
    PlaceOut,
    SentimentOut,
)
from shared.errors import FieldError, NotFoundError, validation_problem


def mention_view(mention: Mention) -> MentionOut:
    place = None
    if mention.place_level is not None:
        place = PlaceOut.model_validate(
            {
                "level": mention.place_level,
                "code": mention.place_code,
                "name": mention.place_name,
                "method": mention.place_method,
                "confidence": mention.place_confidence,
                "comune_code": mention.comune_code,
                "comune_name": mention.comune_name,
                "province_code": mention.province_code,
                "province_name": mention.province_name,
                "region_code": mention.region_code,
                "region_name": mention.region_name,
                "country_code": mention.country_code,
                "country_name": mention.country_name,
            }
        )
    return MentionOut.model_validate(
        {
            "id": mention.id,
            "organization_id": mention.organization_id,
            "engagement_ids": mention.engagement_ids,
            "query_ids": mention.query_ids,
            "source": mention.source,
            "external_id": mention.external_id,
            "author": AuthorOut(
                handle=mention.author_handle,
                display_name=mention.author_name,
                profile_location=mention.author_location,
            ),
            "text": mention.text,
            "url": mention.url,
            "published_at": mention.published_at,
            "hashtags": mention.hashtags,
            "accounts": mention.accounts,
            "latitude": mention.latitude,
            "longitude": mention.longitude,
            "language": mention.language,
            "sentiment": SentimentOut.model_validate(
                {
                    "label": mention.sentiment_label,
                    "score": mention.sentiment_score,
                    "model_version": mention.sentiment_model_version,
                }
            ),
            "place": place,
            "ingested_at": mention.ingested_at,
        }
    )


def check_period(
    start: datetime | None, end: datetime | None, *, field: str = "query.to", after: str = "from"
) -> None:
    """A period's end must come after its start: else a 422 on ``field``."""
    if start is not None and end is not None and end <= start:
        raise validation_problem(
            [FieldError(field=field, message=f"must be after {after}", type="period")]
        )


async def engagement_mentions(
    session: AsyncSession, engagement_id: uuid.UUID, filters: MentionFilters
) -> Sequence[Mention]:
    """A page of the engagement's mentions: one more than the page when more follow."""
    check_period(filters.published_from, filters.published_to)
    await engagements.require(session, engagement_id)
    return await repository.list_mentions(session, engagement_id, filters)


async def require_mention(session: AsyncSession, mention_id: uuid.UUID) -> MentionOut:
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFoundError("mention", mention_id)
    return mention_view(mention)
