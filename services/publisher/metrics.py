"""Metrics collection: post metrics of recent publications and account followers, each sample
stamped with its collection time, for the reporting service."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher import events
from services.publisher.connectors.base import AuthError, ConnectorError
from services.publisher.contracts import MetricsCollected
from services.publisher.crypto import TokenKeyError, TokenVault
from services.publisher.models import (
    AccountMetricsSample,
    Connection,
    PostMetricsSample,
    Publication,
    outbox,
)
from services.publisher.publishing import ConnectorFor, mark_needs_reauth
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.envelope import new_event

log = logging.getLogger(__name__)


async def collect(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    connector_for: ConnectorFor,
    lookback_days: int,
) -> MetricsCollected:
    collected_at = datetime.now(UTC)
    since = collected_at - timedelta(days=lookback_days)
    async with session_scope(sessions, SYSTEM) as session:
        connections = {
            connection.id: connection
            for connection in await session.scalars(
                select(Connection).where(Connection.status == "active")
            )
        }
        publications = (
            await session.scalars(
                select(Publication).where(
                    Publication.status == "published",
                    Publication.published_at >= since,
                    Publication.connection_id.in_(connections),
                )
            )
        ).all()
        posts: Counter[uuid.UUID] = Counter()
        accounts: Counter[uuid.UUID] = Counter()
        failures = 0
        for publication in publications:
            connection = connections[publication.connection_id]
            connector = connector_for(publication.channel)
            assert publication.platform_post_id is not None
            try:
                figures = await connector.post_metrics(
                    vault.open(connection.token_ciphertext), publication.platform_post_id
                )
            except AuthError as error:
                await mark_needs_reauth(session, connection.id, str(error))
                failures += 1
                continue
            except (ConnectorError, TokenKeyError) as error:
                # One unreadable connection must not stop the collection for every other one.
                log.warning("metrics of %s unavailable: %s", publication.id, error)
                failures += 1
                continue
            session.add(
                PostMetricsSample(
                    organization_id=publication.organization_id,
                    publication_id=publication.id,
                    collected_at=collected_at,
                    **figures.model_dump(),
                )
            )
            posts[publication.organization_id] += 1
        for connection in connections.values():
            try:
                account = await connector_for(connection.channel).account_metrics(
                    vault.open(connection.token_ciphertext), connection.account_id
                )
            except (ConnectorError, TokenKeyError) as error:
                log.warning("followers of %s unavailable: %s", connection.id, error)
                failures += 1
                continue
            session.add(
                AccountMetricsSample(
                    organization_id=connection.organization_id,
                    connection_id=connection.id,
                    collected_at=collected_at,
                    followers=account.followers,
                )
            )
            accounts[connection.organization_id] += 1
        for organization_id in posts.keys() | accounts.keys():
            await outbox.add(
                session,
                new_event(
                    events.METRICS_COLLECTED,
                    events.MetricsCollectedFact(
                        organization_id=organization_id,
                        posts=posts[organization_id],
                        accounts=accounts[organization_id],
                        collected_at=collected_at,
                    ),
                    source=events.SOURCE,
                    subject=str(organization_id),
                ),
            )
    return MetricsCollected(
        posts=sum(posts.values()), accounts=sum(accounts.values()), failures=failures
    )


async def refresh_expiring(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    connector_for: ConnectorFor,
    within: timedelta,
) -> tuple[int, int]:
    """Refresh tokens expiring within ``within``; returns (refreshed, now needing re-auth)."""
    refreshed = needs_reauth = 0
    async with session_scope(sessions, SYSTEM) as session:
        expiring = await session.scalars(
            select(Connection).where(
                Connection.status == "active",
                Connection.expires_at.is_not(None),
                Connection.expires_at < datetime.now(UTC) + within,
            )
        )
        for connection in expiring.all():
            try:
                credentials = await connector_for(connection.channel).refresh(
                    vault.open(connection.token_ciphertext)
                )
            except AuthError as error:
                await mark_needs_reauth(session, connection.id, f"token refresh refused: {error}")
                needs_reauth += 1
                continue
            except (ConnectorError, TokenKeyError) as error:
                log.warning("refresh of %s failed, will retry: %s", connection.id, error)
                continue
            connection.token_ciphertext = vault.seal(credentials)
            connection.expires_at = credentials.expires_at
            refreshed += 1
    return refreshed, needs_reauth
