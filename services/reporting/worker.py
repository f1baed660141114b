"""The reporting service's worker: its outbox relay (its activities arrive with its features)."""

from services.reporting.models import OutboxEvent
from shared import task_queues
from shared.settings import Settings
from shared.worker import run_worker


async def main(settings: Settings) -> None:
    await run_worker("reporting", settings, task_queues.REPORTING, outbox_model=OutboxEvent)
