"""``EngagementWorkflow`` on Temporal's time-skipping test server, for the lifecycle tests.

The services' activities are replaced by an in-memory record registered under their real names:
every lifecycle step the workflow records is kept (with its idempotency key), deliverable
versions, the plan, the channels' connections and the period's figures (the publisher's summary
and the reporting service's KPIs) are what the test says,
and the publisher's scheduling and publishing are recorded (a post whose variant is in
``refused_variants`` is refused by the platform for good). The engagement's child workflows
(the plan publisher, the posts, the periodic report) run for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.content.contracts import (
    GET_APPROVED_VARIANTS,
    MARK_PUBLISHED,
    MARK_SCHEDULED,
    ApprovedVariant,
    ApprovedVariants,
    ApprovedVariantsQuery,
    MarkPublished,
    MarkScheduled,
    ReviewState,
    ReviewStateChanged,
)
from services.content.plan.contracts import (
    GENERATE_PLAN,
    GET_PLAN,
    GeneratePlan,
    GetPlan,
    PlanGenerationResult,
    PlanSnapshot,
)
from services.listening.contracts import (
    START_ENGAGEMENT_QUERIES,
    STOP_ENGAGEMENT_QUERIES,
    EngagementQueriesStarted,
    EngagementQueriesStopped,
    StartEngagementQueries,
    StopEngagementQueries,
)
from services.publisher.contracts import (
    COLLECT_METRICS,
    CONTENT_REJECTED_ERROR,
    ENGAGEMENT_CONNECTIONS,
    ENGAGEMENT_PERIOD_SUMMARY,
    ENQUEUE_PUBLICATION,
    PUBLISH,
    SCHEDULE_PUBLICATION,
    WITHDRAW_ENGAGEMENT_POSTS,
    ChannelConnection,
    CollectMetricsCommand,
    EngagementConnections,
    EngagementConnectionsQuery,
    EngagementPeriodQuery,
    EngagementPeriodSummary,
    EngagementPostsWithdrawn,
    EnqueuePublication,
    MetricsCollected,
    PostMetricsTotals,
    PublishCommand,
    PublishOutcome,
    ScheduledPublication,
    SchedulePublicationCommand,
    WithdrawEngagementPosts,
    batch_workflow_id,
    platform_queue,
)
from services.reporting.contracts import (
    ENGAGEMENT_PERIOD_KPIS,
    EngagementKpis,
    EngagementPeriodKpisQuery,
)
from services.reporting.kpis.schemas import (
    ContestKpis,
    ConversationKpis,
    ListeningKpis,
    Period,
    PublishingKpis,
    SentimentShare,
)
from services.strategy.contracts import (
    GET_APPROVED_DELIVERABLE,
    GET_DELIVERABLE_VERSIONS,
    RECORD_LIFECYCLE_EVENTS,
    ApprovedDeliverable,
    ApprovedVersion,
    DeliverableKind,
    DeliverableVersionRef,
    DeliverableVersions,
    GetApprovedDeliverable,
    GetDeliverableVersions,
    LifecycleEventsRecorded,
    LifecycleStep,
    RecordLifecycleEvents,
)
from shared import task_queues
from shared.auth import Role
from shared.domain import Channel, InterventionMode, Phase
from workflows.engagement.messages import (
    APPROVE_UPDATE,
    STATE_QUERY,
    Actor,
    ApprovalOutcome,
    ApprovalRequest,
    Decision,
    EngagementInput,
    EngagementState,
    Gate,
    LifecycleTiming,
)
from workflows.engagement.workflow import EngagementWorkflow
from workflows.publishing.plan import PublishPlanWorkflow
from workflows.publishing.workflow import PublishPostWorkflow
from workflows.reporting.workflow import PeriodicReportWorkflow

Handle = WorkflowHandle[EngagementWorkflow, EngagementState]
SIX_MONTHS = timedelta(days=182)


async def start_time_skipping() -> WorkflowEnvironment:
    """Temporal's time-skipping test server, converting payloads with pydantic as workers do."""
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )


