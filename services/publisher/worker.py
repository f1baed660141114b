"""The publisher service's worker: its outbox relay (its activities arrive with its features)."""

from services.publisher.models import OutboxEvent
from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker


async def main(settings: Settings) -> None:
    await run_worker("publisher", settings, task_queues.PUBLISHER, outbox_model=OutboxEvent)
