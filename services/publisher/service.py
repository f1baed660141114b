"""Rules of the publisher: connections and scheduled publications."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher import events, repository
from services.publisher.connectors.base import Credentials, PublishRequest
from services.publisher.connectors.registry import NO_PUBLISHING_API
from services.publisher.contracts import (
    CancelCommand,
    ChannelConnection,
    EngagementConnections,
    EngagementConnectionsQuery,
    post_workflow_id,
)
from services.publisher.crypto import TokenKeyError, TokenVault
from services.publisher.models import Connection, Publication, outbox
from services.publisher.schemas import ConnectionCreate, KeysRotated, PublicationCreate
from shared.auth import Principal
from shared.domain import Channel
from shared.errors import ConflictError, NotFoundError, ProblemError
from shared.events.envelope import new_event


def idempotency_key(data: PublicationCreate, channel: str) -> str:
    """One key per (variant, channel, slot); without a slot, the due time stands for it."""
    slot = str(data.slot_id) if data.slot_id else data.due_at.isoformat()
    return f"{data.variant_id}:{channel}:{slot}"


async def create_connection(
    session: AsyncSession, principal: Principal, data: ConnectionCreate, vault: TokenVault
) -> Connection:
    principal.require_organization(data.organization_id)
    credentials = Credentials(
        access_token=data.access_token,
        refresh_token=data.refresh_token,
        expires_at=data.expires_at,
    )
    return await store_connection(
        session,
        organization_id=data.organization_id,
        channel=data.channel.value,
        account_id=data.account_id,
        display_name=data.display_name,
        credentials=credentials,
        vault=vault,
    )


async def store_connection(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    channel: str,
    account_id: str,
    display_name: str | None,
    credentials: Credentials,
    vault: TokenVault,
) -> Connection:
    """Create the connection, or re-authorise the existing one for the same account (keeping
    its display name when ``display_name`` is None)."""
    connection = await session.scalar(
        select(Connection).where(
            Connection.organization_id == organization_id,
            Connection.channel == channel,
            Connection.account_id == account_id,
        )
    )
    if connection is None:
        connection = Connection(
            id=uuid.uuid4(), organization_id=organization_id, channel=channel, account_id=account_id
        )
        session.add(connection)
    if display_name is not None:
        connection.display_name = display_name
    connection.status = "active"
    connection.token_ciphertext = vault.seal(credentials)
    connection.expires_at = credentials.expires_at
    await session.flush()
    await outbox.add(
        session,
        new_event(
            events.CHANNEL_CONNECTED,
            events.ChannelConnected(
                connection_id=connection.id,
                organization_id=organization_id,
                channel=channel,
                account_id=account_id,
            ),
            source=events.SOURCE,
            subject=str(connection.id),
        ),
    )
    return connection


async def engagement_connections(
    session: AsyncSession, query: EngagementConnectionsQuery
) -> EngagementConnections:
    """Per channel of the engagement: the organisation's most recently connected active
    connection, else its most recent one needing re-authorisation, else none."""
    found = await repository.connections_on(
        session, query.organization_id, [channel.value for channel in query.channels]
    )
    answers = []
    for channel in dict.fromkeys(query.channels):
        on_channel = [connection for connection in found if connection.channel == channel.value]
        chosen = next((c for c in on_channel if c.status == "active"), None)
        if chosen is None:
            chosen = next((c for c in on_channel if c.status == "needs_reauth"), None)
        if chosen is None:
            answers.append(ChannelConnection(channel=channel, status="missing"))
            continue
        answers.append(
            ChannelConnection(
                channel=channel,
                status="connected" if chosen.status == "active" else "needs_reauth",
                connection_id=chosen.id,
                account_id=chosen.account_id,
                display_name=chosen.display_name,
            )
        )
    return EngagementConnections(channels=answers)


async def rotate_keys(session: AsyncSession, vault: TokenVault) -> KeysRotated:
    """Re-encrypt every visible connection's tokens with the newest key, so older keys can be
    retired; connections no configured key can open are listed, not changed."""
    rotated, unreadable = 0, []
    for connection in await session.scalars(select(Connection).with_for_update()):
        try:
            credentials = vault.open(connection.token_ciphertext)
        except TokenKeyError:
            unreadable.append(connection.id)
            continue
        connection.token_ciphertext = vault.seal(credentials)
        rotated += 1
    return KeysRotated(rotated=rotated, unreadable=unreadable)


async def require_connection(session: AsyncSession, connection_id: uuid.UUID) -> Connection:
    connection = await session.get(Connection, connection_id)
    if connection is None:
        raise NotFoundError("connection", connection_id)
    return connection


async def require_publication(session: AsyncSession, publication_id: uuid.UUID) -> Publication:
    publication = await session.get(Publication, publication_id)
    if publication is None:
        raise NotFoundError("publication", publication_id)
    return publication


async def schedule_publication(
    session: AsyncSession, principal: Principal, data: PublicationCreate
) -> Publication:
    """The API's way: asking again for the same (variant, channel, slot) is a conflict."""
    principal.require_organization(data.organization_id)
    publication, created = await place_publication(session, data)
    if not created:
        raise ConflictError(
            "this variant is already scheduled on this channel for this slot",
            publication_id=str(publication.id),
        )
    return publication


