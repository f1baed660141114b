"""What each phase before post-launch produces: the deliverables it records (found with the
strategy service, the publisher and the content service) and those it expected and did not find,
which its gate lists."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError

from services.content.plan.contracts import (
    GENERATE_PLAN,
    GET_PLAN,
    GeneratePlan,
    GetPlan,
    PlanGenerationResult,
    PlanSnapshot,
)
from services.strategy.contracts import (
    GET_APPROVED_DELIVERABLE,
    GET_DELIVERABLE_VERSIONS,
    ApprovedDeliverable,
    DeliverableKind,
    DeliverableVersions,
    GetApprovedDeliverable,
    GetDeliverableVersions,
)
from shared.domain import Phase
from shared.editorial import EditorialRules
from workflows.engagement.listening import start_listening
from workflows.engagement.messages import DeliverableRecord, Gate
from workflows.engagement.part import LifecyclePart
from workflows.engagement.patches import PUBLISHER_STEPS_PATCH, START_LISTENING_AT_SEEDING_PATCH
from workflows.engagement.phases import STRATEGY_DELIVERABLES
from workflows.engagement.plan_publishing import connections, publish_plan

# A plan covers at most 366 days (services/content/plan/schemas.py).
PLAN_DAYS = 365
# Phases whose start (re)publishes the approved plan; post-launch does so every cycle.
PUBLISHING_PHASES = (Phase.SEEDING, Phase.LAUNCH)

Found = tuple[list[DeliverableRecord], list[str]]


class PhaseWork(LifecyclePart):
    def opening_deliverables(self, phase: Phase) -> list[DeliverableRecord]:
        """Launch opens with the go-live decision that started it."""
        if phase is not Phase.LAUNCH:
            return []
        go_live = next(d for d in reversed(self._state.decisions) if d.gate is Gate.GO_LIVE)
        reference = {
            "approved_by": go_live.decided_by,
            "approved_at": go_live.decided_at.isoformat(),
            "revision": go_live.revision,
        }
        return [self._recorder.deliverable("go_live", reference)]

    async def deliverables(self, phase: Phase) -> Found:
        """The deliverables a phase records at its gate, and the expected ones not found."""
        if phase in STRATEGY_DELIVERABLES:
            return await self._strategy_deliverables(phase)
        if phase is Phase.SETUP:
            channel_connections, unconnected = await self._channel_connections()
            plan = await self._editorial_plan()
            if plan is None:
                return [channel_connections], [*unconnected, "editorial_plan"]
            editorial_plan = self._recorder.deliverable("editorial_plan", plan)
            return [channel_connections, editorial_plan], unconnected
        if phase is Phase.SEEDING and workflow.patched(START_LISTENING_AT_SEEDING_PATCH):
            listening = await start_listening(self._engagement, self._calls, self._recorder)
            await self._recorder.record([self._recorder.deliverable_step(listening)])
        if phase in PUBLISHING_PHASES and workflow.patched(PUBLISHER_STEPS_PATCH):
            # Recorded at once, not at the phase's end: the posts are being scheduled now.
            published = await publish_plan(self._engagement, self._calls)
            plan_publishing = self._recorder.deliverable("plan_publishing", published)
            await self._recorder.record([self._recorder.deliverable_step(plan_publishing)])
        return [], []

    async def _strategy_deliverables(self, phase: Phase) -> Found:
        wanted = STRATEGY_DELIVERABLES[phase]
        found = await self._calls.strategy(
            GET_DELIVERABLE_VERSIONS,
            GetDeliverableVersions(
                engagement_id=self._engagement.engagement_id,
                kinds=sorted({DeliverableKind(kind) for kind in wanted.values()}),
            ),
            DeliverableVersions,
        )
        latest = {ref.kind.value: ref.model_dump(mode="json") for ref in found.latest}
        records = [
            self._recorder.deliverable(name, latest[kind])
            for name, kind in wanted.items()
            if kind in latest
        ]
        return records, [name for name, kind in wanted.items() if kind not in latest]

    async def _channel_connections(self) -> tuple[DeliverableRecord, list[str]]:
        """The channels' connections as the publisher has them; those without an active one
        are listed for the editorial-plan gate (approving it anyway is the manager's call)."""
        if not workflow.patched(PUBLISHER_STEPS_PATCH):
            channels = [channel.value for channel in self._engagement.channels]
            reference = {"channels": channels, "verified": False}
            return self._recorder.deliverable("channel_connections", reference), []
        found = await connections(self._engagement, self._calls)
        reference = {
            "verified": True,
            "channels": [channel.model_dump(mode="json") for channel in found.channels],
        }
        unconnected = [
            f"channel_connection:{channel.channel.value}"
            for channel in found.channels
            if channel.status != "connected"
        ]
        return self._recorder.deliverable("channel_connections", reference), unconnected

    async def _editorial_plan(self) -> dict[str, Any] | None:
        """Generate the plan from the approved editorial rules, or take the plan made by hand."""
        rules = await self._calls.strategy(
            GET_APPROVED_DELIVERABLE,
            GetApprovedDeliverable(
                engagement_id=self._engagement.engagement_id,
                kind=DeliverableKind.EDITORIAL_RULES,
            ),
            ApprovedDeliverable,
        )
        with contextlib.suppress(ActivityError, ValidationError):
            if rules.approved is not None:
                generated = await self._calls.content(
                    GENERATE_PLAN, self._plan_request(rules.approved.body), PlanGenerationResult
                )
                return {
                    "plan_id": str(generated.plan_id),
                    "generation": generated.generation,
                    "slots": generated.slots,
                    "rules_version": rules.approved.version,
                }
            plan = await self._calls.content(
                GET_PLAN, GetPlan(engagement_id=self._engagement.engagement_id), PlanSnapshot
            )
            return {
                "plan_id": str(plan.plan_id),
                "generation": plan.generation,
                "slots": len(plan.slots),
            }
        return None

    def _plan_request(self, rules: dict[str, Any]) -> GeneratePlan:
        starts_on = self._engagement.starts_on
        ends_on: date = min(self._engagement.ends_on, starts_on + timedelta(days=PLAN_DAYS))
        return GeneratePlan(
            engagement_id=self._engagement.engagement_id,
            organization_id=self._engagement.organization_id,
            period_start=starts_on,
            period_end=ends_on,
            rules=EditorialRules.model_validate(rules),
        )
