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
from shared.paging import Keyset, PageQuery, paged

# "share" lets entries arrive side by side; "update" serialises a contest's state changes
# (opening, drawing, claims) against them and against each other.
Lock = Literal["share", "update"]

# By start; the id orders contests created in the same transaction.
CONTEST_ORDER = Keyset((Contest.starts_at, Contest.created_at, Contest.id))
ENTRY_ORDER = Keyset((ContestEntry.entered_at, ContestEntry.id))
# A contest's draws are numbered from 1.
DRAW_ORDER = Keyset((ContestDraw.number,))


async def get_contest(
    session: AsyncSession, contest_id: uuid.UUID, lock: Lock | None = None
) -> Contest | None:
    statement = select(Contest).where(Contest.id == contest_id)
    if lock is not None:
        statement = statement.with_for_update(read=lock == "share")
    return await session.scalar(statement)


async def list_contests(
    session: AsyncSession, engagement_id: uuid.UUID, status: str | None, page: PageQuery
) -> Sequence[Contest]:
    """A page of the engagement's contests from after the page's cursor (one more than the
    page when more follow)."""
    statement = select(Contest).where(Contest.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(Contest.status == status)
    return (await session.scalars(paged(statement, CONTEST_ORDER, page))).all()


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
    session: AsyncSession, contest_id: uuid.UUID, status: str | None, page: PageQuery
) -> Sequence[ContestEntry]:
    """A page of the contest's entries from after the page's cursor (one more than the page
    when more follow)."""
    statement = select(ContestEntry).where(ContestEntry.contest_id == contest_id)
    if status is not None:
        statement = statement.where(ContestEntry.status == status)
    return (await session.scalars(paged(statement, ENTRY_ORDER, page))).all()


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
    statement = select(ContestDraw).where(ContestDraw.contest_id == contest_id)
    return (await session.scalars(statement.order_by(*DRAW_ORDER.columns))).all()


async def page_of_draws(
    session: AsyncSession, contest_id: uuid.UUID, page: PageQuery
) -> Sequence[ContestDraw]:
    """A page of the contest's draws from after the page's cursor (one more than the page when
    more follow)."""
    statement = select(ContestDraw).where(ContestDraw.contest_id == contest_id)
    return (await session.scalars(paged(statement, DRAW_ORDER, page))).all()
