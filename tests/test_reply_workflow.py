"""``SendReplyWorkflow`` end to end: the publisher's real activities against an in-process
sandbox, and a fake ``listening.record_reply_outcome`` on the listening queue that keeps what it
was told; each run's history is replayed against the workflow's code."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from services.listening.contracts import (
    RECORD_REPLY_OUTCOME,
    ReplyOutcome,
    SendReplyInput,
    reply_workflow_id,
)
from services.publisher.contracts import PlatformConversation
from shared import task_queues
from shared.settings import Settings
from tests.test_publisher_conversations import Listened, listened
from workflows.conversations.reply import SendReplyWorkflow

MAX_TEXT_LENGTH = 300


class Listening:
    """The listening side: the outcomes it was asked to record."""

    def __init__(self) -> None:
        self.outcomes: list[ReplyOutcome] = []

    @activity.defn(name=RECORD_REPLY_OUTCOME)
    async def record_reply_outcome(self, outcome: ReplyOutcome) -> None:
        self.outcomes.append(outcome)


@contextlib.asynccontextmanager
async def workers(
    env: WorkflowEnvironment, rig: Listened, listening: Listening
) -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    async with (
        Worker(
            env.client, task_queue=prefix + task_queues.WORKFLOWS, workflows=[SendReplyWorkflow]
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.PUBLISHER,
            activities=list(rig.activities.housekeeping()),
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.LISTENING,
            activities=[listening.record_reply_outcome],
        ),
    ):
        yield prefix


async def a_comment(rig: Listened) -> PlatformConversation:
    await rig.publish("Festa della vendemmia")
    rig.clock.advance(minutes=20)
    read = await rig.read()
    return next(item for item in read.conversations if item.kind == "comment")


async def run_reply(
    env: WorkflowEnvironment, rig: Listened, answered: PlatformConversation, **fields: Any
) -> tuple[SendReplyInput, ReplyOutcome, list[ReplyOutcome]]:
    listening = Listening()
    async with workers(env, rig, listening) as prefix:
        reply = SendReplyInput.model_validate(
            {
                "reply_id": uuid.uuid4(),
                "conversation_id": uuid.uuid4(),
                "organization_id": rig.organization_id,
                "engagement_id": None,
                "channel": "sandbox",
                "connection_id": rig.connection_id,
                "in_reply_to": answered.external_id,
                "post_external_id": answered.post_external_id,
                "text": "Grazie, a presto!",
                "task_queue_prefix": prefix,
            }
            | fields
        )
        handle = await env.client.start_workflow(
            SendReplyWorkflow.run,
            reply,
            id=reply_workflow_id(reply.reply_id),
            task_queue=prefix + task_queues.WORKFLOWS,
        )
        outcome = await handle.result()
    # Every run's history replays against the code: the workflow is deterministic.
    replayer = Replayer(workflows=[SendReplyWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(await handle.fetch_history())
    return reply, outcome, listening.outcomes


async def platform_replies(rig: Listened, conversation_id: str) -> list[dict[str, Any]]:
    answer = await rig.admin.get(
        f"/v1/conversations/{conversation_id}/replies",
        headers={"Authorization": f"Bearer {rig.credentials.access_token}"},
    )
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def test_a_sent_reply_is_recorded_with_the_platforms_id(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)

        reply, outcome, recorded = await run_reply(temporal_env, rig, answered)

        [on_platform] = await platform_replies(rig, answered.external_id)
        assert recorded == [outcome]
        assert outcome.status == "sent"
        assert outcome.platform_reply_id == on_platform["id"]
        assert outcome.url == on_platform["url"]
        assert (outcome.reply_id, outcome.conversation_id) == (
            reply.reply_id,
            reply.conversation_id,
        )
        assert outcome.organization_id == rig.organization_id
        assert outcome.failure is None


async def test_a_refused_reply_is_recorded_as_failed_with_the_platforms_reason(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with listened(tmp_path, settings, sessions, max_text_length=MAX_TEXT_LENGTH) as rig:
        answered = await a_comment(rig)

        _, outcome, recorded = await run_reply(
            temporal_env, rig, answered, text="a" * (MAX_TEXT_LENGTH + 1)
        )

        assert recorded == [outcome]
        assert outcome.status == "failed"
        assert outcome.platform_reply_id is None
        assert outcome.failure is not None
        assert "max_text_length" in outcome.failure
        assert await platform_replies(rig, answered.external_id) == []


async def test_a_reply_without_a_connection_goes_out_through_the_channels_connection(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)

        _, outcome, _ = await run_reply(temporal_env, rig, answered, connection_id=None)

        [on_platform] = await platform_replies(rig, answered.external_id)
        assert outcome.status == "sent"
        assert outcome.platform_reply_id == on_platform["id"]


async def test_a_channel_the_organisation_has_not_connected_fails_with_why(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)

        _, outcome, recorded = await run_reply(
            temporal_env, rig, answered, connection_id=None, channel="mastodon"
        )

        assert recorded == [outcome]
        assert outcome.status == "failed"
        assert outcome.failure == "the organisation has no mastodon connection to reply through"


async def test_a_lost_answer_is_sent_once_and_recorded_as_sent(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        await rig.faults(accept_then_timeout={"count": 1, "mode": "malformed"})

        _, outcome, _ = await run_reply(temporal_env, rig, answered)

        [on_platform] = await platform_replies(rig, answered.external_id)
        assert outcome.status == "sent"
        assert outcome.platform_reply_id == on_platform["id"]
