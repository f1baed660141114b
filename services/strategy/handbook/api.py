"""HTTP routes of an engagement's client handbook: generate a version, list them, read one as
JSON, as an HTML page or as a PDF."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from services.strategy.handbook import repository, service
from services.strategy.handbook.schemas import HandbookOut
from services.strategy.handbook.service import HandbookFormat
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, page_of

router = APIRouter(prefix="/engagements/{engagement_id}/handbook", tags=["client handbook"])

VERSIONS = "/versions"
ONE = VERSIONS + "/{version}"
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
PDF_MEDIA_TYPE = "application/pdf"


@router.post(
    VERSIONS,
    status_code=status.HTTP_201_CREATED,
    response_model=HandbookOut,
    responses={
        200: {"model": HandbookOut, "description": "Unchanged: the latest version"},
        409: {"description": "No approved channel mix, or one that recommends no channel"},
    },
    dependencies=[AUTHORIZED],
    summary="Generate the client handbook from the approved channel mix, editorial rules, "
    "graphic line and positioning and the platform rules; a new version unless unchanged "
    "(admin, manager, editor)",
)
async def generate_handbook(
    engagement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> HandbookOut:
    generated = await service.generate(session, engagement_id, principal.subject)
    response.status_code = status.HTTP_201_CREATED if generated.created else status.HTTP_200_OK
    return HandbookOut.model_validate(generated.handbook)


@router.get(
    VERSIONS,
    response_model=list[HandbookOut],
    summary="Every version of the client handbook, oldest first, a page at a time (any role, "
    "own organisations)",
)
async def list_handbook_versions(
    engagement_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[HandbookOut]:
    found = await service.list_versions(session, engagement_id, page)
    held = page_of(found, repository.VERSION_ORDER, page, request, response)
    return [HandbookOut.model_validate(handbook) for handbook in held]


@router.get(
    ONE,
    response_model=HandbookOut,
    summary="One version of the client handbook (any role, own organisations)",
)
async def get_handbook_version(
    engagement_id: uuid.UUID, version: VersionNumber, session: SessionDep
) -> HandbookOut:
    return HandbookOut.model_validate(await service.find_version(session, engagement_id, version))


@router.get(
    ONE + "/handbook.html",
    response_class=Response,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
    summary="One version of the client handbook as a self-contained HTML page (any role, own "
    "organisations)",
)
async def get_handbook_html(
    engagement_id: uuid.UUID, version: VersionNumber, session: SessionDep
) -> Response:
    html = await service.render(session, engagement_id, version, HandbookFormat.HTML)
    return Response(html, media_type="text/html; charset=utf-8")


@router.get(
    ONE + "/handbook.pdf",
    response_class=Response,
    responses={
        200: {"content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
    },
    summary="One version of the client handbook as an A4 PDF (any role, own organisations)",
)
async def get_handbook_pdf(
    engagement_id: uuid.UUID, version: VersionNumber, session: SessionDep
) -> Response:
    pdf = await service.render(session, engagement_id, version, HandbookFormat.PDF)
    filename = f"handbook-v{version}.pdf"
    return Response(
        pdf,
        media_type=PDF_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
