"""Starting a conversation's ``ConversationSlaWorkflow`` from listening's
``conversations.conversation_opened``: the workflow worker's effect consumer, as
``lifecycle_start`` starts lifecycles. The workflow id is the conversation's, so a redelivered
event starts nothing twice."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.listening.contracts import (
    SLA_STARTED_BY,
    SLA_WORKFLOW,
    ConversationSlaInput,
    sla_workflow_id,
)
from shared import task_queues
from shared.events.consumer import ConsumerSpec, EffectConsumer, EventEffect, spec_for
from shared.events.envelope import CloudEvent
from shared.settings import Settings

log = logging.getLogger(__name__)

SLA_STARTER_DURABLE = "workflows-conversation-sla-starter"


def sla_input(event: CloudEvent, task_queue_prefix: str) -> ConversationSlaInput:
    """The input from ``conversation_opened``'s data, which carries every field of it."""
    opened = ConversationSlaInput.model_validate(event.data)
    return opened.model_copy(update={"task_queue_prefix": task_queue_prefix})


def sla_starter(client: Client, settings: Settings) -> EventEffect:
    async def start(event: CloudEvent) -> None:
        opened = sla_input(event, settings.temporal.task_queue_prefix)
        try:
            await client.start_workflow(
                SLA_WORKFLOW,
                opened,
                id=sla_workflow_id(opened.conversation_id),
                task_queue=settings.task_queue(task_queues.WORKFLOWS),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            log.info("SLA of conversation %s was already started", opened.conversation_id)

    return start


def sla_start_consumer(
    client: Client, js: JetStreamContext, settings: Settings, *, spec: ConsumerSpec | None = None
) -> EffectConsumer:
    spec = spec or spec_for(SLA_STARTER_DURABLE, SLA_STARTED_BY, settings.events)
    return EffectConsumer(js, spec, sla_starter(client, settings))
