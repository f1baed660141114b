"""HTTP routes of the listening service; the gateway calls them with the caller's own token."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from services.listening import repository, service
from services.listening.contracts import QueryStatus
from services.listening.schemas import QueryCreate, QueryOut, QueryStop
from shared.app import SessionDep
from shared.auth import CurrentPrincipal, Role, require_roles

router = APIRouter(prefix="/listening/queries", tags=["listening"])

# The roles that manage an engagement and connect its channels.
MANAGE = require_roles(Role.ADMIN, Role.MANAGER)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=QueryOut,
    dependencies=[MANAGE],
    summary="Switch on a listening query: a boolean expression read from its sources, for an "
    "organisation and optionally one of its engagements (admin, manager); a bad expression is a "
    "422 naming its position",
)
async def create_listening_query(
    body: QueryCreate, session: SessionDep, principal: CurrentPrincipal
) -> QueryOut:
    return QueryOut.model_validate(await service.create_query(session, principal, body))


@router.get("", response_model=list[QueryOut], summary="Listening queries")
async def list_listening_queries(
    session: SessionDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: QueryStatus | None = None,
) -> list[QueryOut]:
    found = await repository.list_queries(
        session, organization_id=organization_id, engagement_id=engagement_id, status=status
    )
    return [QueryOut.model_validate(query) for query in found]


@router.get("/{query_id}", response_model=QueryOut, summary="One listening query")
async def get_listening_query(query_id: uuid.UUID, session: SessionDep) -> QueryOut:
    return QueryOut.model_validate(await service.require_query(session, query_id))


@router.post(
    "/{query_id}/stop",
    response_model=QueryOut,
    dependencies=[MANAGE],
    summary="Stop a listening query for good (admin, manager); a stopped query answers as it "
    "was stopped",
)
async def stop_listening_query(
    query_id: uuid.UUID, body: QueryStop, session: SessionDep, principal: CurrentPrincipal
) -> QueryOut:
    """Stopping a stopped query changes nothing and answers it as it was stopped."""
    query = await service.require_query(session, query_id, for_update=True)
    await service.stop_query(session, query, reason=body.reason, stopped_by=principal.subject)
    return QueryOut.model_validate(query)
