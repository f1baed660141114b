"""Checks the update validators run before anything enters the workflow's history.

A refusal is an ``ApplicationError`` whose ``type`` is the problem kind the gateway answers with:
``not-found`` (404: the caller may not see the engagement or the task), ``forbidden`` (403: the
caller lacks the role), ``validation-error`` (422: a rejection or cancellation without a reason)
and ``conflict`` (409: the engagement is not in a state that takes the request).
"""

from __future__ import annotations

from typing import Any, Literal

from temporalio.exceptions import ApplicationError

from shared.auth import Role
from shared.domain import Phase
from workflows.engagement.messages import (
    Actor,
    ApprovalRequest,
    ControlRequest,
    Decision,
    EngagementInput,
    EngagementState,
    EngagementStatus,
    InterventionRequest,
    PendingApproval,
    Task,
    TaskCompletion,
    TaskStatus,
)
from workflows.engagement.phases import CONTROL_ROLES, GATE_APPROVERS, INTERVENTION_ROLES

NOT_FOUND = "not-found"
FORBIDDEN = "forbidden"
INVALID = "validation-error"
CONFLICT = "conflict"

ControlAction = Literal["pause", "resume", "cancel"]


def refuse(kind: str, message: str, **extensions: Any) -> ApplicationError:
    return ApplicationError(message, extensions, type=kind, non_retryable=True)


def _visible(actor: Actor, engagement: EngagementInput) -> None:
    if not actor.sees(engagement.organization_id):
        raise refuse(NOT_FOUND, f"engagement {engagement.engagement_id} was not found")


def _holds(actor_roles: set[Role], wanted: frozenset[Role], action: str) -> None:
    if not actor_roles & wanted:
        raise refuse(
            FORBIDDEN,
            f"{action} needs one of the roles: {', '.join(sorted(wanted))}",
            required_roles=sorted(wanted),
        )


def _running(state: EngagementState) -> None:
    if state.status is not EngagementStatus.RUNNING:
        raise refuse(
            CONFLICT, f"the engagement is {state.status.value}", current_status=state.status
        )


def check_approval(
    engagement: EngagementInput, state: EngagementState, request: ApprovalRequest
) -> PendingApproval:
    _visible(request.actor, engagement)
    _holds(set(request.actor.roles), GATE_APPROVERS[request.gate], f"the {request.gate} gate")
    if request.decision is Decision.REJECT and not request.reason:
        raise refuse(INVALID, "a rejection needs a reason", field="reason")
    _running(state)
    pending = next((p for p in state.pending_approvals if p.gate is request.gate), None)
    if pending is None:
        raise refuse(
            CONFLICT,
            f"the {request.gate} gate is not waiting for approval (phase {state.phase})",
            phase=state.phase,
            waiting=[p.gate for p in state.pending_approvals],
        )
    return pending


def check_task_completion(
    engagement: EngagementInput, state: EngagementState, request: TaskCompletion
) -> Task:
    _visible(request.actor, engagement)
    task = state.task(request.task_id)
    if task is None:
        raise refuse(NOT_FOUND, f"task {request.task_id} was not found")
    _holds(set(request.actor.roles), frozenset(task.assignee_roles), f"task {task.id}")
    if task.status is not TaskStatus.OPEN:
        raise refuse(CONFLICT, f"task {task.id} is {task.status.value}", current_status=task.status)
    return task


def check_intervention(
    engagement: EngagementInput, state: EngagementState, request: InterventionRequest
) -> None:
    _visible(request.actor, engagement)
    _holds(set(request.actor.roles), INTERVENTION_ROLES, "an intervention")
    _running(state)
    if state.phase is not Phase.POST_LAUNCH:
        raise refuse(
            CONFLICT,
            f"interventions are taken during post_launch, not {state.phase}",
            phase=state.phase,
        )


def check_control(
    action: ControlAction,
    engagement: EngagementInput,
    state: EngagementState,
    request: ControlRequest,
) -> None:
    _visible(request.actor, engagement)
    _holds(set(request.actor.roles), CONTROL_ROLES, f"to {action} an engagement")
    if action == "cancel" and not request.reason:
        raise refuse(INVALID, "a cancellation needs a reason", field="reason")
    allowed = {
        "pause": {EngagementStatus.RUNNING},
        "resume": {EngagementStatus.PAUSED},
        "cancel": {EngagementStatus.RUNNING, EngagementStatus.PAUSED},
    }[action]
    if state.status not in allowed:
        raise refuse(
            CONFLICT,
            f"cannot {action}: the engagement is {state.status.value}",
            current_status=state.status,
        )
