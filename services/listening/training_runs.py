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


class TrainingRuns:
    def __init__(self, temporal: TemporalConnection, settings: Settings) -> None:
        self._temporal = temporal
        self._prefix = settings.temporal.task_queue_prefix

    def require_connection(self) -> None:
        """A 503 now, before anything is recorded, when Temporal is away."""
        self._temporal.require_connection()

    async def start(
        self, organization_id: uuid.UUID, training_id: uuid.UUID, requested_by: str
    ) -> str:
        """The training's workflow id; a training started before is not started again (a
        failed one may be)."""
        started = training_workflow_id(organization_id, training_id)
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._temporal.client.start_workflow(
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
