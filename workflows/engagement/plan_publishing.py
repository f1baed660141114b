"""Publishing the engagement's approved plan through the publisher, from seeding on and every
support cycle, and the channel connections it goes through."""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

from services.publisher.contracts import (
    ENGAGEMENT_CONNECTIONS,
    EngagementConnections,
    EngagementConnectionsQuery,
)
from shared import task_queues
from workflows.engagement.messages import EngagementInput, workflow_id
from workflows.engagement.service_calls import ServiceCalls, cancelled
from workflows.publishing.messages import (
    PLAN_WORKFLOW_NAME,
    PlanPublishingState,
    PublishPlanInput,
    plan_workflow_id,
)


async def connections(engagement: EngagementInput, calls: ServiceCalls) -> EngagementConnections:
    return await calls.activity(
        task_queues.PUBLISHER,
        ENGAGEMENT_CONNECTIONS,
        EngagementConnectionsQuery(
            organization_id=engagement.organization_id, channels=engagement.channels
        ),
        EngagementConnections,
    )


async def publish_plan(engagement: EngagementInput, calls: ServiceCalls) -> dict[str, Any]:
    """Schedule the approved plan's posts not scheduled yet, through the channels connected
    now: ``PublishPlanWorkflow`` as a child that outlives the engagement (each post's own
    workflow publishes it on time). One already running (started by hand) is left to it."""
    connected = (await connections(engagement, calls)).connected()
    if not connected:
        return {"status": "skipped", "reason": "no_connection"}
    plan_id = plan_workflow_id(engagement.engagement_id)
    try:
        handle = await workflow.start_child_workflow(
            PLAN_WORKFLOW_NAME,
            PublishPlanInput(
                engagement_id=engagement.engagement_id,
                organization_id=engagement.organization_id,
                connections=connected,
                requested_by=workflow_id(engagement.engagement_id),
                task_queue_prefix=engagement.task_queue_prefix,
                publish_timeout_seconds=engagement.publish_timeout_seconds,
            ),
            id=plan_id,
            task_queue=calls.queue(task_queues.WORKFLOWS),
            result_type=PlanPublishingState,
            parent_close_policy=ParentClosePolicy.ABANDON,
            # A finished run of the planner makes way for the next one.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return {"status": "already_running", "workflow_id": plan_id}
    try:
        published: PlanPublishingState = await handle
    except ChildWorkflowError as error:
        if cancelled(error):
            raise
        return {"status": "skipped", "workflow_id": plan_id, **_plan_refusal(error)}
    calls.stop_if_cancelled()
    if published.status == "plan_not_approved":
        return {"status": "skipped", "reason": "plan_not_approved", "workflow_id": plan_id}
    return {
        "status": "done",
        "workflow_id": plan_id,
        "plan_generation": published.plan_generation,
        "connections": {channel.value: str(id_) for channel, id_ in connected.items()},
        "scheduled": len(published.scheduled),
        "skipped": dict(sorted(Counter(slot.reason for slot in published.skipped).items())),
    }


def _plan_refusal(error: ChildWorkflowError) -> dict[str, str]:
    """Why the planner stopped: no plan at all, or what it was refused."""
    cause: BaseException | None = error.cause
    while isinstance(cause, ActivityError | ChildWorkflowError):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type == "not-found":
        return {"reason": "no_plan"}
    return {"reason": "failed", "detail": str(cause or error)[:500]}
