"""``PublisherMaintenanceWorkflow``: what the publisher does on a schedule: refresh tokens that
are about to expire, then collect post and account metrics. Started by a Temporal Schedule that
the publisher worker keeps in place (``services/publisher/worker.py``)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.publisher.contracts import (
        COLLECT_METRICS,
        MAINTENANCE_WORKFLOW,
        REFRESH_TOKENS,
        CollectMetricsCommand,
        MaintenanceInput,
        MaintenanceResult,
        MetricsCollected,
        RefreshTokensCommand,
        TokensRefreshed,
    )
    from shared import task_queues


@workflow.defn(name=MAINTENANCE_WORKFLOW)
class PublisherMaintenanceWorkflow:
    @workflow.run
    async def run(self, request: MaintenanceInput) -> MaintenanceResult:
        queue = request.task_queue_prefix + task_queues.PUBLISHER
        tokens = await workflow.execute_activity(
            REFRESH_TOKENS,
            RefreshTokensCommand(within_seconds=request.refresh_within_seconds),
            result_type=TokensRefreshed,
            task_queue=queue,
            start_to_close_timeout=timedelta(minutes=5),
        )
        collected = await workflow.execute_activity(
            COLLECT_METRICS,
            CollectMetricsCommand(lookback_days=request.lookback_days),
            result_type=MetricsCollected,
            task_queue=queue,
            start_to_close_timeout=timedelta(minutes=10),
        )
        return MaintenanceResult(tokens=tokens, metrics=collected)
