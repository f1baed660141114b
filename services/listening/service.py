"""Rules of the listening service: queries are switched on, and stopped once for good."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events, query_language, repository
from services.listening.contracts import (
    EngagementQueriesStarted,
    EngagementQueriesStopped,
    SourceKind,
    StartEngagementQueries,
    StopEngagementQueries,
)
from services.listening.models import (
    EngagementListening,
    ListeningQuery,
    engagements,
    outbox,
)
from services.listening.schemas import QueryCreate
from services.listening.sources.service import stop_engagement_sources
from shared.auth import Principal
from shared.errors import FieldError, NotFoundError, validation_problem
from shared.events.envelope import new_event

_SOURCES = frozenset(source.value for source in SourceKind)


def _listened_for(data: QueryCreate) -> tuple[str, list[str]]:
    """The query's canonical expression and its terms.

    Clients written before expressions send ``terms`` alone: they keep working, as the
    expression that matches any of them, and read their terms back as they sent them."""
    if data.expression is not None and data.terms is not None:
        raise validation_problem(
            [
                FieldError(
                    field="body.terms",
                    message="give an expression or terms, not both: the terms of an "
                    "expression are its words, phrases, hashtags and accounts",
                    type="expression_and_terms",
                )
            ]
        )
    if data.expression is not None:
        return data.expression, query_language.searched_terms(query_language.parse(data.expression))
    if data.terms is None:
        raise validation_problem(
            [FieldError(field="body.expression", message="Field required", type="missing")]
        )
    expression = str(query_language.expression_from_terms(data.terms))
    # At most 50 terms of at most 200 characters: the length is the one bound they can pass.
    if len(expression) > query_language.MAX_LENGTH:
        raise validation_problem(
            [
                FieldError(
                    field="body.terms",
                    message=f"the terms make an expression of {len(expression)} characters, "
                    f"more than {query_language.MAX_LENGTH}",
                    type="query_too_long",
                )
            ]
        )
    return expression, data.terms


def _sources(data: QueryCreate) -> list[str]:
    """The sources named, or else the query's channels that are sources too."""
    if data.sources is not None:
        return [source.value for source in data.sources]
    sources: list[str] = [channel.value for channel in data.channels if channel.value in _SOURCES]
    if not sources:
        raise validation_problem(
            [
                FieldError(
                    field="body.sources",
                    message="name the sources to read: none of the channels "
                    f"({', '.join(data.channels)}) is one",
                    type="missing",
                )
            ]
        )
    return sources


async def _first_status(session: AsyncSession, data: QueryCreate) -> str:
    """Active at once, unless it waits for its engagement's seeding, which has not begun."""
    if data.starts == "now":
        return "active"
    if data.engagement_id is None:
        raise validation_problem(
            [
                FieldError(
                    field="body.starts",
                    message="only an engagement's query can wait for its seeding",
                    type="at_seeding_without_engagement",
                )
            ]
        )
    started = await session.get(EngagementListening, data.engagement_id)
    return "active" if started is not None else "pending"


async def create_query(
    session: AsyncSession, principal: Principal, data: QueryCreate
) -> ListeningQuery:
    principal.require_organization(data.organization_id)
    expression, terms = _listened_for(data)
    sources = _sources(data)
    if data.engagement_id is not None:
        await engagements.require(session, data.engagement_id, data.organization_id)
    query = ListeningQuery(
        id=uuid.uuid4(),
        organization_id=data.organization_id,
        engagement_id=data.engagement_id,
        name=data.name,
        expression=expression,
        exclusions=data.exclusions,
        terms=terms,
        channels=[channel.value for channel in data.channels],
        sources=sources,
        languages=data.languages,
        starts_on=data.starts_on or datetime.now(UTC).date(),
        competitor=data.competitor,
        status=await _first_status(session, data),
        created_by=principal.subject,
    )
    session.add(query)
    await session.flush()
    if query.status == "active":
        await _announce_start(session, query)
    return query


async def _announce_start(session: AsyncSession, query: ListeningQuery) -> None:
    await outbox.add(
        session,
        new_event(
            events.QUERY_STARTED,
            events.QueryStarted(
                query_id=query.id,
                organization_id=query.organization_id,
                engagement_id=query.engagement_id,
                name=query.name,
                terms=query.terms,
                channels=query.channels,
                languages=query.languages,
                created_by=query.created_by,
                expression=query.expression,
                exclusions=query.exclusions,
                sources=query.sources,
                starts_on=query.starts_on,
                competitor=query.competitor,
            ),
            source=events.SOURCE,
            subject=str(query.id),
            event_id=events.query_event_id(query.id, "started"),
        ),
    )


async def require_query(
    session: AsyncSession, query_id: uuid.UUID, *, for_update: bool = False
) -> ListeningQuery:
    query = await session.get(ListeningQuery, query_id, with_for_update=for_update)
    if query is None:
        raise NotFoundError("listening query", query_id)
    return query


async def stop_query(
    session: AsyncSession, query: ListeningQuery, *, reason: str, stopped_by: str
) -> bool:
    """Stop an active query (True); a stopped one stays as it was stopped (False)."""
    if query.status == "stopped":
        return False
    query.status = "stopped"
    query.stopped_at = datetime.now(UTC)
    query.stopped_by = stopped_by
    query.stop_reason = reason
    await outbox.add(
        session,
        new_event(
            events.QUERY_STOPPED,
            events.QueryStopped(
                query_id=query.id,
                organization_id=query.organization_id,
                engagement_id=query.engagement_id,
                reason=reason,
                stopped_by=stopped_by,
                stopped_at=query.stopped_at,
            ),
            source=events.SOURCE,
            subject=str(query.id),
            event_id=events.query_event_id(query.id, "stopped"),
        ),
    )
    return True


async def start_engagement_queries(
    session: AsyncSession, command: StartEngagementQueries
) -> EngagementQueriesStarted:
    """Record that the engagement's listening started and switch on its waiting queries, each
    with its ``query_started``. Run again, it finds them active: nothing starts twice."""
    await session.execute(
        insert(EngagementListening)
        .values(
            engagement_id=command.engagement_id,
            organization_id=command.organization_id,
            started_at=datetime.now(UTC),
            started_by=command.started_by,
        )
        .on_conflict_do_nothing(index_elements=["engagement_id"])
    )
    queries = await repository.engagement_queries_for_update(
        session, command.organization_id, command.engagement_id
    )
    started = 0
    for query in queries:
        if query.status == "pending":
            query.status = "active"
            await _announce_start(session, query)
            started += 1
    return EngagementQueriesStarted(
        started=started,
        already_active=sum(1 for query in queries if query.status == "active") - started,
    )


async def stop_engagement_queries(
    session: AsyncSession, command: StopEngagementQueries
) -> EngagementQueriesStopped:
    queries = await repository.engagement_queries_for_update(
        session, command.organization_id, command.engagement_id
    )
    stopped = [
        await stop_query(session, query, reason=command.reason, stopped_by=command.stopped_by)
        for query in queries
    ]
    # The engagement's own sources (its channels' comments) stop with it.
    sources_stopped = await stop_engagement_sources(
        session, command.organization_id, command.engagement_id, datetime.now(UTC)
    )
    return EngagementQueriesStopped(
        stopped=stopped.count(True),
        already_stopped=stopped.count(False),
        sources_stopped=sources_stopped,
    )
