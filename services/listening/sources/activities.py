"""Temporal activities of polling (``workflows/listening/polling.py`` calls them). Each is
idempotent: a source is claimed before it is read, so a retried activity reads it once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.listening.contracts import (
    DUE_SOURCES,
    POLL_SOURCE,
    RECEIVE_CONVERSATIONS,
    DueSources,
    PollSource,
    ReceiveConversations,
    SourceKind,
    SourcePolled,
    SourcesDue,
)
from services.listening.sources import polling
from services.listening.sources.readers import SourceReader
from services.listening.sources.registry import reader_for
from shared.activity_errors import problems_as_application_errors
from shared.settings import Settings


class SourceActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        js: Callable[[], JetStreamContext],
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        self._sessions = sessions
        # The worker's JetStream, once it has connected.
        self._js = js
        self._settings = settings
        self._http = http

    def _reader(self, kind: SourceKind) -> SourceReader:
        return reader_for(kind, self._http, self._settings)

    @activity.defn(name=DUE_SOURCES)
    @problems_as_application_errors
    async def due_sources(self, request: DueSources) -> SourcesDue:
        return SourcesDue(
            sources=await polling.due_sources(self._sessions, datetime.now(UTC), request.limit)
        )

    @activity.defn(name=POLL_SOURCE)
    @problems_as_application_errors
    async def poll_source(self, request: PollSource) -> SourcePolled:
        return await polling.poll_source(
            self._sessions,
            self._js(),
            self._settings,
            self._reader,
            request.source_id,
        )

    @activity.defn(name=RECEIVE_CONVERSATIONS)
    @problems_as_application_errors
    async def receive_conversations(self, received: ReceiveConversations) -> SourcePolled:
        return await polling.receive_conversations(
            self._sessions, self._js(), self._settings, received
        )

    def all(self) -> Sequence[Callable[..., Any]]:
        return [self.due_sources, self.poll_source, self.receive_conversations]
