"""Temporal activities of contests; every one is idempotent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.content.contests import awards, service
from services.content.contests.contracts import (
    DRAW_CONTEST,
    INGEST_CONTEST_ENTRIES,
    PUBLISH_CONTEST_RESULT,
    SETTLE_CONTEST_CLAIMS,
    ClaimStanding,
    ContestResultPublished,
    DrawContest,
    IngestContestEntries,
    IngestedContestEntries,
    PublishContestResult,
    SettleContestClaims,
)
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import ProblemError


class ContestActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @asynccontextmanager
    async def _unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A system session; a broken rule (unknown contest, wrong state) is not retried."""
        try:
            async with session_scope(self._sessions, SYSTEM) as session:
                yield session
        except ProblemError as error:
            raise ApplicationError(
                error.detail or error.kind, type=error.kind, non_retryable=True
            ) from error

    @activity.defn(name=INGEST_CONTEST_ENTRIES)
    async def ingest_entries(self, request: IngestContestEntries) -> IngestedContestEntries:
        async with self._unit_of_work() as session:
            return await service.ingest_mentions(session, request)

    @activity.defn(name=DRAW_CONTEST)
    async def draw(self, request: DrawContest) -> ClaimStanding:
        async with self._unit_of_work() as session:
            return await awards.draw_contest(session, request)

    @activity.defn(name=SETTLE_CONTEST_CLAIMS)
    async def settle_claims(self, request: SettleContestClaims) -> ClaimStanding:
        async with self._unit_of_work() as session:
            return await awards.settle_claims(session, request)

    @activity.defn(name=PUBLISH_CONTEST_RESULT)
    async def publish_result(self, request: PublishContestResult) -> ContestResultPublished:
        async with self._unit_of_work() as session:
            return await awards.publish_result(session, request)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.ingest_entries, self.draw, self.settle_claims, self.publish_result]
