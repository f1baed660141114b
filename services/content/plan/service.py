"""Rules of the editorial plan: generation that keeps filled slots, approval, filling.

What the plan looks like from outside (views, coverage, snapshot) is in ``reports``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.content import repository as content_repository
from services.content.models import engagements, outbox
from services.content.plan import calendar, events, repository
from services.content.plan.contracts import PlanGenerationResult
from services.content.plan.models import Plan, PlanHistory, PlanSlot
from services.content.plan.schemas import CadenceShortfallOut, PlanAction, PlanInput, PlanStatus
from shared.errors import ConflictError, NotFoundError, ProblemError
from shared.events.envelope import new_event

# About fifty posts a day for a whole year: rules asking for more hold a mistake, not a plan.
MAX_PLAN_SLOTS = 20_000
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:atlantide-engage:content:plan")


@dataclass(frozen=True)
class PlanGeneration:
    plan: Plan
    created: bool
    changed: bool
    slots: int
    kept_filled: int
    event_id: uuid.UUID | None

    def result(self) -> PlanGenerationResult:
        return PlanGenerationResult(
            plan_id=self.plan.id,
            generation=self.plan.generation,
            changed=self.changed,
            slots=self.slots,
            kept_filled=self.kept_filled,
            shortfalls=len(self.plan.shortfalls),
            event_id=str(self.event_id) if self.event_id else None,
        )


def plan_id_for(engagement_id: uuid.UUID) -> uuid.UUID:
    """One plan per engagement, with the same id however often generation is retried."""
    return uuid.uuid5(ID_NAMESPACE, f"plan/{engagement_id}")


def slot_id_for(plan_id: uuid.UUID, slot: calendar.Slot) -> uuid.UUID:
    """A slot keeps its id across regenerations while its rule, channel and local start hold."""
    rule_id, channel, local_start = slot.identity
    return uuid.uuid5(plan_id, f"{rule_id}/{channel}/{local_start.isoformat()}")


def input_digest(data: PlanInput) -> str:
    source = {
        "period": [data.period_start.isoformat(), data.period_end.isoformat()],
        "rules": data.rules.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


async def require_plan(
    session: AsyncSession, engagement_id: uuid.UUID, *, lock: bool = False
) -> Plan:
    plan = await repository.get_plan(session, engagement_id, lock=lock)
    if plan is None:
        raise NotFoundError("plan of engagement", engagement_id)
    return plan


async def _plan_to_generate(
    session: AsyncSession, engagement_id: uuid.UUID, data: PlanInput, actor: str
) -> tuple[Plan, bool]:
    """The engagement's plan, locked, created empty (generation 0) when it has none."""
    plan = await repository.get_plan(session, engagement_id, lock=True)
    created = False
    if plan is None:
        created = await repository.insert_plan_if_absent(
            session,
            {
                "id": plan_id_for(engagement_id),
                "engagement_id": engagement_id,
                "organization_id": data.organization_id,
                "status": PlanStatus.DRAFT.value,
                "timezone": data.rules.timezone,
                "period_start": data.period_start,
                "period_end": data.period_end,
                "rules": data.rules.model_dump(mode="json"),
                "input_digest": "",
                "generation": 0,
                "shortfalls": [],
                "generated_by": actor,
                "generated_at": _now(),
            },
        )
        plan = await repository.get_plan(session, engagement_id, lock=True)
    if plan is None:
        # The engagement's plan belongs to an organisation the caller cannot see.
        raise NotFoundError("engagement", engagement_id)
    if plan.organization_id != data.organization_id:
        raise ConflictError(
            f"the plan of engagement {engagement_id} belongs to another organisation",
            organization_id=str(plan.organization_id),
        )
    return plan, created


def _generate_calendar(data: PlanInput) -> calendar.Calendar:
    generated = calendar.generate(data.rules, data.period_start, data.period_end)
    if len(generated.slots) > MAX_PLAN_SLOTS:
        raise ProblemError(
            422,
            "plan-too-large",
            f"these rules make {len(generated.slots)} slots; a plan holds at most "
            f"{MAX_PLAN_SLOTS}: shorten the period or lower the cadences",
            slots=len(generated.slots),
            limit=MAX_PLAN_SLOTS,
        )
    return generated


