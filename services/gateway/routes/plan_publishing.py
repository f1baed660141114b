"""``/v1/engagements/{id}/plan/publishing``: an approved editorial plan schedules its own posts.

The gateway checks what it can before starting ``PublishPlanWorkflow`` (the engagement is the
caller's, the plan is approved, each connection is the organisation's, on its channel and
active), so a mistake is a problem answer now rather than a skipped slot later.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.content.plan.schemas import PlanCalendar, PlanStatus
from services.gateway.deps import EngagementDep, EngagementsDep, ServicesDep
from services.publisher.schemas import ConnectionOut
from shared import task_queues
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.domain import Channel
from shared.errors import FieldError, NotFoundError, ProblemError, validation_problem
from shared.settings import Settings
from workflows.publishing.messages import (
    PLAN_STATE_QUERY,
    PLAN_WORKFLOW_NAME,
    PlanPublishingState,
    PublishPlanInput,
    plan_workflow_id,
)

router = APIRouter(prefix="/engagements/{engagement_id}/plan/publishing", tags=["editorial plan"])


class PlanPublishingStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID | None = Field(
        None, description="When given, it must be the engagement's organisation"
    )
    connections: dict[Channel, uuid.UUID] = Field(
        min_length=1,
        max_length=len(Channel),
        description="The connection each channel's posts go out through",
    )


class PlanPublishingStarted(BaseModel):
    engagement_id: uuid.UUID
    workflow_id: str


def _invalid(field: str, message: str, kind: str) -> ProblemError:
    return validation_problem([FieldError(field=field, message=message, type=kind)])


async def _require_approved_plan(
    request: Request, services: ServicesDep, engagement_id: uuid.UUID
) -> None:
    calendar = await services.content.call(
        request,
        "GET",
        f"/engagements/{engagement_id}/plan",
        PlanCalendar,
        params={"view": "monthly"},
    )
    if calendar.plan.status != PlanStatus.APPROVED:
        raise ProblemError(
            409,
            "plan-not-approved",
            "only an approved editorial plan is published; approve it first",
            plan_id=str(calendar.plan.id),
        )


async def _require_connections(
    request: Request, services: ServicesDep, organization_id: uuid.UUID, body: PlanPublishingStart
) -> None:
    for channel, connection_id in body.connections.items():
        field = f"body.connections.{channel.value}"
        try:
            connection = await services.publisher.call(
                request, "GET", f"/connections/{connection_id}", ConnectionOut
            )
        except ProblemError as error:
            if error.status != status.HTTP_404_NOT_FOUND:
                raise
            raise _invalid(field, f"no connection {connection_id}", "unknown_connection") from error
        if connection.organization_id != organization_id:
            raise _invalid(field, "the connection is another organisation's", "wrong_organization")
        if connection.channel != channel:
            raise _invalid(field, f"the connection is on {connection.channel}", "wrong_channel")
        if connection.status != "active":
            raise ProblemError(
                409,
                "connection-needs-reauth",
                f"the {channel.value} connection must be re-authorised first",
                connection_id=str(connection_id),
            )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PlanPublishingStarted,
    dependencies=[AUTHORIZED],
    summary="Publish the approved editorial plan: starts PublishPlanWorkflow, which schedules a "
    "post for every future slot filled with an approved variant (admin, manager)",
)
async def start_plan_publishing(
    engagement: EngagementDep,
    body: PlanPublishingStart,
    request: Request,
    principal: CurrentPrincipal,
    services: ServicesDep,
    engagements: EngagementsDep,
) -> PlanPublishingStarted:
    # Refuse before anything else when Temporal is away.
    client = engagements.require_connection()
    engagement_id = engagement.id
    if body.organization_id not in (None, engagement.organization_id):
        raise _invalid(
            "body.organization_id",
            f"engagement {engagement_id} belongs to another organisation",
            "organization_mismatch",
        )
    await _require_approved_plan(request, services, engagement_id)
    await _require_connections(request, services, engagement.organization_id, body)
    settings: Settings = request.app.state.settings
    workflow_id = plan_workflow_id(engagement_id)
    try:
        await client.start_workflow(
            PLAN_WORKFLOW_NAME,
            PublishPlanInput(
                engagement_id=engagement_id,
                organization_id=engagement.organization_id,
                connections=body.connections,
                requested_by=principal.subject,
                task_queue_prefix=settings.temporal.task_queue_prefix,
                publish_timeout_seconds=settings.publisher.publish_timeout_seconds,
            ),
            id=workflow_id,
            task_queue=settings.task_queue(task_queues.WORKFLOWS),
        )
    except WorkflowAlreadyStartedError as error:
        raise ProblemError(
            409,
            "plan-publishing-running",
            "the plan is being scheduled; ask again once it is done",
            workflow_id=workflow_id,
        ) from error
    return PlanPublishingStarted(engagement_id=engagement_id, workflow_id=workflow_id)


@router.get(
    "",
    response_model=PlanPublishingState,
    summary="What the last plan publishing scheduled and which slots it skipped, with why (any "
    "role, own organisations)",
)
async def get_plan_publishing(
    engagement: EngagementDep, engagements: EngagementsDep
) -> PlanPublishingState:
    client = engagements.require_connection()
    handle = client.get_workflow_handle(plan_workflow_id(engagement.id))
    try:
        state: PlanPublishingState = await handle.query(
            PLAN_STATE_QUERY, result_type=PlanPublishingState
        )
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        raise NotFoundError("plan publishing of engagement", engagement.id) from error
    return state