@dataclass
class ServiceRecords:
    """What the strategy, content, publisher, listening and reporting services were asked, and
    what they answer."""

    steps: list[LifecycleStep] = field(default_factory=list)
    versions: list[DeliverableVersionRef] = field(default_factory=list)
    # The body of the approved editorial rules (None: none approved); the plan is generated
    # from them.
    editorial_rules: dict[str, Any] | None = None
    plans_generated: list[GeneratePlan] = field(default_factory=list)
    withdrawals: list[WithdrawEngagementPosts] = field(default_factory=list)
    listening_stops: list[StopEngagementQueries] = field(default_factory=list)
    listening_starts: list[StartEngagementQueries] = field(default_factory=list)
    # The plan content.get_plan answers (None: the engagement has no plan) and its variants.
    plan: PlanSnapshot | None = None
    variants: list[ApprovedVariant] = field(default_factory=list)
    refused_variants: set[uuid.UUID] = field(default_factory=set)
    # The organisation's connections; a channel not listed has none.
    connections: dict[Channel, ChannelConnection] = field(default_factory=dict)
    connection_queries: list[EngagementConnectionsQuery] = field(default_factory=list)
    scheduled: dict[str, SchedulePublicationCommand] = field(default_factory=dict)
    # Posts handed to their batch (publisher.enqueue_publication), in order.
    enqueued: list[EnqueuePublication] = field(default_factory=list)
    items_scheduled: set[uuid.UUID] = field(default_factory=set)
    items_published: set[uuid.UUID] = field(default_factory=set)
    publish_attempts: list[PublishCommand] = field(default_factory=list)
    collections: list[CollectMetricsCommand] = field(default_factory=list)
    collected_at: dict[str, datetime] = field(default_factory=dict)
    period_queries: list[EngagementPeriodQuery] = field(default_factory=list)
    kpi_queries: list[EngagementPeriodKpisQuery] = field(default_factory=list)
    # Every period's posts published and failed, and their metrics summed.
    period_published: int = 2
    period_failed: int = 1
    period_metrics: PostMetricsTotals = field(
        default_factory=lambda: PostMetricsTotals(impressions=120, likes=9, comments=2)
    )

    @activity.defn(name=RECORD_LIFECYCLE_EVENTS)
    async def record(self, request: RecordLifecycleEvents) -> LifecycleEventsRecorded:
        known = {step.idempotency_key for step in self.steps}
        fresh = [step for step in request.steps if step.idempotency_key not in known]
        self.steps.extend(fresh)
        return LifecycleEventsRecorded(
            event_ids=[step.idempotency_key for step in request.steps], newly_recorded=len(fresh)
        )

    @activity.defn(name=GET_DELIVERABLE_VERSIONS)
    async def versions_of(self, request: GetDeliverableVersions) -> DeliverableVersions:
        latest = [ref for ref in self.versions if ref.kind in request.kinds]
        return DeliverableVersions(engagement_id=request.engagement_id, latest=latest)

    @activity.defn(name=GET_APPROVED_DELIVERABLE)
    async def approved(self, request: GetApprovedDeliverable) -> ApprovedDeliverable:
        approved = None
        if request.kind is DeliverableKind.EDITORIAL_RULES and self.editorial_rules is not None:
            approved = ApprovedVersion(
                deliverable_id=uuid.uuid5(request.engagement_id, "editorial_rules"),
                version=1,
                body=self.editorial_rules,
                approved_by="client",
                approved_at=datetime(2026, 1, 5, tzinfo=UTC),
            )
        return ApprovedDeliverable(
            engagement_id=request.engagement_id, kind=request.kind, approved=approved
        )

    @activity.defn(name=GENERATE_PLAN)
    async def generate_plan(self, request: GeneratePlan) -> PlanGenerationResult:
        self.plans_generated.append(request)
        return PlanGenerationResult(
            plan_id=uuid.uuid5(request.engagement_id, "plan"),
            generation=len(self.plans_generated),
            changed=True,
            slots=8,
            kept_filled=0,
            shortfalls=0,
            event_id=None,
        )

    @activity.defn(name=GET_PLAN)
    async def get_plan(self, request: GetPlan) -> PlanSnapshot:
        if self.plan is None:
            raise ApplicationError("no plan", type="not-found", non_retryable=True)
        return self.plan

    @activity.defn(name=GET_APPROVED_VARIANTS)
    async def approved_variants(self, query: ApprovedVariantsQuery) -> ApprovedVariants:
        # An item once scheduled is no longer ``approved``, as in the content service.
        waiting = [v for v in self.variants if v.item_id not in self.items_scheduled]
        return ApprovedVariants(variants=waiting)

    @activity.defn(name=MARK_SCHEDULED)
    async def mark_scheduled(self, request: MarkScheduled) -> ReviewStateChanged:
        changed = request.item_id not in self.items_scheduled
        self.items_scheduled.add(request.item_id)
        return ReviewStateChanged(
            item_id=request.item_id, status=ReviewState.SCHEDULED, changed=changed
        )

    @activity.defn(name=MARK_PUBLISHED)
    async def mark_published(self, request: MarkPublished) -> ReviewStateChanged:
        self.items_published.add(request.item_id)
        return ReviewStateChanged(
            item_id=request.item_id, status=ReviewState.PUBLISHED, changed=True
        )

    @activity.defn(name=ENGAGEMENT_CONNECTIONS)
    async def engagement_connections(
        self, query: EngagementConnectionsQuery
    ) -> EngagementConnections:
        self.connection_queries.append(query)
        missing = {
            channel: ChannelConnection(channel=channel, status="missing")
            for channel in query.channels
        }
        return EngagementConnections(
            channels=[self.connections.get(channel, missing[channel]) for channel in query.channels]
        )

    @activity.defn(name=SCHEDULE_PUBLICATION)
    async def schedule_publication(
        self, command: SchedulePublicationCommand
    ) -> ScheduledPublication:
        key = f"{command.variant.variant_id}:{command.channel.value}:{command.slot_id}"
        created = key not in self.scheduled
        self.scheduled.setdefault(key, command)
        publication_id = uuid.uuid5(uuid.NAMESPACE_URL, key)
        return ScheduledPublication(
            publication_id=publication_id,
            workflow_id=(
                batch_workflow_id(command.connection_id, command.due_at)
                if command.in_batch
                else f"publication-{publication_id}"
            ),
            status="scheduled",
            due_at=command.due_at,
            newly_created=created,
        )

    @activity.defn(name=ENQUEUE_PUBLICATION)
    async def enqueue_publication(self, command: EnqueuePublication) -> None:
        self.enqueued.append(command)

    @activity.defn(name=PUBLISH)
    async def publish(self, command: PublishCommand) -> PublishOutcome:
        self.publish_attempts.append(command)
        placed = next(
            c
            for key, c in self.scheduled.items()
            if uuid.uuid5(uuid.NAMESPACE_URL, key) == command.publication_id
        )
        if placed.variant.variant_id in self.refused_variants:
            raise ApplicationError(
                "the platform refused the post: text too long",
                type=CONTENT_REJECTED_ERROR,
                non_retryable=True,
            )
        return PublishOutcome(
            publication_id=command.publication_id,
            status="published",
            platform_post_id=f"post-{command.publication_id.hex[:8]}",
            published_at=datetime.now(UTC),
        )

    @activity.defn(name=COLLECT_METRICS)
    async def collect_metrics(self, command: CollectMetricsCommand) -> MetricsCollected:
        self.collections.append(command)
        assert command.collection_key is not None
        collected_at = self.collected_at.setdefault(command.collection_key, datetime.now(UTC))
        return MetricsCollected(posts=2, accounts=1, failures=0, collected_at=collected_at)

    @activity.defn(name=ENGAGEMENT_PERIOD_SUMMARY)
    async def period_summary(self, query: EngagementPeriodQuery) -> EngagementPeriodSummary:
        self.period_queries.append(query)
        return EngagementPeriodSummary(
            engagement_id=query.engagement_id,
            starts_at=query.starts_at,
            ends_at=query.ends_at,
            posts_published=self.period_published,
            posts_failed=self.period_failed,
            by_channel=[],
            posts_with_metrics=2,
            metrics=self.period_metrics,
            metrics_collected_at=query.metrics_as_of,
        )

    @activity.defn(name=ENGAGEMENT_PERIOD_KPIS)
    async def period_kpis(self, query: EngagementPeriodKpisQuery) -> EngagementKpis:
        self.kpi_queries.append(query)
        metrics = self.period_metrics
        engagements = metrics.likes + metrics.comments + metrics.shares + metrics.saves
        return EngagementKpis(
            engagement_id=query.engagement_id,
            organization_id=query.organization_id,
            period=Period(starts_at=query.starts_at, ends_at=query.ends_at),
            computed_at=query.ends_at,
            publishing=PublishingKpis(
                planned=self.period_published + self.period_failed,
                published=self.period_published,
                failed=self.period_failed,
                on_time=self.period_published,
                on_time_share=1.0 if self.period_published else None,
                on_time_minutes=15,
                reach=metrics.reach,
                impressions=metrics.impressions,
                engagements=engagements,
                engagement_rate=engagements / metrics.reach if metrics.reach else None,
                followers=None,
                follower_growth=None,
                by_channel=[],
                top_posts=[],
                bottom_posts=[],
            ),
            listening=ListeningKpis(
                mentions=0,
                sentiment=SentimentShare(),
                net_sentiment=None,
                own_share_of_voice=None,
                share_of_voice=[],
                places=[],
                top_authors=[],
                volume=[],
            ),
            conversations=ConversationKpis(
                opened=0,
                answered=0,
                first_response_median_minutes=None,
                first_response_p90_minutes=None,
                within_sla=0,
                within_sla_share=None,
                open_backlog=0,
            ),
            contests=ContestKpis(contests=0, entries=0, valid_entries=0, winners=0),
        )

    @activity.defn(name=WITHDRAW_ENGAGEMENT_POSTS)
    async def withdraw_posts(self, request: WithdrawEngagementPosts) -> EngagementPostsWithdrawn:
        self.withdrawals.append(request)
        return EngagementPostsWithdrawn(cancelled=2, already_published=1, failed=0)

    @activity.defn(name=START_ENGAGEMENT_QUERIES)
    async def start_listening(self, request: StartEngagementQueries) -> EngagementQueriesStarted:
        self.listening_starts.append(request)
        return EngagementQueriesStarted(started=1, already_active=2)

    @activity.defn(name=STOP_ENGAGEMENT_QUERIES)
    async def stop_listening(self, request: StopEngagementQueries) -> EngagementQueriesStopped:
        self.listening_stops.append(request)
        return EngagementQueriesStopped(stopped=2, already_stopped=1)

    def events(self, name: str) -> list[LifecycleStep]:
        return [step for step in self.steps if step.event.value == name]


