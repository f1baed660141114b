"""The strategy service's worker: its activities, its outbox relay, and the consumers keeping
the listening service's alerts and SLA breaches on the engagements' timelines."""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy import listening_facts
from services.strategy.activities import StrategyActivities
from services.strategy.models import OutboxEvent
from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker


def activities(sessions: async_sessionmaker[AsyncSession]) -> Sequence[Callable[..., Any]]:
    return StrategyActivities(sessions).all()


async def main(settings: Settings) -> None:
    await run_worker(
        "strategy",
        settings,
        task_queues.STRATEGY,
        activities=lambda runtime: activities(runtime.sessions),
        outbox_model=OutboxEvent,
        subscriptions=listening_facts.SUBSCRIPTIONS,
    )
