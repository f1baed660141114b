"""``EngagementWorkflow`` on the time-skipping test server: months run in seconds.

The strategy and content activities are in-memory records under their real names
(tests/lifecycle_helpers.py); timers are skipped over instead of waited for.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from services.strategy.contracts import DeliverableKind, DeliverableStatus, DeliverableVersionRef
from shared.auth import Role
from shared.domain import InterventionMode, Phase
from tests.lifecycle_helpers import (
    ServiceRecords,
    approve_when_waiting,
    client_approver,
    decide,
    engagement_input,
    manager,
    reach_post_launch,
    refusal,
    running_engagement,
    start_time_skipping,
    state_when,
    waiting_at,
)
from workflows.engagement.messages import (
    CANCEL_UPDATE,
    COMPLETE_TASK_UPDATE,
    PAUSE_UPDATE,
    REQUEST_INTERVENTION_UPDATE,
    RESUME_UPDATE,
    Actor,
    ControlOutcome,
    ControlRequest,
    Decision,
    EngagementState,
    EngagementStatus,
    Gate,
    Intervention,
    InterventionRequest,
    Task,
    TaskCompletion,
    TaskKind,
    TaskOwner,
    TaskStatus,
)
from workflows.engagement.phases import GATE_AFTER

HISTORIES = Path(__file__).parent / "histories"
GATES = list(GATE_AFTER.values())
EDITORIAL_RULES = {
    "rules": [
        {
            "id": "kitchen",
            "pillar": "Dalla nostra cucina",
            "formats": ["image"],
            "channels": ["sandbox", "instagram"],
            "days": [1, 4],
            "windows": [{"start": "12:00", "end": "13:30"}],
            "cadence": {"per": "week", "count": 2},
            "target": "Foodie couples",
        }
    ]
}
WORKFLOW_TASK_BOOKKEEPING = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}


# A server per test: one test's workflows still running (children a cancelled engagement
# abandoned, say) would otherwise hold the next test's skipped clock.
@pytest.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


def _save_history(name: str, history_json: str) -> None:
    if os.environ.get("ENGAGE_RECORD_HISTORIES"):
        (HISTORIES / f"{name}.json").write_text(history_json)


async def test_six_month_engagement_runs_every_phase_and_weekly_cycle_to_completion(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    # The contract's support starts on a fixed date, after seeding (14 days) and launch (7) are
    # over whenever the test runs: the skipped clock may cross a midnight on the way there.
    engagement = engagement_input(
        starts_on=date.today() + timedelta(days=22), length=timedelta(days=161)
    )
    async with running_engagement(time_skipping, records, engagement) as handle:
        first_run = handle.first_execution_run_id
        for gate in GATES:
            await approve_when_waiting(time_skipping, handle, engagement, gate)
        result = await handle.result()
        first_history = await time_skipping.client.get_workflow_handle(
            handle.id, run_id=first_run
        ).fetch_history()
        last_history = await time_skipping.client.get_workflow_handle(handle.id).fetch_history()

    assert result.status is EngagementStatus.COMPLETED
    assert result.phase is Phase.POST_LAUNCH
    started = [step.phase for step in records.events("phase_started")]
    assert started == list(Phase)
    assert [step.phase for step in records.events("phase_completed")] == list(Phase)
    assert [step.details["gate"] for step in records.events("approval_granted")] == GATES
    calendar = result.post_launch
    assert calendar is not None
    # Post-launch starts after 14 days of seeding and 7 of launch, and runs weekly to ends_on.
    began = records.events("engagement_started")[0].occurred_at
    assert calendar.started_at - began >= timedelta(days=21)
    assert calendar.starts_on == engagement.starts_on
    assert calendar.cycles_total == 24
    assert calendar.cycles_done == calendar.cycles_total
    reports = [d for d in result.deliverables if d.name == "periodic_report"]
    assert [report.reference["cycle"] for report in reports] == list(range(1, 25))
    assert reports[-1].reference["period_end"] == engagement.ends_on.isoformat()
    # History stays bounded: the first run handed over to a new one.
    assert (
        first_history.events[-1].event_type
        == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    )
    assert last_history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    # Nothing was recorded twice, across runs included.
    keys = Counter(step.idempotency_key for step in records.steps)
    assert [key for key, count in keys.items() if count > 1] == []
    assert len(records.events("engagement_started")) == 1
    assert len(records.events("engagement_completed")) == 1
    # Tasks nobody completed were escalated to the project manager, once each.
    overdue = records.events("task_overdue")
    assert len(overdue) == len(result.tasks) > 0
    assert {step.details["escalated_to"] for step in overdue} == {"manager"}
    assert all(task.overdue and task.escalated_to is Role.MANAGER for task in result.tasks)
    # The contract is over: its listening queries are stopped, and that is recorded.
    [stop] = records.listening_stops
    assert (stop.engagement_id, stop.organization_id, stop.stopped_by) == (
        engagement.engagement_id,
        engagement.organization_id,
        f"engagement-{engagement.engagement_id}",
    )
    listening = next(d for d in result.deliverables if d.name == "listening_stop")
    assert listening.reference == {
        "status": "done",
        "stopped": 2,
        "already_stopped": 1,
        "sources_stopped": 0,
    }
    [recorded] = [
        s for s in records.events("deliverable_recorded") if s.details["name"] == "listening_stop"
    ]
    assert recorded.idempotency_key == "complete/deliverable/listening_stop"
    # Seeding switched the queries waiting for it on by itself: nobody was asked to.
    [start] = records.listening_starts
    assert (start.engagement_id, start.organization_id, start.started_by) == (
        engagement.engagement_id,
        engagement.organization_id,
        "lifecycle",
    )
    assert [task.id for task in result.tasks if task.id.endswith("-listening")] == []
    assert {task.id for task in result.tasks} >= {"seeding-0-first-content", "seeding-0-outreach"}
    switched = next(d for d in result.deliverables if d.name == "listening_start")
    assert switched.reference == {"status": "done", "started": 1, "already_active": 2}
    # Recorded under a name of its own: the first runs of earlier code stay as recorded.
    _save_history("engagement-listening-started-at-seeding", first_history.to_json())
    # Committed histories of earlier code stay as they were recorded (tests/test_replay.py).
    _save_history("engagement-completed-listening-stopped", last_history.to_json())


@pytest.mark.parametrize(
    ("mode", "operational_owner", "extras"),
    [
        (InterventionMode.REALIZZAZIONE, TaskOwner.AGENCY, set()),
        (
            InterventionMode.AFFIANCAMENTO,
            TaskOwner.SHARED,
            {(TaskKind.KNOWLEDGE_TRANSFER, TaskOwner.SHARED)},
        ),
        (
            InterventionMode.FORMAZIONE,
            TaskOwner.CLIENT,
            {(TaskKind.TRAINING, TaskOwner.AGENCY), (TaskKind.REVIEW, TaskOwner.AGENCY)},
        ),
    ],
)
async def test_each_mode_gives_tasks_to_the_right_owner_in_every_phase(
    time_skipping: WorkflowEnvironment,
    mode: InterventionMode,
    operational_owner: TaskOwner,
    extras: set[tuple[TaskKind, TaskOwner]],
) -> None:
    records = ServiceRecords()
    engagement = engagement_input(mode)
    async with running_engagement(time_skipping, records, engagement) as handle:
        state = await reach_post_launch(time_skipping, handle, engagement)
        await handle.terminate()
    for phase in Phase:
        tasks = [task for task in state.tasks if task.phase is phase]
        operational = [task for task in tasks if task.kind is TaskKind.OPERATIONAL]
        assert operational, phase
        assert {task.owner for task in operational} == {operational_owner}
        assert {(t.kind, t.owner) for t in tasks if t not in operational} == extras
    client_can_complete = (
        Role.CLIENT_APPROVER
        in next(task for task in state.tasks if task.kind is TaskKind.OPERATIONAL).assignee_roles
    )
    assert client_can_complete is (mode is not InterventionMode.REALIZZAZIONE)
    created = records.events("task_created")
    assert sorted(step.details["task_id"] for step in created) == sorted(t.id for t in state.tasks)


async def test_approval_validators_refuse_before_anything_enters_history(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input()
    async with running_engagement(time_skipping, records, engagement) as handle:
        await state_when(handle, waiting_at(Gate.BRIEF))
        before = await handle.fetch_history()
        editor = Actor(subject="ed", roles=[Role.EDITOR], all_organizations=True)
        other_client = client_approver(uuid.uuid4())
        own_client = client_approver(engagement.organization_id)
        wrong_role = await refusal(decide(handle, editor, Gate.BRIEF))
        wrong_org = await refusal(decide(handle, other_client, Gate.BRIEF))
        wrong_phase = await refusal(decide(handle, manager(), Gate.GO_LIVE))
        no_reason = await refusal(decide(handle, own_client, Gate.BRIEF, Decision.REJECT))
        manager_on_client_gate = await refusal(decide(handle, manager(), Gate.BRIEF))
        after = await handle.fetch_history()
        state = await state_when(handle, waiting_at(Gate.BRIEF))
        await handle.terminate()
    assert (wrong_role.type, wrong_org.type) == ("forbidden", "not-found")
    assert (wrong_phase.type, no_reason.type) == ("conflict", "validation-error")
    assert manager_on_client_gate.type == "forbidden"
    # The test server books a workflow task per rejected update (the real server does not);
    # no update was accepted and no command was issued.
    added = {event.event_type for event in after.events[len(before.events) :]}
    assert added <= WORKFLOW_TASK_BOOKKEEPING
    assert state.decisions == []
    assert records.events("approval_granted") == records.events("approval_rejected") == []


async def test_a_rejection_sends_the_phase_back_for_rework_and_asks_again(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input(InterventionMode.AFFIANCAMENTO)
    client = client_approver(engagement.organization_id)
    async with running_engagement(time_skipping, records, engagement) as handle:
        await state_when(handle, waiting_at(Gate.BRIEF))
        outcome = await decide(handle, client, Gate.BRIEF, Decision.REJECT, "Tone too formal")
        state = await state_when(
            handle, lambda s: any(p.revision == 1 for p in s.pending_approvals)
        )
        await decide(handle, client, Gate.BRIEF)
        design = await state_when(handle, waiting_at(Gate.STRATEGY))
        await handle.terminate()
    assert (outcome.decision, outcome.revision) == (Decision.REJECT, 0)
    assert state.phase is Phase.ANALYSIS
    assert state.revision == 1
    rework = state.task("analysis-1-rework")
    assert rework is not None
    assert rework.description == "Tone too formal"
    assert rework.owner is TaskOwner.SHARED
    assert [(d.decision, d.reason, d.decided_by) for d in design.decisions] == [
        (Decision.REJECT, "Tone too formal", "client"),
        (Decision.APPROVE, "", "client"),
    ]
    rejected = records.events("approval_rejected")
    assert [(s.details["reason"], s.actor) for s in rejected] == [("Tone too formal", "client")]
    revisions = [s.details["revision"] for s in records.events("phase_started")]
    assert revisions == [0, 1, 0]  # analysis, its rework, design
    assert design.phase is Phase.DESIGN


async def test_tasks_are_completed_by_their_owners_and_overdue_ones_escalate(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input(InterventionMode.FORMAZIONE)
    client = client_approver(engagement.organization_id)
    async with running_engagement(time_skipping, records, engagement) as handle:
        state = await state_when(handle, waiting_at(Gate.BRIEF))
        work = next(t for t in state.tasks if t.kind is TaskKind.OPERATIONAL)
        agency_completes = await refusal(
            handle.execute_update(
                COMPLETE_TASK_UPDATE,
                TaskCompletion(actor=manager(), task_id=work.id),
                result_type=Task,
            )
        )
        done: Task = await handle.execute_update(
            COMPLETE_TASK_UPDATE,
            TaskCompletion(actor=client, task_id=work.id, note="Assets listed"),
            result_type=Task,
        )
        again = await refusal(
            handle.execute_update(
                COMPLETE_TASK_UPDATE,
                TaskCompletion(actor=client, task_id=work.id),
                result_type=Task,
            )
        )
        unknown = await refusal(
            handle.execute_update(
                COMPLETE_TASK_UPDATE, TaskCompletion(actor=client, task_id="nope"), result_type=Task
            )
        )
        await time_skipping.sleep(timedelta(days=5, hours=1))
        escalated = await state_when(handle, lambda s: any(t.overdue for t in s.tasks))
        await handle.terminate()
    assert agency_completes.type == "forbidden"
    assert (again.type, unknown.type) == ("conflict", "not-found")
    assert (done.status, done.completed_by, done.note) == (
        TaskStatus.COMPLETED,
        "client",
        "Assets listed",
    )
    [completed_event] = records.events("task_completed")
    assert (completed_event.details["task_id"], completed_event.actor) == (work.id, "client")
    overdue_ids = {step.details["task_id"] for step in records.events("task_overdue")}
    open_ids = {t.id for t in escalated.tasks if t.status is TaskStatus.OPEN}
    assert overdue_ids == open_ids
    assert work.id not in overdue_ids


async def test_pause_holds_the_lifecycle_until_resumed(time_skipping: WorkflowEnvironment) -> None:
    records = ServiceRecords()
    engagement = engagement_input()
    client = client_approver(engagement.organization_id)
    control = ControlRequest(actor=manager(), reason="Client on holiday")
    async with running_engagement(time_skipping, records, engagement) as handle:
        for gate in GATES[:3]:
            await approve_when_waiting(time_skipping, handle, engagement, gate)
        await state_when(handle, lambda s: s.phase is Phase.SEEDING)
        paused: ControlOutcome = await handle.execute_update(
            PAUSE_UPDATE, control, result_type=ControlOutcome
        )
        pause_again = await refusal(
            handle.execute_update(PAUSE_UPDATE, control, result_type=ControlOutcome)
        )
        client_resumes = await refusal(
            handle.execute_update(
                RESUME_UPDATE, ControlRequest(actor=client), result_type=ControlOutcome
            )
        )
        await time_skipping.sleep(timedelta(days=30))
        still_paused = await state_when(handle, lambda s: True)
        resumed: ControlOutcome = await handle.execute_update(
            RESUME_UPDATE, ControlRequest(actor=manager()), result_type=ControlOutcome
        )
        waiting = await state_when(handle, waiting_at(Gate.GO_LIVE))
        await handle.terminate()
    assert (paused.status, paused.phase) == (EngagementStatus.PAUSED, Phase.SEEDING)
    assert (pause_again.type, client_resumes.type) == ("conflict", "forbidden")
    assert still_paused.status is EngagementStatus.PAUSED
    assert still_paused.pending_approvals == []
    assert resumed.status is EngagementStatus.RUNNING
    assert waiting.status is EngagementStatus.RUNNING
    [pause_event] = records.events("engagement_paused")
    assert (pause_event.actor, pause_event.details["reason"]) == ("pm", "Client on holiday")
    assert len(records.events("engagement_resumed")) == 1
    assert records.events("approval_requested")[-1].details["gate"] == "go_live"


async def test_interventions_become_tasks_during_post_launch_only(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input(InterventionMode.FORMAZIONE)
    client = client_approver(engagement.organization_id)
    ask = InterventionRequest(actor=client, title="Reply to a complaint", due_in_days=2)
    async with running_engagement(time_skipping, records, engagement) as handle:
        too_early = await refusal(
            handle.execute_update(REQUEST_INTERVENTION_UPDATE, ask, result_type=Intervention)
        )
        await reach_post_launch(time_skipping, handle, engagement)
        intervention: Intervention = await handle.execute_update(
            REQUEST_INTERVENTION_UPDATE, ask, result_type=Intervention
        )
        state = await state_when(handle, lambda s: True)
        await handle.terminate()
    assert too_early.type == "conflict"
    tasks = [t for t in state.tasks if t.intervention_id == intervention.id]
    assert [(t.kind, t.owner) for t in tasks] == [
        (TaskKind.INTERVENTION, TaskOwner.CLIENT),
        (TaskKind.REVIEW, TaskOwner.AGENCY),
    ]
    assert all(t.due_at - intervention.requested_at == timedelta(days=2) for t in tasks)
    [requested] = records.events("intervention_requested")
    assert (requested.actor, requested.details["task_ids"]) == ("client", intervention.task_ids)


async def test_cancel_runs_compensation_and_ends_cancelled(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    records.versions = [
        DeliverableVersionRef(
            deliverable_id=uuid.uuid4(),
            kind=DeliverableKind.BRIEF,
            version=2,
            status=DeliverableStatus.APPROVED,
        )
    ]
    engagement = engagement_input()
    async with running_engagement(time_skipping, records, engagement) as handle:
        first = await state_when(handle, waiting_at(Gate.BRIEF))
        without_reason = await refusal(
            handle.execute_update(
                CANCEL_UPDATE, ControlRequest(actor=manager()), result_type=ControlOutcome
            )
        )
        cancelled: ControlOutcome = await handle.execute_update(
            CANCEL_UPDATE,
            ControlRequest(actor=manager(), reason="Contract ended early"),
            result_type=ControlOutcome,
        )
        result: EngagementState = await handle.result()
        history = await handle.fetch_history()
    assert without_reason.type == "validation-error"
    assert cancelled.status is EngagementStatus.CANCELLED
    assert result.status is EngagementStatus.CANCELLED
    brief = next(d for d in first.deliverables if d.name == "brief")
    assert brief.reference["version"] == 2
    assert first.pending_approvals[0].missing_deliverables == ["state_of_the_art", "channel_mix"]
    names = [d.name for d in result.deliverables]
    assert names[-3:] == ["scheduled_posts_withdrawal", "listening_stop", "final_report"]
    [withdrawal] = records.withdrawals
    assert (withdrawal.engagement_id, withdrawal.reason, withdrawal.cancelled_by) == (
        engagement.engagement_id,
        "Contract ended early",
        "pm",
    )
    assert result.deliverables[-3].reference == {
        "status": "done",
        "cancelled": 2,
        "already_published": 1,
        "failed": 0,
    }
    [stop] = records.listening_stops
    assert (stop.engagement_id, stop.organization_id, stop.reason, stop.stopped_by) == (
        engagement.engagement_id,
        engagement.organization_id,
        "Contract ended early",
        "pm",
    )
    assert result.deliverables[-2].reference == {
        "status": "done",
        "stopped": 2,
        "already_stopped": 1,
        "sources_stopped": 0,
    }
    final_report = result.deliverables[-1].reference
    assert (final_report["reason"], final_report["phase_reached"]) == (
        "Contract ended early",
        "analysis",
    )
    assert all(task.status is TaskStatus.CANCELLED for task in result.tasks)
    assert result.pending_approvals == []
    [event] = records.events("engagement_cancelled")
    assert event.actor == "pm"
    assert sorted(event.details["cancelled_tasks"]) == sorted(t.id for t in result.tasks)
    # Committed histories of earlier code stay as they were recorded (tests/test_replay.py).
    _save_history("engagement-cancelled-listening-stopped", history.to_json())


async def test_a_cancellation_through_temporal_also_compensates(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input(InterventionMode.AFFIANCAMENTO)
    async with running_engagement(time_skipping, records, engagement) as handle:
        await state_when(handle, waiting_at(Gate.BRIEF))
        await handle.cancel()
        result: EngagementState = await handle.result()
        history = await handle.fetch_history()
    assert result.status is EngagementStatus.CANCELLED
    [event] = records.events("engagement_cancelled")
    assert (event.actor, event.details["reason"]) == ("temporal", "cancelled through Temporal")
    assert result.deliverables[-1].name == "final_report"
    assert [w.cancelled_by for w in records.withdrawals] == ["temporal"]
    assert [stop.stopped_by for stop in records.listening_stops] == ["temporal"]
    _save_history("engagement-cancelled-through-temporal", history.to_json())


async def test_rework_a_completed_task_a_generated_plan_a_pause_and_an_intervention_in_one_run(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords(editorial_rules=EDITORIAL_RULES)
    engagement = engagement_input(length=timedelta(days=13))
    client = client_approver(engagement.organization_id)
    holiday = ControlRequest(actor=manager(), reason="Client on holiday")
    async with running_engagement(time_skipping, records, engagement) as handle:
        await state_when(handle, waiting_at(Gate.BRIEF))
        await decide(handle, client, Gate.BRIEF, Decision.REJECT, "Tone too formal")
        await state_when(handle, lambda s: any(p.revision == 1 for p in s.pending_approvals))
        await handle.execute_update(
            COMPLETE_TASK_UPDATE,
            TaskCompletion(actor=manager(), task_id="analysis-1-rework", note="Tone relaxed"),
            result_type=Task,
        )
        await decide(handle, client, Gate.BRIEF)
        for gate in GATES[1:]:
            await approve_when_waiting(time_skipping, handle, engagement, gate)
        await state_when(handle, lambda s: s.phase is Phase.LAUNCH)
        # Paused through the end of launch: its completion is recorded, post-launch waits.
        await handle.execute_update(PAUSE_UPDATE, holiday, result_type=ControlOutcome)
        launch = engagement.timing.real(engagement.timing.launch_days)
        await time_skipping.sleep(launch + timedelta(hours=1))
        held = await state_when(handle, lambda s: True)
        await handle.execute_update(
            RESUME_UPDATE, ControlRequest(actor=manager()), result_type=ControlOutcome
        )
        await state_when(handle, lambda s: s.phase is Phase.POST_LAUNCH)
        intervention: Intervention = await handle.execute_update(
            REQUEST_INTERVENTION_UPDATE,
            InterventionRequest(actor=client, title="Reply to a complaint"),
            result_type=Intervention,
        )
        result: EngagementState = await handle.result()
        history = await handle.fetch_history()
    assert (held.status, held.phase) == (EngagementStatus.PAUSED, Phase.LAUNCH)
    assert [step.phase for step in records.events("phase_completed")] == list(Phase)
    assert result.status is EngagementStatus.COMPLETED
    [generated] = records.plans_generated
    assert generated.rules.rules[0].id == "kitchen"
    plan = next(d for d in result.deliverables if d.name == "editorial_plan")
    assert plan.reference == {
        "plan_id": str(uuid.uuid5(engagement.engagement_id, "plan")),
        "generation": 1,
        "slots": 8,
        "rules_version": 1,
    }
    rework = result.task("analysis-1-rework")
    assert rework is not None
    assert (rework.status, rework.note) == (TaskStatus.COMPLETED, "Tone relaxed")
    overdue = {step.details["task_id"] for step in records.events("task_overdue")}
    assert set(intervention.task_ids) <= overdue
    assert "analysis-1-rework" not in overdue
    _save_history("engagement-rework-pause-intervention", history.to_json())
