"""Starting ``TrainOrganizationSentimentModel`` from the listening service's API."""

from __future__ import annotations

import contextlib
import uuid

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from services.listening.contracts import (
    TRAINING_WORKFLOW,
    TrainOrganizationSentimentModelInput,
    training_workflow_id,
)
from shared import task_queues
from shared.settings import Settings
from shared.temporal import TemporalConnection


class TrainingRuns(TemporalConnection):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._prefix = settings.temporal.task_queue_prefix

    async def start(
        self, organization_id: uuid.UUID, training_id: uuid.UUID, requested_by: str
    ) -> str:
        """The training's workflow id; a training started before is not started again (a
        failed one may be)."""
        started = training_workflow_id(organization_id, training_id)
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                TRAINING_WORKFLOW,
                TrainOrganizationSentimentModelInput(
                    organization_id=organization_id,
                    training_id=training_id,
                    requested_by=requested_by,
                    task_queue_prefix=self._prefix,
                ),
                id=started,
                task_queue=self._prefix + task_queues.WORKFLOWS,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        return started
