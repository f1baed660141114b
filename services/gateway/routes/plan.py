"""``/v1/engagements/{id}/plan``: the editorial plan (content service)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

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
from services.gateway.deps import ServicesDep
from services.strategy.schemas import EngagementOut
from shared.errors import FieldError, ProblemError

router = APIRouter(prefix="/engagements/{engagement_id}/plan", tags=["editorial plan"])


def _plan_path(engagement_id: uuid.UUID, rest: str = "") -> str:
    return f"/engagements/{engagement_id}/plan{rest}"


async def _require_engagement_of(
    request: Request, services: ServicesDep, engagement_id: uuid.UUID, organization_id: uuid.UUID
) -> None:
    """The engagement exists, the caller sees it, and the plan names its organisation."""
    engagement = await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}", EngagementOut
    )
    if engagement.organization_id != organization_id:
        raise ProblemError(
            422,
            "validation-error",
            "The request has invalid fields.",
            title="Validation failed",
            errors=[
                FieldError(
                    field="body.organization_id",
                    message=f"engagement {engagement_id} belongs to another organisation",
                    type="organization_mismatch",
                ).model_dump()
            ],
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanOut,
    responses={200: {"model": PlanOut, "description": "Regenerated, or unchanged"}},
    summary="Generate the editorial plan from editorial rules, or regenerate it keeping filled "
    "slots (admin, manager, editor)",
)
async def generate_plan(
    engagement_id: uuid.UUID,
    body: PlanGenerate,
    request: Request,
    response: Response,
    services: ServicesDep,
) -> PlanOut:
    await _require_engagement_of(request, services, engagement_id, body.organization_id)
    answer = await services.content.raw(request, "POST", _plan_path(engagement_id), body=body)
    response.status_code = answer.status_code
    return PlanOut.model_validate_json(answer.content)


@router.get(
    "",
    response_model=PlanCalendar,
    summary="The plan with its slots grouped by day, ISO week or month (any role, own "
    "organisations)",
)
async def get_plan(
    engagement_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    view: PlanView = PlanView.WEEKLY,
) -> PlanCalendar:
    return await services.content.call(
        request, "GET", _plan_path(engagement_id), PlanCalendar, params={"view": view.value}
    )


@router.get(
    "/coverage",
    response_model=CoverageOut,
    summary="Coverage gaps (rules, or rules on a channel, with no content) and cadence shortfalls "
    "(any role, own organisations)",
)
async def get_coverage(
    engagement_id: uuid.UUID, request: Request, services: ServicesDep
) -> CoverageOut:
    return await services.content.call(
        request, "GET", _plan_path(engagement_id, "/coverage"), CoverageOut
    )


@router.post(
    "/approval",
    response_model=PlanOut,
    summary="Approve the plan (admin, manager, client_approver of its organisation)",
)
async def approve_plan(
    engagement_id: uuid.UUID, body: PlanApproval, request: Request, services: ServicesDep
) -> PlanOut:
    return await services.content.call(
        request, "POST", _plan_path(engagement_id, "/approval"), PlanOut, body=body
    )


@router.put(
    "/slots/{slot_id}",
    response_model=SlotOut,
    summary="Fill a slot with a content variant (admin, manager, editor)",
)
async def fill_slot(
    engagement_id: uuid.UUID,
    slot_id: uuid.UUID,
    body: SlotFill,
    request: Request,
    services: ServicesDep,
) -> SlotOut:
    return await services.content.call(
        request, "PUT", _plan_path(engagement_id, f"/slots/{slot_id}"), SlotOut, body=body
    )


async def _forward_file(request: Request, services: ServicesDep, path: str) -> Response:
    answer = await services.content.raw(request, "GET", path)
    return Response(
        answer.content,
        media_type=answer.headers["content-type"],
        headers={"Content-Disposition": answer.headers.get("content-disposition", "attachment")},
    )


@router.get(
    "/export.ics",
    response_class=Response,
    responses=file_responses(ICS_MEDIA_TYPE),
    summary="The plan as iCalendar (RFC 5545), one event per slot (any role, own organisations)",
)
async def export_ics(engagement_id: uuid.UUID, request: Request, services: ServicesDep) -> Response:
    return await _forward_file(request, services, _plan_path(engagement_id, "/export.ics"))


@router.get(
    "/export.csv",
    response_class=Response,
    responses=file_responses(CSV_MEDIA_TYPE),
    summary="The plan as CSV, one row per slot (any role, own organisations)",
)
async def export_csv(engagement_id: uuid.UUID, request: Request, services: ServicesDep) -> Response:
    return await _forward_file(request, services, _plan_path(engagement_id, "/export.csv"))
