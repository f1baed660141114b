"""Temporal activities of the strategy service; every one is idempotent.

A refusal (unknown engagement, invalid body) is not retried (shared/activity_errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.strategy.contracts import (
    GET_APPROVED_DELIVERABLE,
    GET_DELIVERABLE_VERSIONS,
    RECORD_LIFECYCLE_EVENTS,
    ApprovedDeliverable,
    ApprovedVersion,
    DeliverableVersionRef,
    DeliverableVersions,
    GetApprovedDeliverable,
    GetDeliverableVersions,
    LifecycleEventsRecorded,
    RecordLifecycleEvents,
)
from services.strategy.deliverables import service as deliverables
from services.strategy.deliverables.kinds import DeliverableKind, DeliverableStatus
from services.strategy.lifecycle import service as lifecycle
from services.strategy.models import Deliverable
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope


def _approved_version(deliverable: Deliverable) -> ApprovedVersion:
    # Approval sets who and when together with the status (deliverables.service.approve).
    assert deliverable.approved_by is not None
    assert deliverable.approved_at is not None
    return ApprovedVersion(
        deliverable_id=deliverable.id,
        version=deliverable.version,
        body=deliverable.body,
        approved_by=deliverable.approved_by,
        approved_at=deliverable.approved_at,
    )


class StrategyActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=RECORD_LIFECYCLE_EVENTS)
    @problems_as_application_errors
    async def record_lifecycle_events(
        self, request: RecordLifecycleEvents
    ) -> LifecycleEventsRecorded:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await lifecycle.record(session, request)

    @activity.defn(name=GET_DELIVERABLE_VERSIONS)
    @problems_as_application_errors
    async def get_deliverable_versions(
        self, request: GetDeliverableVersions
    ) -> DeliverableVersions:
        async with session_scope(self._sessions, SYSTEM) as session:
            found = await lifecycle.latest_versions(session, request.engagement_id, request.kinds)
            return DeliverableVersions(
                engagement_id=request.engagement_id,
                latest=[
                    DeliverableVersionRef(
                        deliverable_id=deliverable.id,
                        kind=DeliverableKind(deliverable.kind),
                        version=deliverable.version,
                        status=DeliverableStatus(deliverable.status),
                    )
                    for deliverable in found
                ],
            )

    @activity.defn(name=GET_APPROVED_DELIVERABLE)
    @problems_as_application_errors
    async def get_approved_deliverable(
        self, request: GetApprovedDeliverable
    ) -> ApprovedDeliverable:
        async with session_scope(self._sessions, SYSTEM) as session:
            approved = await deliverables.latest_approved(
                session, request.engagement_id, request.kind
            )
            return ApprovedDeliverable(
                engagement_id=request.engagement_id,
                kind=request.kind,
                approved=_approved_version(approved) if approved is not None else None,
            )

    def all(self) -> Sequence[Callable[..., Any]]:
        return [
            self.record_lifecycle_events,
            self.get_deliverable_versions,
            self.get_approved_deliverable,
        ]
