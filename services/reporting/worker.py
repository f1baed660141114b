"""The reporting service's worker: its outbox relay, the consumers that keep its read model
(``readmodel.subscriptions``) and the engagements directory, and its activities."""

from collections.abc import Callable, Sequence
from typing import Any

from services.reporting.models import OutboxEvent, engagements
from services.reporting.readmodel.subscriptions import SUBSCRIPTIONS
from shared import task_queues
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.worker import run_worker


def activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    """The activities reporting offers on its task queue (the reports' steps add theirs here)."""
    return []


async def main(settings: Settings) -> None:
    await run_worker(
        "reporting",
        settings,
        task_queues.REPORTING,
        activities=activities,
        outbox_model=OutboxEvent,
        subscriptions=[engagements.subscription, *SUBSCRIPTIONS],
    )
