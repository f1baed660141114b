"""Rules for channel connections: connecting an account (or re-authorising it), which connection
an engagement's channel publishes through, re-encrypting tokens, and marking a connection that
needs re-authorisation. Queries are in ``repository.py``."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher import events, repository
from services.publisher.connectors.base import Credentials
from services.publisher.contracts import (
    ChannelConnection,
    EngagementConnections,
    EngagementConnectionsQuery,
)
from services.publisher.crypto import TokenKeyError, TokenVault
from services.publisher.models import Connection, outbox
from services.publisher.schemas import ConnectionCreate, KeysRotated
from shared.auth import Principal
from shared.errors import NotFoundError
from shared.events.envelope import new_event


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
        connected_by=principal.subject,
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
    connected_by: str,
) -> Connection:
    """Create the connection, or re-authorise the existing one for the same account (keeping
    its display name when ``display_name`` is None)."""
    connection = await repository.connection_of_account(
        session, organization_id, channel, account_id
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
                connected_by=connected_by,
            ),
            source=events.SOURCE,
            subject=str(connection.id),
        ),
    )
    return connection


async def require_connection(session: AsyncSession, connection_id: uuid.UUID) -> Connection:
    connection = await repository.get_connection(session, connection_id)
    if connection is None:
        raise NotFoundError("connection", connection_id)
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


async def rotate_keys(
    session: AsyncSession, vault: TokenVault, principal: Principal
) -> KeysRotated:
    """Re-encrypt every visible connection's tokens with the newest key, so older keys can be
    retired; connections no configured key can open are listed, not changed. Each organisation
    touched gets a ``tokens_resealed`` fact (its audit log shows who rotated)."""
    rotated: dict[uuid.UUID, int] = {}
    unreadable: dict[uuid.UUID, list[uuid.UUID]] = {}
    for connection in await repository.connections_for_update(session):
        organization = connection.organization_id
        try:
            credentials = vault.open(connection.token_ciphertext)
        except TokenKeyError:
            unreadable.setdefault(organization, []).append(connection.id)
            continue
        connection.token_ciphertext = vault.seal(credentials)
        rotated[organization] = rotated.get(organization, 0) + 1
    for organization in sorted(rotated.keys() | unreadable.keys()):
        await outbox.add(
            session,
            new_event(
                events.TOKENS_RESEALED,
                events.TokensResealed(
                    organization_id=organization,
                    connections=rotated.get(organization, 0),
                    unreadable=unreadable.get(organization, []),
                    rotated_by=principal.subject,
                ),
                source=events.SOURCE,
                subject=str(organization),
            ),
        )
    return KeysRotated(
        rotated=sum(rotated.values()),
        unreadable=[connection for ids in unreadable.values() for connection in ids],
    )


async def mark_needs_reauth(session: AsyncSession, connection_id: uuid.UUID, reason: str) -> None:
    """Only a new authorisation can help this connection: say so once (``channel_needs_reauth``)."""
    connection = await repository.get_connection(session, connection_id, for_update=True)
    if connection is None or connection.status == "needs_reauth":
        return
    connection.status = "needs_reauth"
    await outbox.add(
        session,
        new_event(
            events.CHANNEL_NEEDS_REAUTH,
            events.ChannelNeedsReauth(
                connection_id=connection.id,
                organization_id=connection.organization_id,
                channel=connection.channel,
                account_id=connection.account_id,
                reason=reason[:500],
            ),
            source=events.SOURCE,
            subject=str(connection.id),
        ),
    )
