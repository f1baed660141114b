"""Temporal activities of the editorial plan; every one is idempotent."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.content.plan import reports, service
from services.content.plan.contracts import (
    GENERATE_PLAN,
    GET_PLAN,
    GeneratePlan,
    GetPlan,
    PlanGenerationResult,
    PlanSnapshot,
)
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import ProblemError


@contextmanager
def refusals_are_final() -> Iterator[None]:
    """A refused request (unknown plan, oversized plan) fails the same way on every retry."""
    try:
        yield
    except ProblemError as error:
        raise ApplicationError(
            error.detail or error.kind, type=error.kind, non_retryable=True
        ) from error


class PlanActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=GENERATE_PLAN)
    async def generate_plan(self, request: GeneratePlan) -> PlanGenerationResult:
        with refusals_are_final():
            async with session_scope(self._sessions, SYSTEM) as session:
                generation = await service.generate_plan(
                    session, request.engagement_id, request, actor=request.requested_by
                )
                return generation.result()

    @activity.defn(name=GET_PLAN)
    async def get_plan(self, request: GetPlan) -> PlanSnapshot:
        with refusals_are_final():
            async with session_scope(self._sessions, SYSTEM) as session:
                return await reports.snapshot(session, request.engagement_id)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.generate_plan, self.get_plan]
