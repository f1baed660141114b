"""``EngagementReportWorkflow`` on Temporal's time-skipping server, with the reporting service's
activities replaced by an in-memory report under their real names: render (failing first when
asked), the manager's decision by signal or read from the store, delivery; a schedule's run
opens its period's report first. Each run's history replays against the workflow's code."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from services.reporting.contracts import (
    DELIVER_REPORT,
    OPEN_PERIODIC_REPORT,
    RENDER_REPORT,
    REPORT_DECIDED_SIGNAL,
    REPORT_STATUS,
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
from tests.lifecycle_helpers import start_time_skipping
from workflows.reporting.report import DECISION_CHECK_EVERY, EngagementReportWorkflow


class FakeReporting:
    """One report as the reporting service would keep it."""

    def __init__(self, render_failures: int = 0) -> None:
        self.report_id = uuid.uuid4()
        self.status = ReportStatus.REQUESTED
        self.render_failures = render_failures
        self.render_attempts = 0
        self.delivered = 0
        self.opened: list[OpenPeriodicReport] = []

    @activity.defn(name=OPEN_PERIODIC_REPORT)
    async def open_periodic_report(self, request: OpenPeriodicReport) -> OpenedReport:
        self.opened.append(request)
        return OpenedReport(report_id=self.report_id, render=True)

    @activity.defn(name=RENDER_REPORT)
    async def render_report(self, request: ReportRef) -> ReportState:
        assert request.report_id == self.report_id
        self.render_attempts += 1
        if self.render_attempts <= self.render_failures:
            self.status = ReportStatus.FAILED
            raise ApplicationError("the chart could not be drawn", type="report-render-failed")
        self.status = ReportStatus.AWAITING_APPROVAL
        return ReportState(report_id=self.report_id, status=self.status)

    @activity.defn(name=REPORT_STATUS)
    async def report_status(self, request: ReportRef) -> ReportState:
        return ReportState(report_id=self.report_id, status=self.status)

    @activity.defn(name=DELIVER_REPORT)
    async def deliver_report(self, request: ReportRef) -> ReportState:
        assert self.status in (ReportStatus.APPROVED, ReportStatus.DELIVERED)
        self.delivered += 1
        self.status = ReportStatus.DELIVERED
        return ReportState(report_id=self.report_id, status=self.status)

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.open_periodic_report,
            self.render_report,
            self.report_status,
            self.deliver_report,
        ]


@asynccontextmanager
async def running(reporting: FakeReporting) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    env = await start_time_skipping()
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    try:
        async with (
            Worker(
                env.client,
                task_queue=prefix + task_queues.WORKFLOWS,
                workflows=[EngagementReportWorkflow],
            ),
            Worker(
                env.client,
                task_queue=prefix + task_queues.REPORTING,
                activities=reporting.activities(),
            ),
        ):
            yield env, prefix
    finally:
        await env.shutdown()


async def start(
    env: WorkflowEnvironment, prefix: str, run: ReportRunInput
) -> WorkflowHandle[EngagementReportWorkflow, ReportState]:
    return await env.client.start_workflow(
        EngagementReportWorkflow.run,
        run.model_copy(update={"task_queue_prefix": prefix}),
        id=f"report-{uuid.uuid4()}",
        task_queue=prefix + task_queues.WORKFLOWS,
    )


async def replays(handle: WorkflowHandle[EngagementReportWorkflow, ReportState]) -> None:
    replayer = Replayer(
        workflows=[EngagementReportWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(
        await handle.fetch_history(), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, result.replay_failure


async def rendered(
    env: WorkflowEnvironment, reporting: FakeReporting, status: ReportStatus
) -> None:
    """Let the workflow run (time skips) until the fake report reaches ``status``."""
    for _ in range(200):
        if reporting.status == status:
            return
        await env.sleep(timedelta(seconds=1))
    raise AssertionError(f"the report stayed {reporting.status}")


async def test_an_approved_report_is_delivered_once() -> None:
    reporting = FakeReporting()
    async with running(reporting) as (env, prefix):
        handle = await start(env, prefix, ReportRunInput(report_id=reporting.report_id))
        await rendered(env, reporting, ReportStatus.AWAITING_APPROVAL)
        assert reporting.delivered == 0
        # The API stores the approval, then signals.
        reporting.status = ReportStatus.APPROVED
        await handle.signal(REPORT_DECIDED_SIGNAL, ReportDecided(approved=True))
        state = await handle.result()
        await replays(handle)
    assert state == ReportState(report_id=reporting.report_id, status=ReportStatus.DELIVERED)
    assert reporting.delivered == 1


async def test_a_failing_renderer_marks_the_report_failed_and_is_retried() -> None:
    reporting = FakeReporting(render_failures=2)
    async with running(reporting) as (env, prefix):
        handle = await start(env, prefix, ReportRunInput(report_id=reporting.report_id))
        await rendered(env, reporting, ReportStatus.AWAITING_APPROVAL)
        reporting.status = ReportStatus.APPROVED
        await handle.signal(REPORT_DECIDED_SIGNAL, ReportDecided(approved=True))
        state = await handle.result()
        await replays(handle)
    assert reporting.render_attempts == 3
    assert state.status == ReportStatus.DELIVERED


async def test_a_lost_signal_only_delays_the_delivery_until_the_stored_decision_is_read() -> None:
    reporting = FakeReporting()
    async with running(reporting) as (env, prefix):
        handle = await start(env, prefix, ReportRunInput(report_id=reporting.report_id))
        await rendered(env, reporting, ReportStatus.AWAITING_APPROVAL)
        reporting.status = ReportStatus.APPROVED
        # No signal: the workflow reads the stored decision at its next check.
        await env.sleep(DECISION_CHECK_EVERY + timedelta(seconds=5))
        state = await handle.result()
    assert state.status == ReportStatus.DELIVERED
    assert reporting.delivered == 1


async def test_a_rejected_report_is_not_delivered() -> None:
    reporting = FakeReporting()
    async with running(reporting) as (env, prefix):
        handle = await start(env, prefix, ReportRunInput(report_id=reporting.report_id))
        await rendered(env, reporting, ReportStatus.AWAITING_APPROVAL)
        reporting.status = ReportStatus.REJECTED
        await handle.signal(REPORT_DECIDED_SIGNAL, ReportDecided(approved=False))
        state = await handle.result()
    assert state.status == ReportStatus.REJECTED
    assert reporting.delivered == 0


async def test_a_schedules_run_opens_the_period_that_just_closed() -> None:
    reporting = FakeReporting()
    engagement_id, organization_id = uuid.uuid4(), uuid.uuid4()
    run = ReportRunInput(
        periodic=PeriodicRun(
            engagement_id=engagement_id,
            organization_id=organization_id,
            cadence="weekly",
            every_seconds=30.0,
        )
    )
    async with running(reporting) as (env, prefix):
        handle = await start(env, prefix, run)
        await rendered(env, reporting, ReportStatus.AWAITING_APPROVAL)
        reporting.status = ReportStatus.APPROVED
        await handle.signal(REPORT_DECIDED_SIGNAL, ReportDecided(approved=True))
        await handle.result()
        await replays(handle)
    (opened,) = reporting.opened
    assert (opened.engagement_id, opened.organization_id) == (engagement_id, organization_id)
    assert (opened.cadence, opened.every_seconds) == ("weekly", 30.0)
    assert opened.workflow_id == handle.id
    assert isinstance(opened.at, datetime)
    assert reporting.delivered == 1
