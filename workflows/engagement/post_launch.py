"""Post-launch: one support cycle per week until the contract's ``ends_on``. Each cycle
publishes what the plan has new, collects the engagement's metrics and records the period's
report (``PeriodicReportWorkflow``); the run continues as new every few cycles, carrying the
state, and the engagement completes once the last cycle is done."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from temporalio import workflow

from services.publisher.contracts import (
    COLLECT_METRICS,
    CollectMetricsCommand,
    MetricsCollected,
)
from services.strategy.contracts import LifecycleStep
from shared import task_queues
from shared.domain import Phase
from workflows.engagement import facts
from workflows.engagement.listening import stop_listening
from workflows.engagement.messages import (
    EngagementInput,
    EngagementStatus,
    LifecycleTiming,
    PostLaunchCalendar,
    workflow_id,
)
from workflows.engagement.part import LifecyclePart
from workflows.engagement.patches import PUBLISHER_STEPS_PATCH, STOP_LISTENING_ON_COMPLETION_PATCH
from workflows.engagement.plan_publishing import publish_plan
from workflows.engagement.waiting import sleep, unpaused
from workflows.reporting.messages import (
    REPORT_WORKFLOW_NAME,
    PeriodicReportInput,
    PeriodicReportSummary,
    report_workflow_id,
)


def support_calendar(engagement: EngagementInput, now: datetime) -> PostLaunchCalendar:
    """Cycles from the contract's start (or today, if launch ended after it) to its end."""
    starts_on = min(max(engagement.starts_on, now.date()), engagement.ends_on)
    days = (engagement.ends_on - starts_on).days + 1
    return PostLaunchCalendar(
        started_at=now,
        starts_on=starts_on,
        cycles_total=max(1, math.ceil(days / engagement.timing.cycle_days)),
    )


class PostLaunch(LifecyclePart):
    @property
    def _timing(self) -> LifecycleTiming:
        return self._engagement.timing

    async def run_cycles(self) -> None:
        calendar = self._state.post_launch
        assert calendar is not None
        cycles_this_run = 0
        while calendar.cycles_done < calendar.cycles_total:
            if (
                cycles_this_run >= self._timing.cycles_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await self._continue_as_new()
            cycle_length = self._timing.real(self._timing.cycle_days)
            ends_at = calendar.started_at + cycle_length * (calendar.cycles_done + 1)
            self._state.next_cycle_at = ends_at
            await sleep(ends_at - workflow.now())
            await unpaused(self._state, self._recorder)
            await self._run_cycle(calendar)
            calendar.cycles_done += 1
            cycles_this_run += 1
        self._state.next_cycle_at = None

    async def complete(self) -> None:
        """The contract is over: its listening stops, and the engagement ends completed."""
        calendar = self._state.post_launch
        cycles = calendar.cycles_done if calendar else 0
        steps: list[LifecycleStep] = []
        if workflow.patched(STOP_LISTENING_ON_COMPLETION_PATCH):
            stopped = await stop_listening(
                self._engagement,
                self._calls,
                self._recorder,
                "the engagement's contract ended",
                workflow_id(self._engagement.engagement_id),
            )
            steps.append(
                self._recorder.deliverable_step(stopped, "complete/deliverable/listening_stop")
            )
        now = workflow.now()
        await self._recorder.record(
            [
                *steps,
                facts.phase_completed(Phase.POST_LAUNCH, self._state.revision, now),
                facts.engagement_completed(cycles, now),
            ]
        )
        self._state.status = EngagementStatus.COMPLETED

    async def _run_cycle(self, calendar: PostLaunchCalendar) -> None:
        """Close one support period: publish what the plan has new, collect the engagement's
        metrics, and record the period's report (``PeriodicReportWorkflow``)."""
        cycle = calendar.cycles_done
        period_start = calendar.starts_on + timedelta(days=cycle * self._timing.cycle_days)
        period_end = min(
            period_start + timedelta(days=self._timing.cycle_days - 1), self._engagement.ends_on
        )
        period_end = max(period_end, period_start)
        key = f"post_launch/cycle/{cycle + 1}/deliverable"
        recorder = self._recorder
        if not workflow.patched(PUBLISHER_STEPS_PATCH):
            report = recorder.deliverable(
                "periodic_report",
                {
                    "cycle": cycle + 1,
                    "period_start": period_start.isoformat(),
                    "period_end": period_end.isoformat(),
                },
            )
            await recorder.record([recorder.deliverable_step(report, f"{key}/periodic_report")])
            return
        engagement = self._engagement
        published = await publish_plan(engagement, self._calls)
        plan = recorder.deliverable("plan_publishing", {"cycle": cycle + 1, **published})
        collected = await self._calls.activity(
            task_queues.PUBLISHER,
            COLLECT_METRICS,
            CollectMetricsCommand(
                organization_id=engagement.organization_id,
                engagement_id=engagement.engagement_id,
                collection_key=f"{workflow_id(engagement.engagement_id)}/cycle/{cycle + 1}",
            ),
            MetricsCollected,
        )
        cycle_length = self._timing.real(self._timing.cycle_days)
        window_start = calendar.started_at + cycle_length * cycle
        summary = await self._periodic_report(
            PeriodicReportInput(
                engagement_id=engagement.engagement_id,
                organization_id=engagement.organization_id,
                cycle=cycle + 1,
                period_start=period_start,
                period_end=period_end,
                window_start=window_start,
                window_end=window_start + cycle_length,
                metrics_as_of=collected.collected_at,
                task_queue_prefix=engagement.task_queue_prefix,
            )
        )
        report = recorder.deliverable("periodic_report", summary.model_dump(mode="json"))
        await recorder.record(
            [
                recorder.deliverable_step(plan, f"{key}/plan_publishing"),
                recorder.deliverable_step(report, f"{key}/periodic_report"),
            ]
        )

    async def _periodic_report(self, request: PeriodicReportInput) -> PeriodicReportSummary:
        """The report is a child workflow: the reporting service's document goes there."""
        summary: PeriodicReportSummary = await workflow.execute_child_workflow(
            REPORT_WORKFLOW_NAME,
            request,
            id=report_workflow_id(request.engagement_id, request.cycle),
            task_queue=self._calls.queue(task_queues.WORKFLOWS),
            result_type=PeriodicReportSummary,
        )
        self._calls.stop_if_cancelled()
        return summary

    async def _continue_as_new(self) -> None:
        await self._recorder.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._engagement.model_copy(update={"carried_state": self._state}))
