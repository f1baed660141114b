"""The listening service's worker: its activities, its outbox relay, its read model of
engagements, mention ingestion, the schedule that polls sources, and notifications (the
consumers recording deliveries, the loop sending them)."""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    ScheduleIntervalSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from services.listening.activities import ListeningActivities
from services.listening.alerts.activities import AlertActivities
from services.listening.alerts.contracts import (
    ALERTS_EVERY,
    ALERTS_EVERY_IN_DEV,
    ALERTS_SCHEDULE_ID,
    ALERTS_WORKFLOW,
    AlertsInput,
)
from services.listening.contracts import POLL_SCHEDULE_ID, POLL_WORKFLOW, PollInput
from services.listening.conversations.activities import ConversationActivities
from services.listening.conversations.intake import SUBSCRIPTIONS as CONVERSATIONS
from services.listening.ingestion import ingestion
from services.listening.models import OutboxEvent, engagements
from services.listening.notifications import delivery as notification_delivery
from services.listening.notifications.service import SUBSCRIPTIONS as NOTIFICATIONS
from services.listening.sources.activities import SourceActivities
from shared import task_queues
from shared.settings import Settings
from shared.temporal import ensure_interval_schedule
from shared.worker import run_worker


def activities(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    js: Callable[[], JetStreamContext],
) -> Sequence[Callable[..., Any]]:
    # A model trained here labels the next mentions this worker ingests at once.
    return [
        *ListeningActivities(sessions, on_model_trained=ingestion.models.invalidate).all(),
        *SourceActivities(sessions, js, settings, http).all(),
        *AlertActivities(sessions).all(),
        *ConversationActivities(sessions).all(),
    ]


async def ensure_poll_schedule(client: Client, settings: Settings) -> None:
    """Keep one schedule starting a round of polling every ``poll_every_seconds``."""
    prefix = settings.temporal.task_queue_prefix
    await ensure_interval_schedule(
        client,
        f"{prefix}{POLL_SCHEDULE_ID}",
        POLL_WORKFLOW,
        PollInput(task_queue_prefix=prefix),
        prefix + task_queues.WORKFLOWS,
        timedelta(seconds=settings.listening.poll_every_seconds),
    )


def alerts_every(settings: Settings) -> timedelta:
    """``alerts_every_seconds`` when set, else every 30 s in development, 5 minutes elsewhere."""
    if settings.listening.alerts_every_seconds is not None:
        return timedelta(seconds=settings.listening.alerts_every_seconds)
    return ALERTS_EVERY_IN_DEV if settings.environment == "dev" else ALERTS_EVERY


async def ensure_alerts_schedule(client: Client, settings: Settings) -> None:
    """Keep one schedule evaluating alerts every ``alerts_every``; one kept from an earlier run
    (Temporal's data outlives ``make up``) takes the interval configured now."""
    prefix = settings.temporal.task_queue_prefix
    schedule_id = f"{prefix}{ALERTS_SCHEDULE_ID}"
    every = alerts_every(settings)
    await ensure_interval_schedule(
        client,
        schedule_id,
        ALERTS_WORKFLOW,
        AlertsInput(task_queue_prefix=prefix),
        prefix + task_queues.WORKFLOWS,
        every,
    )

    def retimed(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        schedule = current.description.schedule
        if [interval.every for interval in schedule.spec.intervals] == [every]:
            return None
        schedule.spec.intervals = [ScheduleIntervalSpec(every=every)]
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(retimed)


async def ensure_schedules(client: Client, settings: Settings) -> None:
    await ensure_poll_schedule(client, settings)
    await ensure_alerts_schedule(client, settings)


async def main(settings: Settings) -> None:
    # Before the consumers start: what ingestion keeps for the process's life, loaded once and
    # kept out of the garbage collector's full collections.
    ingestion.warm_up()
    async with (
        httpx.AsyncClient(timeout=settings.listening.request_timeout_seconds) as http,
        notification_delivery.delivering(settings),
    ):
        await run_worker(
            "listening",
            settings,
            task_queues.LISTENING,
            activities=lambda runtime: activities(
                runtime.sessions, settings, http, lambda: runtime.js
            ),
            on_connected=lambda client: ensure_schedules(client, settings),
            outbox_model=OutboxEvent,
            subscriptions=[
                engagements.subscription,
                ingestion.subscription,
                *NOTIFICATIONS,
                *CONVERSATIONS,
            ],
        )