async def place_publication(
    session: AsyncSession, data: PublicationCreate, *, channel: str | None = None
) -> tuple[Publication, bool]:
    """The publication of (variant, channel, slot): the existing one (False) or a new one (True).

    ``channel``, when given, is the channel the post is meant for: the connection must be on it.
    """
    connection = await require_connection(session, data.connection_id)
    if connection.organization_id != data.organization_id:
        raise NotFoundError("connection", data.connection_id)
    if channel is not None and connection.channel != channel:
        raise ProblemError(
            422,
            "connection-channel-mismatch",
            f"the connection is on {connection.channel}, the post is for {channel}",
            connection_id=str(connection.id),
        )
    if Channel(connection.channel) in NO_PUBLISHING_API:
        raise ProblemError(
            422,
            "channel-not-publishable",
            NO_PUBLISHING_API[Channel(connection.channel)],
            channel=connection.channel,
        )
    key = idempotency_key(data, connection.channel)
    existing = await _publication_with_key(session, key)
    if existing is not None:
        return existing, False
    if connection.status != "active":
        raise ProblemError(
            409,
            "connection-needs-reauth",
            f"the {connection.channel} connection must be re-authorised before scheduling",
            connection_id=str(connection.id),
        )
    publication = _new_publication(data, connection, key)
    try:
        async with session.begin_nested():
            session.add(publication)
    except IntegrityError:
        # The same post was placed concurrently (the key is unique): that one stands.
        existing = await _publication_with_key(session, key)
        assert existing is not None
        return existing, False
    await outbox.add(
        session,
        new_event(
            events.POST_SCHEDULED,
            events.PostScheduled(
                publication_id=publication.id,
                organization_id=publication.organization_id,
                engagement_id=publication.engagement_id,
                channel=publication.channel,
                variant_id=publication.variant_id,
                slot_id=publication.slot_id,
                due_at=publication.due_at,
            ),
            source=events.SOURCE,
            subject=str(publication.id),
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"publication-key/{key}/scheduled"),
        ),
    )
    return publication, True


async def _publication_with_key(session: AsyncSession, key: str) -> Publication | None:
    return await session.scalar(select(Publication).where(Publication.idempotency_key == key))


def _new_publication(data: PublicationCreate, connection: Connection, key: str) -> Publication:
    publication_id = uuid.uuid4()
    request = PublishRequest(
        idempotency_key=key,
        channel=connection.channel,
        account_id=connection.account_id,
        text=data.text,
        title=data.title,
        link=data.link,
        media=data.media,
        tags=data.tags,
    )
    return Publication(
        id=publication_id,
        organization_id=data.organization_id,
        engagement_id=data.engagement_id,
        connection_id=connection.id,
        channel=connection.channel,
        variant_id=data.variant_id,
        slot_id=data.slot_id,
        idempotency_key=key,
        due_at=data.due_at,
        timezone=data.timezone,
        status="scheduled",
        request=request.model_dump(mode="json"),
        workflow_id=post_workflow_id(publication_id),
    )


async def withdraw_waiting_publication(
    session: AsyncSession, command: CancelCommand
) -> Publication | None:
    """Cancel the publication if it is still waiting (with its ``post_withdrawn``); one that
    publishing has reached is left as it is. None if there is no such publication."""
    publication = await session.get(Publication, command.publication_id, with_for_update=True)
    if publication is None or publication.status != "scheduled":
        return publication
    publication.status = "cancelled"
    publication.failure_detail = f"cancelled by {command.cancelled_by}: {command.reason}"
    await outbox.add(
        session,
        new_event(
            events.POST_WITHDRAWN,
            events.PostWithdrawn(
                publication_id=publication.id,
                organization_id=publication.organization_id,
                engagement_id=publication.engagement_id,
                channel=publication.channel,
                variant_id=publication.variant_id,
                slot_id=publication.slot_id,
                reason=command.reason,
            ),
            source=events.SOURCE,
            subject=str(publication.id),
        ),
    )
    return publication
