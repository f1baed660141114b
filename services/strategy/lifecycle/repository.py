"""Queries on the lifecycle's timeline. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.contracts import LifecycleStep
from services.strategy.models import LifecycleEvent, PhaseRecord


async def insert_event(
    session: AsyncSession,
    event_id: uuid.UUID,
    engagement_id: uuid.UUID,
    organization_id: uuid.UUID,
    step: LifecycleStep,
) -> bool:
    """Store the step; False when a step with this id is already stored."""
    inserted = await session.execute(
        insert(LifecycleEvent)
        .values(
            id=event_id,
            organization_id=organization_id,
            engagement_id=engagement_id,
            phase=step.phase.value,
            event=step.event.value,
            actor=step.actor,
            details=step.details,
            occurred_at=step.occurred_at,
        )
        .on_conflict_do_nothing(index_elements=[LifecycleEvent.id])
        .returning(LifecycleEvent.id)
    )
    return inserted.first() is not None


async def insert_phase_start(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    organization_id: uuid.UUID,
    step: LifecycleStep,
    revision: int,
) -> None:
    await session.execute(
        insert(PhaseRecord)
        .values(
            engagement_id=engagement_id,
            organization_id=organization_id,
            phase=step.phase.value,
            revision=revision,
            started_at=step.occurred_at,
        )
        .on_conflict_do_nothing()
    )


async def timeline(session: AsyncSession, engagement_id: uuid.UUID) -> Sequence[LifecycleEvent]:
    return (
        await session.scalars(
            select(LifecycleEvent)
            .where(LifecycleEvent.engagement_id == engagement_id)
            .order_by(LifecycleEvent.occurred_at, LifecycleEvent.seq)
        )
    ).all()
