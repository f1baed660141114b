"""The content service's worker: its outbox relay (its activities arrive with its features)."""

from services.content.models import OutboxEvent
from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker


async def main(settings: Settings) -> None:
    await run_worker("content", settings, task_queues.CONTENT, outbox_model=OutboxEvent)
