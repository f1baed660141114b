"""The publisher's worker: publishing on one task queue per platform (each with its own
concurrency), housekeeping on the publisher's queue, its outbox relay, the consumers that keep
its read model of approved content (``approvals.py``), and the schedule that refreshes tokens
and collects metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
)

from services.publisher import approvals
from services.publisher.activities import PublisherActivities
from services.publisher.connectors.oauth import OAuthApp
from services.publisher.connectors.registry import NO_PUBLISHING_API, connector_for
from services.publisher.contracts import (
    MAINTENANCE_SCHEDULE_ID,
    MAINTENANCE_WORKFLOW,
    MaintenanceInput,
    platform_queue,
)
from services.publisher.crypto import TokenVault
from services.publisher.models import OutboxEvent, engagements
from shared import task_queues
from shared.domain import Channel
from shared.media_links import MediaLinks
from shared.settings import Settings
from shared.temporal import ensure_interval_schedule
from shared.worker import QueueSpec, run_worker

PUBLISHING_CHANNELS = tuple(channel for channel in Channel if channel not in NO_PUBLISHING_API)


class ConnectedClient:
    """The worker's Temporal client, known once the worker has connected (after its activities
    are built)."""

    def __init__(self) -> None:
        self.client: Client | None = None

    def __call__(self) -> Client:
        if self.client is None:
            raise RuntimeError("the publisher worker is not connected to Temporal yet")
        return self.client


def build_activities(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    temporal: Callable[[], Client] | None = None,
) -> PublisherActivities:
    # Refreshing tokens on X, YouTube and Pinterest needs the agency's app credentials.
    apps = {
        Channel(channel): OAuthApp(app.client_id, app.client_secret, redirect_uri="")
        for channel, app in settings.publisher.oauth_apps.items()
    }
    return PublisherActivities(
        sessions,
        TokenVault(settings.publisher),
        lambda channel: connector_for(Channel(channel), http, settings, apps=apps),
        MediaLinks.from_settings(settings),
        temporal,
        platform_concurrency=settings.publisher.platform_concurrency,
    )


def queues(activities: PublisherActivities, settings: Settings) -> list[QueueSpec]:
    housekeeping = QueueSpec(task_queues.PUBLISHER, activities.housekeeping())
    return [housekeeping] + [
        QueueSpec(
            platform_queue(channel),
            activities.publishing(),
            max_concurrent=settings.publisher.platform_concurrency,
        )
        for channel in PUBLISHING_CHANNELS
    ]


async def ensure_maintenance_schedule(client: Client, settings: Settings) -> None:
    """Keep one schedule running the maintenance workflow every metrics interval."""
    prefix = settings.temporal.task_queue_prefix
    await ensure_interval_schedule(
        client,
        f"{prefix}{MAINTENANCE_SCHEDULE_ID}",
        MAINTENANCE_WORKFLOW,
        MaintenanceInput(
            refresh_within_seconds=settings.publisher.refresh_tokens_before_seconds,
            task_queue_prefix=prefix,
        ),
        prefix + task_queues.WORKFLOWS,
        timedelta(seconds=settings.publisher.metrics_interval_seconds),
    )


async def main(settings: Settings) -> None:
    connected = ConnectedClient()
    async with httpx.AsyncClient(timeout=settings.publisher.request_timeout_seconds) as http:

        async def on_connected(client: Client) -> None:
            connected.client = client
            await ensure_maintenance_schedule(client, settings)

        await run_worker(
            "publisher",
            settings,
            task_queues.PUBLISHER,
            extra_queues=lambda runtime: queues(
                build_activities(runtime.sessions, settings, http, connected), settings
            ),
            outbox_model=OutboxEvent,
            on_connected=on_connected,
            subscriptions=[*approvals.SUBSCRIPTIONS, engagements.subscription],
        )
