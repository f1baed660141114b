"""Temporal activities of the website watch, run by the content worker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from services.content.storage import MediaStorage
from services.content.website import service
from services.content.website.contracts import (
    DUE_SITES,
    POLL_SITE,
    WEBSITE_POLL_SCHEDULE_ID,
    WEBSITE_POLL_WORKFLOW,
    DueSites,
    PollSite,
    SitePolled,
    SitesDue,
    WebsitePollInput,
)
from shared import task_queues
from shared.activity_errors import problems_as_application_errors
from shared.settings import Settings
from shared.temporal import ensure_interval_schedule

# How often a round asks which sites are due; each site says when it is (service.POLL_EVERY).
ROUND_EVERY = timedelta(minutes=1)


class WebsiteActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        storage: MediaStorage,
        *,
        loopback: bool = False,
    ):
        self._sessions = sessions
        self._poller = service.SitePoller(sessions, storage, loopback=loopback)

    @activity.defn(name=DUE_SITES)
    @problems_as_application_errors
    async def due_sites(self, request: DueSites) -> SitesDue:
        due = await service.due_sites(self._sessions, datetime.now(UTC), request.limit)
        return SitesDue(site_ids=due)

    @activity.defn(name=POLL_SITE)
    @problems_as_application_errors
    async def poll_site(self, request: PollSite) -> SitePolled:
        return await self._poller.poll(request.site_id)

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.due_sites, self.poll_site]


async def ensure_poll_schedule(client: Client, settings: Settings) -> None:
    """Keep one schedule starting a round of the website watch every minute."""
    prefix = settings.temporal.task_queue_prefix
    await ensure_interval_schedule(
        client,
        f"{prefix}{WEBSITE_POLL_SCHEDULE_ID}",
        WEBSITE_POLL_WORKFLOW,
        WebsitePollInput(task_queue_prefix=prefix),
        prefix + task_queues.WORKFLOWS,
        ROUND_EVERY,
    )
