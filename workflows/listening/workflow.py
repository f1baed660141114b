"""``TrainOrganizationSentimentModel`` (``sentiment-model-<organisation>-<training>``): trains an
organisation's sentiment model on its corrections, in the listening service's activity, which
stores the model and announces it. Too few corrections is the activity's refusal, final."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.listening.contracts import (
        TRAIN_SENTIMENT_MODEL,
        TRAINING_ATTEMPTS,
        TRAINING_TIMEOUT,
        TRAINING_WORKFLOW,
        TrainedSentimentModel,
        TrainOrganizationSentimentModelInput,
        TrainSentimentModel,
    )
    from shared import task_queues
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY

# A training that keeps failing is a bug or bad data, not a passing fault: tried a few times.
TRAINING_RETRY = RetryPolicy(
    initial_interval=SERVICE_ACTIVITY_RETRY.initial_interval,
    maximum_interval=SERVICE_ACTIVITY_RETRY.maximum_interval,
    maximum_attempts=TRAINING_ATTEMPTS,
)


@workflow.defn(name=TRAINING_WORKFLOW)
class TrainOrganizationSentimentModel:
    @workflow.run
    async def run(self, request: TrainOrganizationSentimentModelInput) -> TrainedSentimentModel:
        trained: TrainedSentimentModel = await workflow.execute_activity(
            TRAIN_SENTIMENT_MODEL,
            TrainSentimentModel(
                organization_id=request.organization_id,
                training_id=request.training_id,
                requested_by=request.requested_by,
            ),
            result_type=TrainedSentimentModel,
            task_queue=request.task_queue_prefix + task_queues.LISTENING,
            start_to_close_timeout=TRAINING_TIMEOUT,
            retry_policy=TRAINING_RETRY,
        )
        return trained
