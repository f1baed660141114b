"""The listening service's worker: its outbox relay (its activities arrive with its features)."""

from services.listening.models import OutboxEvent
from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker


async def main(settings: Settings) -> None:
    await run_worker("listening", settings, task_queues.LISTENING, outbox_model=OutboxEvent)
