"""The strategy service's worker: its activities and its outbox relay."""

from services.strategy.activities import StrategyActivities
from services.strategy.models import OutboxEvent
from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker


async def main(settings: Settings) -> None:
    await run_worker(
        "strategy",
        settings,
        task_queues.STRATEGY,
        activities=lambda runtime: StrategyActivities(runtime.sessions).all(),
        outbox_model=OutboxEvent,
    )
