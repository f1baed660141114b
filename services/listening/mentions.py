"""Reading mentions and dead letters: pages newest first, with an opaque cursor.

A cursor is the (time, id) of the last row of the page before, so a page never repeats or skips
a row when mentions arrive between two requests (an offset would)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import repository
from services.listening.models import DeadLetter, Mention, engagements
from services.listening.schemas import (
    AuthorOut,
    DeadLetterFilters,
    DeadLetterOut,
    MentionFilters,
    MentionOut,
    PlaceOut,
    SentimentOut,
)
from shared.errors import FieldError, NotFoundError, validation_problem


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> repository.After | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = (datetime.fromisoformat(at), uuid.UUID(row_id))
    except (ValueError, TypeError, binascii.Error):
        after = None
    if after is None or after[0].tzinfo is None:
        raise validation_problem(
            [
                FieldError(
                    field="query.cursor",
                    message="not a cursor this API gave: use the Link header's next page",
                    type="cursor",
                )
            ]
        )
    return after


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
) -> tuple[list[MentionOut], str | None]:
    """A page of the engagement's mentions, and the cursor of the next page if there is one."""
    check_period(filters.published_from, filters.published_to)
    after = decode_cursor(filters.cursor)
    await engagements.require(session, engagement_id)
    # One more than the page: whether a next page exists, in the same query.
    found = await repository.list_mentions(
        session, engagement_id, filters, after, filters.limit + 1
    )
    page = found[: filters.limit]
    following = (
        encode_cursor(page[-1].published_at, page[-1].id) if len(found) > filters.limit else None
    )
    return [mention_view(mention) for mention in page], following


async def require_mention(session: AsyncSession, mention_id: uuid.UUID) -> MentionOut:
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFoundError("mention", mention_id)
    return mention_view(mention)


async def dead_letters(
    session: AsyncSession, filters: DeadLetterFilters
) -> tuple[list[DeadLetterOut], str | None]:
    after = decode_cursor(filters.cursor)
    found: Sequence[DeadLetter] = await repository.list_dead_letters(
        session, filters.organization_id, after, filters.limit + 1
    )
    page = found[: filters.limit]
    following = (
        encode_cursor(page[-1].created_at, page[-1].id) if len(found) > filters.limit else None
    )
    return [DeadLetterOut.model_validate(letter) for letter in page], following
