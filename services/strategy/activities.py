"""Temporal activities of the strategy service; every one is idempotent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.strategy import service
from services.strategy.contracts import RECORD_PHASE_STARTED, PhaseStartRecorded, RecordPhaseStarted
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope


class StrategyActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=RECORD_PHASE_STARTED)
    async def record_phase_started(self, request: RecordPhaseStarted) -> PhaseStartRecorded:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await service.record_phase_started(session, request)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.record_phase_started]
