"""HTTP routes of the editorial plan; the gateway calls them with the caller's own token."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from services.content.plan import export, reports, service
from services.content.plan.schemas import (
    CSV_MEDIA_TYPE,
    ICS_MEDIA_TYPE,
    CoverageOut,
    PlanApproval,
    PlanCalendar,
    PlanGenerate,
    PlanOut,
    PlanView,
    SlotFill,
    SlotOut,
    file_responses,
)
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal

router = APIRouter(prefix="/engagements/{engagement_id}/plan", tags=["editorial plan"])


def attachment(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanOut,
    responses={200: {"model": PlanOut, "description": "Regenerated, or unchanged"}},
    dependencies=[AUTHORIZED],
    summary=(
        "Generate the editorial plan from editorial rules, or regenerate it keeping "
        "filled slots (admin, manager, editor)"
    ),
)
async def generate_plan(
    engagement_id: uuid.UUID,
    body: PlanGenerate,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> PlanOut:
    principal.require_organization(body.organization_id)
    generation = await service.generate_plan(
        session, engagement_id, body, actor=principal.subject, note=body.note
    )
    if not generation.created:
        response.status_code = status.HTTP_200_OK
    return await reports.describe_plan(session, generation.plan)


@router.get(
    "",
    response_model=PlanCalendar,
    summary=(
        "The plan with its slots grouped by day, ISO week or month (any role, own organisations)"
    ),
)
async def get_plan(
    engagement_id: uuid.UUID, session: SessionDep, view: PlanView = PlanView.WEEKLY
) -> PlanCalendar:
    return await reports.calendar_view(session, engagement_id, view)


@router.get(
    "/coverage",
    response_model=CoverageOut,
    summary=(
        "Coverage gaps (rules, or rules on a channel, with no content) and cadence "
        "shortfalls (any role, own organisations)"
    ),
)
async def get_plan_coverage(engagement_id: uuid.UUID, session: SessionDep) -> CoverageOut:
    return await reports.coverage(session, engagement_id)


@router.post(
    "/approval",
    response_model=PlanOut,
    dependencies=[AUTHORIZED],
    summary="Approve the plan (admin, manager, client_approver of its organisation)",
)
async def approve_plan(
    engagement_id: uuid.UUID,
    body: PlanApproval,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> PlanOut:
    plan = await service.approve_plan(
        session, engagement_id, actor=principal.subject, note=body.note
    )
    return await reports.describe_plan(session, plan)


@router.put(
    "/slots/{slot_id}",
    response_model=SlotOut,
    dependencies=[AUTHORIZED],
    summary="Fill a slot with a content variant (admin, manager, editor)",
)
async def fill_slot(
    engagement_id: uuid.UUID,
    slot_id: uuid.UUID,
    body: SlotFill,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> SlotOut:
    slot = await service.fill_slot(
        session, engagement_id, slot_id, body.variant_id, actor=principal.subject
    )
    return SlotOut.model_validate(slot)


@router.get(
    "/export.ics",
    response_class=Response,
    responses=file_responses(ICS_MEDIA_TYPE),
    summary="The plan as iCalendar (RFC 5545), one event per slot (any role, own organisations)",
)
async def export_plan_ics(engagement_id: uuid.UUID, session: SessionDep) -> Response:
    plan, slots = await reports.plan_with_slots(session, engagement_id)
    return attachment(export.to_ics(plan, slots), ICS_MEDIA_TYPE, f"plan-{engagement_id}.ics")


@router.get(
    "/export.csv",
    response_class=Response,
    responses=file_responses(CSV_MEDIA_TYPE),
    summary="The plan as CSV, one row per slot (any role, own organisations)",
)
async def export_plan_csv(engagement_id: uuid.UUID, session: SessionDep) -> Response:
    plan, slots = await reports.plan_with_slots(session, engagement_id)
    return attachment(export.to_csv(plan, slots), CSV_MEDIA_TYPE, f"plan-{engagement_id}.csv")
