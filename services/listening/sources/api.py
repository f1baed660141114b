"""HTTP routes of sources: add one, read them with their health, stop one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.listening.sources import service
from services.listening.sources.schemas import SourceCreate, SourceFilters, SourceOut
from services.listening.sources.service import SourceVault
from shared.app import SessionDep, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import page_of

sources_router = APIRouter(prefix="/listening/sources", tags=["listening"])

# The roles that manage an engagement and connect its channels.


@sources_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SourceOut,
    dependencies=[AUTHORIZED],
    summary="Add a source of mentions: a feed, a Mastodon hashtag, a connected channel's "
    "comments, a webhook (admin, manager); its token or secret is stored sealed",
)
async def create_listening_source(
    body: SourceCreate, session: SessionDep, principal: CurrentPrincipal, settings: SettingsDep
) -> SourceOut:
    source = await service.create_source(
        session, principal, body, SourceVault(settings.listening), settings.listening
    )
    return service.source_view(source)


@sources_router.get(
    "",
    response_model=list[SourceOut],
    summary="Sources and their health, oldest first: failing ones say why and since when; a "
    "Link header names the next page",
)
async def list_listening_sources(
    filters: Annotated[SourceFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[SourceOut]:
    found = await service.list_sources(session, filters)
    held = page_of(found, service.SOURCE_ORDER, filters, request, response)
    return [service.source_view(source) for source in held]


@sources_router.get("/{source_id}", response_model=SourceOut, summary="One source and its health")
async def get_listening_source(source_id: uuid.UUID, session: SessionDep) -> SourceOut:
    return service.source_view(await service.require_source(session, source_id))


@sources_router.post(
    "/{source_id}/stop",
    response_model=SourceOut,
    dependencies=[AUTHORIZED],
    summary="Stop reading a source for good (admin, manager); a stopped source answers as it "
    "was stopped",
)
async def stop_listening_source(source_id: uuid.UUID, session: SessionDep) -> SourceOut:
    source = await service.require_source(session, source_id, for_update=True)
    service.stop_source(source, datetime.now(UTC))
    return service.source_view(source)
