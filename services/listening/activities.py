"""Temporal activities of the listening service. Every one is idempotent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.listening import service
from services.listening.contracts import (
    STOP_ENGAGEMENT_QUERIES,
    EngagementQueriesStopped,
    StopEngagementQueries,
)
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope


class ListeningActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=STOP_ENGAGEMENT_QUERIES)
    @problems_as_application_errors
    async def stop_engagement_queries(
        self, command: StopEngagementQueries
    ) -> EngagementQueriesStopped:
        """Stop the engagement's active queries, each with its ``query_stopped`` event, in one
        transaction. Run again, it finds them stopped: nothing is stopped or announced twice."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await service.stop_engagement_queries(session, command)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.stop_engagement_queries]
