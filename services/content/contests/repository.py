"""Queries of contests. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.contests.domain import Award, EntryStatus
from services.content.contests.models import Contest, ContestDraw, ContestEntry

# "share" lets entries arrive side by side; "update" serialises a contest's state changes
# (opening, drawing, claims) against them and against each other.
Lock = Literal["share", "update"]


async def get_contest(
    session: AsyncSession, contest_id: uuid.UUID, lock: Lock | None = None
) -> Contest | None:
    statement = select(Contest).where(Contest.id == contest_id)
    if lock is not None:
        statement = statement.with_for_update(read=lock == "share")
    return await session.scalar(statement)


async def list_contests(
    session: AsyncSession, engagement_id: uuid.UUID | None, status: str | None
) -> Sequence[Contest]:
    statement = select(Contest).order_by(Contest.starts_at, Contest.created_at)
    if engagement_id is not None:
        statement = statement.where(Contest.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(Contest.status == status)
    return (await session.scalars(statement)).all()


async def entry_by_mention(
    session: AsyncSession, contest_id: uuid.UUID, mention_id: str
) -> ContestEntry | None:
    return await session.scalar(
        select(ContestEntry).where(
            ContestEntry.contest_id == contest_id, ContestEntry.source_mention_id == mention_id
        )
    )


async def insert_entry(session: AsyncSession, values: dict[str, Any]) -> ContestEntry | None:
    """The new entry, or None when a unique rule (mention, accepted entrant) already holds it."""
    statement = (
        insert(ContestEntry).values(**values).on_conflict_do_nothing().returning(ContestEntry)
    )
    return (await session.scalars(statement)).first()


async def get_entry(
    session: AsyncSession, contest_id: uuid.UUID, entry_id: uuid.UUID
) -> ContestEntry | None:
    return await session.scalar(
        select(ContestEntry).where(
            ContestEntry.contest_id == contest_id, ContestEntry.id == entry_id
        )
    )


async def list_entries(
    session: AsyncSession, contest_id: uuid.UUID, status: str | None = None
) -> Sequence[ContestEntry]:
    statement = (
        select(ContestEntry)
        .where(ContestEntry.contest_id == contest_id)
        .order_by(ContestEntry.entered_at, ContestEntry.id)
    )
    if status is not None:
        statement = statement.where(ContestEntry.status == status)
    return (await session.scalars(statement)).all()


async def count_accepted(
    session: AsyncSession, contest_id: uuid.UUID, *, undrawn_only: bool = False
) -> int:
    statement = (
        select(func.count())
        .select_from(ContestEntry)
        .where(ContestEntry.contest_id == contest_id, ContestEntry.status == EntryStatus.ACCEPTED)
    )
    if undrawn_only:
        statement = statement.where(ContestEntry.award.is_(None))
    return await session.scalar(statement) or 0


async def undrawn_candidates(
    session: AsyncSession, contest_id: uuid.UUID
) -> dict[uuid.UUID, ContestEntry]:
    """Accepted entries no draw has picked yet, by id."""
    entries = await session.scalars(
        select(ContestEntry).where(
            ContestEntry.contest_id == contest_id,
            ContestEntry.status == EntryStatus.ACCEPTED,
            ContestEntry.award.is_(None),
        )
    )
    return {entry.id: entry for entry in entries}


async def entries_with_award(
    session: AsyncSession, contest_id: uuid.UUID, awards: Collection[Award]
) -> Sequence[ContestEntry]:
    """Entries holding one of ``awards``, in draw order (a reserve's rank is its turn)."""
    return (
        await session.scalars(
            select(ContestEntry)
            .where(ContestEntry.contest_id == contest_id, ContestEntry.award.in_(list(awards)))
            .order_by(ContestEntry.draw_number, ContestEntry.draw_rank)
        )
    ).all()


async def overdue_winners(
    session: AsyncSession, contest_id: uuid.UUID, as_of: datetime
) -> Sequence[ContestEntry]:
    return (
        await session.scalars(
            select(ContestEntry)
            .where(
                ContestEntry.contest_id == contest_id,
                ContestEntry.award == Award.WINNER,
                ContestEntry.claim_deadline <= as_of,
            )
            .order_by(ContestEntry.draw_number, ContestEntry.draw_rank)
        )
    ).all()


async def get_draw(session: AsyncSession, contest_id: uuid.UUID, number: int) -> ContestDraw | None:
    return await session.scalar(
        select(ContestDraw).where(
            ContestDraw.contest_id == contest_id, ContestDraw.number == number
        )
    )


async def list_draws(session: AsyncSession, contest_id: uuid.UUID) -> Sequence[ContestDraw]:
    return (
        await session.scalars(
            select(ContestDraw)
            .where(ContestDraw.contest_id == contest_id)
            .order_by(ContestDraw.number)
        )
    ).all()
