"""``EngagementWorkflow`` working through the publisher, on the time-skipping test server: setup
asks which channels are connected, seeding and launch publish the approved plan
(``PublishPlanWorkflow`` and the posts' own workflows run for real over recorded activities),
every support cycle publishes again, collects the engagement's metrics and records the report
of ``PeriodicReportWorkflow`` (the reporting service's KPIs of the cycle's window), and a post that
fails for good shows on the engagement.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.content.contracts import ApprovedVariant
from services.content.plan.contracts import PlanSnapshot
from services.content.plan.schemas import PlanStatus, SlotOut
from services.publisher.contracts import (
    ChannelConnection,
    PostMetricsTotals,
    PublishPostInput,
    PublishPostState,
    SchedulePublicationCommand,
    VariantToPublish,
    platform_queue,
)
from services.reporting.contracts import EngagementKpis
from shared import task_queues
from shared.auth import Role
from shared.domain import Channel, ContentKind, Phase
from tests.lifecycle_helpers import (
    ServiceRecords,
    approve_when_waiting,
    engagement_input,
    manager,
    running_engagement,
    start_time_skipping,
    state_when,
    waiting_at,
)
from tests.test_lifecycle_workflow import _save_history
from tests.test_replay import replayer
from workflows.engagement.messages import (
    CANCEL_UPDATE,
    PUBLICATION_FAILED_SIGNAL,
    ControlOutcome,
    ControlRequest,
    EngagementInput,
    EngagementStatus,
    Gate,
    LifecycleTiming,
    TaskKind,
    TaskOwner,
    TaskStatus,
)
from workflows.publishing.workflow import PublishPostWorkflow

SANDBOX_CONNECTION = ChannelConnection(
    channel=Channel.SANDBOX,
    status="connected",
    connection_id=uuid.UUID("5a1d0c0e-0000-4000-8000-000000000001"),
    account_id="acct-0001",
    display_name="Il Sentiero (sandbox)",
)


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


def slot(channel: Channel, starts_at: datetime, variant_id: uuid.UUID | None) -> SlotOut:
    return SlotOut(
        id=uuid.uuid4(),
        rule_id="weekly",
        channel=channel,
        pillar="Vita in agriturismo",
        target="famiglie",
        formats=[ContentKind.TEXT],
        local_start=starts_at,
        starts_at=starts_at,
        day=starts_at.date(),
        iso_week=f"{starts_at.isocalendar().year}-W{starts_at.isocalendar().week:02d}",
        month=starts_at.strftime("%Y-%m"),
        variant_id=variant_id,
        filled_by="editor" if variant_id else None,
        filled_at=starts_at - timedelta(days=7) if variant_id else None,
    )


def approved_variant(engagement: EngagementInput, channel: Channel, text: str) -> ApprovedVariant:
    return ApprovedVariant(
        item_id=uuid.uuid4(),
        variant_id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.engagement_id,
        channel=channel,
        title=None,
        text=text,
        link=None,
        media=[],
    )


async def test_setup_checks_the_connections_and_the_gate_lists_what_is_missing(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords(connections={Channel.SANDBOX: SANDBOX_CONNECTION})
    engagement = engagement_input()
    async with running_engagement(time_skipping, records, engagement) as handle:
        for gate in (Gate.BRIEF, Gate.STRATEGY):
            await approve_when_waiting(time_skipping, handle, engagement, gate)
        at_gate = await state_when(handle, waiting_at(Gate.EDITORIAL_PLAN))
        await approve_when_waiting(time_skipping, handle, engagement, Gate.EDITORIAL_PLAN)
        seeding = await state_when(
            handle, lambda s: any(d.name == "plan_publishing" for d in s.deliverables)
        )
        await handle.terminate()

    connections = next(d for d in at_gate.deliverables if d.name == "channel_connections")
    assert connections.phase is Phase.SETUP
    assert connections.reference == {
        "verified": True,
        "channels": [
            {
                "channel": "sandbox",
                "status": "connected",
                "connection_id": str(SANDBOX_CONNECTION.connection_id),
                "account_id": "acct-0001",
                "display_name": "Il Sentiero (sandbox)",
            },
            {
                "channel": "instagram",
                "status": "missing",
                "connection_id": None,
                "account_id": None,
                "display_name": None,
            },
        ],
    }
    [pending] = at_gate.pending_approvals
    # No plan either: the manager sees both and may approve anyway.
    assert pending.missing_deliverables == ["channel_connection:instagram", "editorial_plan"]
    [query] = records.connection_queries[:1]
    assert (query.organization_id, query.channels) == (
        engagement.organization_id,
        [Channel.SANDBOX, Channel.INSTAGRAM],
    )
    [plan_publishing] = [d for d in seeding.deliverables if d.name == "plan_publishing"]
    assert plan_publishing.phase is Phase.SEEDING
    assert plan_publishing.reference == {
        "status": "skipped",
        "workflow_id": f"plan-publishing-{engagement.engagement_id}",
        "reason": "no_plan",
    }
    recorded = [s for s in records.events("deliverable_recorded") if s.phase is Phase.SEEDING]
    # Seeding switches listening on, then publishes: both recorded as they happen.
    assert [step.details["name"] for step in recorded] == ["listening_start", "plan_publishing"]


async def test_without_a_connection_nothing_is_published(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input()
    async with running_engagement(time_skipping, records, engagement) as handle:
        for gate in (Gate.BRIEF, Gate.STRATEGY, Gate.EDITORIAL_PLAN):
            await approve_when_waiting(time_skipping, handle, engagement, gate)
        seeding = await state_when(
            handle, lambda s: any(d.name == "plan_publishing" for d in s.deliverables)
        )
        await handle.terminate()
    requested = [
        step.details["missing_deliverables"]
        for step in records.events("approval_requested")
        if step.details["gate"] == "editorial_plan"
    ]
    assert requested == [
        ["channel_connection:sandbox", "channel_connection:instagram", "editorial_plan"]
    ]
    plan_publishing = next(d for d in seeding.deliverables if d.name == "plan_publishing")
    assert plan_publishing.reference == {"status": "skipped", "reason": "no_connection"}
    assert records.scheduled == {}


async def test_the_plan_is_published_from_seeding_on_and_every_cycle_reports() -> None:
    # A server of its own: the posts it leaves behind must not fall due in another test.
    async with await start_time_skipping() as time_skipping:
        await _publish_the_plan_and_report(time_skipping)


async def _publish_the_plan_and_report(time_skipping: WorkflowEnvironment) -> None:
    engagement = engagement_input(
        length=timedelta(days=34), timing=LifecycleTiming(cycles_per_run=1)
    )
    now = datetime.now(UTC).replace(microsecond=0)
    first = approved_variant(engagement, Channel.SANDBOX, "Colazione in terrazza")
    second = approved_variant(engagement, Channel.SANDBOX, "Il sentiero dei cappuccini")
    elsewhere = approved_variant(engagement, Channel.INSTAGRAM, "Il sentiero all'alba")
    too_late = approved_variant(engagement, Channel.SANDBOX, "Ieri")
    # The posts fall due after the engagement's run: the time-skipping server stops skipping
    # once a post completes under a parent (the planner) that has closed, which a real server
    # does not (posts published for real: tests/test_lifecycle_sandbox.py).
    later = now + timedelta(days=300)
    slots = [
        slot(Channel.SANDBOX, now - timedelta(days=1), too_late.variant_id),
        slot(Channel.SANDBOX, later, first.variant_id),
        slot(Channel.INSTAGRAM, later, elsewhere.variant_id),
        slot(Channel.SANDBOX, later + timedelta(days=1), second.variant_id),
        slot(Channel.SANDBOX, later + timedelta(days=2), None),
    ]
    records = ServiceRecords(
        connections={Channel.SANDBOX: SANDBOX_CONNECTION},
        plan=PlanSnapshot(
            plan_id=uuid.uuid4(),
            engagement_id=engagement.engagement_id,
            organization_id=engagement.organization_id,
            status=PlanStatus.APPROVED,
            timezone="Europe/Rome",
            period_start=engagement.starts_on,
            period_end=engagement.ends_on,
            generation=3,
            slots=slots,
        ),
        variants=[first, second, elsewhere, too_late],
        period_metrics=PostMetricsTotals(impressions=340, reach=200, likes=21, comments=4),
    )
    async with running_engagement(time_skipping, records, engagement) as handle:
        first_run = handle.first_execution_run_id
        for gate in (Gate.BRIEF, Gate.STRATEGY, Gate.EDITORIAL_PLAN, Gate.GO_LIVE):
            await approve_when_waiting(time_skipping, handle, engagement, gate)
        result = await handle.result()
        first_history = await time_skipping.client.get_workflow_handle(
            handle.id, run_id=first_run
        ).fetch_history()
        last_history = await time_skipping.client.get_workflow_handle(handle.id).fetch_history()
        report_history = await time_skipping.client.get_workflow_handle(
            f"periodic-report-{engagement.engagement_id}-1"
        ).fetch_history()
        posts = {
            uuid.uuid5(uuid.NAMESPACE_URL, key): command
            for key, command in records.scheduled.items()
        }
        own_workflows = []
        for publication_id in posts:
            with contextlib.suppress(RPCError):
                own = time_skipping.client.get_workflow_handle(f"publication-{publication_id}")
                own_workflows.append((await own.describe()).workflow_type)

    assert result.status is EngagementStatus.COMPLETED
    published = {d.phase: d.reference for d in result.deliverables if d.name == "plan_publishing"}
    plan_id = f"plan-publishing-{engagement.engagement_id}"
    assert published[Phase.SEEDING] == {
        "status": "done",
        "workflow_id": plan_id,
        "plan_generation": 3,
        "connections": {"sandbox": str(SANDBOX_CONNECTION.connection_id)},
        "scheduled": 2,
        "skipped": {"no_connection": 1, "past": 1, "unfilled": 1},
    }
    # Launch runs the planner again: what it placed is no longer waiting for a slot.
    assert published[Phase.LAUNCH]["scheduled"] == 0
    assert published[Phase.LAUNCH]["skipped"] == {
        "no_connection": 1,
        "not_approved": 2,
        "past": 1,
        "unfilled": 1,
    }
    # Each post was placed once, for its slot, to wait for it in its minute's batch.
    assert sorted((c.variant.variant_id, c.due_at) for c in posts.values()) == sorted(
        [(first.variant_id, slots[1].starts_at), (second.variant_id, slots[3].starts_at)]
    )
    assert {c.connection_id for c in posts.values()} == {SANDBOX_CONNECTION.connection_id}
    assert {c.in_batch for c in posts.values()} == {True}
    # Each handed once to its minute's batch (the publisher's signal-with-start), with its item;
    # no post has a workflow of its own.
    items = {first.variant_id: first.item_id, second.variant_id: second.item_id}
    assert sorted((e.publication_id, e.item_id) for e in records.enqueued) == sorted(
        (publication_id, items[c.variant.variant_id]) for publication_id, c in posts.items()
    )
    assert own_workflows == []
    assert records.items_scheduled == {first.item_id, second.item_id}

    # Two weekly cycles, one per run: each published, collected and reported.
    calendar = result.post_launch
    assert calendar is not None
    assert calendar.cycles_done == calendar.cycles_total == 2
    assert [c.collection_key for c in records.collections] == [
        f"engagement-{engagement.engagement_id}/cycle/1",
        f"engagement-{engagement.engagement_id}/cycle/2",
    ]
    assert {(c.organization_id, c.engagement_id) for c in records.collections} == {
        (engagement.organization_id, engagement.engagement_id)
    }
    reports = [d.reference for d in result.deliverables if d.name == "periodic_report"]
    assert [report["cycle"] for report in reports] == [1, 2]
    assert reports[-1]["period_end"] == engagement.ends_on.isoformat()
    # Each cycle's report is the reporting service's KPIs of its window, the publisher's
    # summary no longer asked.
    assert records.period_queries == []
    queries = list(records.kpi_queries)
    first_period, second_period = queries
    assert first_period.ends_at == second_period.starts_at
    assert first_period.ends_at - first_period.starts_at == timedelta(days=7)
    assert first_period.starts_at == calendar.started_at
    for query, report in zip(queries, reports, strict=True):
        assert (query.engagement_id, query.organization_id) == (
            engagement.engagement_id,
            engagement.organization_id,
        )
        assert datetime.fromisoformat(report["window_start"]) == query.starts_at
        assert datetime.fromisoformat(report["window_end"]) == query.ends_at
        assert (report["posts_published"], report["posts_failed"]) == (2, 1)
        kpis = EngagementKpis.model_validate(report["kpis"])
        # Recorded whole, as the reporting service answered.
        assert kpis == await records.period_kpis(query)
        assert (kpis.period.starts_at, kpis.period.ends_at) == (query.starts_at, query.ends_at)
        publishing = kpis.publishing
        assert (publishing.published, publishing.failed) == (2, 1)
        assert (publishing.reach, publishing.impressions, publishing.engagements) == (200, 340, 25)
        assert publishing.engagement_rate == 0.125
        # What only the publisher's summary filled stays empty.
        assert (report["by_channel"], report["posts_with_metrics"], report["metrics"]) == (
            None,
            None,
            None,
        )
    cycle_plans = [
        d.reference
        for d in result.deliverables
        if d.name == "plan_publishing" and d.phase is Phase.POST_LAUNCH
    ]
    assert [(plan["cycle"], plan["status"], plan["scheduled"]) for plan in cycle_plans] == [
        (1, "done", 0),
        (2, "done", 0),
    ]

    assert (
        first_history.events[-1].event_type
        == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    )
    keys = Counter(step.idempotency_key for step in records.steps)
    assert [key for key, count in keys.items() if count > 1] == []
    for history in (first_history, last_history, report_history):
        replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, replayed.replay_failure
    _save_history("engagement-publishing-first-run", first_history.to_json())
    _save_history("engagement-publishing-last-run", last_history.to_json())
    _save_history("periodic-report-cycle", report_history.to_json())


def refused_post(
    records: ServiceRecords, engagement: EngagementInput, connection_id: uuid.UUID
) -> tuple[SchedulePublicationCommand, uuid.UUID]:
    """A post of the engagement, placed on the sandbox and refused there for good; with the id
    its publication gets."""
    variant = VariantToPublish(variant_id=uuid.uuid4())
    command = SchedulePublicationCommand(
        organization_id=engagement.organization_id,
        engagement_id=engagement.engagement_id,
        connection_id=connection_id,
        channel=Channel.SANDBOX,
        variant=variant,
        slot_id=uuid.uuid4(),
        due_at=datetime.now(UTC),
    )
    key = f"{variant.variant_id}:sandbox:{command.slot_id}"
    records.scheduled[key] = command
    records.refused_variants.add(variant.variant_id)
    return command, uuid.uuid5(uuid.NAMESPACE_URL, key)


async def run_post(
    env: WorkflowEnvironment,
    command: SchedulePublicationCommand,
    publication_id: uuid.UUID,
    prefix: str,
) -> PublishPostState:
    """The placed post's ``PublishPostWorkflow``, run to its end on the queues of ``prefix``."""
    post: PublishPostState = await env.client.execute_workflow(
        PublishPostWorkflow.run,
        PublishPostInput(
            publication_id=publication_id,
            channel="sandbox",
            due_at=command.due_at,
            task_queue_prefix=prefix,
            engagement_id=command.engagement_id,
        ),
        id=f"publication-{publication_id}",
        task_queue=prefix + task_queues.WORKFLOWS,
    )
    return post


