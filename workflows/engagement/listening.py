"""The engagement's listening: switched on when seeding begins, stopped when its contract ends
and when it is cancelled."""

from __future__ import annotations

from services.listening.contracts import (
    START_ENGAGEMENT_QUERIES,
    STOP_ENGAGEMENT_QUERIES,
    EngagementQueriesStarted,
    EngagementQueriesStopped,
    StartEngagementQueries,
    StopEngagementQueries,
)
from shared import task_queues
from workflows.engagement.messages import DeliverableRecord, EngagementInput
from workflows.engagement.recording import Recorder
from workflows.engagement.service_calls import ServiceCalls


async def start_listening(
    engagement: EngagementInput, calls: ServiceCalls, recorder: Recorder
) -> DeliverableRecord:
    """Seeding switches on the queries that waited for it (a person did, before)."""
    started = await calls.activity(
        task_queues.LISTENING,
        START_ENGAGEMENT_QUERIES,
        StartEngagementQueries(
            engagement_id=engagement.engagement_id,
            organization_id=engagement.organization_id,
            started_by="lifecycle",
        ),
        EngagementQueriesStarted,
    )
    return recorder.deliverable("listening_start", {"status": "done", **started.model_dump()})


async def stop_listening(
    engagement: EngagementInput,
    calls: ServiceCalls,
    recorder: Recorder,
    reason: str,
    stopped_by: str,
) -> DeliverableRecord:
    stopped = await calls.activity(
        task_queues.LISTENING,
        STOP_ENGAGEMENT_QUERIES,
        StopEngagementQueries(
            engagement_id=engagement.engagement_id,
            organization_id=engagement.organization_id,
            reason=reason,
            stopped_by=stopped_by,
        ),
        EngagementQueriesStopped,
    )
    return recorder.deliverable("listening_stop", {"status": "done", **stopped.model_dump()})
