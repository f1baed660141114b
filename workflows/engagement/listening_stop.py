"""Stopping the engagement's listening queries, when its contract ends and when it is cancelled."""

from __future__ import annotations

from services.listening.contracts import (
    STOP_ENGAGEMENT_QUERIES,
    EngagementQueriesStopped,
    StopEngagementQueries,
)
from shared import task_queues
from workflows.engagement.messages import DeliverableRecord, EngagementInput
from workflows.engagement.recording import Recorder
from workflows.engagement.service_calls import ServiceCalls


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
