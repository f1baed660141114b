"""Inputs, updates, query results and other messages of ``EngagementWorkflow``.

One model per message, so fields can be added without breaking running workflows.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.publisher.contracts import FailureClass
from shared.auth import Role
from shared.domain import Channel, InterventionMode, Phase
from shared.settings import LifecycleSettings

WORKFLOW_NAME = "EngagementWorkflow"
STATE_QUERY = "state"
APPROVE_UPDATE = "decide_approval"
COMPLETE_TASK_UPDATE = "complete_task"
REQUEST_INTERVENTION_UPDATE = "request_intervention"
PAUSE_UPDATE = "pause"
RESUME_UPDATE = "resume"
CANCEL_UPDATE = "cancel"
# Sent by a post's ``PublishPostWorkflow`` when it ends failed.
PUBLICATION_FAILED_SIGNAL = "publication_failed"

Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def workflow_id(engagement_id: uuid.UUID) -> str:
    return f"engagement-{engagement_id}"


class EngagementStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Gate(StrEnum):
    """Human approvals: after analysis, design and setup, and before launch."""

    BRIEF = "brief"
    STRATEGY = "strategy"
    EDITORIAL_PLAN = "editorial_plan"
    GO_LIVE = "go_live"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class TaskOwner(StrEnum):
    AGENCY = "agency"
    CLIENT = "client"
    SHARED = "shared"


class TaskKind(StrEnum):
    OPERATIONAL = "operational"
    KNOWLEDGE_TRANSFER = "knowledge_transfer"
    TRAINING = "training"
    REVIEW = "review"
    REWORK = "rework"
    INTERVENTION = "intervention"


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class LifecycleTiming(LifecycleSettings):
    """How long the lifecycle's steps take, in days of the engagement's calendar: the durations
    the settings give every new engagement (``ENGAGE_LIFECYCLE__*``), as its input carries them.

    ``time_scale`` compresses them: real time = engagement time x ``time_scale`` (``engage demo``
    runs six months in about two minutes); the calendar dates of the post-launch periods stay.
    """

    def real(self, days: float) -> timedelta:
        return timedelta(days=days * self.time_scale)


class Actor(BaseModel):
    """Who asks for a change: the gateway copies it from the caller's verified token."""

    subject: str
    roles: list[Role]
    organizations: list[uuid.UUID] = []
    all_organizations: bool = False

    def sees(self, organization_id: uuid.UUID) -> bool:
        return self.all_organizations or organization_id in self.organizations

    def holds_any(self, roles: frozenset[Role]) -> bool:
        return bool(set(self.roles) & roles)


class PendingApproval(BaseModel):
    gate: Gate
    phase: Phase
    revision: int
    approver_roles: list[Role]
    requested_at: datetime
    # Deliverables the gate expected and found no version of.
    missing_deliverables: list[str] = []


class ApprovalDecision(BaseModel):
    """A reviewer's decision, kept for good: rejections carry the comments for the rework."""

    gate: Gate
    phase: Phase
    revision: int
    decision: Decision
    decided_by: str
    reason: str
    decided_at: datetime


class Task(BaseModel):
    id: str
    title: str
    description: str = ""
    phase: Phase
    kind: TaskKind
    owner: TaskOwner
    assignee_roles: list[Role]
    due_at: datetime
    status: TaskStatus = TaskStatus.OPEN
    overdue: bool = False
    escalated_to: Role | None = None
    intervention_id: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    note: str = ""


class DeliverableRecord(BaseModel):
    """A phase's named output, recorded by reference (a deliverable version, a plan, ...)."""

    name: str
    phase: Phase
    revision: int
    reference: dict[str, Any]
    recorded_at: datetime


class Intervention(BaseModel):
    id: str
    title: str
    description: str
    requested_by: str
    requested_at: datetime
    task_ids: list[str]


class PostLaunchCalendar(BaseModel):
    """Where the weekly support cycles stand; carried across continue-as-new."""

    started_at: datetime
    starts_on: date
    cycles_total: int
    cycles_done: int = 0


class PublicationFailure(BaseModel):
    """A post of the engagement that failed for good (``publication_failed`` signal)."""

    publication_id: uuid.UUID
    channel: Channel
    # ``auth`` (the connection needs re-authorisation) or ``content_rejected``, mostly.
    failure_class: FailureClass
    detail: str = ""
    at: datetime
    # The organisation of the post, when the sender knows it: a failure of another organisation
    # is not the engagement's and is ignored. ``PublishPostWorkflow`` sends none (its input does
    # not carry the organisation), nor did failures recorded before the field existed.
    organization_id: uuid.UUID | None = None


class EngagementState(BaseModel):
    """What project managers see live (the ``state`` query); also the continue-as-new carry."""

    status: EngagementStatus
    phase: Phase
    revision: int = 0
    pending_approvals: list[PendingApproval] = []
    decisions: list[ApprovalDecision] = []
    tasks: list[Task] = []
    deliverables: list[DeliverableRecord] = []
    interventions: list[Intervention] = []
    post_launch: PostLaunchCalendar | None = None
    next_cycle_at: datetime | None = None
    # Numbers human requests (pause, resume, interventions) so each has its own event id.
    requests: int = 0
    # The most recent failed posts (at most ``FAILURES_KEPT``), and how many failed in all.
    publication_failures: list[PublicationFailure] = []
    publication_failures_total: int = 0

    def task(self, task_id: str) -> Task | None:
        return next((task for task in self.tasks if task.id == task_id), None)


class EngagementInput(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    mode: InterventionMode
    channels: list[Channel]
    starts_on: date
    ends_on: date
    # Prepended to the services' task queues (see shared/task_queues.py).
    task_queue_prefix: str = ""
    timing: LifecycleTiming = LifecycleTiming()
    # Handed to the posts the editorial plan schedules (ENGAGE_PUBLISHER__PUBLISH_TIMEOUT_SECONDS).
    publish_timeout_seconds: float = 300.0
    # Set only by continue-as-new: the state the previous run ended with.
    carried_state: EngagementState | None = None


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Actor
    gate: Gate
    decision: Decision
    reason: Reason = ""


class ApprovalOutcome(BaseModel):
    gate: Gate
    phase: Phase
    revision: int
    decision: Decision


class TaskCompletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Actor
    task_id: str
    note: Reason = ""


class InterventionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Actor
    title: Title
    description: Reason = ""
    due_in_days: float | None = Field(None, gt=0, le=365)


class ControlRequest(BaseModel):
    """Pause, resume or cancel; a cancellation needs a reason."""

    model_config = ConfigDict(extra="forbid")

    actor: Actor
    reason: Reason = ""


ControlDone = Literal["paused", "resumed", "cancelled"]


class ControlOutcome(BaseModel):
    status: EngagementStatus
    phase: Phase
    action: ControlDone
