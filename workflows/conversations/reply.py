"""``SendReplyWorkflow`` (``reply-<id>``): one reply to a conversation, sent through the
publisher exactly once and its outcome recorded on the conversation by listening.

A reply that names no connection goes out through the organisation's connection of its channel
as the publisher resolves it (``publisher.engagement_connections``). ``publisher.send_reply`` is
retried with backoff while its failures are retryable (it checks the platform before sending
again after a lost answer) and not at all once refused; either way listening is told
(``listening.record_reply_outcome``): ``sent`` with the platform's id, or ``failed`` with why.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.listening.contracts import (
        RECORD_REPLY_OUTCOME,
        REPLY_WORKFLOW,
        ReplyOutcome,
        SendReplyInput,
    )
    from services.publisher.contracts import (
        ENGAGEMENT_CONNECTIONS,
        SEND_REPLY,
        EngagementConnections,
        EngagementConnectionsQuery,
        ReplySent,
        SendReply,
    )
    from shared import task_queues
    from shared.domain import Channel
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY, SERVICE_ACTIVITY_TIMEOUT

SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
# One attempt: a refresh, a check of a lost answer and the send, each within the platform's
# timeout.
SEND_TIMEOUT = timedelta(minutes=2)
# A reply still not known to be sent after this long is answered as failed: a day-late answer
# to a comment is no longer the answer that was written.
SEND_GIVE_UP = timedelta(hours=6)


class _NotSent(Exception):
    """The reply cannot go out; the message says why."""


@workflow.defn(name=REPLY_WORKFLOW)
class SendReplyWorkflow:
    @workflow.run
    async def run(self, reply: SendReplyInput) -> ReplyOutcome:
        try:
            sent = await self._send(reply)
        except _NotSent as failure:
            outcome = self._outcome(reply, "failed", failure=str(failure)[:2000])
        else:
            outcome = self._outcome(
                reply, "sent", platform_reply_id=sent.platform_reply_id, url=sent.url
            )
        await workflow.execute_activity(
            RECORD_REPLY_OUTCOME,
            outcome,
            task_queue=reply.task_queue_prefix + task_queues.LISTENING,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return outcome

    async def _send(self, reply: SendReplyInput) -> ReplySent:
        connection_id = reply.connection_id or await self._connection_of_channel(reply)
        try:
            sent: ReplySent = await workflow.execute_activity(
                SEND_REPLY,
                SendReply(
                    reply_id=reply.reply_id,
                    organization_id=reply.organization_id,
                    connection_id=connection_id,
                    in_reply_to=reply.in_reply_to,
                    post_external_id=reply.post_external_id,
                    text=reply.text,
                ),
                result_type=ReplySent,
                task_queue=reply.task_queue_prefix + task_queues.PUBLISHER,
                start_to_close_timeout=SEND_TIMEOUT,
                schedule_to_close_timeout=SEND_GIVE_UP,
                retry_policy=SEND_RETRY,
            )
        except ActivityError as error:
            raise _NotSent(_reason(error)) from error
        return sent

    async def _connection_of_channel(self, reply: SendReplyInput) -> uuid.UUID:
        try:
            channel = Channel(reply.channel)
        except ValueError as error:
            raise _NotSent(f"{reply.channel} is not a channel replies can go out on") from error
        try:
            found: EngagementConnections = await workflow.execute_activity(
                ENGAGEMENT_CONNECTIONS,
                EngagementConnectionsQuery(
                    organization_id=reply.organization_id, channels=[channel]
                ),
                result_type=EngagementConnections,
                task_queue=reply.task_queue_prefix + task_queues.PUBLISHER,
                start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
                retry_policy=SERVICE_ACTIVITY_RETRY,
            )
        except ActivityError as error:
            raise _NotSent(_reason(error)) from error
        connection_id = found.connected().get(channel)
        if connection_id is not None:
            return connection_id
        if any(item.status == "needs_reauth" for item in found.channels):
            raise _NotSent(f"the {channel.value} connection must be re-authorised to reply")
        raise _NotSent(f"the organisation has no {channel.value} connection to reply through")

    def _outcome(self, reply: SendReplyInput, status: str, **fields: object) -> ReplyOutcome:
        return ReplyOutcome.model_validate(
            {
                "reply_id": reply.reply_id,
                "conversation_id": reply.conversation_id,
                "organization_id": reply.organization_id,
                "status": status,
                "at": workflow.now(),
                **fields,
            }
        )


def _reason(error: ActivityError) -> str:
    """The publisher's problem detail (it names the platform's reason), else what failed."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.message or cause.type or "the reply could not be sent"
    return str(cause or error)