async def test_a_post_that_fails_for_good_shows_on_the_engagement_with_a_task(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input()
    command, publication_id = refused_post(
        records, engagement, SANDBOX_CONNECTION.connection_id or uuid.uuid4()
    )
    async with running_engagement(time_skipping, records, engagement) as handle:
        await state_when(handle, waiting_at(Gate.BRIEF))
        prefix = (await handle.describe()).task_queue.removesuffix(task_queues.WORKFLOWS)
        post = await run_post(time_skipping, command, publication_id, prefix)
        shown = await state_when(handle, lambda s: s.publication_failures_total > 0)
        # Told twice (a replayed sender cannot, but a hand-sent signal can): shown once.
        await handle.signal(PUBLICATION_FAILED_SIGNAL, shown.publication_failures[0])
        cancelled: ControlOutcome = await handle.execute_update(
            CANCEL_UPDATE,
            ControlRequest(actor=manager(), reason="Client left"),
            result_type=ControlOutcome,
        )
        result = await handle.result()
        history = await handle.fetch_history()
        post_history = await time_skipping.client.get_workflow_handle(
            f"publication-{publication_id}"
        ).fetch_history()

    assert post.stage == "failed"
    assert cancelled.status is EngagementStatus.CANCELLED
    [failure] = result.publication_failures
    assert result.publication_failures_total == 1
    assert (failure.publication_id, failure.channel, failure.failure_class) == (
        publication_id,
        Channel.SANDBOX,
        "content_rejected",
    )
    assert failure.detail == "the platform refused the post: text too long"
    task = shown.task(f"publication-{publication_id}-failed")
    assert task is not None
    assert (task.kind, task.owner, task.phase, task.status) == (
        TaskKind.OPERATIONAL,
        TaskOwner.AGENCY,
        Phase.ANALYSIS,
        TaskStatus.OPEN,
    )
    assert Role.MANAGER in task.assignee_roles
    assert task.title == "The sandbox platform refused a post: look at it"
    assert str(publication_id) in task.description
    created = [s for s in records.events("task_created") if s.details["task_id"] == task.id]
    assert [(s.details["owner"], s.details["kind"]) for s in created] == [("agency", "operational")]
    # The cancellation closed it with the phase's own tasks.
    closed = result.task(task.id)
    assert closed is not None
    assert closed.status is TaskStatus.CANCELLED
    for replayable in (history, post_history):
        replayed = await replayer().replay_workflow(replayable, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, replayed.replay_failure
    _save_history("engagement-publication-failed", history.to_json())
    _save_history("publication-failed-tells-engagement", post_history.to_json())


async def test_a_failed_post_of_an_engagement_that_is_gone_ends_quietly(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input()
    command, publication_id = refused_post(records, engagement, uuid.uuid4())
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    async with (
        Worker(
            time_skipping.client,
            task_queue=prefix + task_queues.WORKFLOWS,
            workflows=[PublishPostWorkflow],
        ),
        Worker(
            time_skipping.client,
            task_queue=prefix + platform_queue(Channel.SANDBOX),
            activities=[records.publish],
        ),
    ):
        # No workflow engagement-<id> runs: the signal finds nobody.
        result = await run_post(time_skipping, command, publication_id, prefix)
    assert result.stage == "failed"
    assert result.last_error == "the platform refused the post: text too long"
    assert len(records.publish_attempts) == 1
