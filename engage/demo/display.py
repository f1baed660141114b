"""The live terminal view: the phase, a bar over the six phases and the latest events, each
with a short line saying what it is about."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from engage.demo.run import DemoRun, Frame
from shared.domain import Phase

PHASES = tuple(Phase)
EVENTS_SHOWN = 14


class Display:
    """The live terminal view: current phase, a bar over the six phases, the latest events."""

    def __init__(self, run: DemoRun) -> None:
        self._run = run
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} phases"),
            TextColumn("[dim]{task.fields[elapsed]}"),
        )
        self._bar = self._progress.add_task("starting", total=len(PHASES), elapsed="")

    def __rich__(self) -> RenderableType:
        run = self._run
        done = len(PHASES) if run.completed else max(0, _phase_index(run.phase))
        description = "completed" if run.completed else f"phase: {run.phase or 'starting'}"
        if run.posts_planned:
            description += f" · posts {run.posts_published}/{run.posts_planned} published"
        if run.mentions:
            description += f" · {run.mentions} mentions heard"
        if run.follow_up_until is not None and run.awaited():
            left = max(0.0, run.follow_up_until - run.elapsed)
            description += f" · waiting {left:.0f}s more for {' and '.join(run.awaited())}"
        self._progress.update(
            self._bar, completed=done, description=description, elapsed=f"{run.elapsed:5.1f}s"
        )
        return Group(self._progress, self._events())

    def _events(self) -> Table:
        table = Table(expand=True, box=None, header_style="dim")
        for column in ("seq", "+s", "event", "phase", "summary"):
            table.add_column(column, no_wrap=column != "summary")
        for frame in self._run.events[-EVENTS_SHOWN:]:
            at = f"{frame.seen_at:.1f}"
            table.add_row(frame.id, at, frame.event, frame.data.get("phase", ""), summary(frame))
        return table


def _phase_index(phase: str | None) -> int:
    return [p.value for p in PHASES].index(phase) if phase else -1


def _joined(data: dict[str, Any], key: str) -> str:
    return ", ".join(str(value) for value in data.get(key) or [])


def first_response_said(data: dict[str, Any]) -> str:
    within = "within SLA" if data.get("within_sla") else "over the SLA"
    return f"answered in {float(data.get('response_minutes') or 0):.1f} business minutes, {within}"


def summary(frame: Frame) -> str:
    """A short line saying what the event is about."""
    data = frame.data
    name = frame.event.partition(".")[2]
    evidence = data.get("evidence") or {}
    lines = {
        "engagement_started": f"{data.get('mode')} on {_joined(data, 'channels')}",
        "phase_started": f"revision {data.get('revision')}",
        "phase_completed": f"revision {data.get('revision')}",
        "deliverable_recorded": str(data.get("name")),
        "approval_requested": f"gate {data.get('gate')} for {_joined(data, 'approver_roles')}",
        "approval_granted": f"{data.get('gate')} approved by {data.get('actor')}",
        "task_created": f"{data.get('title')} ({data.get('owner')})",
        "task_completed": f"{data.get('task_id')} by {data.get('actor')}",
        "task_overdue": f"{data.get('task_id')} escalated to {data.get('escalated_to')}",
        "engagement_completed": f"{data.get('post_launch_cycles')} support cycles",
        "post_scheduled": f"{data.get('channel')} post due {data.get('due_at')}",
        "post_published": f"{data.get('channel')} post {data.get('platform_post_id')} is out",
        "post_failed": f"{data.get('channel')} post failed: {data.get('failure_class')}",
        "metrics_collected": f"{data.get('posts')} posts, {data.get('accounts')} accounts measured",
        "mentions_ingested": f"{data.get('mentions')} mentions: "
        + ", ".join(
            f"{count} {label}" for label, count in (data.get("sentiment") or {}).items() if count
        ),
        "conversation_opened": f"{data.get('category')} from @{data.get('author_handle')} "
        f"on {data.get('source')}: {data.get('triage_reason')}",
        "triaged": f"{data.get('category')}: {data.get('reason')}",
        "assigned": f"to {data.get('assignee_subject') or data.get('assignee_role')}",
        "first_response": first_response_said(data),
        "reply_failed": f"reply failed: {data.get('failure')}",
        "sla_due_soon": "first response due soon",
        "sla_breached": "first response overdue",
        "alert_raised": f"{data.get('kind')} alert {data.get('rule_name')!r} on "
        f"{evidence.get('observed', 0):.0f} mentions: {_joined(evidence, 'matched_keywords')}",
        "alert_escalated": f"{data.get('kind')} alert now with the {data.get('responsible_role')}",
        "alert_acknowledged": f"{data.get('kind')} alert acknowledged by "
        f"{data.get('acknowledged_by')}",
        "handbook_generated": f"handbook v{data.get('version')} for {_joined(data, 'channels')}",
        "touchpoint_recorded": f"{data.get('kind')} {data.get('name')!r} {data.get('change')}",
        "alert_resolved": f"{data.get('kind')} alert resolved by {data.get('resolved_by')}",
    }
    return lines.get(name, str(frame.cloud_event.get("subject", "")))
