"""Workflow control from the gateway: start engagements and read their live state."""

from __future__ import annotations

import logging

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.strategy.schemas import EngagementOut
from shared import task_queues
from shared.temporal import TemporalConnection
from workflows.engagement.messages import (
    STATE_QUERY,
    WORKFLOW_NAME,
    EngagementInput,
    EngagementState,
)

log = logging.getLogger(__name__)


class EngagementControl(TemporalConnection):
    """Starts engagements' workflows and reads their live state."""

    async def start(self, engagement: EngagementOut) -> None:
        try:
            await self.client.start_workflow(
                WORKFLOW_NAME,
                EngagementInput(
                    engagement_id=engagement.id,
                    organization_id=engagement.organization_id,
                    mode=engagement.mode,
                    channels=engagement.channels,
                    starts_on=engagement.starts_on,
                    ends_on=engagement.ends_on,
                    task_queue_prefix=self._settings.temporal.task_queue_prefix,
                ),
                id=engagement.workflow_id,
                task_queue=self._settings.task_queue(task_queues.WORKFLOWS),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            log.info("workflow %s was already started", engagement.workflow_id)

    async def state(self, engagement: EngagementOut) -> EngagementState | None:
        """The workflow's live state, or None when its workflow was never started."""
        handle = self.client.get_workflow_handle(engagement.workflow_id)
        try:
            state: EngagementState = await handle.query(STATE_QUERY, result_type=EngagementState)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return state
