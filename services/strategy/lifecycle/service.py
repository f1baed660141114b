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
from services.strategy.lifecycle import repository
from services.strategy.models import Deliverable, LifecycleEvent, outbox
from shared.errors import NotFoundError
from shared.events.envelope import new_event


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


async def _record(
    session: AsyncSession, request: RecordLifecycleEvents, step: LifecycleStep
) -> tuple[uuid.UUID, bool]:
    identifier = event_id(request.engagement_id, step.idempotency_key)
    inserted = await repository.insert_event(
        session, identifier, request.engagement_id, request.organization_id, step
    )
    if not inserted:
        return identifier, False
    if step.event is LifecycleEventName.PHASE_STARTED:
        revision = int(step.details.get("revision", 0))
        await repository.insert_phase_start(
            session, request.engagement_id, request.organization_id, step, revision
        )
    await outbox.add(
        session,
        new_event(
            events.lifecycle_event(step.event),
            _data(request, step),
            source=events.SOURCE,
            subject=str(request.engagement_id),
            event_id=identifier,
        ),
    )
    return identifier, True


async def _require_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> None:
    if await engagements.get_engagement(session, engagement_id) is None:
        raise NotFoundError("engagement", engagement_id)


async def record(session: AsyncSession, request: RecordLifecycleEvents) -> LifecycleEventsRecorded:
    await _require_engagement(session, request.engagement_id)
    recorded = [await _record(session, request, step) for step in request.steps]
    return LifecycleEventsRecorded(
        event_ids=[str(identifier) for identifier, _ in recorded],
        newly_recorded=sum(newly for _, newly in recorded),
    )


async def timeline(session: AsyncSession, engagement_id: uuid.UUID) -> Sequence[LifecycleEvent]:
    await _require_engagement(session, engagement_id)
    return await repository.timeline(session, engagement_id)


async def latest_versions(
    session: AsyncSession, engagement_id: uuid.UUID, kinds: Sequence[DeliverableKind]
) -> list[Deliverable]:
    """The newest version of each kind that has one, for the phases' deliverable records."""
    await _require_engagement(session, engagement_id)
    found = [await deliverables.latest(session, engagement_id, kind.value) for kind in kinds]
    return [deliverable for deliverable in found if deliverable is not None]
