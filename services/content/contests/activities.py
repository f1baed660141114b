"""Temporal activities of contests; every one is idempotent.

A broken rule (unknown contest, wrong state) is not retried (shared/activity_errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

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
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope


class ContestActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=INGEST_CONTEST_ENTRIES)
    @problems_as_application_errors
    async def ingest_entries(self, request: IngestContestEntries) -> IngestedContestEntries:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await service.ingest_mentions(session, request)

    @activity.defn(name=DRAW_CONTEST)
    @problems_as_application_errors
    async def draw(self, request: DrawContest) -> ClaimStanding:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await awards.draw_contest(session, request)

    @activity.defn(name=SETTLE_CONTEST_CLAIMS)
    @problems_as_application_errors
    async def settle_claims(self, request: SettleContestClaims) -> ClaimStanding:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await awards.settle_claims(session, request)

    @activity.defn(name=PUBLISH_CONTEST_RESULT)
    @problems_as_application_errors
    async def publish_result(self, request: PublishContestResult) -> ContestResultPublished:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await awards.publish_result(session, request)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.ingest_entries, self.draw, self.settle_claims, self.publish_result]
