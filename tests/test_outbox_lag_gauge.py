"""The outbox relay's lag gauge, ``engage_outbox_oldest_pending_age``: the age of the oldest
event an outbox has not published yet, as Prometheus reads it, against real PostgreSQL and NATS
JetStream."""

from __future__ import annotations

from datetime import timedelta

import prometheus_client
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy.models import OutboxEvent
from shared.events.relay import OutboxRelay
from shared.settings import EventSettings, Settings
from shared.telemetry import setup_telemetry
from tests.test_outbox import pending, stage

GAUGE = "engage_outbox_oldest_pending_age_seconds"
# The strategy service's outbox: the relay labels its figures with the outbox's schema.
OUTBOX = "strategy"


def oldest_pending_age() -> float | None:
    """The gauge's value for the strategy outbox, as ``/metrics`` serves it (None if absent)."""
    exposition = prometheus_client.generate_latest().decode()
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == GAUGE and sample.labels.get("outbox") == OUTBOX:
                return sample.value
    return None


async def age_events(sessions: async_sessionmaker[AsyncSession], seconds: float) -> None:
    """Every unpublished event of the outbox committed ``seconds`` ago."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .values(created_at=func.now() - timedelta(seconds=seconds))
        )


async def test_the_gauge_reads_the_oldest_unpublished_events_age_then_0_once_published(
    settings: Settings,
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    # The process's meter provider, as every service and worker installs it.
    setup_telemetry("tests", settings)
    relay = OutboxRelay(fresh_sessions, OutboxEvent, nats_client.jetstream(), isolated_events)

    await relay.sample_backlog()
    assert oldest_pending_age() == 0.0, "an empty outbox has no lag"

    await stage(fresh_sessions, "older", "newer")
    await age_events(fresh_sessions, 300)
    await stage(fresh_sessions, "just now")
    await relay.sample_backlog()
    # Read before anything else runs on this loop (another relay would set its own figure).
    age = oldest_pending_age()
    assert age is not None
    # The oldest event's age, not the newest's nor an average; the margin is the time the
    # statements took.
    assert 300 <= age < 330, age

    assert await relay.relay_once() == 3
    assert await pending(fresh_sessions) == 0
    await relay.sample_backlog()
    assert oldest_pending_age() == 0.0, "nothing left to publish: no lag"
