"""The engagement summary folded from lifecycle facts: the same summary whatever order
concurrently recorded facts are folded in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.strategy.contracts import LifecycleEventName, LifecycleStep
from services.strategy.lifecycle.summary import Summary, SummaryStatus, fold
from shared.auth import Role
from shared.domain import Phase

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
DUE = T0 + timedelta(days=5)
Event = LifecycleEventName


def step(
    event: Event, phase: Phase = Phase.ANALYSIS, minutes: int = 0, **details: Any
) -> LifecycleStep:
    return LifecycleStep(
        event=event,
        phase=phase,
        idempotency_key=f"{event.value}/{minutes}",
        occurred_at=T0 + timedelta(minutes=minutes),
        details=details,
    )


def created(task_id: str, *roles: Role, minutes: int = 0) -> LifecycleStep:
    return step(
        Event.TASK_CREATED,
        minutes=minutes,
        task_id=task_id,
        assignee_roles=[role.value for role in roles],
        due_at=DUE.isoformat(),
    )


def every_order(*steps: LifecycleStep) -> list[Summary]:
    return [fold(Summary(), order) for order in itertools.permutations(steps)]


def test_a_closed_task_stays_closed_and_an_overdue_one_overdue_in_any_order() -> None:
    overdue = step(Event.TASK_OVERDUE, minutes=2, task_id="t1")
    done = step(Event.TASK_COMPLETED, minutes=3, task_id="t1")
    for summary in every_order(created("t1", Role.EDITOR, minutes=1), overdue, done):
        assert (len(summary.open_tasks), summary.overdue_tasks, summary.waiting_roles) == (0, 0, [])
    for summary in every_order(created("t1", Role.EDITOR, minutes=1), overdue):
        assert (len(summary.open_tasks), summary.overdue_tasks) == (1, 1)
        assert summary.waiting_roles == [Role.EDITOR]
        assert summary.next_deadline is None  # an overdue task's date has passed


def test_next_deadline_is_the_earliest_open_task_due() -> None:
    later = created("t2", Role.CLIENT_APPROVER, minutes=1)
    later.details["due_at"] = (DUE + timedelta(days=1)).isoformat()
    summary = fold(Summary(), [created("t1", Role.EDITOR), later])
    assert summary.next_deadline == DUE
    assert summary.waiting_roles == [Role.CLIENT_APPROVER, Role.EDITOR]
    fold(summary, [step(Event.TASK_COMPLETED, minutes=2, task_id="t1")])
    assert summary.next_deadline == DUE + timedelta(days=1)


def test_the_latest_pause_or_resume_wins_in_any_order() -> None:
    pause = step(Event.ENGAGEMENT_PAUSED, minutes=1)
    resume = step(Event.ENGAGEMENT_RESUMED, minutes=2)
    assert {s.status for s in every_order(pause, resume)} == {SummaryStatus.RUNNING}
    again = step(Event.ENGAGEMENT_PAUSED, minutes=3)
    assert {s.status for s in every_order(pause, resume, again)} == {SummaryStatus.PAUSED}


def test_a_decided_gate_is_not_reopened_by_its_late_request() -> None:
    asked = step(
        Event.APPROVAL_REQUESTED,
        minutes=1,
        gate="brief",
        revision=0,
        approver_roles=[Role.CLIENT_APPROVER.value],
        missing_deliverables=["brief"],
    )
    granted = step(Event.APPROVAL_GRANTED, minutes=2, gate="brief", revision=0)
    assert all(s.pending_approvals == [] for s in every_order(asked, granted))
    waiting = fold(Summary(), [asked])
    assert [
        (p.gate, p.approver_roles, p.missing_deliverables) for p in waiting.pending_approvals
    ] == [("brief", [Role.CLIENT_APPROVER], ["brief"])]
    assert waiting.waiting_roles == [Role.CLIENT_APPROVER]
    fold(waiting, [step(Event.ENGAGEMENT_PAUSED, minutes=3)])
    assert waiting.waiting_roles == [], "a paused engagement takes no decision"


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        (step(Event.ENGAGEMENT_COMPLETED, Phase.POST_LAUNCH, 5), SummaryStatus.COMPLETED),
        (
            step(Event.ENGAGEMENT_CANCELLED, minutes=5, cancelled_tasks=["t1"]),
            SummaryStatus.CANCELLED,
        ),
    ],
)
def test_an_ended_engagement_stays_ended_and_waits_for_nobody(
    ending: LifecycleStep, status: SummaryStatus
) -> None:
    late_resume = step(Event.ENGAGEMENT_RESUMED, minutes=6)
    for summary in every_order(created("t1", Role.EDITOR), ending, late_resume):
        assert summary.status is status
        assert summary.waiting_roles == []
        assert summary.updated_at == T0 + timedelta(minutes=6)


def test_a_phase_only_moves_forward() -> None:
    design = step(Event.PHASE_STARTED, Phase.DESIGN, 2, revision=0)
    rework = step(Event.PHASE_STARTED, Phase.ANALYSIS, 1, revision=1)
    for summary in every_order(rework, design):
        assert (summary.phase, summary.revision) == (Phase.DESIGN, 0)
