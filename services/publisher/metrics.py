"""Metrics collection: post metrics of recent publications and account followers, each sample
stamped with its collection time, for the reporting service."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher import events, repository
from services.publisher.connections import mark_needs_reauth
from services.publisher.connectors.base import AuthError, ConnectorError
from services.publisher.contracts import (
    ChannelPeriodFigures,
    EngagementPeriodQuery,
    EngagementPeriodSummary,
    MetricsCollected,
    PostMetricsTotals,
)
from services.publisher.crypto import TokenKeyError, TokenVault
from services.publisher.models import AccountMetricsSample, PostMetricsSample, outbox
from services.publisher.publishing import ConnectorFor
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.events.envelope import CloudEvent, new_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngagementScope:
    """One engagement's posts, and the connections they went out through."""

    organization_id: uuid.UUID
    engagement_id: uuid.UUID


def collection_event_id(collection_key: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"publisher/metrics-collection/{collection_key}")


async def collect(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    connector_for: ConnectorFor,
    lookback_days: int,
    *,
    scope: EngagementScope | None = None,
    collection_key: str | None = None,
) -> MetricsCollected:
    """Collect every organisation's metrics, or one engagement's (``scope``).

    A ``collection_key`` (an engagement's collection only) makes the collection idempotent: its
    ``metrics_collected`` event has the key's id, and when that event exists already the
    collection is not made again and its figures are answered from the event."""
    collected_at = datetime.now(UTC)
    since = collected_at - timedelta(days=lookback_days)
    event_id = collection_event_id(collection_key) if collection_key else None
    async with session_scope(sessions, SYSTEM) as session:
        if event_id is not None:
            earlier = await _earlier_collection(session, event_id)
            if earlier is not None:
                return earlier
        connections = {
            connection.id: connection
            for connection in await repository.active_connections(
                session, scope.organization_id if scope else None
            )
        }
        publications = await repository.published_since(
            session,
            since,
            list(connections),
            engagement_id=scope.engagement_id if scope else None,
        )
        if scope is not None:
            used = {publication.connection_id for publication in publications}
            connections = {key: value for key, value in connections.items() if key in used}
        posts: Counter[uuid.UUID] = Counter()
        accounts: Counter[uuid.UUID] = Counter()
        failures: Counter[uuid.UUID] = Counter()
        # What each organisation's samples are announced with (``metrics_sampled``).
        samples: dict[uuid.UUID, list[events.PostSample | events.AccountSample]] = {}
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
                failures[publication.organization_id] += 1
                continue
            except (ConnectorError, TokenKeyError) as error:
                # One unreadable connection must not stop the collection for every other one.
                log.warning("metrics of %s unavailable: %s", publication.id, error)
                failures[publication.organization_id] += 1
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
            samples.setdefault(publication.organization_id, []).append(
                events.PostSample(
                    publication_id=publication.id,
                    collected_at=collected_at,
                    **figures.model_dump(),
                )
            )
        for connection in connections.values():
            try:
                account = await connector_for(connection.channel).account_metrics(
                    vault.open(connection.token_ciphertext), connection.account_id
                )
            except (ConnectorError, TokenKeyError) as error:
                log.warning("followers of %s unavailable: %s", connection.id, error)
                failures[connection.organization_id] += 1
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
            samples.setdefault(connection.organization_id, []).append(
                events.AccountSample(
                    connection_id=connection.id,
                    channel=connection.channel,
                    collected_at=collected_at,
                    followers=account.followers,
                )
            )
        organizations = posts.keys() | accounts.keys()
        if scope is not None:
            # An engagement's collection is announced even when it found nothing: its event
            # is what a repeat of the key finds.
            organizations = {scope.organization_id}
        for organization_id in organizations:
            await outbox.add_all(
                session,
                sampled_events(
                    organization_id,
                    collected_at,
                    samples.get(organization_id, []),
                    scope.engagement_id if scope else None,
                ),
            )
            fact = events.MetricsCollectedFact(
                organization_id=organization_id,
                posts=posts[organization_id],
                accounts=accounts[organization_id],
                collected_at=collected_at,
                engagement_id=scope.engagement_id if scope else None,
                failures=failures[organization_id],
            )
            event = new_event(
                events.METRICS_COLLECTED,
                fact,
                source=events.SOURCE,
                subject=str(organization_id),
                event_id=event_id,
            )
            if not await outbox.add(session, event):
                # Another attempt of the same collection committed meanwhile: roll this one
                # back; the retry answers that one's figures.
                raise RuntimeError(f"metrics collection {collection_key} was made concurrently")
    return MetricsCollected(
        posts=sum(posts.values()),
        accounts=sum(accounts.values()),
        failures=sum(failures.values()),
        collected_at=collected_at,
    )


