"""``/v1/connections`` and ``/v1/publications``: channel accounts and scheduled posts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from pydantic import TypeAdapter

from services.gateway.clients import query_params
from services.gateway.deps import ServicesDep
from services.publisher.contracts import PublicationStatus
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

router = APIRouter(tags=["publishing"])

_CONNECTIONS = TypeAdapter(list[ConnectionOut])
_PUBLICATIONS = TypeAdapter(list[PublicationOut])
_METRICS = TypeAdapter(list[PostMetricsOut])


@router.post(
    "/connections",
    status_code=status.HTTP_201_CREATED,
    response_model=ConnectionOut,
    summary="Connect a channel account with a long-lived token (admin, manager); "
    "the token is encrypted at rest and never returned",
)
async def create_connection(
    body: ConnectionCreate, request: Request, services: ServicesDep
) -> ConnectionOut:
    return await services.publisher.call(request, "POST", "/connections", ConnectionOut, body=body)


@router.post(
    "/connections/oauth/start",
    status_code=status.HTTP_201_CREATED,
    response_model=OAuthStarted,
    summary="Start connecting a channel account with OAuth 2.0 (admin, manager): send the user "
    "to authorize_url; the platform returns to redirect_uri with code and state",
)
async def start_oauth(body: OAuthStart, request: Request, services: ServicesDep) -> OAuthStarted:
    return await services.publisher.call(
        request, "POST", "/connections/oauth/start", OAuthStarted, body=body
    )


@router.post(
    "/connections/oauth/complete",
    response_model=ConnectionOut,
    summary="Finish an OAuth connection with the code and state from the redirect (admin, "
    "manager); the tokens are encrypted at rest and never returned",
)
async def complete_oauth(
    body: OAuthComplete, request: Request, services: ServicesDep
) -> ConnectionOut:
    return await services.publisher.call(
        request, "POST", "/connections/oauth/complete", ConnectionOut, body=body
    )


@router.post(
    "/connections/rotate-keys",
    response_model=KeysRotated,
    summary="Re-encrypt every connection's tokens with the newest key of "
    "ENGAGE_PUBLISHER__TOKEN_KEYS (admin)",
)
async def rotate_keys(request: Request, services: ServicesDep) -> KeysRotated:
    return await services.publisher.call(request, "POST", "/connections/rotate-keys", KeysRotated)


@router.get("/connections", response_model=list[ConnectionOut], summary="Channel connections")
async def list_connections(
    request: Request, services: ServicesDep, organization_id: uuid.UUID | None = None
) -> list[ConnectionOut]:
    return await services.publisher.call(
        request,
        "GET",
        "/connections",
        _CONNECTIONS,
        params=query_params(organization_id=organization_id),
    )


@router.get("/connections/{connection_id}", response_model=ConnectionOut, summary="One connection")
async def get_connection(
    connection_id: uuid.UUID, request: Request, services: ServicesDep
) -> ConnectionOut:
    return await services.publisher.call(
        request, "GET", f"/connections/{connection_id}", ConnectionOut
    )


@router.post(
    "/publications",
    status_code=status.HTTP_201_CREATED,
    response_model=PublicationOut,
    summary="Schedule a post: published once at due_at by a durable workflow "
    "(admin, manager, editor)",
)
async def schedule_publication(
    body: PublicationCreate, request: Request, services: ServicesDep
) -> PublicationOut:
    return await services.publisher.call(
        request, "POST", "/publications", PublicationOut, body=body
    )


@router.get("/publications", response_model=list[PublicationOut], summary="Scheduled posts")
async def list_publications(
    request: Request,
    services: ServicesDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: PublicationStatus | None = None,
) -> list[PublicationOut]:
    return await services.publisher.call(
        request,
        "GET",
        "/publications",
        _PUBLICATIONS,
        params=query_params(
            organization_id=organization_id, engagement_id=engagement_id, status=status
        ),
    )


@router.get(
    "/publications/{publication_id}", response_model=PublicationOut, summary="One scheduled post"
)
async def get_publication(
    publication_id: uuid.UUID, request: Request, services: ServicesDep
) -> PublicationOut:
    return await services.publisher.call(
        request, "GET", f"/publications/{publication_id}", PublicationOut
    )


@router.post(
    "/publications/{publication_id}/reschedule",
    response_model=PublicationOut,
    summary="Move a post that has not started publishing (admin, manager, editor); 409 once "
    "publishing began",
)
async def reschedule_publication(
    publication_id: uuid.UUID, body: Reschedule, request: Request, services: ServicesDep
) -> PublicationOut:
    return await services.publisher.call(
        request, "POST", f"/publications/{publication_id}/reschedule", PublicationOut, body=body
    )


@router.post(
    "/publications/{publication_id}/cancel",
    response_model=PublicationOut,
    summary="Cancel a post that has not started publishing (admin, manager, editor); 409 once "
    "publishing began",
)
async def cancel_publication(
    publication_id: uuid.UUID, body: Cancel, request: Request, services: ServicesDep
) -> PublicationOut:
    return await services.publisher.call(
        request, "POST", f"/publications/{publication_id}/cancel", PublicationOut, body=body
    )


@router.get(
    "/publications/{publication_id}/metrics",
    response_model=list[PostMetricsOut],
    summary="Metrics collected for a published post, oldest first",
)
async def publication_metrics(
    publication_id: uuid.UUID, request: Request, services: ServicesDep
) -> list[PostMetricsOut]:
    return await services.publisher.call(
        request, "GET", f"/publications/{publication_id}/metrics", _METRICS
    )
