"""Contests' facts: each entry accepted or rejected, the winners drawn, and the winners who let
their claim window pass (a reserve promoted in their place)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.contests import events as contests
from services.reporting.models import ContestEntryFact
from services.reporting.readmodel.reading import read
from shared.events.consumer import TransientError
from shared.events.envelope import CloudEvent

# How long a draw waits for its entries' own facts (their consumer running behind).
UNKNOWN_ENTRY_RETRY_SECONDS = 2.0


async def _record_entry(
    session: AsyncSession, entry: contests.EntryRecorded, accepted: bool, at: datetime
) -> None:
    statement = insert(ContestEntryFact).values(
        entry_id=entry.entry_id,
        organization_id=entry.organization_id,
        engagement_id=entry.engagement_id,
        contest_id=entry.contest_id,
        platform=entry.platform.value,
        accepted=accepted,
        recorded_at=at,
    )
    new = statement.excluded
    # A rejection stands whichever fact came first.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ContestEntryFact.entry_id],
            set_={
                "accepted": ContestEntryFact.accepted & new.accepted,
                "recorded_at": func.least(ContestEntryFact.recorded_at, new.recorded_at),
            },
        )
    )


async def record_entry_accepted(session: AsyncSession, event: CloudEvent) -> None:
    await _record_entry(session, read(contests.EntryRecorded, event), True, event.time)


async def record_entry_rejected(session: AsyncSession, event: CloudEvent) -> None:
    await _record_entry(session, read(contests.EntryRejected, event), False, event.time)


async def _mark(
    session: AsyncSession, entry_ids: Collection[uuid.UUID], **moments: datetime
) -> None:
    """Stamp each entry with the moments (the earliest kept); an entry whose own fact was not
    read yet is waited for, redelivering the fact that names it."""
    if not entry_ids:
        return
    marked = await session.scalars(
        update(ContestEntryFact)
        .where(ContestEntryFact.entry_id.in_(entry_ids))
        .values(
            {
                column: func.least(getattr(ContestEntryFact, column), at)
                for column, at in moments.items()
            }
        )
        .returning(ContestEntryFact.entry_id)
        .execution_options(synchronize_session=False)
    )
    missing = set(entry_ids) - set(marked)
    if missing:
        raise TransientError(
            f"contest entries not known yet: {sorted(map(str, missing))}",
            delay=UNKNOWN_ENTRY_RETRY_SECONDS,
        )


async def record_draw(session: AsyncSession, event: CloudEvent) -> None:
    drawn = read(contests.ContestDrawn, event)
    await _mark(session, set(drawn.winners), won_at=event.time)


async def record_unclaimed(session: AsyncSession, event: CloudEvent) -> None:
    """The winner forfeits; the reserve promoted in its place wins from now."""
    unclaimed = read(contests.WinnerUnclaimed, event)
    await _mark(session, {unclaimed.entry_id}, unclaimed_at=event.time)
    if unclaimed.replaced_by is not None:
        await _mark(session, {unclaimed.replaced_by}, won_at=event.time)
