"""The content service's worker: its activities, its outbox relay and the schedule that polls
watched sites."""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content.activities import ContentItemActivities
from services.content.contests import mention_entries
from services.content.contests.activities import ContestActivities
from services.content.models import OutboxEvent, engagements
from services.content.plan.activities import PlanActivities
from services.content.storage import media_storage
from services.content.website.activities import WebsiteActivities, ensure_poll_schedule
from shared import task_queues
from shared.media_links import MediaLinks
from shared.settings import Settings, get_settings
from shared.worker import run_worker


def activities(
    sessions: async_sessionmaker[AsyncSession], settings: Settings | None = None
) -> Sequence[Callable[..., Any]]:
    """Every activity the content service offers (items, plan, contests); media links are signed
    with ``settings`` (the process's own when None)."""
    settings = settings or get_settings()
    links = MediaLinks.from_settings(settings)
    return [
        *ContentItemActivities(sessions, links).all(),
        *ContestActivities(sessions).all(),
        *PlanActivities(sessions).all(),
        *WebsiteActivities(sessions, media_storage(settings)).all(),
    ]


async def main(settings: Settings) -> None:
    await run_worker(
        "content",
        settings,
        task_queues.CONTENT,
        activities=lambda runtime: activities(runtime.sessions, settings),
        on_connected=lambda client: ensure_poll_schedule(client, settings),
        outbox_model=OutboxEvent,
        subscriptions=[engagements.subscription, mention_entries.subscription],
    )
