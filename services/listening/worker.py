"""The listening service's worker: its activities, its outbox relay, its read model of
engagements, mention ingestion, and the schedule that polls sources."""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
)

from services.listening.activities import ListeningActivities
from services.listening.contracts import POLL_SCHEDULE_ID, POLL_WORKFLOW, PollInput
from services.listening.ingestion import ingestion
from services.listening.models import OutboxEvent, engagements
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


async def main(settings: Settings) -> None:
    async with httpx.AsyncClient(timeout=settings.listening.request_timeout_seconds) as http:
        await run_worker(
            "listening",
            settings,
            task_queues.LISTENING,
            activities=lambda runtime: activities(
                runtime.sessions, settings, http, lambda: runtime.js
            ),
            on_connected=lambda client: ensure_poll_schedule(client, settings),
            outbox_model=OutboxEvent,
            subscriptions=[engagements.subscription, ingestion.subscription],
        )