def engagement_input(
    mode: InterventionMode = InterventionMode.REALIZZAZIONE,
    length: timedelta = SIX_MONTHS,
    timing: LifecycleTiming | None = None,
    starts_on: date | None = None,
) -> EngagementInput:
    start = starts_on or date.today()
    return EngagementInput(
        engagement_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        mode=mode,
        channels=[Channel.SANDBOX, Channel.INSTAGRAM],
        starts_on=start,
        ends_on=start + length,
        timing=timing or LifecycleTiming(cycles_per_run=10),
    )


@asynccontextmanager
async def running_engagement(
    env: WorkflowEnvironment, records: ServiceRecords, engagement: EngagementInput
) -> AsyncIterator[Handle]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    engagement = engagement.model_copy(update={"task_queue_prefix": prefix})
    workers = [
        Worker(
            env.client,
            task_queue=prefix + task_queues.WORKFLOWS,
            workflows=[
                EngagementWorkflow,
                PublishPlanWorkflow,
                PublishPostWorkflow,
                PeriodicReportWorkflow,
            ],
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.STRATEGY,
            activities=[records.record, records.versions_of, records.approved],
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.CONTENT,
            activities=[
                records.generate_plan,
                records.get_plan,
                records.approved_variants,
                records.mark_scheduled,
                records.mark_published,
            ],
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.PUBLISHER,
            activities=[
                records.withdraw_posts,
                records.engagement_connections,
                records.schedule_publication,
                records.enqueue_publication,
                records.collect_metrics,
                records.period_summary,
            ],
        ),
        Worker(
            env.client,
            task_queue=prefix + platform_queue(Channel.SANDBOX),
            activities=[records.publish],
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.LISTENING,
            activities=[records.start_listening, records.stop_listening],
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.REPORTING,
            activities=[records.period_kpis],
        ),
    ]
    async with contextlib.AsyncExitStack() as running:
        for worker in workers:
            await running.enter_async_context(worker)
        yield await env.client.start_workflow(
            EngagementWorkflow.run,
            engagement,
            id=f"engagement-{engagement.engagement_id}",
            task_queue=prefix + task_queues.WORKFLOWS,
        )


