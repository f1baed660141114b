"""Bodies the gateway adds on top of the services' own schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.strategy.schemas import EngagementCreate, EngagementOut
from shared.auth import Principal
from shared.domain import Phase
from workflows.engagement.messages import (
    ApprovalDecision,
    Decision,
    DeliverableRecord,
    EngagementState,
    EngagementStatus,
    Gate,
    Intervention,
    PendingApproval,
    PostLaunchCalendar,
    Reason,
    Task,
    TaskStatus,
    Title,
)


class LiveState(BaseModel):
    """What a project manager sees of a running engagement (from its workflow's state)."""

    status: EngagementStatus
    phase: Phase
    revision: int = Field(description="Reworks of the current phase after a rejection")
    pending_approvals: list[PendingApproval]
    open_tasks: list[Task] = Field(description="Open tasks, overdue ones included")
    overdue_tasks: list[Task]
    deliverables: list[DeliverableRecord]
    decisions: list[ApprovalDecision] = Field(description="Every gate decision, with reasons")
    interventions: list[Intervention]
    post_launch: PostLaunchCalendar | None
    next_deadline: datetime | None = Field(
        description="The earliest due date of an open task or the end of the support cycle"
    )

    @classmethod
    def of(cls, state: EngagementState) -> LiveState:
        open_tasks = [task for task in state.tasks if task.status is TaskStatus.OPEN]
        deadlines = [task.due_at for task in open_tasks if not task.overdue]
        if state.next_cycle_at is not None:
            deadlines.append(state.next_cycle_at)
        return cls(
            status=state.status,
            phase=state.phase,
            revision=state.revision,
            pending_approvals=state.pending_approvals,
            open_tasks=open_tasks,
            overdue_tasks=[task for task in open_tasks if task.overdue],
            deliverables=state.deliverables,
            decisions=state.decisions,
            interventions=state.interventions,
            post_launch=state.post_launch,
            next_deadline=min(deadlines, default=None),
        )

    def waits_for(self, principal: Principal) -> bool:
        """An approval or an open task the caller's roles can act on."""
        return any(principal.roles & set(p.approver_roles) for p in self.pending_approvals) or any(
            principal.roles & set(task.assignee_roles) for task in self.open_tasks
        )


class EngagementStart(EngagementCreate):
    """``POST /v1/engagements``: the engagement, and optionally how fast its lifecycle runs."""

    time_scale: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Compress this engagement's durations (real time = engagement time x "
        "time_scale), e.g. for `engage demo`; refused (422) when ENGAGE_ENVIRONMENT=prod. "
        "Default: ENGAGE_LIFECYCLE__TIME_SCALE",
    )


class EngagementView(EngagementOut):
    """An engagement with its live workflow state (``null`` until its workflow has started)."""

    state: LiveState | None


class ApprovalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gate: Gate
    decision: Decision
    reason: Reason = Field("", description="Required when rejecting: the reviewer's comments")


class TaskCompletionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Reason = ""


class InterventionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Reason = ""
    due_in_days: float | None = Field(
        None, gt=0, le=365, description="Default: the lifecycle's intervention due days"
    )


class ControlBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field("", description="Required to cancel")
