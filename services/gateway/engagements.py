"""Workflow control from the gateway: start engagements and read their live state."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.strategy.schemas import EngagementOut
from shared import task_queues
from shared.errors import DependencyUnavailableError
from shared.settings import Settings
from shared.temporal import connect_temporal
from workflows.engagement.messages import (
    STATE_QUERY,
    WORKFLOW_NAME,
    EngagementInput,
    EngagementState,
)

log = logging.getLogger(__name__)


class EngagementControl:
    """Holds the Temporal client; connects in the background so the gateway starts without it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._connecting: asyncio.Task[None] | None = None

    def start_connecting(self) -> None:
        self._connecting = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        delay = 0.5
        while self._client is None:
            try:
                self._client = await connect_temporal(self._settings)
            except Exception as error:  # Temporal not up yet: keep trying
                log.warning("temporal not reachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting

    @property
    def client(self) -> Client:
        return self.require_connection()

    def require_connection(self) -> Client:
        if self._client is None:
            raise DependencyUnavailableError("temporal")
        return self._client

    async def check(self) -> None:
        await self.client.workflow_service.get_system_info(GetSystemInfoRequest())

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
