"""Polling: read a due source from its cursor, hand what it read to ingestion over JetStream,
and only then keep the new cursor and the source's health.

Publishing comes before the cursor is kept, so a crash in between reads the same mentions again
on the next poll: JetStream drops them within its duplicate window and ingestion after it (the
organisation, source and external id are unique), so nothing is lost and nothing is stored
twice. A failing source is marked with its reason and tried again after a backoff; one source's
failure never stops another's poll (each is its own activity)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.contracts import (
    Coordinates,
    DueSource,
    RawAuthor,
    RawMention,
    ReceiveConversations,
    SourceKind,
    SourcePolled,
)
from services.listening.intake import publish_raw_mentions
from services.listening.models import Source
from services.listening.sources import service
from services.listening.sources.readers import (
    MAX_MENTIONS_PER_POLL,
    Page,
    RateLimited,
    SourceMalformed,
    SourceReader,
    SourceRefused,
    SourceScope,
    SourceUnavailable,
)
from services.listening.sources.service import SourceVault
from services.publisher.contracts import PlatformConversation
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.settings import Settings

ReaderFor = Callable[[SourceKind], SourceReader]

# Longer than a poll may take (the activity's start-to-close timeout).
POLL_LEASE_SECONDS = 300


async def due_sources(
    sessions: async_sessionmaker[AsyncSession], now: datetime, limit: int
) -> list[DueSource]:
    """Polled sources whose time has come, the longest waiting first."""
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.scalars(
            select(Source)
            .where(Source.status.in_(("active", "failing")), Source.next_poll_at <= now)
            .order_by(Source.next_poll_at, Source.id)
            .limit(limit)
        )
        due: list[DueSource] = []
        for source in found:
            kind = SourceKind(source.kind)
            if not service.is_polled(kind):
                continue
            connection = source.settings.get("connection_id")
            due.append(
                DueSource(
                    source_id=source.id,
                    organization_id=source.organization_id,
                    kind=kind,
                    connection_id=uuid.UUID(connection) if connection else None,
                    since=_connected_since(source),
                )
            )
        return due


def _connected_since(source: Source) -> datetime:
    since = source.cursor.get("since")
    return datetime.fromisoformat(since) if isinstance(since, str) else source.reads_from


async def _claimed(session: AsyncSession, source_id: uuid.UUID, now: datetime) -> Source | None:
    """The source, locked and leased, when it is still due: a poll run twice (a retried
    activity, two schedules overlapping) reads it once. A poll that dies holding the lease is
    tried again when the lease ends."""
    source = await session.get(Source, source_id, with_for_update=True)
    if source is None or source.status == "stopped" or source.next_poll_at > now:
        return None
    source.next_poll_at = now + timedelta(seconds=POLL_LEASE_SECONDS)
    return source


async def poll_source(
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    settings: Settings,
    reader_for: ReaderFor,
    source_id: uuid.UUID,
) -> SourcePolled:
    now = datetime.now(UTC)
    async with session_scope(sessions, SYSTEM) as session:
        source = await _claimed(session, source_id, now)
        if source is None:
            return SourcePolled(source_id=source_id, outcome="skipped")
        kind = SourceKind(source.kind)
        reader = reader_for(kind)
        scope = SourceScope(
            source_id=str(source.id),
            organization_id=str(source.organization_id),
            engagement_id=str(source.engagement_id) if source.engagement_id else None,
        )
        reader_settings = reader.Settings.model_validate(source.settings)
        credentials = SourceVault(settings.listening).open(source.credentials)
        cursor, reads_from = dict(source.cursor), source.reads_from
    wait: float | None = None
    try:
        page = await reader.read(scope, reader_settings, credentials, cursor, reads_from)
    except RateLimited as limited:
        page = limited.page or Page(cursor=cursor)
        wait = limited.retry_after
    except (SourceUnavailable, SourceRefused, SourceMalformed) as refused:
        return await _failed(sessions, settings, source_id, refused)
    except Exception as error:
        return await _failed(sessions, settings, source_id, _unexpected(error))
    # Whatever a reader says, what a source reads is its organisation's (and engagement's).
    owner = {"organization_id": uuid.UUID(scope.organization_id)}
    if scope.engagement_id is not None:
        owner["engagement_id"] = uuid.UUID(scope.engagement_id)
    mentions = [
        mention.model_copy(update=owner) for mention in page.mentions[:MAX_MENTIONS_PER_POLL]
    ]
    await publish_raw_mentions(js, settings, mentions)
    wait = max(wait or 0.0, page.wait_seconds or 0.0) or None
    async with session_scope(sessions, SYSTEM) as session:
        source = await session.get(Source, source_id, with_for_update=True)
        if source is None or source.status == "stopped":
            return SourcePolled(source_id=source_id, outcome="skipped")
        await service.record_read(
            session,
            source,
            cursor=page.cursor,
            mentions=len(mentions),
            wait_seconds=wait,
            now=datetime.now(UTC),
        )
    return SourcePolled(
        source_id=source_id,
        outcome="rate_limited" if wait else "read",
        mentions=len(mentions),
    )


class UnexpectedFailure(SourceUnavailable):
    """Whatever a reader fails with that is not one of its classes (a bug, a library's
    surprise) is still the source's failure, shown as such, not a poll retried forever."""

    kind = "unexpected"


