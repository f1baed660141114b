"""The lifecycle's records: each fact of ``EngagementWorkflow`` becomes a timeline entry and an
``engage.lifecycle.*`` event in one transaction, once however often it is recorded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events
from services.strategy import repository as engagements
from services.strategy.contracts import (
    LifecycleEventName,
    LifecycleEventsRecorded,
    LifecycleStep,
    RecordLifecycleEvents,
)
from services.strategy.deliverables import repository as deliverables
from services.strategy.deliverables.kinds import DeliverableKind
from services.strategy.lifecycle import repository, summary
from services.strategy.lifecycle.summary import Summary
from services.strategy.models import (
    Deliverable,
    Engagement,
    LifecycleEvent,
    outbox,
)
from shared.domain import Phase
from shared.errors import NotFoundError
from shared.events.envelope import new_event
from shared.paging import PageQuery


def event_id(engagement_id: uuid.UUID, idempotency_key: str) -> uuid.UUID:
    """The same fact of the same engagement always has the same event id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{engagement_id}/{idempotency_key}")


def _data(request: RecordLifecycleEvents, step: LifecycleStep) -> dict[str, object]:
    fact = events.LifecycleFact(
        engagement_id=request.engagement_id,
        organization_id=request.organization_id,
        phase=step.phase,
    )
    actor = {"actor": step.actor} if step.actor is not None else {}
    return {**fact.model_dump(mode="json"), **step.details, **actor}


async def _require_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement:
    engagement = await engagements.get_engagement(session, engagement_id)
    if engagement is None:
        raise NotFoundError("engagement", engagement_id)
    return engagement


def _as_step(entry: LifecycleEvent) -> LifecycleStep:
    return LifecycleStep(
        event=LifecycleEventName(entry.event),
        phase=Phase(entry.phase),
        idempotency_key=str(entry.id),
        occurred_at=entry.occurred_at,
        actor=entry.actor,
        details=entry.details,
    )


async def _locked_summary(session: AsyncSession, engagement_id: uuid.UUID) -> Summary:
    """The engagement's summary, locked for this transaction; made from its timeline the first
    time (an engagement recorded before summaries existed has one)."""
    row = await repository.lock_summary(session, engagement_id)
    if row is None:
        engagement = await _require_engagement(session, engagement_id)
        recorded = [_as_step(entry) for entry in await repository.timeline(session, engagement_id)]
        first = summary.fold(Summary(), recorded)
        await repository.create_summary(session, engagement_id, engagement.organization_id, first)
        row = await repository.lock_summary(session, engagement_id)
        assert row is not None, "the summary was just stored"
    return repository.summary_of(row)


async def record(session: AsyncSession, request: RecordLifecycleEvents) -> LifecycleEventsRecorded:
    """Store the steps not stored before, stage their events and fold them into the summary,
    in a few statements whatever the number of steps."""
    engagement_id, organization_id = request.engagement_id, request.organization_id
    current = await _locked_summary(session, engagement_id)
    identified = [(event_id(engagement_id, step.idempotency_key), step) for step in request.steps]
    # A step repeated in one request is one fact.
    distinct = list(dict(identified).items())
    stored = await repository.insert_events(session, engagement_id, organization_id, distinct)
    new = [(identifier, step) for identifier, step in distinct if identifier in stored]
    starts = [
        (step, int(step.details.get("revision", 0)))
        for _, step in new
        if step.event is LifecycleEventName.PHASE_STARTED
    ]
    if starts:
        await repository.insert_phase_starts(session, engagement_id, organization_id, starts)
    await outbox.add_all(
        session,
        [
            new_event(
                events.lifecycle_event(step.event),
                _data(request, step),
                source=events.SOURCE,
                subject=str(engagement_id),
                event_id=identifier,
            )
            for identifier, step in new
        ],
    )
    if new:
        summary.fold(current, (step for _, step in new))
        await repository.save_summary(session, engagement_id, current)
    return LifecycleEventsRecorded(
        event_ids=[str(identifier) for identifier, _ in identified],
        newly_recorded=len(new),
    )


async def timeline(
    session: AsyncSession, engagement_id: uuid.UUID, page: PageQuery
) -> list[repository.TimelineRow]:
    """A page of the lifecycle's facts and of the notes other services' facts left, in time
    order (one more than the page when more follow)."""
    await _require_engagement(session, engagement_id)
    return await repository.timeline_page(session, engagement_id, page)


async def latest_versions(
    session: AsyncSession, engagement_id: uuid.UUID, kinds: Sequence[DeliverableKind]
) -> list[Deliverable]:
    """The newest version of each kind that has one, for the phases' deliverable records."""
    await _require_engagement(session, engagement_id)
    found = [await deliverables.latest(session, engagement_id, kind.value) for kind in kinds]
    return [deliverable for deliverable in found if deliverable is not None]
