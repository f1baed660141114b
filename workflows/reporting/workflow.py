"""``PeriodicReportWorkflow`` (``periodic-report-<engagement>-<cycle>``): the report closing one
post-launch support cycle, run by ``EngagementWorkflow`` as a child.

The report is the reporting service's KPIs of the engagement over the cycle's window
(``reporting.engagement_period_kpis``: publishing, listening, conversations, contests,
objectives), with the posts published and failed as its headline, which the engagement records
as its ``periodic_report`` deliverable. Runs recorded before summed the period from the
publisher's tables (``publisher.engagement_period_summary``) and replay that way
(``REPORTING_KPIS_PATCH``).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.publisher.contracts import (
        ENGAGEMENT_PERIOD_SUMMARY,
        EngagementPeriodQuery,
        EngagementPeriodSummary,
    )
    from services.reporting.contracts import (
        ENGAGEMENT_PERIOD_KPIS,
        EngagementKpis,
        EngagementPeriodKpisQuery,
    )
    from shared import task_queues
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY, SERVICE_ACTIVITY_TIMEOUT
    from workflows.reporting.messages import (
        REPORT_WORKFLOW_NAME,
        PeriodicReportInput,
        PeriodicReportSummary,
    )
    from workflows.reporting.patches import REPORTING_KPIS_PATCH


@workflow.defn(name=REPORT_WORKFLOW_NAME)
class PeriodicReportWorkflow:
    @workflow.run
    async def run(self, request: PeriodicReportInput) -> PeriodicReportSummary:
        if not workflow.patched(REPORTING_KPIS_PATCH):
            return await self._publisher_summary(request)
        kpis: EngagementKpis = await workflow.execute_activity(
            ENGAGEMENT_PERIOD_KPIS,
            EngagementPeriodKpisQuery(
                engagement_id=request.engagement_id,
                organization_id=request.organization_id,
                starts_at=request.window_start,
                ends_at=request.window_end,
            ),
            result_type=EngagementKpis,
            task_queue=request.task_queue_prefix + task_queues.REPORTING,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return PeriodicReportSummary(
            **_period(request),
            posts_published=kpis.publishing.published,
            posts_failed=kpis.publishing.failed,
            kpis=kpis,
        )

    async def _publisher_summary(self, request: PeriodicReportInput) -> PeriodicReportSummary:
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
            **_period(request),
            posts_published=figures.posts_published,
            posts_failed=figures.posts_failed,
            by_channel=figures.by_channel,
            posts_with_metrics=figures.posts_with_metrics,
            metrics=figures.metrics,
            metrics_collected_at=figures.metrics_collected_at,
        )


def _period(request: PeriodicReportInput) -> dict[str, Any]:
    """Which cycle and period the summary is of, whichever service gave its figures."""
    return request.model_dump(
        include={"cycle", "period_start", "period_end", "window_start", "window_end"}
    )