def _unexpected(error: Exception) -> SourceUnavailable:
    return UnexpectedFailure(f"unexpected: {type(error).__name__}")


async def _failed(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    source_id: uuid.UUID,
    failure: SourceUnavailable | SourceRefused | SourceMalformed,
) -> SourcePolled:
    async with session_scope(sessions, SYSTEM) as session:
        source = await session.get(Source, source_id, with_for_update=True)
        if source is not None and source.status != "stopped":
            await service.record_failure(
                session, source, failure, now=datetime.now(UTC), settings=settings.listening
            )
    return SourcePolled(source_id=source_id, outcome="failing", reason=failure.reason)


def conversation_mention(
    source: Source, channel: SourceKind, conversation: PlatformConversation
) -> RawMention:
    coordinates = None
    if conversation.latitude is not None and conversation.longitude is not None:
        coordinates = Coordinates(latitude=conversation.latitude, longitude=conversation.longitude)
    return RawMention(
        organization_id=source.organization_id,
        source=channel,
        external_id=conversation.external_id,
        author=RawAuthor(
            handle=conversation.author_handle,
            display_name=conversation.author_name,
            profile_location=conversation.place_name,
        ),
        text=conversation.text,
        url=conversation.url,
        published_at=conversation.created_at,
        coordinates=coordinates,
        language=conversation.language,
        engagement_id=source.engagement_id,
    )


async def receive_conversations(
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    settings: Settings,
    received: ReceiveConversations,
) -> SourcePolled:
    """What the publisher read from a connected channel (or why it could not), for a source:
    published for ingestion, then the cursor and health kept as for any other poll."""
    source_id = received.source_id
    now = datetime.now(UTC)
    async with session_scope(sessions, SYSTEM) as session:
        source = await _claimed(session, source_id, now)
        if source is None:
            return SourcePolled(source_id=source_id, outcome="skipped")
        kind = SourceKind(source.kind)
        read = received.read
        if read is None:
            failure: SourceUnavailable | SourceRefused = (
                SourceRefused(received.failure or "the channel refused")
                if received.refused
                else SourceUnavailable(received.failure or "the channel did not answer")
            )
            await service.record_failure(
                session, source, failure, now=now, settings=settings.listening
            )
            return SourcePolled(source_id=source_id, outcome="failing", reason=failure.reason)
        mentions = [
            conversation_mention(source, kind, conversation)
            for conversation in read.conversations
            if conversation.created_at >= source.reads_from
        ]
        # Published while the source is locked: a second delivery of the same read waits, then
        # finds the source no longer due.
        await publish_raw_mentions(js, settings, mentions)
        cursor = dict(source.cursor)
        if read.newest is not None:
            cursor["since"] = read.newest.isoformat()
        await service.record_read(
            session,
            source,
            cursor=cursor,
            mentions=len(mentions),
            wait_seconds=read.retry_after,
            now=now,
        )
    return SourcePolled(
        source_id=source_id,
        outcome="rate_limited" if read.retry_after else "read",
        mentions=len(mentions),
    )
