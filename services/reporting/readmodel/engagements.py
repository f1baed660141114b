"""Strategy's facts: organisations, engagements' contracts, their approved objectives and where
their lifecycle is (``engage.lifecycle.*``)."""

from __future__ import annotations

import logging

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import EngagementFact, ObjectivesFact, OrganizationFact
from services.reporting.readmodel.reading import read
from services.strategy import events as strategy
from services.strategy.contracts import DeliverableKind, LifecycleEventName
from shared.domain import Phase
from shared.events.consumer import TransientError
from shared.events.envelope import CloudEvent

log = logging.getLogger(__name__)

# The lifecycle facts the model keeps: the phase an engagement is in, and how it ended.
PHASE_STARTED = strategy.lifecycle_event(LifecycleEventName.PHASE_STARTED)
ENGAGEMENT_COMPLETED = strategy.lifecycle_event(LifecycleEventName.ENGAGEMENT_COMPLETED)
ENGAGEMENT_CANCELLED = strategy.lifecycle_event(LifecycleEventName.ENGAGEMENT_CANCELLED)
ENDINGS = {ENGAGEMENT_COMPLETED: "completed", ENGAGEMENT_CANCELLED: "cancelled"}
PHASE_ORDER = list(Phase)
# How long a lifecycle fact waits for its engagement's contract (a consumer running behind).
UNKNOWN_ENGAGEMENT_RETRY_SECONDS = 2.0


async def record_organization(session: AsyncSession, event: CloudEvent) -> None:
    created = read(strategy.OrganizationCreated, event)
    statement = insert(OrganizationFact).values(
        organization_id=created.organization_id, name=created.name, timezone=created.timezone
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[OrganizationFact.organization_id],
            set_={"name": statement.excluded.name, "timezone": statement.excluded.timezone},
        )
    )


async def record_engagement(session: AsyncSession, event: CloudEvent) -> None:
    created = read(strategy.EngagementCreated, event)
    contract = {
        "organization_id": created.organization_id,
        "mode": created.mode.value,
        "channels": [channel.value for channel in created.channels],
        "starts_on": created.starts_on,
        "ends_on": created.ends_on,
        "report_cadence": created.report_cadence,
        "time_scale": created.time_scale,
    }
    statement = insert(EngagementFact).values(engagement_id=created.engagement_id, **contract)
    # The contract only: where the lifecycle is comes from its own facts.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[EngagementFact.engagement_id],
            set_={column: statement.excluded[column] for column in contract},
        )
    )


async def record_objectives(session: AsyncSession, event: CloudEvent) -> None:
    """The newest approved version of an engagement's ``objectives``; other kinds are not kept."""
    approved = read(strategy.DeliverableApproved, event)
    if approved.kind is not DeliverableKind.OBJECTIVES:
        return
    if approved.body is None:
        log.warning("%s %s carries no body (emitted before bodies were)", event.name, event.id)
        return
    statement = insert(ObjectivesFact).values(
        engagement_id=approved.engagement_id,
        organization_id=approved.organization_id,
        deliverable_id=approved.deliverable_id,
        version=approved.version,
        body=approved.body,
        approved_at=event.time,
    )
    # An older version approved late (or read again) never replaces a newer one.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ObjectivesFact.engagement_id],
            set_={
                "deliverable_id": statement.excluded.deliverable_id,
                "version": statement.excluded.version,
                "body": statement.excluded.body,
                "approved_at": statement.excluded.approved_at,
            },
            where=ObjectivesFact.version < statement.excluded.version,
        )
    )


async def record_lifecycle(session: AsyncSession, event: CloudEvent) -> None:
    """The furthest phase started, and the ending; a fact read before its engagement's contract
    waits for it (redelivered), since a row needs the contract."""
    fact = read(strategy.LifecycleFact, event)
    engagement = await session.get(EngagementFact, fact.engagement_id, with_for_update=True)
    if engagement is None:
        raise TransientError(
            f"engagement {fact.engagement_id} is not known yet",
            delay=UNKNOWN_ENGAGEMENT_RETRY_SECONDS,
        )
    if event.name == PHASE_STARTED and _later(fact.phase, engagement.phase):
        engagement.phase = fact.phase.value
    ending = ENDINGS.get(event.name)
    if ending is not None and engagement.ended is None:
        engagement.ended = ending
    await session.flush()


def _later(phase: Phase, current: str | None) -> bool:
    return current is None or PHASE_ORDER.index(phase) > PHASE_ORDER.index(Phase(current))
