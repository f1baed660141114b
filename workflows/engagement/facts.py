"""The lifecycle's facts as steps for ``strategy.record_lifecycle_events``.

Each builder fixes one event's ``details`` (the event data beyond ``engagement_id``,
``organization_id`` and ``phase``) and its idempotency key, which names the fact within its
engagement so that a retried or replayed recording publishes it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.strategy.contracts import LifecycleEventName, LifecycleStep
from shared.domain import Phase
from workflows.engagement.messages import (
    ApprovalDecision,
    Decision,
    DeliverableRecord,
    EngagementInput,
    Intervention,
    PendingApproval,
    Task,
)

Event = LifecycleEventName


def _step(
    event: Event,
    phase: Phase,
    key: str,
    now: datetime,
    details: dict[str, Any],
    actor: str | None = None,
) -> LifecycleStep:
    return LifecycleStep(
        event=event,
        phase=phase,
        idempotency_key=key,
        occurred_at=now,
        actor=actor,
        details=details,
    )


def engagement_started(engagement: EngagementInput, now: datetime) -> LifecycleStep:
    details = {
        "mode": engagement.mode.value,
        "channels": [channel.value for channel in engagement.channels],
        "starts_on": engagement.starts_on.isoformat(),
        "ends_on": engagement.ends_on.isoformat(),
    }
    return _step(Event.ENGAGEMENT_STARTED, Phase.ANALYSIS, "started", now, details)


def phase_started(phase: Phase, revision: int, now: datetime) -> LifecycleStep:
    # The key the strategy service has always used for phase starts (same event id).
    key = f"{phase.value}/{revision}/started"
    return _step(Event.PHASE_STARTED, phase, key, now, {"revision": revision})


def phase_completed(phase: Phase, revision: int, now: datetime) -> LifecycleStep:
    key = f"{phase.value}/completed"
    return _step(Event.PHASE_COMPLETED, phase, key, now, {"revision": revision})


def deliverable_recorded(record: DeliverableRecord, key: str) -> LifecycleStep:
    details = {"name": record.name, "revision": record.revision, "reference": record.reference}
    return _step(Event.DELIVERABLE_RECORDED, record.phase, key, record.recorded_at, details)


def approval_requested(pending: PendingApproval) -> LifecycleStep:
    details = {
        "gate": pending.gate.value,
        "revision": pending.revision,
        "approver_roles": [role.value for role in pending.approver_roles],
        "missing_deliverables": pending.missing_deliverables,
    }
    key = f"{pending.gate.value}/{pending.revision}/requested"
    return _step(Event.APPROVAL_REQUESTED, pending.phase, key, pending.requested_at, details)


def approval_decided(decision: ApprovalDecision) -> LifecycleStep:
    granted = decision.decision is Decision.APPROVE
    event = Event.APPROVAL_GRANTED if granted else Event.APPROVAL_REJECTED
    outcome = "granted" if granted else "rejected"
    details = {
        "gate": decision.gate.value,
        "revision": decision.revision,
        "reason": decision.reason,
    }
    key = f"{decision.gate.value}/{decision.revision}/{outcome}"
    return _step(event, decision.phase, key, decision.decided_at, details, decision.decided_by)


def task_created(task: Task, now: datetime) -> LifecycleStep:
    details = {
        "task_id": task.id,
        "title": task.title,
        "kind": task.kind.value,
        "owner": task.owner.value,
        "assignee_roles": [role.value for role in task.assignee_roles],
        "due_at": task.due_at.isoformat(),
        "intervention_id": task.intervention_id,
    }
    return _step(Event.TASK_CREATED, task.phase, f"task/{task.id}/created", now, details)


def task_completed(task: Task, phase: Phase) -> LifecycleStep:
    assert task.completed_at is not None
    details = {"task_id": task.id, "note": task.note}
    key = f"task/{task.id}/completed"
    return _step(Event.TASK_COMPLETED, phase, key, task.completed_at, details, task.completed_by)


def task_overdue(task: Task, phase: Phase, now: datetime) -> LifecycleStep:
    details = {
        "task_id": task.id,
        "due_at": task.due_at.isoformat(),
        "escalated_to": task.escalated_to.value if task.escalated_to else None,
    }
    return _step(Event.TASK_OVERDUE, phase, f"task/{task.id}/overdue", now, details)


def intervention_requested(intervention: Intervention) -> LifecycleStep:
    details = {
        "intervention_id": intervention.id,
        "title": intervention.title,
        "description": intervention.description,
        "task_ids": intervention.task_ids,
    }
    return _step(
        Event.INTERVENTION_REQUESTED,
        Phase.POST_LAUNCH,
        f"{intervention.id}/requested",
        intervention.requested_at,
        details,
        intervention.requested_by,
    )


def control(
    event: Event, phase: Phase, request_number: int, reason: str, actor: str, now: datetime
) -> LifecycleStep:
    """``engagement_paused`` or ``engagement_resumed``: numbered, since both may repeat."""
    key = f"request/{request_number}/{event.value}"
    return _step(event, phase, key, now, {"reason": reason}, actor)


def engagement_completed(cycles: int, now: datetime) -> LifecycleStep:
    details = {"post_launch_cycles": cycles}
    return _step(Event.ENGAGEMENT_COMPLETED, Phase.POST_LAUNCH, "completed", now, details)


def engagement_cancelled(
    phase: Phase, reason: str, cancelled_tasks: list[str], actor: str, now: datetime
) -> LifecycleStep:
    details = {"reason": reason, "cancelled_tasks": cancelled_tasks}
    return _step(Event.ENGAGEMENT_CANCELLED, phase, "cancelled", now, details, actor)
