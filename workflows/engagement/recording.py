"""Recording the lifecycle's facts through the strategy service
(``strategy.record_lifecycle_events``), each with a key that makes it a timeline entry and an
``engage.lifecycle.*`` event exactly once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from temporalio import workflow
from temporalio.common import Priority

from services.strategy.contracts import (
    RECORD_LIFECYCLE_EVENTS,
    LifecycleEventsRecorded,
    LifecycleStep,
    RecordLifecycleEvents,
)
from shared import task_queues
from workflows.engagement import facts
from workflows.engagement.messages import DeliverableRecord, EngagementInput, EngagementState
from workflows.engagement.patches import HUMAN_STEPS_FIRST_PATCH
from workflows.engagement.service_calls import ServiceCalls

HUMAN_STEP_PRIORITY = Priority(priority_key=1)


class Recorder:
    def __init__(
        self, engagement: EngagementInput, state: EngagementState, calls: ServiceCalls
    ) -> None:
        self._engagement = engagement
        self._state = state
        self._calls = calls
        # Steps of a finished phase, recorded together with the next phase's start.
        self._held_back: list[LifecycleStep] = []

    def deliverable(self, name: str, reference: dict[str, Any]) -> DeliverableRecord:
        return DeliverableRecord(
            name=name,
            phase=self._state.phase,
            revision=self._state.revision,
            reference=reference,
            recorded_at=workflow.now(),
        )

    def deliverable_step(self, record: DeliverableRecord, key: str | None = None) -> LifecycleStep:
        """The state shows the deliverable at once; its step is recorded by the caller."""
        self._state.deliverables.append(record)
        default = f"{record.phase.value}/{record.revision}/deliverable/{record.name}"
        return facts.deliverable_recorded(record, key or default)

    def hold_back(self, steps: Iterable[LifecycleStep]) -> None:
        """Keep steps for the next recording: a finished phase's go with the next one's start."""
        self._held_back.extend(steps)

    async def record(self, steps: list[LifecycleStep]) -> None:
        """Record the held-back steps, then these."""
        held_back, self._held_back = self._held_back, []
        await self.record_now([*held_back, *steps])

    async def flush(self) -> None:
        if self._held_back:
            await self.record([])

    async def record_now(self, steps: list[LifecycleStep]) -> None:
        if not steps:
            return
        human = any(step.actor is not None for step in steps)
        first = human and workflow.patched(HUMAN_STEPS_FIRST_PATCH)
        await self._calls.activity(
            task_queues.STRATEGY,
            RECORD_LIFECYCLE_EVENTS,
            RecordLifecycleEvents(
                engagement_id=self._engagement.engagement_id,
                organization_id=self._engagement.organization_id,
                steps=steps,
            ),
            LifecycleEventsRecorded,
            priority=HUMAN_STEP_PRIORITY if first else Priority.default,
        )