def _slot_row(plan: Plan, slot: calendar.Slot) -> dict[str, Any]:
    day = slot.local_start.date()
    return {
        "id": slot_id_for(plan.id, slot),
        "plan_id": plan.id,
        "organization_id": plan.organization_id,
        "rule_id": slot.rule_id,
        "channel": slot.channel.value,
        "pillar": slot.pillar,
        "target": slot.target,
        "formats": [kind.value for kind in slot.formats],
        "local_start": slot.local_start,
        "starts_at": slot.starts_at,
        "day": day,
        "iso_week": calendar.period_key(day, "week"),
        "month": calendar.period_key(day, "month"),
    }


async def _replace_open_slots(
    session: AsyncSession, plan: Plan, generated: calendar.Calendar
) -> tuple[int, int]:
    """Swap the plan's open slots for the generated ones; (slots now, filled slots kept).

    A filled slot stays where it is and stands in for the generated slot of its identity.
    """
    filled = {slot.identity for slot in await repository.filled_slots(session, plan.id)}
    await repository.delete_open_slots(session, plan.id)
    rows = [_slot_row(plan, slot) for slot in generated.slots if slot.identity not in filled]
    await repository.add_slots(session, rows)
    return len(rows) + len(filled), len(filled)


def _record(plan: Plan, action: PlanAction, actor: str, note: str) -> PlanHistory:
    return PlanHistory(
        plan_id=plan.id,
        organization_id=plan.organization_id,
        action=action.value,
        actor=actor,
        generation=plan.generation,
        note=note,
    )


def _advance_generation(
    plan: Plan, data: PlanInput, digest: str, generated: calendar.Calendar, actor: str
) -> None:
    """Point the plan at its new input: one generation on, and back to draft."""
    plan.status = PlanStatus.DRAFT.value
    plan.approved_by = plan.approved_at = None
    plan.timezone = data.rules.timezone
    plan.period_start, plan.period_end = data.period_start, data.period_end
    plan.rules = data.rules.model_dump(mode="json")
    plan.input_digest = digest
    plan.generation += 1
    plan.shortfalls = [
        CadenceShortfallOut.model_validate(shortfall).model_dump(mode="json")
        for shortfall in generated.shortfalls
    ]
    plan.generated_by, plan.generated_at = actor, _now()


async def generate_plan(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    data: PlanInput,
    *,
    actor: str,
    note: str = "",
) -> PlanGeneration:
    """Generate the plan, or regenerate it keeping filled slots; the same input is a no-op.

    Regenerating an approved plan sends it back to draft, recorded in its history.
    """
    await engagements.require(
        session, engagement_id, data.organization_id, field="body.organization_id"
    )
    plan, created = await _plan_to_generate(session, engagement_id, data, actor)
    digest = input_digest(data)
    if plan.input_digest == digest:
        slots, filled = await repository.slot_counts(session, plan.id)
        return PlanGeneration(
            plan, created=False, changed=False, slots=slots, kept_filled=filled, event_id=None
        )
    generated = _generate_calendar(data)
    slots, kept = await _replace_open_slots(session, plan, generated)
    reopened = plan.status == PlanStatus.APPROVED
    _advance_generation(plan, data, digest, generated, actor)
    if reopened:
        session.add(_record(plan, PlanAction.REOPENED, actor, note))
    session.add(_record(plan, PlanAction.GENERATED, actor, note))
    await session.flush()
    event_id = await _emit_generated(session, plan, slots, kept, reopened)
    return PlanGeneration(
        plan, created=created, changed=True, slots=slots, kept_filled=kept, event_id=event_id
    )


def _plan_fact(plan: Plan) -> dict[str, Any]:
    """What every plan event carries (``events.PlanFact``)."""
    return {
        "plan_id": plan.id,
        "engagement_id": plan.engagement_id,
        "organization_id": plan.organization_id,
        "generation": plan.generation,
    }


