"""``PublishPlanWorkflow`` (``plan-publishing-<engagement id>``): an approved editorial plan
schedules its own posts.

It reads the plan and the engagement's approved variants from the content service and, for every
slot filled with an approved variant, starting in the future, on a channel with a connection:
places the publication by the variant's id (``publisher.schedule_publication``, the path of every
post: the publisher posts the variant as content approved it; idempotent by variant, channel and
slot), marks the item scheduled, and hands the post to its account's ``PublishBatchWorkflow`` for
its minute (``publisher.enqueue_publication``, a signal-with-start), which outlives the planner.
Runs started before batches (no ``publish-in-batches`` marker) place posts of their own and start
each one's ``PublishPostWorkflow`` as an abandoned child, as they did. Every other slot is
reported with its reason.

The post, not the planner, marks its item published: it is the one that knows when, it survives
a planner that has long finished, and a run of the planner never has to wait months for the last
slot. Running the planner again (after filling more slots) schedules what is new; what was placed
before is found by its key, and handing it over again changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Protocol, TypeVar

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from services.content.contracts import (
        GET_APPROVED_VARIANTS,
        MARK_SCHEDULED,
        ApprovedVariant,
        ApprovedVariants,
        ApprovedVariantsQuery,
        MarkScheduled,
        ReviewStateChanged,
    )
    from services.content.plan.contracts import GET_PLAN, GetPlan, PlanSnapshot
    from services.publisher.contracts import (
        ENQUEUE_PUBLICATION,
        POST_WORKFLOW,
        SCHEDULE_PUBLICATION,
        EnqueuePublication,
        PublishPostInput,
        ScheduledPublication,
        SchedulePublicationCommand,
        VariantToPublish,
    )
    from shared import task_queues
    from shared.domain import Channel
    from workflows.activity_policy import SERVICE_ACTIVITY_TIMEOUT
    from workflows.publishing.messages import (
        PLAN_STATE_QUERY,
        PLAN_WORKFLOW_NAME,
        PlanPublishingState,
        PublishPlanInput,
        ScheduledSlot,
        SkippedSlot,
        SkipReason,
    )

# Slots placed at once (in start order): a large plan is scheduled in a fraction of the time.
BATCH = 20
# Variants with media are published from this change on (runs started before skipped them).
PUBLISH_MEDIA_PATCH = "publish-variant-media"
# Posts go to their minute's batch from this change on (runs started before start a child each).
PUBLISH_IN_BATCHES_PATCH = "publish-in-batches"

Result = TypeVar("Result", bound=BaseModel)


class PlanSlot(Protocol):
    """What the planner reads of a slot of ``PlanSnapshot``."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def channel(self) -> Channel: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def variant_id(self) -> uuid.UUID | None: ...


