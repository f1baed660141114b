"""Transactional outbox: an event row commits in the same transaction as the data it describes.

Staging an event also notifies the outbox's PostgreSQL channel; notifications are delivered only
when (and if) the transaction commits, so a relay listening there wakes as soon as there is
something to publish instead of at its next poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Select,
    String,
    bindparam,
    column,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.events.envelope import CloudEvent
from shared.telemetry import current_trace_headers


class OutboxMixin:
    """Columns of a service's ``outbox`` table (declare it on the service's own base)."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    headers: Mapped[dict[str, str]] = mapped_column(JSONB, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class ProcessedEventMixin:
    """Columns of a service's ``processed_events`` table: what each consumer has handled."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


def outbox_channel(model: type[OutboxMixin]) -> str:
    """The PostgreSQL NOTIFY channel of one service's outbox (one per service schema)."""
    return f"engage_outbox_{inspect(model).local_table.schema}"


class Outbox:
    """Writes events into one service's outbox table."""

    def __init__(self, model: type[OutboxMixin]) -> None:
        self.model = model
        self.channel = outbox_channel(model)

    async def add(self, session: AsyncSession, event: CloudEvent) -> bool:
        """Stage ``event`` in the session's transaction; False if an event with its id exists."""
        return await self.add_all(session, [event]) == 1

    async def add_all(self, session: AsyncSession, events: Sequence[CloudEvent]) -> int:
        """Stage ``events`` in order in one statement; returns how many were new."""
        if not events:
            return 0
        rows = [
            {
                "event_id": event.id,
                "name": event.name,
                "envelope": event.model_dump(mode="json", exclude_none=True),
            }
            for event in events
        ]
        staged = await session.execute(
            self._stage, {"rows": rows, "headers": current_trace_headers()}
        )
        return len(staged.all())

    @cached_property
    def _stage(self) -> Select[tuple[int, str]]:
        # The events travel as one JSON array, so the statement is the same for any number of
        # them: compiled once, prepared once per connection. Rows go in in the array's order
        # (their seq is the relay's order). One round trip: the notification rides on the
        # insert, and only new rows send one (PostgreSQL folds a transaction's identical
        # notifications into one at commit).
        rows = (
            func.jsonb_array_elements(bindparam("rows", type_=JSONB))
            .table_valued(column("row", JSONB), with_ordinality="position")
            .render_derived(name="rows")
        )
        staged = (
            insert(self.model)
            .from_select(
                ["event_id", "name", "envelope", "headers"],
                select(
                    rows.c.row["event_id"].astext,
                    rows.c.row["name"].astext,
                    rows.c.row["envelope"],
                    bindparam("headers", type_=JSONB),
                ).order_by(rows.c.position),
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.model.seq)
            .cte("staged")
        )
        notify = func.pg_notify(literal(self.channel, String), "")
        return select(staged.c.seq, notify).select_from(staged)
