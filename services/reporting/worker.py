"""The reporting service's worker: its outbox relay, the consumers that keep its read model
(``readmodel.subscriptions``) and the engagements directory, the reports' activities, and the
consumer keeping each engagement's periodic reports' schedule."""

from collections.abc import Callable, Sequence
from typing import Any

from nats.js import JetStreamContext
from temporalio.client import Client

from services.reporting.models import OutboxEvent, engagements
from services.reporting.readmodel.subscriptions import SUBSCRIPTIONS
from services.reporting.reports.activities import ReportActivities
from services.reporting.reports.schedules import report_schedule_consumer
from shared import task_queues
from shared.events.consumer import EffectConsumer
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.worker import run_worker


def activities(runtime: ServiceRuntime) -> Sequence[Callable[..., Any]]:
    """The reports' steps, and the KPIs the lifecycle's support cycles record."""
    return ReportActivities(runtime.sessions, runtime.settings).all()


def effects(
    client: Client, js: JetStreamContext, runtime: ServiceRuntime
) -> Sequence[EffectConsumer]:
    return [report_schedule_consumer(client, js, runtime.sessions, runtime.settings)]


async def main(settings: Settings) -> None:
    await run_worker(
        "reporting",
        settings,
        task_queues.REPORTING,
        activities=activities,
        outbox_model=OutboxEvent,
        subscriptions=[engagements.subscription, *SUBSCRIPTIONS],
        effects=effects,
    )