@workflow.defn(name=PLAN_WORKFLOW_NAME)
class PublishPlanWorkflow:
    @workflow.init
    def __init__(self, request: PublishPlanInput) -> None:
        self._request = request
        self._state = PlanPublishingState(engagement_id=request.engagement_id)
        self._timezone = "Europe/Rome"

    @workflow.run
    async def run(self, request: PublishPlanInput) -> PlanPublishingState:
        plan = await self._content(
            GET_PLAN, GetPlan(engagement_id=request.engagement_id), PlanSnapshot
        )
        self._state.plan_generation = plan.generation
        if plan.status != "approved":
            self._state.status = "plan_not_approved"
            return self._state
        self._timezone = plan.timezone
        approved = await self._content(
            GET_APPROVED_VARIANTS,
            ApprovedVariantsQuery(
                organization_id=request.organization_id, engagement_id=request.engagement_id
            ),
            ApprovedVariants,
        )
        variants = {variant.variant_id: variant for variant in approved.variants}
        slots = sorted(plan.slots, key=lambda slot: (slot.starts_at, slot.channel, slot.id))
        for first in range(0, len(slots), BATCH):
            batch = slots[first : first + BATCH]
            await asyncio.gather(*(self._consider(slot, variants) for slot in batch))
        self._state.status = "done"
        return self._state

    @workflow.query(name=PLAN_STATE_QUERY)
    def state(self) -> PlanPublishingState:
        return self._state

    async def _consider(self, slot: PlanSlot, variants: dict[uuid.UUID, ApprovedVariant]) -> None:
        variant = self._eligible(slot, variants)
        if isinstance(variant, str):
            self._skip(slot, variant)
            return
        in_batch = workflow.patched(PUBLISH_IN_BATCHES_PATCH)
        try:
            placed = await self._place(slot, variant, in_batch=in_batch)
        except ActivityError as error:
            self._skip(slot, "refused", str(error.cause or error))
            return
        if placed.status == "scheduled":
            # Before the post's workflow starts: the post marks the item published after this.
            await self._content(
                MARK_SCHEDULED,
                MarkScheduled(
                    item_id=variant.item_id,
                    scheduled_for=placed.due_at,
                    actor=f"plan-publishing:{self._request.requested_by}"[:200],
                ),
                ReviewStateChanged,
            )
            if in_batch:
                await self._enqueue(placed, variant)
            else:
                await self._start_post(placed, slot, variant)
        self._state.scheduled.append(
            ScheduledSlot(
                slot_id=slot.id,
                channel=slot.channel,
                starts_at=slot.starts_at,
                item_id=variant.item_id,
                variant_id=variant.variant_id,
                publication_id=placed.publication_id,
                workflow_id=placed.workflow_id,
                status=placed.status,
            )
        )

    def _eligible(
        self, slot: PlanSlot, variants: dict[uuid.UUID, ApprovedVariant]
    ) -> ApprovedVariant | SkipReason:
        """The slot's approved variant, or why the slot is not published."""
        if slot.variant_id is None:
            return "unfilled"
        variant = variants.get(slot.variant_id)
        if variant is None:
            return "not_approved"
        if slot.starts_at <= workflow.now():
            return "past"
        if slot.channel not in self._request.connections:
            return "no_connection"
        if variant.media and not workflow.patched(PUBLISH_MEDIA_PATCH):
            return "media_without_url"
        return variant

    def _skip(self, slot: PlanSlot, reason: SkipReason, detail: str | None = None) -> None:
        self._state.skipped.append(
            SkippedSlot(
                slot_id=slot.id,
                channel=slot.channel,
                starts_at=slot.starts_at,
                reason=reason,
                detail=detail,
            )
        )

    async def _place(
        self, slot: PlanSlot, variant: ApprovedVariant, *, in_batch: bool
    ) -> ScheduledPublication:
        request = self._request
        placed: ScheduledPublication = await workflow.execute_activity(
            SCHEDULE_PUBLICATION,
            SchedulePublicationCommand(
                organization_id=request.organization_id,
                engagement_id=request.engagement_id,
                connection_id=request.connections[slot.channel],
                channel=slot.channel,
                # The publisher posts the variant as the content service approved it.
                variant=VariantToPublish(variant_id=variant.variant_id),
                slot_id=slot.id,
                due_at=slot.starts_at,
                timezone=self._timezone,
                in_batch=in_batch,
            ),
            result_type=ScheduledPublication,
            task_queue=request.task_queue_prefix + task_queues.PUBLISHER,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
        )
        return placed

    async def _enqueue(self, placed: ScheduledPublication, variant: ApprovedVariant) -> None:
        request = self._request
        await workflow.execute_activity(
            ENQUEUE_PUBLICATION,
            EnqueuePublication(
                publication_id=placed.publication_id,
                item_id=variant.item_id,
                task_queue_prefix=request.task_queue_prefix,
                publish_timeout_seconds=request.publish_timeout_seconds,
            ),
            task_queue=request.task_queue_prefix + task_queues.PUBLISHER,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
        )

    async def _start_post(
        self, placed: ScheduledPublication, slot: PlanSlot, variant: ApprovedVariant
    ) -> None:
        request = self._request
        try:
            await workflow.start_child_workflow(
                POST_WORKFLOW,
                PublishPostInput(
                    publication_id=placed.publication_id,
                    channel=slot.channel.value,
                    due_at=placed.due_at,
                    task_queue_prefix=request.task_queue_prefix,
                    publish_timeout_seconds=request.publish_timeout_seconds,
                    item_id=variant.item_id,
                    engagement_id=request.engagement_id,
                    organization_id=request.organization_id,
                ),
                id=placed.workflow_id,
                task_queue=request.task_queue_prefix + task_queues.WORKFLOWS,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            # An earlier run started this post's workflow: that one is the post.
            return

    async def _content(self, activity: str, argument: BaseModel, returns: type[Result]) -> Result:
        result: Result = await workflow.execute_activity(
            activity,
            argument,
            result_type=returns,
            task_queue=self._request.task_queue_prefix + task_queues.CONTENT,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
        )
        return result
