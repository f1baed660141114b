"""Queries of the editorial plan. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.plan.models import Plan, PlanHistory, PlanSlot


async def get_plan(
    session: AsyncSession, engagement_id: uuid.UUID, *, lock: bool = False
) -> Plan | None:
    """The engagement's plan; ``lock`` serialises changes to one plan (generation, fills)."""
    statement = select(Plan).where(Plan.engagement_id == engagement_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def insert_plan_if_absent(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a plan unless its engagement has one (maybe another organisation's); True if new."""
    statement = insert(Plan).values(values).on_conflict_do_nothing().returning(Plan.id)
    return (await session.execute(statement)).first() is not None


async def list_slots(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[PlanSlot]:
    statement = (
        select(PlanSlot)
        .where(PlanSlot.plan_id == plan_id)
        .order_by(PlanSlot.starts_at, PlanSlot.rule_id, PlanSlot.channel)
    )
    return (await session.scalars(statement)).all()


async def filled_slots(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[PlanSlot]:
    statement = select(PlanSlot).where(
        PlanSlot.plan_id == plan_id, PlanSlot.variant_id.is_not(None)
    )
    return (await session.scalars(statement)).all()


async def delete_open_slots(session: AsyncSession, plan_id: uuid.UUID) -> None:
    await session.execute(
        delete(PlanSlot)
        .where(PlanSlot.plan_id == plan_id, PlanSlot.variant_id.is_(None))
        .execution_options(synchronize_session=False)
    )


async def add_slots(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(PlanSlot), rows)


async def get_slot(
    session: AsyncSession, plan_id: uuid.UUID, slot_id: uuid.UUID
) -> PlanSlot | None:
    return await session.scalar(
        select(PlanSlot).where(PlanSlot.plan_id == plan_id, PlanSlot.id == slot_id)
    )


async def slot_holding_variant(
    session: AsyncSession, plan_id: uuid.UUID, variant_id: uuid.UUID
) -> PlanSlot | None:
    return await session.scalar(
        select(PlanSlot).where(PlanSlot.plan_id == plan_id, PlanSlot.variant_id == variant_id)
    )


async def slot_counts(session: AsyncSession, plan_id: uuid.UUID) -> tuple[int, int]:
    """(all slots, filled slots) of a plan."""
    statement = select(func.count(), func.count(PlanSlot.variant_id)).where(
        PlanSlot.plan_id == plan_id
    )
    total, filled = (await session.execute(statement)).one()
    return int(total), int(filled)


async def history(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[PlanHistory]:
    statement = select(PlanHistory).where(PlanHistory.plan_id == plan_id).order_by(PlanHistory.id)
    return (await session.scalars(statement)).all()
