"""HTTP routes of sources: add one, read them with their health, stop one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, status

from services.listening.sources import service
from services.listening.sources.schemas import SourceCreate, SourceOut, SourceStatus
from services.listening.sources.service import SourceVault
from shared.app import SessionDep, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal

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
    summary="Sources and their health: failing ones say why and since when",
)
async def list_listening_sources(
    session: SessionDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: SourceStatus | None = None,
) -> list[SourceOut]:
    found = await service.list_sources(
        session, organization_id=organization_id, engagement_id=engagement_id, status=status
    )
    return [service.source_view(source) for source in found]


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
