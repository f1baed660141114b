"""HTTP routes of the publisher, declared once here: the gateway serves them under ``/v1`` as
they are (path, body, response, summary, status codes) and forwards the caller's own token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from services.publisher import connections, publications, repository
from services.publisher.contracts import CancelRequest, PublicationStatus, RescheduleRequest
from services.publisher.crypto import TokenVault
from services.publisher.oauth_flow import OAuthFlow
from services.publisher.scheduling import Scheduler
from services.publisher.schemas import (
    Cancel,
    ConnectionCreate,
    ConnectionOut,
    KeysRotated,
    OAuthComplete,
    OAuthStart,
    OAuthStarted,
    PostMetricsOut,
    PublicationCreate,
    PublicationOut,
    Reschedule,
)
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.media_links import MediaLinks
from shared.paging import PageDep, page_of

router = APIRouter(tags=["publisher"])


async def _vault(request: Request) -> TokenVault:
    vault: TokenVault = request.app.state.vault
    return vault


async def _scheduler(request: Request) -> Scheduler:
    scheduler: Scheduler = request.app.state.scheduler
    return scheduler


async def _media_links(request: Request) -> MediaLinks:
    return MediaLinks.from_settings(request.app.state.settings)


VaultDep = Annotated[TokenVault, Depends(_vault)]
SchedulerDep = Annotated[Scheduler, Depends(_scheduler)]
MediaLinksDep = Annotated[MediaLinks, Depends(_media_links)]


async def _oauth_flow(request: Request, vault: VaultDep) -> OAuthFlow:
    return OAuthFlow(request.app.state.settings, vault)


OAuthFlowDep = Annotated[OAuthFlow, Depends(_oauth_flow)]


@router.post(
    "/connections",
    status_code=status.HTTP_201_CREATED,
    response_model=ConnectionOut,
    dependencies=[AUTHORIZED],
    summary="Connect a channel account with a long-lived token (admin, manager); "
    "the token is encrypted at rest and never returned",
)
async def create_connection(
    body: ConnectionCreate, session: SessionDep, principal: CurrentPrincipal, vault: VaultDep
) -> ConnectionOut:
    connection = await connections.create_connection(session, principal, body, vault)
    return ConnectionOut.model_validate(connection)


@router.post(
    "/connections/oauth/start",
    status_code=status.HTTP_201_CREATED,
    response_model=OAuthStarted,
    dependencies=[AUTHORIZED],
    summary="Start connecting a channel account with OAuth 2.0 (admin, manager): send the user "
    "to authorize_url; the platform returns to redirect_uri with code and state",
)
async def start_oauth(
    body: OAuthStart, session: SessionDep, principal: CurrentPrincipal, flow: OAuthFlowDep
) -> OAuthStarted:
    return await flow.start(session, principal, body)


@router.post(
    "/connections/oauth/complete",
    response_model=ConnectionOut,
    dependencies=[AUTHORIZED],
    summary="Finish an OAuth connection with the code and state from the redirect (admin, "
    "manager); the tokens are encrypted at rest and never returned",
)
async def complete_oauth(
    body: OAuthComplete, session: SessionDep, flow: OAuthFlowDep
) -> ConnectionOut:
    return ConnectionOut.model_validate(await flow.complete(session, body))


@router.post(
    "/connections/rotate-keys",
    response_model=KeysRotated,
    dependencies=[AUTHORIZED],
    summary="Re-encrypt every connection's tokens with the newest key of "
    "ENGAGE_PUBLISHER__TOKEN_KEYS (admin)",
)
async def rotate_keys(
    session: SessionDep, vault: VaultDep, principal: CurrentPrincipal
) -> KeysRotated:
    return await connections.rotate_keys(session, vault, principal)


@router.get(
    "/connections",
    response_model=list[ConnectionOut],
    summary="Channel connections, oldest first, a page at a time",
)
async def list_connections(
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
    organization_id: uuid.UUID | None = None,
) -> list[ConnectionOut]:
    found = await repository.list_connections(session, organization_id, page)
    held = page_of(found, repository.CONNECTION_ORDER, page, request, response)
    return [ConnectionOut.model_validate(connection) for connection in held]


@router.get("/connections/{connection_id}", response_model=ConnectionOut, summary="One connection")
async def get_connection(connection_id: uuid.UUID, session: SessionDep) -> ConnectionOut:
    return ConnectionOut.model_validate(
        await connections.require_connection(session, connection_id)
    )


@router.post(
    "/publications",
    status_code=status.HTTP_201_CREATED,
    response_model=PublicationOut,
    dependencies=[AUTHORIZED],
    summary="Schedule a post of an approved content variant, published once at due_at by a "
    "durable workflow (admin, manager, editor); 409 variant-not-approved, 409 when already "
    "scheduled for that slot",
)
async def schedule_publication(
    body: PublicationCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    scheduler: SchedulerDep,
    links: MediaLinksDep,
) -> PublicationOut:
    scheduler.require_connection()
    publication = await publications.schedule_publication(session, principal, body, links)
    # The workflow's activity reads the row: it must be committed before the workflow starts.
    await session.commit()
    await scheduler.start(publication)
    return PublicationOut.model_validate(publication)


@router.get(
    "/publications",
    response_model=list[PublicationOut],
    summary="Scheduled posts, by when they fall due, a page at a time",
)
async def list_publications(
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: PublicationStatus | None = None,
) -> list[PublicationOut]:
    found = await repository.page_of_publications(
        session, page, organization_id=organization_id, engagement_id=engagement_id, status=status
    )
    held = page_of(found, repository.PUBLICATION_ORDER, page, request, response)
    return [PublicationOut.model_validate(publication) for publication in held]


@router.get(
    "/publications/{publication_id}", response_model=PublicationOut, summary="One scheduled post"
)
async def get_publication(publication_id: uuid.UUID, session: SessionDep) -> PublicationOut:
    return PublicationOut.model_validate(
        await publications.require_publication(session, publication_id)
    )


@router.post(
    "/publications/{publication_id}/reschedule",
    response_model=PublicationOut,
    dependencies=[AUTHORIZED],
    summary="Move a post that has not started publishing (admin, manager, editor); 409 once "
    "publishing began",
)
async def reschedule_publication(
    publication_id: uuid.UUID,
    body: Reschedule,
    session: SessionDep,
    principal: CurrentPrincipal,
    scheduler: SchedulerDep,
) -> PublicationOut:
    publication = await publications.require_publication(session, publication_id)
    await scheduler.reschedule(
        session,
        publication,
        RescheduleRequest(due_at=body.due_at, requested_by=principal.subject),
    )
    return PublicationOut.model_validate(publication)


@router.post(
    "/publications/{publication_id}/cancel",
    response_model=PublicationOut,
    dependencies=[AUTHORIZED],
    summary="Cancel a post that has not started publishing (admin, manager, editor); 409 once "
    "publishing began",
)
async def cancel_publication(
    publication_id: uuid.UUID,
    body: Cancel,
    session: SessionDep,
    principal: CurrentPrincipal,
    scheduler: SchedulerDep,
) -> PublicationOut:
    publication = await publications.require_publication(session, publication_id)
    await scheduler.cancel(
        session, publication, CancelRequest(reason=body.reason, requested_by=principal.subject)
    )
    return PublicationOut.model_validate(publication)


@router.get(
    "/publications/{publication_id}/metrics",
    response_model=list[PostMetricsOut],
    summary="Metrics collected for a published post, oldest first, a page at a time",
)
async def publication_metrics(
    publication_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[PostMetricsOut]:
    await publications.require_publication(session, publication_id)
    found = await repository.metrics_of(session, publication_id, page)
    held = page_of(found, repository.METRICS_ORDER, page, request, response)
    return [PostMetricsOut.model_validate(sample) for sample in held]
