"""Cancelling an engagement withdraws its waiting posts for real
(``publisher.withdraw_engagement_posts`` on the publisher's worker), and the withdrawal is
recorded with its counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.publisher.contracts import (
    SCHEDULE_PUBLICATION,
    WITHDRAW_ENGAGEMENT_POSTS,
    EngagementPostsWithdrawn,
    ScheduledPublication,
    SchedulePublicationCommand,
    VariantToPublish,
    WithdrawEngagementPosts,
)
from shared import task_queues
from shared.auth import Role
from shared.domain import Channel
from tests.conftest import Platform
from tests.engagement_helpers import started_engagement, stored_engagement
from tests.publisher_helpers import connect_sandbox, schedule, settled
from tests.test_thin_thread import create_org

ONE_HOUR = 3600.0


async def test_cancelling_an_engagement_cancels_its_waiting_posts(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    organization_id = await create_org(platform)
    account = await connect_sandbox(platform, sandbox, organization_id)
    manager = platform.auth(Role.MANAGER)
    engagement_id = (await started_engagement(platform, organization_id))["id"]
    posts = [
        await schedule(platform, account, in_seconds=ONE_HOUR, engagement_id=engagement_id)
        for _ in range(2)
    ]
    # Cancelled at once, possibly while a lifecycle activity is still running.

    cancelled = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/cancel",
        json={"reason": "Contract ended early"},
        headers=manager,
    )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    for post in posts:
        found = await settled(platform, post["id"])
        assert found["status"] == "cancelled"
    assert await account.posts() == []
    read = await platform.gateway.get(f"/v1/engagements/{engagement_id}", headers=manager)
    withdrawal = next(
        d for d in read.json()["state"]["deliverables"] if d["name"] == "scheduled_posts_withdrawal"
    )
    assert withdrawal["reference"] == {
        "status": "done",
        "cancelled": 2,
        "already_published": 0,
        "failed": 0,
    }
    # Run again, the withdrawal finds nothing left waiting.
    again = await platform.run_activity(
        task_queues.PUBLISHER,
        WITHDRAW_ENGAGEMENT_POSTS,
        WithdrawEngagementPosts(
            engagement_id=uuid.UUID(engagement_id), reason="again", cancelled_by="tester"
        ),
    )
    assert EngagementPostsWithdrawn.model_validate(again) == EngagementPostsWithdrawn(
        cancelled=0, already_published=0, failed=0
    )


async def test_a_post_already_published_is_left_alone(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    organization_id = await create_org(platform)
    account = await connect_sandbox(platform, sandbox, organization_id)
    engagement_id = uuid.UUID(await stored_engagement(platform, organization_id))
    published = await schedule(platform, account, in_seconds=0.5, engagement_id=str(engagement_id))
    waiting = await schedule(
        platform, account, in_seconds=ONE_HOUR, engagement_id=str(engagement_id)
    )
    assert (await settled(platform, published["id"]))["status"] == "published"

    withdrawn = await platform.run_activity(
        task_queues.PUBLISHER,
        WITHDRAW_ENGAGEMENT_POSTS,
        WithdrawEngagementPosts(engagement_id=engagement_id, reason="ended", cancelled_by="pm"),
    )

    assert EngagementPostsWithdrawn.model_validate(withdrawn).cancelled == 1
    assert (await settled(platform, waiting["id"]))["status"] == "cancelled"
    assert len(await account.posts()) == 1


async def test_a_post_whose_workflow_never_started_is_withdrawn_all_the_same(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    # The planner placed the post and was cancelled before it could start the post's workflow.
    organization_id = await create_org(platform)
    account = await connect_sandbox(platform, sandbox, organization_id)
    engagement_id = uuid.UUID(await stored_engagement(platform, organization_id))
    placed = ScheduledPublication.model_validate(
        await platform.run_activity(
            task_queues.PUBLISHER,
            SCHEDULE_PUBLICATION,
            SchedulePublicationCommand(
                organization_id=uuid.UUID(organization_id),
                engagement_id=engagement_id,
                connection_id=uuid.UUID(account.connection_id),
                channel=Channel.SANDBOX,
                variant=VariantToPublish(
                    variant_id=uuid.UUID(await account.approved_variant(platform))
                ),
                slot_id=uuid.uuid4(),
                due_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        )
    )
    assert placed.status == "scheduled"
    command = WithdrawEngagementPosts(
        engagement_id=engagement_id, reason="Contract ended early", cancelled_by="pm"
    )

    withdrawn = await platform.run_activity(
        task_queues.PUBLISHER, WITHDRAW_ENGAGEMENT_POSTS, command
    )
    again = await platform.run_activity(task_queues.PUBLISHER, WITHDRAW_ENGAGEMENT_POSTS, command)

    assert EngagementPostsWithdrawn.model_validate(withdrawn) == EngagementPostsWithdrawn(
        cancelled=1, already_published=0, failed=0
    )
    assert EngagementPostsWithdrawn.model_validate(again) == EngagementPostsWithdrawn(
        cancelled=0, already_published=0, failed=0
    )
    read = await platform.gateway.get(
        f"/v1/publications/{placed.publication_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.json()["status"] == "cancelled"
    assert await account.posts() == []
