"""Queries on the lifecycle's timeline and the engagements' summaries. Organisation scoping is
applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.contracts import LifecycleStep
from services.strategy.lifecycle.summary import Summary
from services.strategy.models import EngagementSummary, LifecycleEvent, PhaseRecord, TimelineNote
from shared.errors import ProblemError
from shared.paging import Keyset, PageQuery, decode_cursor, encode_cursor, paged


async def insert_events(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    organization_id: uuid.UUID,
    steps: Sequence[tuple[uuid.UUID, LifecycleStep]],
) -> set[uuid.UUID]:
    """Store the steps in order, each under its event id; returns the ids not stored before."""
    inserted = await session.execute(
        insert(LifecycleEvent)
        .values(
            [
                {
                    "id": event_id,
                    "organization_id": organization_id,
                    "engagement_id": engagement_id,
                    "phase": step.phase.value,
                    "event": step.event.value,
                    "actor": step.actor,
                    "details": step.details,
                    "occurred_at": step.occurred_at,
                }
                for event_id, step in steps
            ]
        )
        .on_conflict_do_nothing(index_elements=[LifecycleEvent.id])
        .returning(LifecycleEvent.id)
    )
    return set(inserted.scalars())


async def insert_phase_starts(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    organization_id: uuid.UUID,
    starts: Sequence[tuple[LifecycleStep, int]],
) -> None:
    await session.execute(
        insert(PhaseRecord)
        .values(
            [
                {
                    "engagement_id": engagement_id,
                    "organization_id": organization_id,
                    "phase": step.phase.value,
                    "revision": revision,
                    "started_at": step.occurred_at,
                }
                for step, revision in starts
            ]
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


async def insert_note(
    session: AsyncSession,
    note_id: uuid.UUID,
    engagement_id: uuid.UUID,
    organization_id: uuid.UUID,
    phase: str,
    event: str,
    actor: str | None,
    details: dict[str, Any],
    occurred_at: datetime,
) -> bool:
    """Store a fact another service published; False when a copy of it is stored already."""
    inserted = await session.execute(
        insert(TimelineNote)
        .values(
            id=note_id,
            organization_id=organization_id,
            engagement_id=engagement_id,
            phase=phase,
            event=event,
            actor=actor,
            details=details,
            occurred_at=occurred_at,
        )
        .on_conflict_do_nothing(index_elements=[TimelineNote.id])
        .returning(TimelineNote.id)
    )
    return inserted.first() is not None


# A lifecycle fact's place in the timeline: its seq orders the facts of one instant.
FACT_ORDER = Keyset((LifecycleEvent.occurred_at, LifecycleEvent.seq))
# A note's place: after the facts of its instant, then as it was recorded.
NOTE_ORDER = Keyset((TimelineNote.occurred_at, TimelineNote.recorded_at, TimelineNote.id))
TimelineRow = LifecycleEvent | TimelineNote


async def timeline_page(
    session: AsyncSession, engagement_id: uuid.UUID, page: PageQuery
) -> list[TimelineRow]:
    """Facts and notes in time order (at one instant the facts, then the notes) from after the
    page's cursor, the place of a fact or of a note: one more than the page when more follow."""
    facts = select(LifecycleEvent).where(LifecycleEvent.engagement_id == engagement_id)
    notes = select(TimelineNote).where(TimelineNote.engagement_id == engagement_id)
    if page.cursor is not None:
        after = _timeline_position(page.cursor)
        if len(after) == len(FACT_ORDER.columns):
            facts = facts.where(tuple_(*FACT_ORDER.columns) > tuple_(*after))
            notes = notes.where(TimelineNote.occurred_at >= after[0])
        else:
            facts = facts.where(LifecycleEvent.occurred_at > after[0])
            notes = notes.where(tuple_(*NOTE_ORDER.columns) > tuple_(*after))
    # Each side's first rows past the cursor hold the merged page's.
    from_start = page.model_copy(update={"cursor": None})
    found: list[TimelineRow] = [
        *(await session.scalars(paged(facts, FACT_ORDER, from_start))),
        *(await session.scalars(paged(notes, NOTE_ORDER, from_start))),
    ]
    # A stable sort: facts stay before the notes of their instant, each in its own order.
    return sorted(found, key=lambda entry: entry.occurred_at)[: page.limit + 1]


def timeline_cursor(entry: TimelineRow) -> str:
    order = FACT_ORDER if isinstance(entry, LifecycleEvent) else NOTE_ORDER
    return encode_cursor(order.key_of(entry))


def _timeline_position(cursor: str) -> tuple[Any, ...]:
    """A fact's place (two parts) or a note's (three); anything else is refused (422)."""
    try:
        return decode_cursor(cursor, FACT_ORDER)
    except ProblemError:
        return decode_cursor(cursor, NOTE_ORDER)


async def current_phase(session: AsyncSession, engagement_id: uuid.UUID) -> str | None:
    """The phase the engagement's summary shows (None before its first lifecycle fact)."""
    return await session.scalar(
        select(EngagementSummary.phase).where(EngagementSummary.engagement_id == engagement_id)
    )


async def lock_summary(session: AsyncSession, engagement_id: uuid.UUID) -> EngagementSummary | None:
    """The engagement's summary, locked until the transaction ends: facts of one engagement
    recorded at the same time are folded one transaction after the other."""
    return await session.scalar(
        select(EngagementSummary)
        .where(EngagementSummary.engagement_id == engagement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _columns(summary: Summary) -> dict[str, Any]:
    return {
        "status": summary.status.value,
        "phase": summary.phase.value,
        "revision": summary.revision,
        "pending_approvals": [p.model_dump(mode="json") for p in summary.pending_approvals],
        "decided": summary.decided,
        "tasks": {key: task.model_dump(mode="json") for key, task in summary.tasks.items()},
        "open_task_count": len(summary.open_tasks),
        "overdue_task_count": summary.overdue_tasks,
        "next_deadline": summary.next_deadline,
        "waiting_roles": [role.value for role in summary.waiting_roles],
        "status_changed_at": summary.status_changed_at,
        "updated_at": summary.updated_at or func.now(),
    }


async def create_summary(
    session: AsyncSession, engagement_id: uuid.UUID, organization_id: uuid.UUID, summary: Summary
) -> None:
    """Store a first summary, unless another transaction just stored one."""
    await session.execute(
        insert(EngagementSummary)
        .values(engagement_id=engagement_id, organization_id=organization_id, **_columns(summary))
        .on_conflict_do_nothing(index_elements=[EngagementSummary.engagement_id])
    )


async def save_summary(session: AsyncSession, engagement_id: uuid.UUID, summary: Summary) -> None:
    await session.execute(
        update(EngagementSummary)
        .where(EngagementSummary.engagement_id == engagement_id)
        .values(**_columns(summary))
    )


def summary_of(row: EngagementSummary) -> Summary:
    return Summary.model_validate(
        {
            "status": row.status,
            "phase": row.phase,
            "revision": row.revision,
            "pending_approvals": row.pending_approvals,
            "decided": row.decided,
            "tasks": row.tasks,
            "status_changed_at": row.status_changed_at,
            "updated_at": row.updated_at,
        }
    )
