"""Temporal activities of the editorial plan; every one is idempotent.

A refused request (unknown plan, oversized plan) is not retried: it fails the same way on every
attempt (shared/activity_errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.content.plan import reports, service
from services.content.plan.contracts import (
    GENERATE_PLAN,
    GET_PLAN,
    GeneratePlan,
    GetPlan,
    PlanGenerationResult,
    PlanSnapshot,
)
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope


class PlanActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=GENERATE_PLAN)
    @problems_as_application_errors
    async def generate_plan(self, request: GeneratePlan) -> PlanGenerationResult:
        async with session_scope(self._sessions, SYSTEM) as session:
            generation = await service.generate_plan(
                session, request.engagement_id, request, actor=request.requested_by
            )
            return generation.result()

    @activity.defn(name=GET_PLAN)
    @problems_as_application_errors
    async def get_plan(self, request: GetPlan) -> PlanSnapshot:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await reports.snapshot(session, request.engagement_id)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.generate_plan, self.get_plan]