def sampled_events(
    organization_id: uuid.UUID,
    collected_at: datetime,
    samples: Sequence[events.PostSample | events.AccountSample],
    engagement_id: uuid.UUID | None = None,
) -> list[CloudEvent]:
    """One organisation's samples of a collection as ``metrics_sampled`` events, none holding
    more than ``SAMPLES_PER_EVENT`` samples (a NATS message has a size limit)."""
    chunks = [
        samples[start : start + events.SAMPLES_PER_EVENT]
        for start in range(0, len(samples), events.SAMPLES_PER_EVENT)
    ]
    return [
        new_event(
            events.METRICS_SAMPLED,
            events.MetricsSampled(
                organization_id=organization_id,
                collected_at=collected_at,
                chunk=index,
                posts=[sample for sample in chunk if isinstance(sample, events.PostSample)],
                accounts=[sample for sample in chunk if isinstance(sample, events.AccountSample)],
                engagement_id=engagement_id,
            ),
            source=events.SOURCE,
            subject=str(organization_id),
            event_id=events.metrics_sampled_event_id(organization_id, collected_at, index),
        )
        for index, chunk in enumerate(chunks)
    ]


async def _earlier_collection(
    session: AsyncSession, event_id: uuid.UUID
) -> MetricsCollected | None:
    data = await repository.staged_event_data(session, event_id)
    if data is None:
        return None
    fact = events.MetricsCollectedFact.model_validate(data)
    return MetricsCollected(
        posts=fact.posts,
        accounts=fact.accounts,
        failures=fact.failures,
        collected_at=fact.collected_at,
        repeated=True,
    )


async def period_summary(
    session: AsyncSession, query: EngagementPeriodQuery
) -> EngagementPeriodSummary:
    """What the engagement published in the period, what failed for good, and the summed
    latest metrics of the published posts (read-only)."""
    publications = await repository.publications_of_period(
        session,
        organization_id=query.organization_id,
        engagement_id=query.engagement_id,
        starts_at=query.starts_at,
        ends_at=query.ends_at,
    )
    published = [p for p in publications if p.status == "published"]
    failed = [p for p in publications if p.status == "failed"]
    samples = await repository.latest_metrics(
        session, [publication.id for publication in published], query.metrics_as_of
    )
    totals = PostMetricsTotals()
    for sample in samples:
        for figure in PostMetricsTotals.model_fields:
            value = getattr(sample, figure)
            if value is not None:
                setattr(totals, figure, getattr(totals, figure) + value)
    channels = sorted({publication.channel for publication in publications})
    return EngagementPeriodSummary(
        engagement_id=query.engagement_id,
        starts_at=query.starts_at,
        ends_at=query.ends_at,
        posts_published=len(published),
        posts_failed=len(failed),
        by_channel=[
            ChannelPeriodFigures(
                channel=Channel(channel),
                published=sum(p.channel == channel for p in published),
                failed=sum(p.channel == channel for p in failed),
            )
            for channel in channels
        ],
        posts_with_metrics=len(samples),
        metrics=totals,
        metrics_collected_at=max((sample.collected_at for sample in samples), default=None),
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
        expiring = await repository.connections_expiring_before(session, datetime.now(UTC) + within)
        for connection in expiring:
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
