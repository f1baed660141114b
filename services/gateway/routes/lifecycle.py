"""``/v1/engagements/{id}/...``: the people's side of the lifecycle: approvals, tasks,
interventions, pause, resume and cancel. Each is an update of ``EngagementWorkflow`` whose
validator checks the caller's roles and organisation and the engagement's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from services.gateway.deps import EngagementDep, EngagementsDep
from services.gateway.engagements import actor_of
from services.gateway.schemas import (
    ApprovalBody,
    ControlBody,
    InterventionBody,
    TaskCompletionBody,
)
from shared.auth import CurrentPrincipal
from shared.paging import PageDep, encode_cursor, invalid_cursor, set_next_link
from workflows.engagement.messages import (
    APPROVE_UPDATE,
    CANCEL_UPDATE,
    COMPLETE_TASK_UPDATE,
    PAUSE_UPDATE,
    REQUEST_INTERVENTION_UPDATE,
    RESUME_UPDATE,
    ApprovalOutcome,
    ApprovalRequest,
    ControlOutcome,
    ControlRequest,
    Intervention,
    InterventionRequest,
    Task,
    TaskCompletion,
    TaskStatus,
)

router = APIRouter(prefix="/engagements/{engagement_id}", tags=["lifecycle"])


@router.post(
    "/approvals",
    response_model=ApprovalOutcome,
    summary="Approve or reject the waiting gate: brief and strategy (client_approver of the "
    "organisation), editorial_plan and go_live (admin, manager); a rejection needs a reason",
)
async def decide_approval(
    engagement: EngagementDep,
    body: ApprovalBody,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
) -> ApprovalOutcome:
    update = ApprovalRequest(actor=actor_of(principal, engagement), **body.model_dump())
    return await engagements.update(engagement, APPROVE_UPDATE, update, ApprovalOutcome)


@router.get(
    "/tasks",
    response_model=list[Task],
    summary="The engagement's human tasks, optionally by status or overdue, in the order they "
    "were opened, a page at a time (any role)",
)
async def list_engagement_tasks(
    engagement: EngagementDep,
    engagements: EngagementsDep,
    page: PageDep,
    request: Request,
    response: Response,
    status: TaskStatus | None = None,
    overdue: bool | None = None,
) -> list[Task]:
    state = await engagements.state(engagement)
    tasks = state.tasks if state is not None else []
    following = tasks[_after(tasks, page.cursor) :]
    wanted = [
        task
        for task in following
        if (status is None or task.status is status)
        and (overdue is None or task.overdue is overdue)
    ]
    held = wanted[: page.limit]
    if len(wanted) > page.limit:
        set_next_link(request, response, _task_cursor(held[-1]))
    return held


def _task_cursor(task: Task) -> str:
    return encode_cursor([task.id])


def _after(tasks: list[Task], cursor: str | None) -> int:
    """Where the page starts: after the cursor's task. The workflow only ever appends tasks, so
    a task keeps its place whatever its status becomes."""
    if cursor is None:
        return 0
    place = next((n for n, task in enumerate(tasks) if _task_cursor(task) == cursor), None)
    if place is None:
        raise invalid_cursor()
    return place + 1


@router.post(
    "/tasks/{task_id}/complete",
    response_model=Task,
    summary="Complete an open task (its assignee roles: agency staff, client_approver or both)",
)
async def complete_task(
    engagement: EngagementDep,
    task_id: Annotated[str, Path(max_length=200)],
    body: TaskCompletionBody,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
) -> Task:
    update = TaskCompletion(actor=actor_of(principal, engagement), task_id=task_id, note=body.note)
    return await engagements.update(engagement, COMPLETE_TASK_UPDATE, update, Task)


@router.post(
    "/interventions",
    response_model=Intervention,
    summary="Ask for an ad-hoc intervention during post_launch (admin, manager, client_approver)",
)
async def request_intervention(
    engagement: EngagementDep,
    body: InterventionBody,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
) -> Intervention:
    update = InterventionRequest(actor=actor_of(principal, engagement), **body.model_dump())
    return await engagements.update(engagement, REQUEST_INTERVENTION_UPDATE, update, Intervention)


async def _control(
    name: str,
    engagement: EngagementDep,
    body: ControlBody,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
) -> ControlOutcome:
    update = ControlRequest(actor=actor_of(principal, engagement), reason=body.reason)
    return await engagements.update(engagement, name, update, ControlOutcome)


@router.post(
    "/pause",
    response_model=ControlOutcome,
    summary="Pause a running engagement: no phase or cycle starts until resumed (admin, manager)",
)
async def pause_engagement(
    engagement: EngagementDep,
    body: ControlBody,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
) -> ControlOutcome:
    return await _control(PAUSE_UPDATE, engagement, body, engagements, principal)


@router.post(
    "/resume",
    response_model=ControlOutcome,
    summary="Resume a paused engagement (admin, manager)",
)
async def resume_engagement(
    engagement: EngagementDep,
    body: ControlBody,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
) -> ControlOutcome:
    return await _control(RESUME_UPDATE, engagement, body, engagements, principal)


@router.post(
    "/cancel",
    response_model=ControlOutcome,
    summary="Cancel with a reason: compensation runs and the engagement ends cancelled "
    "(admin, manager)",
)
async def cancel_engagement(
    engagement: EngagementDep,
    body: ControlBody,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
) -> ControlOutcome:
    return await _control(CANCEL_UPDATE, engagement, body, engagements, principal)
