"""NATS connection and the ``ENGAGE`` stream."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shared.settings import EventSettings, Settings

log = logging.getLogger(__name__)


async def connect_nats(settings: Settings, name: str) -> NatsClient:
    """Connect once; after that the client reconnects on its own for as long as it lives."""

    async def on_error(error: Exception) -> None:
        log.warning("nats: %s", error)

    return await nats.connect(
        settings.nats_url,
        name=f"engage-{name}",
        connect_timeout=max(1, int(settings.dependency_timeout_seconds)),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        error_cb=on_error,
        **nats_credentials(settings),
    )


def nats_credentials(settings: Settings) -> dict[str, Any]:
    """Who the process is to NATS (docs/least-privilege.md): a credentials file, or a user and
    password; none when neither is set."""
    if settings.nats_credentials_file:
        return {"user_credentials": settings.nats_credentials_file}
    if settings.nats_user:
        return {"user": settings.nats_user, "password": settings.nats_password.get_secret_value()}
    return {}


def stream_config(events: EventSettings) -> StreamConfig:
    return StreamConfig(
        name=events.stream,
        subjects=[f"{events.subject_prefix}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=float(events.duplicate_window_seconds),
    )


async def ensure_stream(js: JetStreamContext, events: EventSettings) -> None:
    """Create the stream, or bring an existing one to the configured subjects and window."""
    config = stream_config(events)
    try:
        await js.stream_info(events.stream)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", events.stream)
        return
    await js.update_stream(config)
