"""Temporal activities of the publisher. Every one is idempotent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.publisher import events, metrics, service
from services.publisher.contracts import (
    AUTH_ERROR,
    COLLECT_METRICS,
    CONTENT_REJECTED_ERROR,
    MARK_CANCELLED,
    PUBLISH,
    REFRESH_TOKENS,
    RETRYABLE_ERROR,
    SCHEDULE_PUBLICATION,
    UNKNOWN_OUTCOME_ERROR,
    CancelCommand,
    CollectMetricsCommand,
    FailureClass,
    MetricsCollected,
    PublishCommand,
    PublishOutcome,
    RefreshTokensCommand,
    ScheduledPublication,
    SchedulePublicationCommand,
    TokensRefreshed,
)
from services.publisher.crypto import TokenVault
from services.publisher.models import Publication, outbox
from services.publisher.publishing import ConnectorFor, Publisher, PublishFailedError, outcome_of
from services.publisher.schemas import PublicationCreate
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import ProblemError
from shared.events.envelope import new_event

ERROR_TYPES: dict[FailureClass, str] = {
    "retryable": RETRYABLE_ERROR,
    "unknown": UNKNOWN_OUTCOME_ERROR,
    "auth": AUTH_ERROR,
    "content_rejected": CONTENT_REJECTED_ERROR,
}


class PublisherActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        connector_for: ConnectorFor,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._connector_for = connector_for
        self._publisher = Publisher(sessions, vault, connector_for)

    @activity.defn(name=PUBLISH)
    async def publish(self, command: PublishCommand) -> PublishOutcome:
        try:
            return await self._publisher.publish(command.publication_id)
        except PublishFailedError as error:
            raise ApplicationError(
                str(error),
                type=ERROR_TYPES[error.failure_class],
                non_retryable=error.failure_class in ("auth", "content_rejected"),
                next_retry_delay=(
                    timedelta(seconds=error.retry_after) if error.retry_after else None
                ),
            ) from error

    @activity.defn(name=MARK_CANCELLED)
    async def mark_cancelled(self, command: CancelCommand) -> PublishOutcome:
        async with session_scope(self._sessions, SYSTEM) as session:
            publication = await session.get(
                Publication, command.publication_id, with_for_update=True
            )
            if publication is None:
                raise ApplicationError(
                    f"no publication {command.publication_id}", non_retryable=True
                )
            if publication.status == "scheduled":
                publication.status = "cancelled"
                publication.failure_detail = (
                    f"cancelled by {command.cancelled_by}: {command.reason}"
                )
                await outbox.add(
                    session,
                    new_event(
                        events.POST_WITHDRAWN,
                        events.PostWithdrawn(
                            publication_id=publication.id,
                            organization_id=publication.organization_id,
                            engagement_id=publication.engagement_id,
                            channel=publication.channel,
                            variant_id=publication.variant_id,
                            slot_id=publication.slot_id,
                            reason=command.reason,
                        ),
                        source=events.SOURCE,
                        subject=str(publication.id),
                    ),
                )
            return outcome_of(publication)

    @activity.defn(name=COLLECT_METRICS)
    async def collect_metrics(self, command: CollectMetricsCommand) -> MetricsCollected:
        return await metrics.collect(
            self._sessions, self._vault, self._connector_for, command.lookback_days
        )

    @activity.defn(name=REFRESH_TOKENS)
    async def refresh_tokens(self, command: RefreshTokensCommand) -> TokensRefreshed:
        refreshed, needs_reauth = await metrics.refresh_expiring(
            self._sessions,
            self._vault,
            self._connector_for,
            timedelta(seconds=command.within_seconds),
        )
        return TokensRefreshed(refreshed=refreshed, needs_reauth=needs_reauth)

    @activity.defn(name=SCHEDULE_PUBLICATION)
    async def schedule_publication(
        self, command: SchedulePublicationCommand
    ) -> ScheduledPublication:
        """The API's code path, but a post already placed is the answer rather than a conflict.

        A refusal (unknown or re-authorisation-needing connection, invalid post) fails without
        retries: it would fail the same way again."""
        try:
            data = PublicationCreate(
                **command.variant.model_dump(),
                organization_id=command.organization_id,
                engagement_id=command.engagement_id,
                connection_id=command.connection_id,
                slot_id=command.slot_id,
                due_at=command.due_at,
                timezone=command.timezone,
            )
            async with session_scope(self._sessions, SYSTEM) as session:
                publication, created = await service.place_publication(
                    session, data, channel=command.channel.value
                )
                return ScheduledPublication(
                    publication_id=publication.id,
                    workflow_id=publication.workflow_id,
                    status=publication.status,
                    due_at=publication.due_at,
                    newly_created=created,
                )
        except ValidationError as error:
            raise ApplicationError(
                str(error), type="validation-error", non_retryable=True
            ) from error
        except ProblemError as error:
            raise ApplicationError(
                error.detail or error.kind, type=error.kind, non_retryable=True
            ) from error

    def publishing(self) -> Sequence[Callable[..., Any]]:
        """Runs on each platform's queue."""
        return [self.publish]

    def housekeeping(self) -> Sequence[Callable[..., Any]]:
        """Runs on the publisher's own queue."""
        return [
            self.mark_cancelled,
            self.collect_metrics,
            self.refresh_tokens,
            self.schedule_publication,
        ]
