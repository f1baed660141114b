"""Which organisation each engagement belongs to, as a read model in every service that needs it.

Content, publisher and listening refuse a write that names an engagement unless the engagement
exists and is the caller's (the gateway is not where that rule lives). They learn engagements
from the strategy service's ``engagement_created`` events, through the kernel's consumer, into a
``known_engagements`` table of their own, rather than by asking strategy on every write: a write
then needs no other service to be up, and the table can be rebuilt from the stream (delete the
rows and the consumer's ``processed_events``, then replay).

The model lags strategy by the relay and the consumer (milliseconds when both run). A client
that creates an engagement and at once names it in another service must not be refused, so an
engagement not yet known is waited for, briefly, before the answer is 404.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import DateTime, Uuid, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.scoping import Scope, get_scope
from shared.errors import FieldError, NotFoundError, validation_problem
from shared.events.consumer import Subscription
from shared.events.envelope import CloudEvent
from shared.events.outbox import ProcessedEventMixin

ENGAGEMENT_CREATED = "strategy.engagement_created"
# How long a write waits for an engagement its read model does not know yet.
READ_YOUR_WRITES_SECONDS = 3.0
_POLL_SECONDS = 0.05


class KnownEngagementMixin:
    """Columns of a service's ``known_engagements`` table (declare it on the service's base).

    Deliberately not ``OrgScoped``: a lookup must tell an engagement of another organisation
    (404 at once) from one not yet known (worth waiting for)."""

    __tablename__ = "known_engagements"

    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class _EngagementCreated(BaseModel):
    """The part of strategy's ``engagement_created`` data this model keeps."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID


class EngagementDirectory:
    """One service's read model of engagements: how it is fed, and the ownership check."""

    def __init__(
        self,
        service: str,
        model: type[KnownEngagementMixin],
        processed: type[ProcessedEventMixin],
    ) -> None:
        self.model = model
        # What the service's worker consumes to keep the model up to date.
        self.subscription = Subscription(
            durable=f"{service}-known-engagements",
            event=ENGAGEMENT_CREATED,
            handler=self._record,
            processed_model=processed,
        )

    async def _record(self, session: AsyncSession, event: CloudEvent) -> None:
        created = _EngagementCreated.model_validate(event.data)
        await session.execute(
            insert(self.model)
            .values(engagement_id=created.engagement_id, organization_id=created.organization_id)
            .on_conflict_do_nothing()
        )

    async def require(
        self,
        session: AsyncSession,
        engagement_id: uuid.UUID,
        organization_id: uuid.UUID | None = None,
        *,
        field: str = "body.engagement_id",
        wait_seconds: float = READ_YOUR_WRITES_SECONDS,
    ) -> uuid.UUID:
        """The organisation of an engagement the session's caller may see, else 404.

        With ``organization_id`` (the organisation the written record belongs to), an engagement
        of another organisation the caller may also see is a 422 on ``field``."""
        owner = await _owner(session, self.model, engagement_id, wait_seconds)
        scope: Scope = get_scope(session.sync_session)
        if owner is None or not scope.allows(owner):
            raise NotFoundError("engagement", engagement_id)
        if organization_id is not None and owner != organization_id:
            message = f"engagement {engagement_id} belongs to another organisation"
            raise validation_problem(
                [FieldError(field=field, message=message, type="organization_mismatch")]
            )
        return owner


async def _owner(
    session: AsyncSession,
    directory: type[KnownEngagementMixin],
    engagement_id: uuid.UUID,
    wait_seconds: float,
) -> uuid.UUID | None:
    query = select(directory.organization_id).where(directory.engagement_id == engagement_id)
    deadline = time.monotonic() + wait_seconds
    while True:
        # Each statement of a READ COMMITTED transaction sees rows committed since the last one.
        owner = (await session.execute(query)).scalar_one_or_none()
        if owner is not None or time.monotonic() >= deadline:
            return owner
        await asyncio.sleep(_POLL_SECONDS)
