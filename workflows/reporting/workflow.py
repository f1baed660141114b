"""``PeriodicReportWorkflow`` (``periodic-report-<engagement>-<cycle>``): the report closing one
post-launch support cycle, run by ``EngagementWorkflow`` as a child.

For now the report is the period's figures as a typed summary, gathered from the publisher's
tables (``publisher.engagement_period_summary``: posts published and failed, summed post
metrics), which the engagement records as its ``periodic_report`` deliverable. The reporting
issue turns it into the HTML/PDF document (KPIs, charts, the map of mentions) kept by the
reporting service; this workflow is where that work goes.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.publisher.contracts import (
        ENGAGEMENT_PERIOD_SUMMARY,
        EngagementPeriodQuery,
        EngagementPeriodSummary,
    )
    from shared import task_queues
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY, SERVICE_ACTIVITY_TIMEOUT
    from workflows.reporting.messages import (
        REPORT_WORKFLOW_NAME,
        PeriodicReportInput,
        PeriodicReportSummary,
    )


@workflow.defn(name=REPORT_WORKFLOW_NAME)
class PeriodicReportWorkflow:
    @workflow.run
    async def run(self, request: PeriodicReportInput) -> PeriodicReportSummary:
        figures: EngagementPeriodSummary = await workflow.execute_activity(
            ENGAGEMENT_PERIOD_SUMMARY,
            EngagementPeriodQuery(
                organization_id=request.organization_id,
                engagement_id=request.engagement_id,
                starts_at=request.window_start,
                ends_at=request.window_end,
                metrics_as_of=request.metrics_as_of,
            ),
            result_type=EngagementPeriodSummary,
            task_queue=request.task_queue_prefix + task_queues.PUBLISHER,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return PeriodicReportSummary(
            cycle=request.cycle,
            period_start=request.period_start,
            period_end=request.period_end,
            window_start=request.window_start,
            window_end=request.window_end,
            posts_published=figures.posts_published,
            posts_failed=figures.posts_failed,
            by_channel=figures.by_channel,
            posts_with_metrics=figures.posts_with_metrics,
            metrics=figures.metrics,
            metrics_collected_at=figures.metrics_collected_at,
        )
