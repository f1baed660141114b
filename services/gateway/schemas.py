"""Bodies the gateway adds on top of the services' own schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.strategy.schemas import EngagementOut
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
    PublicationFailure,
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
    publication_failures: list[PublicationFailure] = Field(
        description="The engagement's most recent posts that failed for good (at most 20)"
    )
    publication_failures_total: int = Field(description="Posts that failed for good, in all")

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
            publication_failures=state.publication_failures,
            publication_failures_total=state.publication_failures_total,
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
