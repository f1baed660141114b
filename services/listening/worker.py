"""The listening service's worker: its activities, its outbox relay, its read model of
engagements and mention ingestion."""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.activities import ListeningActivities
from services.listening.ingestion import ingestion
from services.listening.models import OutboxEvent, engagements
from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker


def activities(sessions: async_sessionmaker[AsyncSession]) -> Sequence[Callable[..., Any]]:
    return ListeningActivities(sessions).all()


async def main(settings: Settings) -> None:
    await run_worker(
        "listening",
        settings,
        task_queues.LISTENING,
        activities=lambda runtime: activities(runtime.sessions),
        outbox_model=OutboxEvent,
        subscriptions=[engagements.subscription, ingestion.subscription],
    )
