"""``ListeningPoll``: one round of polling, started by a Temporal Schedule that the listening
worker keeps in place (``services/listening/worker.py``).

It asks listening which sources are due and polls each in its own activity, all at once: a
source that fails is marked failing by its activity and never holds up another. A connected
channel's source (the sandbox) is read by the publisher, which holds the channel's token, and
what it read, or why it could not, is handed to listening, which keeps the cursor and health."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.listening.contracts import (
        DUE_SOURCES,
        POLL_SOURCE,
        POLL_WORKFLOW,
        RECEIVE_CONVERSATIONS,
        DueSource,
        DueSources,
        PollInput,
        PollSource,
        PollSummary,
        ReceiveConversations,
        SourcePolled,
        SourcesDue,
    )
    from services.publisher.contracts import (
        READ_CONVERSATIONS,
        ConversationsRead,
        ReadConversations,
    )
    from shared import task_queues

# A poll that keeps failing in an unexpected way is tried again by the next round, not here:
# the schedule's next round comes within a minute.
POLL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
POLL_TIMEOUT = timedelta(minutes=4)
READ_LIMIT = 200
# Failures the channel will give again if asked again: the source is refused, not unavailable.
REFUSALS = frozenset(
    {"not-found", "conflict", "needs-reauth", "validation-error", "conversations-not-supported"}
)


def _failure(error: ActivityError) -> tuple[str, bool]:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.message or (cause.type or "failed"), (cause.type or "") in REFUSALS
    return str(cause or error), False


@workflow.defn(name=POLL_WORKFLOW)
class ListeningPollWorkflow:
    @workflow.run
    async def run(self, request: PollInput) -> PollSummary:
        listening = request.task_queue_prefix + task_queues.LISTENING
        due: SourcesDue = await workflow.execute_activity(
            DUE_SOURCES,
            DueSources(limit=request.limit),
            result_type=SourcesDue,
            task_queue=listening,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=POLL_RETRY,
        )
        polled = await asyncio.gather(
            *(self._poll(request.task_queue_prefix, source) for source in due.sources)
        )
        return PollSummary(polled=[result for result in polled if result is not None])

    async def _poll(self, prefix: str, source: DueSource) -> SourcePolled | None:
        listening = prefix + task_queues.LISTENING
        try:
            if source.connection_id is None:
                result: SourcePolled = await workflow.execute_activity(
                    POLL_SOURCE,
                    PollSource(source_id=source.source_id),
                    result_type=SourcePolled,
                    task_queue=listening,
                    start_to_close_timeout=POLL_TIMEOUT,
                    retry_policy=POLL_RETRY,
                )
                return result
            received = await self._read_channel(prefix, source)
            result = await workflow.execute_activity(
                RECEIVE_CONVERSATIONS,
                received,
                result_type=SourcePolled,
                task_queue=listening,
                start_to_close_timeout=POLL_TIMEOUT,
                retry_policy=POLL_RETRY,
            )
            return result
        except ActivityError:
            workflow.logger.exception("polling source %s failed", source.source_id)
            return None

    async def _read_channel(self, prefix: str, source: DueSource) -> ReceiveConversations:
        assert source.connection_id is not None
        try:
            read: ConversationsRead = await workflow.execute_activity(
                READ_CONVERSATIONS,
                ReadConversations(
                    organization_id=source.organization_id,
                    connection_id=source.connection_id,
                    since=source.since,
                    limit=READ_LIMIT,
                ),
                result_type=ConversationsRead,
                task_queue=prefix + task_queues.PUBLISHER,
                start_to_close_timeout=POLL_TIMEOUT,
                retry_policy=POLL_RETRY,
            )
        except ActivityError as error:
            reason, refused = _failure(error)
            return ReceiveConversations(
                source_id=source.source_id, failure=reason[:2000], refused=refused
            )
        return ReceiveConversations(source_id=source.source_id, read=read)
