"""How the lifecycle waits: on durable timers, and while the engagement is paused."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.engagement.messages import EngagementState, EngagementStatus
from workflows.engagement.recording import Recorder


async def sleep(duration: timedelta) -> None:
    """A durable timer; none at all for a step that takes no time."""
    if duration > timedelta(0):
        await workflow.sleep(duration)


async def unpaused(state: EngagementState, recorder: Recorder) -> None:
    """Go on at once unless paused; a paused engagement first shows what it finished."""
    if state.status is EngagementStatus.PAUSED:
        await recorder.flush()
        await workflow.wait_condition(lambda: state.status is not EngagementStatus.PAUSED)
