"""An engagement's summary, folded from its lifecycle facts: what the list of engagements shows
and filters on (status, phase, waiting approvals, open and overdue tasks, next deadline).

Facts of one engagement can be recorded out of order by concurrent activities (a task's overdue
timer fires while its creation is being recorded; a resume is accepted while its pause is), so
every rule gives the same summary in any order: a phase only moves forward, a decided approval
or a closed task stays so, an overdue task stays overdue, the latest pause or resume wins, and an
ended engagement stays ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from services.strategy.contracts import LifecycleEventName, LifecycleStep
from shared.auth import Role
from shared.domain import Phase

Event = LifecycleEventName
PHASE_ORDER = {phase: index for index, phase in enumerate(Phase)}


class SummaryStatus(StrEnum):
    """The engagement's status as its facts tell it (``EngagementWorkflow``'s own values)."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


ENDED = frozenset({SummaryStatus.COMPLETED, SummaryStatus.CANCELLED})


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskMark(BaseModel):
    """What the summary keeps of a task; closed tasks stay, so a late fact cannot reopen them."""

    assignee_roles: list[Role] = []
    due_at: datetime | None = None
    status: TaskStatus = TaskStatus.OPEN
    overdue: bool = False


class WaitingApproval(BaseModel):
    gate: str
    phase: Phase
    revision: int
    approver_roles: list[Role]
    requested_at: datetime
    missing_deliverables: list[str] = []


class Summary(BaseModel):
    status: SummaryStatus = SummaryStatus.RUNNING
    phase: Phase = Phase.ANALYSIS
    revision: int = 0
    pending_approvals: list[WaitingApproval] = []
    # ``<gate>/<revision>`` of every decision, so a late request cannot open its gate again.
    decided: list[str] = []
    tasks: dict[str, TaskMark] = {}
    # When the status last changed through a pause or a resume: orders those facts.
    status_changed_at: datetime | None = None
    # When the latest fact the summary reflects happened.
    updated_at: datetime | None = None

    @property
    def open_tasks(self) -> list[TaskMark]:
        return [task for task in self.tasks.values() if task.status is TaskStatus.OPEN]

    @property
    def overdue_tasks(self) -> int:
        return sum(task.overdue for task in self.open_tasks)

    @property
    def next_deadline(self) -> datetime | None:
        """The earliest due date of an open task not yet overdue."""
        dues = [t.due_at for t in self.open_tasks if not t.overdue and t.due_at is not None]
        return min(dues, default=None)

    @property
    def waiting_roles(self) -> list[Role]:
        """Roles that can act now: give a waiting approval (not while paused) or complete an
        open task (not once the engagement has ended)."""
        if self.status in ENDED:
            return []
        roles = {role for task in self.open_tasks for role in task.assignee_roles}
        if self.status is SummaryStatus.RUNNING:
            roles.update(role for p in self.pending_approvals for role in p.approver_roles)
        return sorted(roles)


def fold(summary: Summary, steps: Iterable[LifecycleStep]) -> Summary:
    for step in steps:
        apply(summary, step)
    return summary


def apply(summary: Summary, step: LifecycleStep) -> None:
    details = step.details
    if summary.updated_at is None or step.occurred_at > summary.updated_at:
        summary.updated_at = step.occurred_at
    match step.event:
        case Event.PHASE_STARTED:
            _advance(summary, step.phase, int(details.get("revision", 0)))
        case Event.APPROVAL_REQUESTED:
            _request_approval(summary, step)
        case Event.APPROVAL_GRANTED | Event.APPROVAL_REJECTED:
            gate, revision = str(details["gate"]), int(details.get("revision", 0))
            summary.decided.append(f"{gate}/{revision}")
            summary.pending_approvals = [
                waiting
                for waiting in summary.pending_approvals
                if not (waiting.gate == gate and waiting.revision <= revision)
            ]
        case Event.TASK_CREATED:
            task = _task(summary, details)
            task.assignee_roles = [Role(role) for role in details.get("assignee_roles", [])]
            task.due_at = datetime.fromisoformat(details["due_at"])
        case Event.TASK_COMPLETED:
            _task(summary, details).status = TaskStatus.COMPLETED
        case Event.TASK_OVERDUE:
            _task(summary, details).overdue = True
        case Event.ENGAGEMENT_PAUSED | Event.ENGAGEMENT_RESUMED:
            _pause_or_resume(summary, step)
        case Event.ENGAGEMENT_COMPLETED:
            summary.status = SummaryStatus.COMPLETED
            summary.pending_approvals = []
        case Event.ENGAGEMENT_CANCELLED:
            summary.status = SummaryStatus.CANCELLED
            summary.pending_approvals = []
            for task_id in details.get("cancelled_tasks", []):
                mark = summary.tasks.setdefault(task_id, TaskMark())
                if mark.status is TaskStatus.OPEN:
                    mark.status = TaskStatus.CANCELLED


def _advance(summary: Summary, phase: Phase, revision: int) -> None:
    if (PHASE_ORDER[phase], revision) >= (PHASE_ORDER[summary.phase], summary.revision):
        summary.phase, summary.revision = phase, revision


def _request_approval(summary: Summary, step: LifecycleStep) -> None:
    details = step.details
    waiting = WaitingApproval(
        gate=details["gate"],
        phase=step.phase,
        revision=int(details.get("revision", 0)),
        approver_roles=[Role(role) for role in details.get("approver_roles", [])],
        requested_at=step.occurred_at,
        missing_deliverables=list(details.get("missing_deliverables", [])),
    )
    if summary.status in ENDED or f"{waiting.gate}/{waiting.revision}" in summary.decided:
        return
    summary.pending_approvals = [
        *(p for p in summary.pending_approvals if p.gate != waiting.gate),
        waiting,
    ]


def _task(summary: Summary, details: dict[str, Any]) -> TaskMark:
    return summary.tasks.setdefault(str(details["task_id"]), TaskMark())


def _pause_or_resume(summary: Summary, step: LifecycleStep) -> None:
    if summary.status in ENDED:
        return
    if summary.status_changed_at is not None and step.occurred_at < summary.status_changed_at:
        return
    paused = step.event is Event.ENGAGEMENT_PAUSED
    summary.status = SummaryStatus.PAUSED if paused else SummaryStatus.RUNNING
    summary.status_changed_at = step.occurred_at
