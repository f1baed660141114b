"""HTTP routes of the listening service; the gateway calls them with the caller's own token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.listening import mentions, repository, service
from services.listening.schemas import (
    DeadLetterFilters,
    DeadLetterOut,
    MentionFilters,
    MentionOut,
    QueryCreate,
    QueryFilters,
    QueryOut,
    QueryStop,
)
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import page_of

router = APIRouter(prefix="/listening/queries", tags=["listening"])
mentions_router = APIRouter(prefix="/listening", tags=["listening"])

# The roles that manage an engagement and connect its channels.


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=QueryOut,
    dependencies=[AUTHORIZED],
    summary="Switch on a listening query: a boolean expression read from its sources, for an "
    "organisation and optionally one of its engagements (admin, manager); a bad expression is a "
    "422 naming its position",
)
async def create_listening_query(
    body: QueryCreate, session: SessionDep, principal: CurrentPrincipal
) -> QueryOut:
    return QueryOut.model_validate(await service.create_query(session, principal, body))


@router.get(
    "",
    response_model=list[QueryOut],
    summary="Listening queries, oldest first; a Link header names the next page",
)
async def list_listening_queries(
    filters: Annotated[QueryFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[QueryOut]:
    found = await repository.list_queries(session, filters)
    held = page_of(found, repository.QUERY_ORDER, filters, request, response)
    return [QueryOut.model_validate(query) for query in held]


@router.get("/{query_id}", response_model=QueryOut, summary="One listening query")
async def get_listening_query(query_id: uuid.UUID, session: SessionDep) -> QueryOut:
    return QueryOut.model_validate(await service.require_query(session, query_id))


@router.post(
    "/{query_id}/stop",
    response_model=QueryOut,
    dependencies=[AUTHORIZED],
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


@mentions_router.get(
    "/engagements/{engagement_id}/mentions",
    response_model=list[MentionOut],
    summary="An engagement's mentions, newest first, filtered by query, source, language, "
    "sentiment, place, time and full text; a further page is the Link header's next",
)
async def list_engagement_mentions(
    engagement_id: uuid.UUID,
    filters: Annotated[MentionFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[MentionOut]:
    found = await mentions.engagement_mentions(session, engagement_id, filters)
    held = page_of(found, repository.MENTION_ORDER, filters, request, response)
    return [mentions.mention_view(mention) for mention in held]


@mentions_router.get("/mentions/{mention_id}", response_model=MentionOut, summary="One mention")
async def get_mention(mention_id: uuid.UUID, session: SessionDep) -> MentionOut:
    return await mentions.require_mention(session, mention_id)


@mentions_router.get(
    "/dead-letters",
    response_model=list[DeadLetterOut],
    dependencies=[AUTHORIZED],
    summary="Messages ingestion could not read, newest first, with the reason (admin, "
    "manager); a Link header names the next page",
)
async def list_dead_letters(
    filters: Annotated[DeadLetterFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[DeadLetterOut]:
    found = await repository.list_dead_letters(session, filters)
    held = page_of(found, repository.DEAD_LETTER_ORDER, filters, request, response)
    return [DeadLetterOut.model_validate(letter) for letter in held]
