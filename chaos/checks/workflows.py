"""Workflows after the faults: those that must end completed, none failed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from temporalio.client import Client, WorkflowExecutionStatus

from chaos.checks.result import EXAMPLES, Check

# Workflows that end on their own once their engagement has; the others (polling, alerts,
# maintenance, SLA timers) may rightly still run.
MUST_COMPLETE = frozenset(
    {"EngagementWorkflow", "PublishPostWorkflow", "PublishPlanWorkflow", "SendReplyWorkflow"}
)
FAILED = frozenset(
    {
        WorkflowExecutionStatus.FAILED,
        WorkflowExecutionStatus.TERMINATED,
        WorkflowExecutionStatus.TIMED_OUT,
    }
)


async def check_workflows(client: Client, engagement_workflows: Iterable[str]) -> Check:
    latest: dict[str, tuple[datetime, str, WorkflowExecutionStatus | None]] = {}
    async for execution in client.list_workflows(""):
        known = latest.get(execution.id)
        if known is None or execution.start_time >= known[0]:
            latest[execution.id] = (execution.start_time, execution.workflow_type, execution.status)
    by_type: dict[str, Counter[str]] = {}
    unfinished: list[str] = []
    failed: list[str] = []
    for workflow_id, (_, kind, status) in latest.items():
        label = status.name if status is not None else "UNKNOWN"
        by_type.setdefault(kind, Counter())[label] += 1
        if status in FAILED:
            failed.append(workflow_id)
        elif kind in MUST_COMPLETE and status is not WorkflowExecutionStatus.COMPLETED:
            unfinished.append(workflow_id)
    engagements = set(engagement_workflows)
    absent = sorted(engagements - set(latest))
    return Check(
        "every_workflow_completed",
        not failed and not unfinished and not absent,
        {
            "workflows": len(latest),
            "by_type": {kind: dict(counts) for kind, counts in sorted(by_type.items())},
            "failed": failed[:EXAMPLES],
            "not_completed": unfinished[:EXAMPLES],
            "engagements_missing": absent,
        },
    )
