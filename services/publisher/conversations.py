"""Reading a connected channel's conversations (comments on its posts, mentions of its account)
for listening: the channel's tokens never leave the publisher, listening gets what was said.

The connection must be the organisation's and active; its token is refreshed when it is about
to expire (or when the platform refuses it once), and a refused refresh marks the connection as
needing re-authorisation, as metrics collection does. Failures leave as problems, which the
activity error policy turns into final or retryable errors:

* an unknown connection (or another organisation's): 404 ``not-found``;
* a connection needing re-authorisation: 409 ``needs-reauth``;
* a channel whose connector cannot read conversations: 422 ``conversations-not-supported``;
* a platform that throttles before anything could be answered: 429 ``platform-rate-limited``
  with its ``Retry-After`` (throttled part way, the connector answers what it read, with
  ``retry_after``); any other platform failure: 503 ``platform-unavailable``, retried.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher import repository
from services.publisher.connections import mark_needs_reauth
from services.publisher.connectors.base import (
    AuthError,
    Connector,
    ConnectorError,
    ConversationReader,
    Credentials,
    RetryableError,
)
from services.publisher.contracts import ConversationsRead, ReadConversations
from services.publisher.crypto import TokenKeyError, TokenVault
from services.publisher.models import Connection
from services.publisher.publishing import ConnectorFor
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import NotFoundError, ProblemError

# A token expiring this soon is refreshed before the read rather than refused during it.
REFRESH_MARGIN = timedelta(seconds=60)
THROTTLED = 429


@dataclass(frozen=True)
class ConnectionAccount:
    """What a read (or a reply) needs of the connection, taken out of its session."""

    connection_id: uuid.UUID
    channel: str
    account_id: str


class NeedsReauthError(ProblemError):
    def __init__(self, connection_id: uuid.UUID, detail: str) -> None:
        super().__init__(409, "needs-reauth", detail, connection_id=str(connection_id))


async def read_conversations(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    connector_for: ConnectorFor,
    command: ReadConversations,
) -> ConversationsRead:
    """The connection's conversations after ``command.since`` (see the module's failures)."""
    async with session_scope(sessions, SYSTEM) as session:
        connection = await _require_active(session, command)
        channel = ConnectionAccount(connection.id, connection.channel, connection.account_id)
    reader = _reader(connector_for, channel.channel)
    credentials = await connection_credentials(sessions, vault, reader, channel)
    try:
        return await _read(reader, credentials, channel, command)
    except AuthError:
        # Refused although not due to expire (expired early, or revoked): one refresh tells a
        # token that can be renewed from an authorisation that is gone.
        credentials = await connection_credentials(
            sessions, vault, reader, channel, refused=credentials
        )
        try:
            return await _read(reader, credentials, channel, command)
        except AuthError as error:
            reason = f"the {channel.channel} platform refused a fresh token: {error}"
            await mark_connection_needs_reauth(sessions, channel, reason)
            raise NeedsReauthError(channel.connection_id, reason) from error


async def _require_active(session: AsyncSession, command: ReadConversations) -> Connection:
    connection = await repository.get_connection(session, command.connection_id)
    if connection is None or connection.organization_id != command.organization_id:
        raise NotFoundError("connection", command.connection_id)
    if connection.status != "active":
        raise NeedsReauthError(
            connection.id,
            f"the {connection.channel} connection must be re-authorised before its "
            "conversations can be read",
        )
    return connection


def _reader(connector_for: ConnectorFor, channel: str) -> ConversationReader:
    try:
        connector: Connector | None = connector_for(channel)
    except ConnectorError:
        # A channel with no publishing API has no connector to read with either.
        connector = None
    if not isinstance(connector, ConversationReader):
        raise ProblemError(
            422,
            "conversations-not-supported",
            f"reading conversations is not supported for {channel}",
            channel=channel,
        )
    return connector


async def connection_credentials(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    connector: Connector,
    channel: ConnectionAccount,
    *,
    refused: Credentials | None = None,
) -> Credentials:
    """The connection's credentials, refreshed first when they are about to expire or the
    platform ``refused`` them. The connection stays locked while it is refreshed, and one
    refreshed meanwhile by another read is taken as it is: a rotating refresh token is never
    spent twice."""
    reason: str
    async with session_scope(sessions, SYSTEM) as session:
        connection = await repository.get_connection(
            session, channel.connection_id, for_update=True
        )
        if connection is None:
            raise NotFoundError("connection", channel.connection_id)
        try:
            stored = vault.open(connection.token_ciphertext)
        except TokenKeyError as error:
            reason = f"the {channel.channel} token cannot be read: {error}"
        else:
            if not _due_for_refresh(connection, stored, refused):
                return stored
            try:
                credentials = await connector.refresh(stored)
            except AuthError as error:
                reason = f"token refresh refused: {error}"
            except ConnectorError as error:
                raise _platform_problem(channel, error) from error
            else:
                connection.token_ciphertext = vault.seal(credentials)
                connection.expires_at = credentials.expires_at
                return credentials
    await mark_connection_needs_reauth(sessions, channel, reason)
    raise NeedsReauthError(channel.connection_id, reason)


def _due_for_refresh(
    connection: Connection, stored: Credentials, refused: Credentials | None
) -> bool:
    if refused is not None:
        return stored.access_token == refused.access_token
    expires_at = connection.expires_at
    return expires_at is not None and expires_at <= datetime.now(UTC) + REFRESH_MARGIN


async def _read(
    reader: ConversationReader,
    credentials: Credentials,
    channel: ConnectionAccount,
    command: ReadConversations,
) -> ConversationsRead:
    try:
        return await reader.read_conversations(
            credentials, channel.account_id, command.since, command.limit
        )
    except AuthError:
        raise
    except ConnectorError as error:
        raise _platform_problem(channel, error) from error


def _platform_problem(channel: ConnectionAccount, error: ConnectorError) -> ProblemError:
    """A platform failure as a retryable problem; throttling keeps the platform's wait."""
    retry_after = error.retry_after if isinstance(error, RetryableError) else None
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after else None
    if error.status == THROTTLED:
        return ProblemError(
            429,
            "platform-rate-limited",
            f"the {channel.channel} platform asked to wait before reading again: {error}",
            headers=headers,
            channel=channel.channel,
        )
    return ProblemError(
        503,
        "platform-unavailable",
        f"the {channel.channel} conversations could not be read: {error}",
        headers=headers,
        channel=channel.channel,
    )


async def mark_connection_needs_reauth(
    sessions: async_sessionmaker[AsyncSession], channel: ConnectionAccount, reason: str
) -> None:
    """Recorded in its own unit of work: the problem raised next rolls back the caller's."""
    async with session_scope(sessions, SYSTEM) as session:
        await mark_needs_reauth(session, channel.connection_id, reason)
