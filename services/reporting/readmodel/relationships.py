"""Seeding and training facts: the strategy service's outreach and training events, each kept
with the figures it carries (the engagement's contacts by status, or its training progress, once
the change was made). A report reads the figures as they stood at its period's end (and start),
and counts the outreach steps taken in the period.

One row per event, inserted once (the event's id is the key): the table is the same whatever the
order or the number of times the events arrive."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Uuid, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.reporting.models import Base
from services.reporting.readmodel.reading import read
from services.reporting.rendering.relationships import OutreachFigures, RelationshipFigures
from services.strategy.outreach import events as outreach
from services.strategy.outreach.schemas import OutreachStatus
from services.strategy.training import events as training
from services.strategy.training.schemas import TrainingProgress
from shared.db.base import OrgScoped
from shared.events.envelope import CloudEvent

OUTREACH = "outreach"
TRAINING = "training"


class RelationshipFact(OrgScoped, Base):
    """One outreach or training event with the engagement's figures after it."""

    __tablename__ = "relationship_facts"
    __table_args__ = (
        Index("ix_reporting_relationship_facts_moment", "engagement_id", "area", "occurred_at"),
    )

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # outreach | training
    area: Mapped[str] = mapped_column(String(16), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The status an outreach step led to; None for other facts.
    step_status: Mapped[str | None] = mapped_column(String(16))
    # ``by_status`` of an outreach event, ``progress`` of a training one.
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


async def _keep(
    session: AsyncSession,
    event: CloudEvent,
    *,
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID,
    area: str,
    figures: dict[str, Any],
    step_status: str | None = None,
) -> None:
    await session.execute(
        insert(RelationshipFact)
        .values(
            event_id=str(event.id),
            organization_id=organization_id,
            engagement_id=engagement_id,
            area=area,
            occurred_at=event.time,
            step_status=step_status,
            figures=figures,
        )
        .on_conflict_do_nothing(index_elements=[RelationshipFact.event_id])
    )


async def record_outreach_contact(session: AsyncSession, event: CloudEvent) -> None:
    fact = read(outreach.OutreachContactRecorded, event)
    await _keep(
        session,
        event,
        organization_id=fact.organization_id,
        engagement_id=fact.engagement_id,
        area=OUTREACH,
        figures={status.value: count for status, count in fact.by_status.items()},
    )


async def record_outreach_step(session: AsyncSession, event: CloudEvent) -> None:
    fact = read(outreach.OutreachStepRecorded, event)
    await _keep(
        session,
        event,
        organization_id=fact.organization_id,
        engagement_id=fact.engagement_id,
        area=OUTREACH,
        figures={status.value: count for status, count in fact.by_status.items()},
        step_status=fact.status.value,
    )


async def record_training(session: AsyncSession, event: CloudEvent) -> None:
    """Any training event: they all carry the progress after them."""
    fact = read(training.TrainingFact, event)
    await _keep(
        session,
        event,
        organization_id=fact.organization_id,
        engagement_id=fact.engagement_id,
        area=TRAINING,
        figures=fact.progress.model_dump(mode="json"),
    )


OUTREACH_EVENTS = {
    outreach.OUTREACH_CONTACT_RECORDED: record_outreach_contact,
    outreach.OUTREACH_STEP_RECORDED: record_outreach_step,
}
TRAINING_EVENTS = (
    training.TRAINING_PARTICIPANT_RECORDED,
    training.TRAINING_SESSION_RECORDED,
    training.TRAINING_ATTENDANCE_RECORDED,
    training.TRAINING_COMPETENCE_RECORDED,
    training.TRAINING_COMPETENCE_CHECKED,
)


# --- what a report reads ---------------------------------------------------------------------


async def _latest(
    session: AsyncSession, engagement_id: uuid.UUID, area: str, before: datetime
) -> dict[str, Any] | None:
    figures: dict[str, Any] | None = await session.scalar(
        select(RelationshipFact.figures)
        .where(
            RelationshipFact.engagement_id == engagement_id,
            RelationshipFact.area == area,
            RelationshipFact.occurred_at < before,
        )
        .order_by(RelationshipFact.occurred_at.desc(), RelationshipFact.event_id.desc())
        .limit(1)
    )
    return figures


def _counts(figures: dict[str, Any]) -> dict[str, int]:
    return {status.value: int(figures.get(status.value, 0)) for status in OutreachStatus}


async def figures(
    session: AsyncSession, engagement_id: uuid.UUID, starts_at: datetime, ends_at: datetime
) -> RelationshipFigures:
    """The engagement's outreach and training as they stood at the period's end and start;
    None for an area with no fact before the end."""
    outreach_end = await _latest(session, engagement_id, OUTREACH, ends_at)
    outreach_figures = None
    if outreach_end is not None:
        outreach_start = await _latest(session, engagement_id, OUTREACH, starts_at)
        rows = await session.execute(
            select(RelationshipFact.step_status, func.count())
            .where(
                RelationshipFact.engagement_id == engagement_id,
                RelationshipFact.area == OUTREACH,
                RelationshipFact.step_status.is_not(None),
                RelationshipFact.occurred_at >= starts_at,
                RelationshipFact.occurred_at < ends_at,
            )
            .group_by(RelationshipFact.step_status)
        )
        steps = {str(status): int(count) for status, count in rows.all()}
        outreach_figures = OutreachFigures(
            at_end=_counts(outreach_end),
            at_start=_counts(outreach_start) if outreach_start is not None else None,
            steps=_counts(steps),
        )
    training_end = await _latest(session, engagement_id, TRAINING, ends_at)
    training_start = (
        await _latest(session, engagement_id, TRAINING, starts_at) if training_end else None
    )
    return RelationshipFigures(
        outreach=outreach_figures,
        training=TrainingProgress.model_validate(training_end) if training_end else None,
        training_at_start=(
            TrainingProgress.model_validate(training_start) if training_start else None
        ),
    )
