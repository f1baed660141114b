"""The ``publication_failed`` signal on the time-skipping test server: a failed post is the
engagement's when it names the engagement's organisation (or none, as ``PublishPostWorkflow``
sends it, tests/test_lifecycle_publishing.py); one of another organisation changes nothing and
is logged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from shared.domain import Channel
from tests.lifecycle_helpers import (
    Handle,
    ServiceRecords,
    engagement_input,
    running_engagement,
    start_time_skipping,
    state_when,
    waiting_at,
)
from tests.test_lifecycle_workflow import _save_history
from tests.test_replay import replayer
from workflows.engagement.messages import (
    PUBLICATION_FAILED_SIGNAL,
    Gate,
    PublicationFailure,
    TaskStatus,
)


@pytest.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


def failed_post(organization_id: uuid.UUID) -> PublicationFailure:
    return PublicationFailure(
        publication_id=uuid.uuid4(),
        channel=Channel.SANDBOX,
        failure_class="auth",
        detail="the token was revoked",
        at=datetime.now(UTC),
        organization_id=organization_id,
    )


async def signal_handled(handle: Handle) -> None:
    """Wait for the workflow task that handled the signal: an ignored signal leaves no other
    trace to wait for."""
    async with asyncio.timeout(15):
        while True:
            events = [event.event_type for event in (await handle.fetch_history()).events]
            # The history read right after the signal may not show it yet.
            if EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED in events:
                signalled = events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
                if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in events[signalled:]:
                    return
            await asyncio.sleep(0.02)


async def test_a_failure_of_another_organisation_changes_nothing(
    time_skipping: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    records = ServiceRecords()
    engagement = engagement_input()
    elsewhere = failed_post(organization_id=uuid.uuid4())
    async with running_engagement(time_skipping, records, engagement) as handle:
        before = await state_when(handle, waiting_at(Gate.BRIEF))
        with caplog.at_level(logging.WARNING, logger="temporalio.workflow"):
            await handle.signal(PUBLICATION_FAILED_SIGNAL, elsewhere)
            await signal_handled(handle)
        after = await state_when(handle, lambda s: True)
        history = await handle.fetch_history()
        await handle.terminate()
    assert after.publication_failures == []
    assert after.publication_failures_total == 0
    assert after.tasks == before.tasks
    assert after.task(f"publication-{elsewhere.publication_id}-failed") is None
    created = {step.details["task_id"] for step in records.events("task_created")}
    assert created == {task.id for task in before.tasks}
    [warning] = [r for r in caplog.records if str(elsewhere.publication_id) in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert str(elsewhere.organization_id) in warning.getMessage()
    replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    _save_history("engagement-publication-failed-other-organisation", history.to_json())


async def test_a_failure_of_the_engagements_organisation_becomes_a_task(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ServiceRecords()
    engagement = engagement_input()
    own = failed_post(organization_id=engagement.organization_id)
    async with running_engagement(time_skipping, records, engagement) as handle:
        await state_when(handle, waiting_at(Gate.BRIEF))
        await handle.signal(PUBLICATION_FAILED_SIGNAL, own)
        shown = await state_when(handle, lambda s: s.publication_failures_total > 0)
        await handle.terminate()
    assert shown.publication_failures == [own]
    assert shown.publication_failures_total == 1
    task = shown.task(f"publication-{own.publication_id}-failed")
    assert task is not None
    assert task.status is TaskStatus.OPEN
    assert task.title == "Re-authorise the sandbox connection: a post could not be published"
