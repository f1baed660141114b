"""The editorial plan as others see it: its description, calendar views grouped by period,
coverage gaps, and the publisher's snapshot."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.content.plan import calendar, repository
from services.content.plan.contracts import PlanSnapshot
from services.content.plan.models import Plan
from services.content.plan.schemas import (
    CadenceShortfallOut,
    CoverageGap,
    CoverageOut,
    PeriodSlots,
    PlanCalendar,
    PlanChange,
    PlanOut,
    PlanStatus,
    PlanView,
    SlotOut,
)
from services.content.plan.service import require_plan
from shared.editorial import EditorialRules


async def describe_plan(session: AsyncSession, plan: Plan) -> PlanOut:
    slots, filled = await repository.slot_counts(session, plan.id)
    changes = await repository.history(session, plan.id)
    return PlanOut(
        id=plan.id,
        engagement_id=plan.engagement_id,
        organization_id=plan.organization_id,
        status=PlanStatus(plan.status),
        timezone=plan.timezone,
        period_start=plan.period_start,
        period_end=plan.period_end,
        generation=plan.generation,
        rules=EditorialRules.model_validate(plan.rules),
        generated_by=plan.generated_by,
        generated_at=plan.generated_at,
        approved_by=plan.approved_by,
        approved_at=plan.approved_at,
        slot_count=slots,
        filled_count=filled,
        history=[PlanChange.model_validate(change) for change in changes],
    )


async def plan_slots(session: AsyncSession, plan: Plan) -> list[SlotOut]:
    return [SlotOut.model_validate(slot) for slot in await repository.list_slots(session, plan.id)]


async def plan_with_slots(
    session: AsyncSession, engagement_id: uuid.UUID
) -> tuple[PlanOut, list[SlotOut]]:
    plan = await require_plan(session, engagement_id)
    return await describe_plan(session, plan), await plan_slots(session, plan)


def group_by_period(plan: PlanOut, slots: Sequence[SlotOut], view: PlanView) -> list[PeriodSlots]:
    """Every period of the plan in order, empty ones included, plus any period where a kept
    filled slot now lies outside the plan's period."""
    keys = calendar.periods(plan.period_start, plan.period_end, view.per)
    grouped: dict[str, list[SlotOut]] = {key: [] for key in keys}
    for slot in slots:
        grouped.setdefault(calendar.period_key(slot.day, view.per), []).append(slot)
    return [PeriodSlots(period=key, slots=grouped[key]) for key in sorted(grouped)]


async def calendar_view(
    session: AsyncSession, engagement_id: uuid.UUID, view: PlanView
) -> PlanCalendar:
    plan, slots = await plan_with_slots(session, engagement_id)
    return PlanCalendar(plan=plan, view=view, periods=group_by_period(plan, slots, view))


def coverage_gaps(rules: EditorialRules, slots: Sequence[SlotOut]) -> list[CoverageGap]:
    """Rules with no content at all, else each of their channels with none."""
    open_slots = Counter((slot.rule_id, slot.channel) for slot in slots if slot.variant_id is None)
    filled = Counter((slot.rule_id, slot.channel) for slot in slots if slot.variant_id)
    gaps: list[CoverageGap] = []
    for rule in rules.rules:
        if not any(filled[rule.id, channel] for channel in rule.channels):
            waiting = sum(open_slots[rule.id, channel] for channel in rule.channels)
            gaps.append(
                CoverageGap(rule_id=rule.id, pillar=rule.pillar, channel=None, open_slots=waiting)
            )
            continue
        gaps.extend(
            CoverageGap(
                rule_id=rule.id,
                pillar=rule.pillar,
                channel=channel,
                open_slots=open_slots[rule.id, channel],
            )
            for channel in rule.channels
            if not filled[rule.id, channel]
        )
    return gaps


async def coverage(session: AsyncSession, engagement_id: uuid.UUID) -> CoverageOut:
    """Coverage within the plan's period: what has no content yet, and cadence shortfalls."""
    plan = await require_plan(session, engagement_id)
    slots = [
        slot
        for slot in await plan_slots(session, plan)
        if plan.period_start <= slot.day <= plan.period_end
    ]
    return CoverageOut(
        plan_id=plan.id,
        slots=len(slots),
        filled=sum(1 for slot in slots if slot.variant_id),
        gaps=coverage_gaps(EditorialRules.model_validate(plan.rules), slots),
        shortfalls=[CadenceShortfallOut.model_validate(item) for item in plan.shortfalls],
    )


async def snapshot(session: AsyncSession, engagement_id: uuid.UUID) -> PlanSnapshot:
    plan = await require_plan(session, engagement_id)
    return PlanSnapshot(
        plan_id=plan.id,
        engagement_id=plan.engagement_id,
        organization_id=plan.organization_id,
        status=PlanStatus(plan.status),
        timezone=plan.timezone,
        period_start=plan.period_start,
        period_end=plan.period_end,
        generation=plan.generation,
        slots=await plan_slots(session, plan),
    )
