"""HTTP routes of the watched sites of an engagement: agency leads add and remove them, every
role of the organisation reads them and the items drafted from them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from services.content.models import engagements
from services.content.website import repository, service
from services.content.website.schemas import SiteDraftOut, WatchedSiteCreate, WatchedSiteOut
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, page_of

router = APIRouter(prefix="/engagements/{engagement_id}", tags=["website"])

SITES = "/watched-sites"
ONE = SITES + "/{site_id}"


@router.post(
    SITES,
    status_code=status.HTTP_201_CREATED,
    response_model=WatchedSiteOut,
    dependencies=[AUTHORIZED],
    summary="Watch the client's site feed (RSS, Atom) or sitemap: each new page is drafted as a "
    "link item with a variant per channel, into review (admin, manager)",
)
async def add_watched_site(
    engagement_id: uuid.UUID,
    body: WatchedSiteCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> WatchedSiteOut:
    site = await service.add_site(session, principal, engagement_id, body)
    return WatchedSiteOut.model_validate(site)


@router.get(
    SITES,
    response_model=list[WatchedSiteOut],
    summary="The engagement's watched sites, oldest first, a page at a time (any role)",
)
async def list_watched_sites(
    engagement_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[WatchedSiteOut]:
    await engagements.require(session, engagement_id)
    found = await repository.page_of_sites(session, engagement_id, page)
    held = page_of(found, repository.SITE_ORDER, page, request, response)
    return [WatchedSiteOut.model_validate(site) for site in held]


@router.get(
    ONE,
    response_model=WatchedSiteOut,
    summary="One watched site, with its health (any role)",
)
async def get_watched_site(
    engagement_id: uuid.UUID, site_id: uuid.UUID, session: SessionDep
) -> WatchedSiteOut:
    return WatchedSiteOut.model_validate(
        await service.require_site(session, engagement_id, site_id)
    )


@router.delete(
    ONE,
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AUTHORIZED],
    summary="Stop watching a site; the items drafted from it stay in review (admin, manager)",
)
async def remove_watched_site(
    engagement_id: uuid.UUID, site_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.remove_site(session, principal, engagement_id, site_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    ONE + "/drafts",
    response_model=list[SiteDraftOut],
    summary="The pages of a watched site drafted as content items, most recent first, with "
    "their Open Graph data (any role)",
)
async def list_watched_site_drafts(
    engagement_id: uuid.UUID,
    site_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[SiteDraftOut]:
    await service.require_site(session, engagement_id, site_id)
    found = await repository.page_of_drafts(session, site_id, page)
    held = page_of(found, repository.DRAFT_ORDER, page, request, response)
    return [SiteDraftOut.model_validate(draft) for draft in held]


@router.post(
    ONE + "/poll",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WatchedSiteOut,
    dependencies=[AUTHORIZED],
    summary="Read a watched site now, failing or not: the next polling round, within a minute, "
    "reads it (admin, manager)",
)
async def poll_watched_site(
    engagement_id: uuid.UUID, site_id: uuid.UUID, session: SessionDep
) -> WatchedSiteOut:
    return WatchedSiteOut.model_validate(await service.poll_now(session, engagement_id, site_id))
