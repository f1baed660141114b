"""Temporal activities for content items; every one is idempotent.

A refusal (unknown item, wrong review state) is not retried: running the activity again would not
change the answer (shared/activity_errors.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.content import service
from services.content.contracts import (
    GET_APPROVED_VARIANTS,
    MARK_PUBLISHED,
    MARK_SCHEDULED,
    ApprovedVariants,
    ApprovedVariantsQuery,
    MarkPublished,
    MarkScheduled,
    ReviewStateChanged,
)
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.media_links import MediaLinks

Request = TypeVar("Request", bound=BaseModel)
Result = TypeVar("Result", bound=BaseModel)


class ContentItemActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], links: MediaLinks | None = None
    ) -> None:
        self._sessions = sessions
        # Signs the public link of each medium of the approved variants.
        self._links = links

    async def _run(
        self,
        work: Callable[[AsyncSession, Request], Awaitable[Result]],
        request: Request,
    ) -> Result:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await work(session, request)

    @activity.defn(name=GET_APPROVED_VARIANTS)
    @problems_as_application_errors
    async def get_approved_variants(self, query: ApprovedVariantsQuery) -> ApprovedVariants:
        return await self._run(partial(service.approved_variants, links=self._links), query)

    @activity.defn(name=MARK_SCHEDULED)
    @problems_as_application_errors
    async def mark_scheduled(self, request: MarkScheduled) -> ReviewStateChanged:
        return await self._run(service.mark_scheduled, request)

    @activity.defn(name=MARK_PUBLISHED)
    @problems_as_application_errors
    async def mark_published(self, request: MarkPublished) -> ReviewStateChanged:
        return await self._run(service.mark_published, request)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.get_approved_variants, self.mark_scheduled, self.mark_published]
