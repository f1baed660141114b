"""Starting an engagement's ``EngagementWorkflow``, made durable by strategy's event.

Creating an engagement is two steps in two systems: the strategy service stores it, with its
``engagement_created`` event in the same transaction, and Temporal runs its lifecycle. The
gateway starts the workflow as soon as strategy answers, so the caller sees the live state at
once; the workflow worker also starts it from the event, so an engagement whose gateway stopped
between the two steps (a crash, a lost connection) still gets its lifecycle. Both start it
under the engagement's own workflow id, so whichever comes second changes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.strategy.contracts import EngagementCreated
from shared import task_queues
from shared.events.consumer import (
    ConsumerSpec,
    EffectConsumer,
    EventEffect,
    TransientError,
    spec_for,
)
from shared.events.envelope import CloudEvent
from shared.settings import Settings
from workflows.engagement.messages import (
    WORKFLOW_NAME,
    EngagementInput,
    LifecycleTiming,
    workflow_id,
)

log = logging.getLogger(__name__)

ENGAGEMENT_CREATED = "strategy.engagement_created"
STARTER_DURABLE = "workflows-lifecycle-starter"
START_GRACE = timedelta(seconds=60)
START_HORIZON = timedelta(days=1)


def lifecycle_timing(settings: Settings, time_scale: float | None) -> LifecycleTiming:
    """The settings' durations, compressed by the engagement's own ``time_scale`` if it has one."""
    timing = LifecycleTiming(**settings.lifecycle.model_dump())
    if time_scale is None:
        return timing
    return timing.model_copy(update={"time_scale": time_scale})


async def start_lifecycle(
    client: Client, settings: Settings, engagement: EngagementCreated
) -> None:
    """Start the engagement's workflow unless it was started already (by either path)."""
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            EngagementInput(
                engagement_id=engagement.engagement_id,
                organization_id=engagement.organization_id,
                mode=engagement.mode,
                channels=engagement.channels,
                starts_on=engagement.starts_on,
                ends_on=engagement.ends_on,
                task_queue_prefix=settings.temporal.task_queue_prefix,
                timing=lifecycle_timing(settings, engagement.time_scale),
                publish_timeout_seconds=settings.publisher.publish_timeout_seconds,
            ),
            id=workflow_id(engagement.engagement_id),
            task_queue=settings.task_queue(task_queues.WORKFLOWS),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        log.info("workflow of engagement %s was already started", engagement.engagement_id)


def lifecycle_starter(
    client: Client, settings: Settings, grace: timedelta = START_GRACE
) -> EventEffect:
    async def start(event: CloudEvent) -> None:
        engagement = EngagementCreated.model_validate(event.data)
        age = datetime.now(UTC) - event.time
        if age > START_HORIZON:
            log.warning("engagement %s is too old to start from its event", engagement)
            return
        if age < grace:
            raise TransientError("the gateway may still start it", (grace - age).total_seconds())
        await start_lifecycle(client, settings, engagement)

    return start


def lifecycle_start_consumer(
    client: Client,
    js: JetStreamContext,
    settings: Settings,
    *,
    grace: timedelta = START_GRACE,
    spec: ConsumerSpec | None = None,
) -> EffectConsumer:
    """The workflow worker's consumer of ``engagement_created``."""
    spec = spec or spec_for(STARTER_DURABLE, ENGAGEMENT_CREATED, settings.events)
    return EffectConsumer(js, spec, lifecycle_starter(client, settings, grace))
