"""The plan's activities on the content service's real worker, through Temporal."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from services.content.plan.contracts import GENERATE_PLAN, GET_PLAN, GeneratePlan, GetPlan
from services.content.plan.models import PlanSlot
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.editorial import EditorialRules
from tests.conftest import Platform
from tests.content_helpers import new_variant
from tests.engagement_helpers import new_engagement
from tests.test_plan_api import events_rule, fill, stories_rule


def generate_request(organization_id: str, engagement_id: str) -> GeneratePlan:
    return GeneratePlan(
        engagement_id=uuid.UUID(engagement_id),
        organization_id=uuid.UUID(organization_id),
        period_start=date(2027, 3, 1),
        period_end=date(2027, 3, 31),
        rules=EditorialRules.model_validate({"rules": [stories_rule(), events_rule()]}),
    )


async def stored_slots(sessions: async_sessionmaker[AsyncSession], plan_id: str) -> int:
    async with session_scope(sessions, SYSTEM) as session:
        count = await session.scalar(
            select(func.count()).select_from(PlanSlot).where(PlanSlot.plan_id == plan_id)
        )
    return int(count or 0)


async def test_generate_plan_is_idempotent(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    request = generate_request(organization_id, engagement_id)
    first = await platform.run_activity(task_queues.CONTENT, GENERATE_PLAN, request)
    again = await platform.run_activity(task_queues.CONTENT, GENERATE_PLAN, request)
    assert first["changed"] is True
    assert first["event_id"]
    assert (first["generation"], first["slots"], first["shortfalls"]) == (1, 24, 4)
    assert again == {**first, "changed": False, "event_id": None}
    assert await stored_slots(sessions, first["plan_id"]) == 24

    through_api = await platform.gateway.get(
        f"/v1/engagements/{engagement_id}/plan", headers=platform.auth(Role.MANAGER)
    )
    assert through_api.json()["plan"]["id"] == first["plan_id"]
    assert through_api.json()["plan"]["generated_by"] == "engagement-workflow"


async def test_get_plan_returns_every_slot_with_its_variant_for_the_publisher(
    platform: Platform,
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    request = generate_request(organization_id, engagement_id)
    generated = await platform.run_activity(task_queues.CONTENT, GENERATE_PLAN, request)
    first = await platform.run_activity(
        task_queues.CONTENT, GET_PLAN, GetPlan(engagement_id=uuid.UUID(engagement_id))
    )
    chosen = first["slots"][0]
    variant_id = await new_variant(platform, organization_id, chosen["channel"])
    assert (await fill(platform, engagement_id, chosen["id"], variant_id)).status_code == 200

    snapshot = await platform.run_activity(
        task_queues.CONTENT, GET_PLAN, GetPlan(engagement_id=uuid.UUID(engagement_id))
    )
    assert snapshot["plan_id"] == generated["plan_id"]
    assert (snapshot["status"], snapshot["timezone"]) == ("draft", "Europe/Rome")
    assert len(snapshot["slots"]) == 24
    assert len({slot["id"] for slot in snapshot["slots"]}) == 24
    starts = [slot["starts_at"] for slot in snapshot["slots"]]
    assert starts == sorted(starts)
    filled = {slot["id"]: slot["variant_id"] for slot in snapshot["slots"] if slot["variant_id"]}
    assert filled == {chosen["id"]: variant_id}


async def test_get_plan_of_an_engagement_without_plan_fails_without_retrying(
    platform: Platform,
) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await platform.run_activity(
            task_queues.CONTENT, GET_PLAN, GetPlan(engagement_id=uuid.uuid4())
        )
    activity_failure = failure.value.cause
    assert isinstance(activity_failure, ActivityError)
    refusal = activity_failure.cause
    assert isinstance(refusal, ApplicationError)
    assert (refusal.type, refusal.non_retryable) == ("not-found", True)
    assert "was not found" in refusal.message
