"""``PublishBatchWorkflow`` on Temporal's time-skipping server, its activities faked under their
real names: one timer and one activity for the posts due together, each post's own retry,
permanent failure, cancellation and move, its item marked published, and a post added after the
batch ended starting a new run."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.content.contracts import (
    MARK_PUBLISHED,
    MarkPublished,
    ReviewState,
    ReviewStateChanged,
)
from services.publisher.contracts import (
    ADD_POST_SIGNAL,
    BATCH_POST_STATE_QUERY,
    BATCH_WORKFLOW,
    PUBLISH_BATCH,
    AddPost,
    BatchPostOutcome,
    PublishBatchCommand,
    PublishBatchInput,
    PublishBatchResult,
    PublishBatchSummary,
    PublishPostState,
    batch_workflow_id,
    platform_queue,
)
from shared import task_queues
from shared.domain import Channel
from tests.lifecycle_helpers import start_time_skipping
from tests.test_replay import HISTORIES, replayer
from workflows.publishing.batch import PublishBatchWorkflow

CONNECTION = uuid.uuid4()


@pytest.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    async with await start_time_skipping() as env:
        yield env


@dataclass
class FakePublisher:
    """Answers each post's attempts in turn, as scripted; records every activity call."""

    script: dict[uuid.UUID, list[BatchPostOutcome]]
    calls: list[tuple[datetime, list[uuid.UUID]]] = field(default_factory=list)
    items_published: list[uuid.UUID] = field(default_factory=list)

    @activity.defn(name=PUBLISH_BATCH)
    async def publish_batch(self, command: PublishBatchCommand) -> PublishBatchResult:
        self.calls.append(
            (activity.info().scheduled_time, [post.publication_id for post in command.posts])
        )
        return PublishBatchResult(
            outcomes=[self.script[post.publication_id].pop(0) for post in command.posts]
        )

    @activity.defn(name=MARK_PUBLISHED)
    async def mark_published(self, request: MarkPublished) -> ReviewStateChanged:
        self.items_published.append(request.item_id)
        return ReviewStateChanged(
            item_id=request.item_id, status=ReviewState.PUBLISHED, changed=True
        )


def outcome(publication_id: uuid.UUID, result: str, **fields: object) -> BatchPostOutcome:
    return BatchPostOutcome.model_validate(
        {"publication_id": publication_id, "result": result, **fields}
    )


async def add(
    client: Client, prefix: str, post: AddPost, minute: datetime
) -> WorkflowHandle[PublishBatchWorkflow, PublishBatchSummary]:
    """As the publisher does: signal-with-start of the post's minute's batch."""
    return await client.start_workflow(
        BATCH_WORKFLOW,
        PublishBatchInput(
            connection_id=CONNECTION,
            channel="sandbox",
            due_minute=minute,
            task_queue_prefix=prefix,
        ),
        id=batch_workflow_id(CONNECTION, post.due_at),
        task_queue=prefix + task_queues.WORKFLOWS,
        start_signal=ADD_POST_SIGNAL,
        start_signal_args=[post],
        result_type=PublishBatchSummary,
    )


