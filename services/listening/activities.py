"""Temporal activities of the listening service. Every one is idempotent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.listening import sentiment_training, service
from services.listening.contracts import (
    START_ENGAGEMENT_QUERIES,
    STOP_ENGAGEMENT_QUERIES,
    TRAIN_SENTIMENT_MODEL,
    EngagementQueriesStarted,
    EngagementQueriesStopped,
    StartEngagementQueries,
    StopEngagementQueries,
    TrainedSentimentModel,
    TrainSentimentModel,
)
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import ProblemError


class ListeningActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_model_trained: Callable[[uuid.UUID], None] | None = None,
    ) -> None:
        self._sessions = sessions
        # Told the organisation whose model was stored (the worker's ingestion forgets its
        # cached model at once instead of after its time to live).
        self._on_model_trained = on_model_trained

    @activity.defn(name=STOP_ENGAGEMENT_QUERIES)
    @problems_as_application_errors
    async def stop_engagement_queries(
        self, command: StopEngagementQueries
    ) -> EngagementQueriesStopped:
        """Stop the engagement's active queries, each with its ``query_stopped`` event, in one
        transaction. Run again, it finds them stopped: nothing is stopped or announced twice."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await service.stop_engagement_queries(session, command)

    @activity.defn(name=START_ENGAGEMENT_QUERIES)
    @problems_as_application_errors
    async def start_engagement_queries(
        self, command: StartEngagementQueries
    ) -> EngagementQueriesStarted:
        """Switch on the queries waiting for the engagement's seeding, each with its
        ``query_started`` event, in one transaction. Run again, it finds them active."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await service.start_engagement_queries(session, command)

    @activity.defn(name=TRAIN_SENTIMENT_MODEL)
    @problems_as_application_errors
    async def train_sentiment_model(self, command: TrainSentimentModel) -> TrainedSentimentModel:
        """Train the organisation's model on its corrections and store it with its
        ``sentiment_model_trained`` event. Run again, it answers the model it stored. Too few
        corrections is a refusal (non-retryable), recorded as the training's failure."""
        async with session_scope(self._sessions, SYSTEM) as session:
            stored = await sentiment_training.finished(session, command.training_id)
            if stored is not None:
                return stored
            examples = await sentiment_training.corrected_examples(session, command.organization_id)
        trained_at = datetime.now(UTC)
        try:
            # Fitting is CPU-bound: in a thread, so the worker's consumers and heartbeats run.
            fitted = await asyncio.to_thread(
                sentiment_training.fit, command, examples, trained_at=trained_at
            )
        except ProblemError as refusal:
            async with session_scope(self._sessions, SYSTEM) as session:
                await sentiment_training.record_failure(
                    session, command, refusal.detail or refusal.kind
                )
            raise
        async with session_scope(self._sessions, SYSTEM) as session:
            result = await sentiment_training.store(session, command, fitted, trained_at)
        if self._on_model_trained is not None:
            self._on_model_trained(command.organization_id)
        return result

    def all(self) -> Sequence[Callable[..., Any]]:
        return [
            self.start_engagement_queries,
            self.stop_engagement_queries,
            self.train_sentiment_model,
        ]
