"""``EngagementReportWorkflow``: one report from its request to the client.

gather and compute (the reporting service's KPIs over its read model) → render (HTML and PDF,
stored whole with the report's move to ``awaiting_approval``) → a manager's approval → delivered
(an event, the download link, an optional e-mail).

Started by the reporting API for an on-demand report (``report-<id>``), or by the engagement's
schedule for the period that just closed (the run opens that period's report first). A renderer
failure marks the report ``failed`` with the reason and is retried with backoff; the decision
arrives as a signal, and the workflow also reads the stored decision now and then, so a signal
lost while Temporal was away delays the delivery but never loses it.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from services.reporting.contracts import (
        DELIVER_REPORT,
        OPEN_PERIODIC_REPORT,
        RENDER_REPORT,
        REPORT_DECIDED_SIGNAL,
        REPORT_STATUS,
        REPORT_WORKFLOW,
        OpenedReport,
        OpenPeriodicReport,
        PeriodicRun,
        ReportDecided,
        ReportRef,
        ReportRunInput,
        ReportState,
        ReportStatus,
    )
    from shared import task_queues
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY, SERVICE_ACTIVITY_TIMEOUT

# Rendering a six-month report takes seconds; a failing renderer is tried again from 5 s to
# 10 minutes apart, for a day, then the report stays ``failed`` with its reason.
RENDER_TIMEOUT = timedelta(minutes=5)
RENDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
RENDER_GIVE_UP = timedelta(days=1)
# How often the stored decision is read while no signal came.
DECISION_CHECK_EVERY = timedelta(minutes=10)
# An e-mail server that stays away this long does not hold the delivery back any longer.
DELIVERY_GIVE_UP = timedelta(hours=6)
DECIDED = (ReportStatus.APPROVED, ReportStatus.REJECTED, ReportStatus.DELIVERED)


@workflow.defn(name=REPORT_WORKFLOW)
class EngagementReportWorkflow:
    def __init__(self) -> None:
        self._decided = False

    @workflow.signal(name=REPORT_DECIDED_SIGNAL)
    def decided(self, decision: ReportDecided) -> None:
        self._decided = True

    @workflow.run
    async def run(self, request: ReportRunInput) -> ReportState:
        self._queue = request.task_queue_prefix + task_queues.REPORTING
        render = True
        if request.report_id is not None:
            report = ReportRef(report_id=request.report_id)
        else:
            assert request.periodic is not None
            opened = await self._open(request.periodic)
            report, render = ReportRef(report_id=opened.report_id), opened.render
        if render:
            try:
                await workflow.execute_activity(
                    RENDER_REPORT,
                    report,
                    result_type=ReportState,
                    task_queue=self._queue,
                    start_to_close_timeout=RENDER_TIMEOUT,
                    schedule_to_close_timeout=RENDER_GIVE_UP,
                    retry_policy=RENDER_RETRY,
                )
            except ActivityError:
                # Given up: the report stays ``failed`` with the renderer's reason.
                return ReportState(report_id=report.report_id, status=ReportStatus.FAILED)
        state = await self._decision(report)
        if state.status != ReportStatus.APPROVED:
            return state
        delivered: ReportState = await workflow.execute_activity(
            DELIVER_REPORT,
            report,
            result_type=ReportState,
            task_queue=self._queue,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            schedule_to_close_timeout=DELIVERY_GIVE_UP,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return delivered

    async def _open(self, periodic: PeriodicRun) -> OpenedReport:
        opened: OpenedReport = await workflow.execute_activity(
            OPEN_PERIODIC_REPORT,
            OpenPeriodicReport(
                engagement_id=periodic.engagement_id,
                organization_id=periodic.organization_id,
                cadence=periodic.cadence,
                every_seconds=periodic.every_seconds,
                at=workflow.now(),
                workflow_id=workflow.info().workflow_id,
            ),
            result_type=OpenedReport,
            task_queue=self._queue,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return opened

    async def _decision(self, report: ReportRef) -> ReportState:
        """Wait for the manager: woken by the signal, or reading the stored status now and
        then."""
        while True:
            # Cleared before reading: a signal arriving while the status is read wakes the wait.
            self._decided = False
            state: ReportState = await workflow.execute_activity(
                REPORT_STATUS,
                report,
                result_type=ReportState,
                task_queue=self._queue,
                start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
                retry_policy=SERVICE_ACTIVITY_RETRY,
            )
            if state.status in DECIDED:
                return state
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._decided, timeout=DECISION_CHECK_EVERY)
