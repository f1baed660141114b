"""HTTP routes of an engagement's deliverables: versions, approval, the brief rendered."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from services.strategy.deliverables import repository, service
from services.strategy.deliverables.kinds import (
    BODY_SCHEMAS,
    AuthoredKind,
    DeliverableKind,
    DeliverableStatus,
)
from services.strategy.deliverables.schemas import (
    Approval,
    BriefFormat,
    DeliverableBody,
    DeliverableKindOut,
    DeliverableOut,
    DeliverableSummary,
)
from services.strategy.service import require_engagement
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal, current_principal
from shared.paging import PageDep, page_of

router = APIRouter(tags=["deliverables"])


DELIVERABLES = "/engagements/{engagement_id}/deliverables"
# PostgreSQL integers: a larger number could never name a version.
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
StatusFilter = Annotated[
    DeliverableStatus | None, Query(alias="status", description="Only versions in this status")
]
MEDIA_TYPES = {BriefFormat.MARKDOWN: "text/markdown", BriefFormat.HTML: "text/html"}


def saved_response(saved: service.Saved, response: Response) -> DeliverableOut:
    """201 for a new version; 200 when the same body (or idempotency key) was already saved."""
    response.status_code = status.HTTP_201_CREATED if saved.created else status.HTTP_200_OK
    return DeliverableOut.model_validate(saved.deliverable)


@router.get(
    "/deliverable-kinds",
    response_model=list[DeliverableKindOut],
    dependencies=[Depends(current_principal)],
    summary=(
        "Every deliverable kind: its body's JSON Schema, how it is written, who approves "
        "it (any role)"
    ),
)
async def list_deliverable_kinds() -> list[DeliverableKindOut]:
    return [
        DeliverableKindOut(
            kind=kind,
            written_by=(
                "POST /engagements/{id}/channel-mix"
                if kind == DeliverableKind.CHANNEL_MIX
                else f"PUT /engagements/{{id}}/deliverables/{kind.value}"
            ),
            approver_roles=sorted(service.approver_roles(kind)),
            body_schema=schema.model_json_schema(),
        )
        for kind, schema in BODY_SCHEMAS.items()
    ]


@router.get(
    DELIVERABLES,
    response_model=list[DeliverableSummary],
    summary=(
        "The engagement's deliverables: latest and approved version of each kind (any "
        "role, own organisations)"
    ),
)
async def list_deliverables(
    engagement_id: uuid.UUID, session: SessionDep
) -> list[DeliverableSummary]:
    return await service.summaries(session, engagement_id)


@router.put(
    DELIVERABLES + "/{kind}",
    response_model=DeliverableOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": DeliverableOut, "description": "Unchanged: the latest version"}},
    dependencies=[AUTHORIZED],
    summary=(
        "Save a new draft version of an authored deliverable; the body follows the kind's "
        "schema (admin, manager, editor)"
    ),
)
async def save_deliverable_version(
    engagement_id: uuid.UUID,
    kind: AuthoredKind,
    body: DeliverableBody,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
) -> DeliverableOut:
    deliverable_kind = DeliverableKind(kind)
    await require_engagement(session, engagement_id)
    parsed = service.parse_body(deliverable_kind, body.root)
    saved = await service.save_version(
        session, engagement_id, deliverable_kind, parsed, principal.subject
    )
    return saved_response(saved, response)


@router.get(
    DELIVERABLES + "/brief/render",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
    summary="The brief as Markdown or as an HTML page (any role, own organisations)",
)
async def render_brief(
    engagement_id: uuid.UUID,
    session: SessionDep,
    output: Annotated[BriefFormat, Query(alias="format")] = BriefFormat.MARKDOWN,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    wanted: StatusFilter = None,
) -> Response:
    text = await service.render_brief(session, engagement_id, output, version, wanted)
    return Response(text, media_type=MEDIA_TYPES[output])


@router.get(
    DELIVERABLES + "/{kind}",
    response_model=DeliverableOut,
    summary=(
        "The latest version of a deliverable, or the latest approved one with "
        "?status=approved (any role, own organisations)"
    ),
)
async def get_latest_deliverable(
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    session: SessionDep,
    wanted: StatusFilter = None,
) -> DeliverableOut:
    deliverable = await service.find_version(session, engagement_id, kind, status=wanted)
    return DeliverableOut.model_validate(deliverable)


@router.get(
    DELIVERABLES + "/{kind}/versions",
    response_model=list[DeliverableOut],
    summary="Every version of a deliverable, oldest first, a page at a time (any role, own "
    "organisations)",
)
async def list_deliverable_versions(
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[DeliverableOut]:
    found = await service.list_versions(session, engagement_id, kind, page)
    held = page_of(found, repository.VERSION_ORDER, page, request, response)
    return [DeliverableOut.model_validate(deliverable) for deliverable in held]


@router.get(
    DELIVERABLES + "/{kind}/versions/{version}",
    response_model=DeliverableOut,
    summary="One version of a deliverable (any role, own organisations)",
)
async def get_deliverable_version(
    engagement_id: uuid.UUID, kind: DeliverableKind, version: VersionNumber, session: SessionDep
) -> DeliverableOut:
    deliverable = await service.find_version(session, engagement_id, kind, version)
    return DeliverableOut.model_validate(deliverable)


@router.post(
    DELIVERABLES + "/{kind}/versions/{version}/approve",
    response_model=DeliverableOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Approve the latest version; approved versions are immutable (admin, manager; "
        "client_approver for brief, objectives, editorial_rules, graphic_line, business_impact, "
        "positioning)"
    ),
)
async def approve_deliverable_version(
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    version: VersionNumber,
    body: Approval,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> DeliverableOut:
    deliverable = await service.approve(
        session, principal, engagement_id, kind, version, body.comment
    )
    return DeliverableOut.model_validate(deliverable)
