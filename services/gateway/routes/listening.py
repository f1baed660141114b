"""``/v1/listening/queries``: what the listening service listens for, and stopping it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from pydantic import TypeAdapter

from services.gateway.clients import query_params
from services.gateway.deps import ServicesDep
from services.listening.contracts import QueryStatus
from services.listening.schemas import QueryCreate, QueryOut, QueryStop

router = APIRouter(prefix="/listening", tags=["listening"])

_QUERIES = TypeAdapter(list[QueryOut])


@router.post(
    "/queries",
    status_code=status.HTTP_201_CREATED,
    response_model=QueryOut,
    summary="Switch on a listening query: terms on channels, for an organisation and optionally "
    "one of its engagements (admin, manager)",
)
async def create_query(body: QueryCreate, request: Request, services: ServicesDep) -> QueryOut:
    return await services.listening.call(request, "POST", "/queries", QueryOut, body=body)


@router.get("/queries", response_model=list[QueryOut], summary="Listening queries")
async def list_queries(
    request: Request,
    services: ServicesDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: QueryStatus | None = None,
) -> list[QueryOut]:
    return await services.listening.call(
        request,
        "GET",
        "/queries",
        _QUERIES,
        params=query_params(
            organization_id=organization_id, engagement_id=engagement_id, status=status
        ),
    )


@router.get("/queries/{query_id}", response_model=QueryOut, summary="One listening query")
async def get_query(query_id: uuid.UUID, request: Request, services: ServicesDep) -> QueryOut:
    return await services.listening.call(request, "GET", f"/queries/{query_id}", QueryOut)


@router.post(
    "/queries/{query_id}/stop",
    response_model=QueryOut,
    summary="Stop a listening query for good (admin, manager); a stopped query answers as it "
    "was stopped",
)
async def stop_query(
    query_id: uuid.UUID, body: QueryStop, request: Request, services: ServicesDep
) -> QueryOut:
    return await services.listening.call(
        request, "POST", f"/queries/{query_id}/stop", QueryOut, body=body
    )