async def state_when(
    handle: Handle, condition: Callable[[EngagementState], bool]
) -> EngagementState:
    async with asyncio.timeout(15):
        while True:
            state: EngagementState = await handle.query(STATE_QUERY, result_type=EngagementState)
            if condition(state):
                return state
            await asyncio.sleep(0.02)


def waiting_at(gate: Gate) -> Callable[[EngagementState], bool]:
    return lambda state: any(pending.gate is gate for pending in state.pending_approvals)


def manager(subject: str = "pm") -> Actor:
    return Actor(subject=subject, roles=[Role.MANAGER], all_organizations=True)


def client_approver(organization_id: uuid.UUID, subject: str = "client") -> Actor:
    return Actor(subject=subject, roles=[Role.CLIENT_APPROVER], organizations=[organization_id])


def approver_for(gate: Gate, engagement: EngagementInput) -> Actor:
    if gate in (Gate.BRIEF, Gate.STRATEGY):
        return client_approver(engagement.organization_id)
    return manager()


async def decide(
    handle: Handle,
    actor: Actor,
    gate: Gate,
    decision: Decision = Decision.APPROVE,
    reason: str = "",
) -> ApprovalOutcome:
    outcome: ApprovalOutcome = await handle.execute_update(
        APPROVE_UPDATE,
        ApprovalRequest(actor=actor, gate=gate, decision=decision, reason=reason),
        result_type=ApprovalOutcome,
    )
    return outcome


async def approve_when_waiting(
    env: WorkflowEnvironment, handle: Handle, engagement: EngagementInput, gate: Gate
) -> None:
    if gate is Gate.GO_LIVE:
        # Seeding runs its course before the go-live is asked.
        await env.sleep(engagement.timing.real(engagement.timing.seeding_days) + timedelta(hours=1))
    await state_when(handle, waiting_at(gate))
    await decide(handle, approver_for(gate, engagement), gate)


async def refusal(update: Any) -> ApplicationError:
    """The application error a rejected update carries."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await update
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


async def reach_post_launch(
    env: WorkflowEnvironment, handle: Handle, engagement: EngagementInput
) -> EngagementState:
    for gate in (Gate.BRIEF, Gate.STRATEGY, Gate.EDITORIAL_PLAN, Gate.GO_LIVE):
        await approve_when_waiting(env, handle, engagement, gate)
    await env.sleep(engagement.timing.real(engagement.timing.launch_days) + timedelta(hours=1))
    return await state_when(handle, lambda state: state.phase is Phase.POST_LAUNCH)