async def _emit_generated(
    session: AsyncSession, plan: Plan, slots: int, kept: int, reopened: bool
) -> uuid.UUID:
    # One event per generation, so a retried activity cannot publish it twice.
    event_id = uuid.uuid5(plan.id, f"generated/{plan.generation}/{plan.input_digest}")
    await outbox.add(
        session,
        new_event(
            events.PLAN_GENERATED,
            events.PlanGenerated(
                **_plan_fact(plan),
                period_start=plan.period_start,
                period_end=plan.period_end,
                timezone=plan.timezone,
                slots=slots,
                kept_filled=kept,
                shortfalls=len(plan.shortfalls),
                reopened=reopened,
            ),
            source=events.SOURCE,
            subject=str(plan.id),
            event_id=event_id,
        ),
    )
    return event_id


async def approve_plan(
    session: AsyncSession, engagement_id: uuid.UUID, *, actor: str, note: str = ""
) -> Plan:
    plan = await require_plan(session, engagement_id, lock=True)
    if plan.status == PlanStatus.APPROVED:
        raise ConflictError(
            f"the plan of engagement {engagement_id} is already approved",
            approved_by=plan.approved_by,
        )
    plan.status = PlanStatus.APPROVED.value
    plan.approved_by, plan.approved_at = actor, _now()
    session.add(_record(plan, PlanAction.APPROVED, actor, note))
    await session.flush()
    slots, _ = await repository.slot_counts(session, plan.id)
    await outbox.add(
        session,
        new_event(
            events.PLAN_APPROVED,
            events.PlanApproved(
                **_plan_fact(plan),
                approved_by=actor,
                slots=slots,
            ),
            source=events.SOURCE,
            subject=str(plan.id),
            event_id=uuid.uuid5(plan.id, f"approved/{plan.generation}"),
        ),
    )
    return plan


async def ensure_variant_can_fill(
    session: AsyncSession, plan: Plan, slot: PlanSlot, variant_id: uuid.UUID
) -> None:
    """Every check a variant passes before it fills a slot.

    The variant must be one the caller sees, of the plan's organisation (another's is reported
    as missing, not revealed), and made for the slot's channel. A variant is one post, published
    once, so it fills at most one slot of the plan.
    """
    variant = await content_repository.get_variant(session, variant_id)
    if variant is None or variant.organization_id != plan.organization_id:
        raise NotFoundError("variant", variant_id)
    if variant.channel != slot.channel:
        raise ProblemError(
            422,
            "variant-channel-mismatch",
            f"variant {variant_id} is for {variant.channel}, but slot {slot.id} is for "
            f"{slot.channel}",
            slot_channel=slot.channel,
            variant_channel=variant.channel,
        )
    holder = await repository.slot_holding_variant(session, plan.id, variant_id)
    if holder is not None and holder.id != slot.id:
        raise ConflictError(
            f"variant {variant_id} already fills slot {holder.id}", slot_id=str(holder.id)
        )


async def fill_slot(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    slot_id: uuid.UUID,
    variant_id: uuid.UUID,
    *,
    actor: str,
) -> PlanSlot:
    """Assign a content variant to a slot (replacing the previous one, if any)."""
    plan = await require_plan(session, engagement_id, lock=True)
    slot = await repository.get_slot(session, plan.id, slot_id)
    if slot is None:
        raise NotFoundError("slot", slot_id)
    if slot.variant_id == variant_id:
        return slot
    await ensure_variant_can_fill(session, plan, slot, variant_id)
    previous = slot.variant_id
    slot.variant_id, slot.filled_by, slot.filled_at = variant_id, actor, _now()
    await session.flush()
    await outbox.add(
        session,
        new_event(
            events.SLOT_FILLED,
            events.SlotFilled(
                **_plan_fact(plan),
                slot_id=slot.id,
                channel=slot.channel,
                starts_at=slot.starts_at,
                variant_id=variant_id,
                previous_variant_id=previous,
                filled_by=actor,
            ),
            source=events.SOURCE,
            subject=str(slot.id),
        ),
    )
    return slot