async def test_a_batch_publishes_its_posts_together_and_settles_each_on_its_own(
    time_skipping: WorkflowEnvironment,
) -> None:
    client = time_skipping.client
    prefix = f"b{uuid.uuid4().hex[:8]}-"
    now = await time_skipping.get_current_time()
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    due = minute + timedelta(seconds=5)
    ids = {name: uuid.uuid4() for name in ("a", "b", "c", "d", "e", "f", "g")}
    item = uuid.uuid4()
    a, b, c, d, e, f, g = ids.values()
    fake = FakePublisher(
        {
            a: [outcome(a, "published", platform_post_id="p-a", published_at=due)],
            # Rate-limited: held by the batch for the platform's Retry-After, then sent again.
            b: [
                outcome(b, "retry", failure_class="retryable", retry_after=30.0),
                outcome(b, "published", platform_post_id="p-b"),
            ],
            c: [outcome(c, "cancelled")],
            # Moved into another minute: another batch holds it now.
            d: [outcome(d, "moved", due_at=minute + timedelta(minutes=5))],
            # Moved within this minute: held again, sent at its new time.
            e: [
                outcome(e, "moved", due_at=minute + timedelta(seconds=20)),
                outcome(e, "published", platform_post_id="p-e"),
            ],
            f: [outcome(f, "failed", failure_class="content_rejected", detail="too long")],
            # Due later in the minute: a second activity, after the batch's timer.
            g: [outcome(g, "published", platform_post_id="p-g")],
        }
    )
    async with (
        Worker(client, task_queue=prefix + task_queues.WORKFLOWS, workflows=[PublishBatchWorkflow]),
        Worker(
            client,
            task_queue=prefix + platform_queue(Channel.SANDBOX),
            activities=[fake.publish_batch],
        ),
        Worker(client, task_queue=prefix + task_queues.CONTENT, activities=[fake.mark_published]),
    ):
        for publication_id in (a, b, c, d, e, f):
            handle = await add(
                client,
                prefix,
                AddPost(
                    publication_id=publication_id,
                    due_at=due,
                    item_id=item if publication_id == a else None,
                ),
                minute,
            )
        await add(
            client, prefix, AddPost(publication_id=g, due_at=minute + timedelta(seconds=45)), minute
        )
        waiting = await handle.query(BATCH_POST_STATE_QUERY, g, result_type=PublishPostState)
        summary = await handle.result()
        history = await handle.fetch_history()

    assert waiting.stage == "waiting"
    assert waiting.due_at == minute + timedelta(seconds=45)
    stages = {name: summary.posts[publication_id].stage for name, publication_id in ids.items()}
    assert stages == {
        "a": "published",
        "b": "published",
        "c": "cancelled",
        "d": "moved",
        "e": "published",
        "f": "failed",
        "g": "published",
    }
    assert summary.posts[b].attempts_failed == 1
    assert summary.posts[f].last_error == "too long"
    assert summary.posts[e].due_at == minute + timedelta(seconds=20)
    assert fake.items_published == [item], "the item follows its published post"

    first_time, first_posts = fake.calls[0]
    assert first_time >= due, "never before the due time"
    assert sorted(first_posts) == sorted([a, b, c, d, e, f]), "one activity for the posts due"
    later = {frozenset(posts): at for at, posts in fake.calls[1:]}
    assert later.keys() == {frozenset({e}), frozenset({g}), frozenset({b})}
    assert later[frozenset({e})] >= minute + timedelta(seconds=20)
    assert later[frozenset({g})] >= minute + timedelta(seconds=45)
    assert later[frozenset({b})] >= first_time + timedelta(seconds=30), "its Retry-After"
    replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    if os.environ.get("ENGAGE_RECORD_HISTORIES"):
        (HISTORIES / "publish-batch-each-post-settled.json").write_text(history.to_json())


async def test_a_post_added_after_its_batch_ended_starts_a_new_run(
    time_skipping: WorkflowEnvironment,
) -> None:
    client = time_skipping.client
    prefix = f"b{uuid.uuid4().hex[:8]}-"
    now = await time_skipping.get_current_time()
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    first, second = uuid.uuid4(), uuid.uuid4()
    fake = FakePublisher(
        {
            first: [outcome(first, "published", platform_post_id="p-1")],
            second: [outcome(second, "published", platform_post_id="p-2")],
        }
    )
    async with (
        Worker(client, task_queue=prefix + task_queues.WORKFLOWS, workflows=[PublishBatchWorkflow]),
        Worker(
            client,
            task_queue=prefix + platform_queue(Channel.SANDBOX),
            activities=[fake.publish_batch],
        ),
    ):
        ended = await (
            await add(client, prefix, AddPost(publication_id=first, due_at=minute), minute)
        ).result()
        again = await add(client, prefix, AddPost(publication_id=second, due_at=minute), minute)
        second_run = await again.result()

    assert ended.posts.keys() == {first}
    assert second_run.posts.keys() == {second}
    assert second_run.posts[second].stage == "published"
    assert [posts for _, posts in fake.calls] == [[first], [second]]
