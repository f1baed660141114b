"""Starting ``SendReplyWorkflow`` from the listening service's API."""

from __future__ import annotations

import contextlib

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.listening.contracts import REPLY_WORKFLOW, SendReplyInput, reply_workflow_id
from shared import task_queues
from shared.settings import Settings
from shared.temporal import TemporalConnection


class ReplyRuns:
    def __init__(self, temporal: TemporalConnection, settings: Settings) -> None:
        self._temporal = temporal
        self.prefix = settings.temporal.task_queue_prefix

    async def start(self, reply: SendReplyInput) -> str:
        """The reply's workflow id; one workflow per reply, whoever asks twice."""
        started = reply_workflow_id(reply.reply_id)
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._temporal.client.start_workflow(
                REPLY_WORKFLOW,
                reply,
                id=started,
                task_queue=self.prefix + task_queues.WORKFLOWS,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        return started
