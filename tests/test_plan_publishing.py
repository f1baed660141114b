"""An approved editorial plan publishes itself: through the gateway, on the sandbox platform, with
the slots it cannot publish reported, posts with media included (with a link to the content store
signed at publish time); and the scheduling activity it uses, by variant id as the API does, is
idempotent."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from services.content.contracts import (
    GET_APPROVED_VARIANTS,
    ApprovedVariants,
    ApprovedVariantsQuery,
)
from services.publisher.contracts import (
    SCHEDULE_PUBLICATION,
    SchedulePublicationCommand,
    VariantToPublish,
)
from shared import task_queues
from shared.auth import Role
from shared.domain import Channel
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import new_engagement
from tests.publisher_content_helpers import approved_variant, review, variant_in_review
from tests.publisher_helpers import SandboxAccount, connect_sandbox, settled
from tests.test_content_media import jpeg, upload
from tests.test_errors import assert_problem
from tests.test_plan_api import approve_plan, fill, slots_of
from tests.test_replay import HISTORIES, replayer

ROME = ZoneInfo("Europe/Rome")
# The live slots start this long after the test does: time enough to prepare the plan.
FIRST_SLOT_IN = timedelta(seconds=40)
SECOND_SLOT_IN = timedelta(seconds=55)
PAST_SLOT_AGO = timedelta(minutes=2)
WINDOW = timedelta(seconds=30)
MAX_LATENESS = timedelta(seconds=10)


async def clear_of_midnight() -> datetime:
    """Rome's local time now, once every slot of the test falls on the same local day."""
    now = datetime.now(ROME).replace(microsecond=0)
    earliest, latest = now - PAST_SLOT_AGO, now + SECOND_SLOT_IN + WINDOW
    if earliest.date() != latest.date():
        await asyncio.sleep((latest - now).total_seconds() + PAST_SLOT_AGO.total_seconds() + 1)
        now = datetime.now(ROME).replace(microsecond=0)
    return now


def live_rule(now: datetime) -> dict[str, Any]:
    """Three posts today on the sandbox and on Facebook: one already past, two about to start."""
    starts = [now - PAST_SLOT_AGO, now + FIRST_SLOT_IN, now + SECOND_SLOT_IN]
    return {
        "id": "live",
        "pillar": "Vendemmia in diretta",
        "formats": ["text"],
        "channels": ["sandbox", "facebook"],
        "days": [now.weekday()],
        "windows": [
            {"start": start.time().isoformat(), "end": (start + WINDOW).time().isoformat()}
            for start in starts
        ],
        "cadence": {"per": "day", "count": 3},
        "target": "famiglie",
    }


async def variant(
    platform: Platform,
    organization_id: str,
    engagement_id: str,
    channel: str,
    text: str,
    *,
    approve: bool = True,
) -> tuple[str, str]:
    """(item id, variant id) of a text post on ``channel``, approved by a manager or in review."""
    item_id, variant_id = await variant_in_review(
        platform, organization_id, channel, engagement_id=engagement_id, body=text
    )
    if approve:
        await review(platform, item_id, "approve", Role.MANAGER)
    return item_id, variant_id


async def planned_engagement(platform: Platform, now: datetime) -> tuple[str, str]:
    """(organisation id, engagement id) whose draft plan for today holds the live rule."""
    organization_id, engagement_id = await new_engagement(platform)
    day = now.date().isoformat()
    generated = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan",
        json={
            "organization_id": organization_id,
            "period_start": day,
            "period_end": day,
            "rules": {"timezone": "Europe/Rome", "rules": [live_rule(now)]},
        },
        headers=platform.auth(Role.EDITOR),
    )
    assert generated.status_code == 201, generated.text
    return organization_id, engagement_id


async def item_status(platform: Platform, item_id: str) -> str:
    read = await platform.gateway.get(
        f"/v1/content-items/{item_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.status_code == 200, read.text
    status: str = read.json()["status"]
    return status


async def start_publishing(
    platform: Platform, engagement_id: str, connections: dict[str, str], role: Role = Role.MANAGER
) -> httpx.Response:
    return await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/plan/publishing",
        json={"connections": connections},
        headers=platform.auth(role),
    )


async def publishing_state(platform: Platform, engagement_id: str) -> dict[str, Any]:
    state: dict[str, Any] = {}

    async def scheduled() -> bool:
        read = await platform.gateway.get(
            f"/v1/engagements/{engagement_id}/plan/publishing",
            headers=platform.auth(Role.EDITOR),
        )
        if read.status_code == 200:
            state.update(read.json())
        return state.get("status") == "done"

    await wait_until(scheduled, timeout=30, interval=0.3)
    return state


async def test_an_approved_plan_publishes_each_future_slot_once_on_time(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    now = await clear_of_midnight()
    organization_id, engagement_id = await planned_engagement(platform, now)
    past_item, past_variant = await variant(
        platform, organization_id, engagement_id, "sandbox", "Ieri in vigna"
    )
    first_item, first_variant = await variant(
        platform, organization_id, engagement_id, "sandbox", "Si parte: vendemmia aperta!"
    )
    second_item, second_variant = await variant(
        platform, organization_id, engagement_id, "sandbox", "Primo mosto della stagione"
    )
    _, facebook_variant = await variant(
        platform, organization_id, engagement_id, "facebook", "Vendemmia aperta"
    )
    _, unapproved_variant = await variant(
        platform, organization_id, engagement_id, "facebook", "In revisione", approve=False
    )
    slots = sorted(await slots_of(platform, engagement_id), key=lambda s: s["starts_at"])
    by_channel = {
        channel: [slot["id"] for slot in slots if slot["channel"] == channel]
        for channel in ("sandbox", "facebook")
    }
    sandbox_past, sandbox_first, sandbox_second = by_channel["sandbox"]
    facebook_past, facebook_first, facebook_second = by_channel["facebook"]
    fills = {
        sandbox_past: past_variant,
        sandbox_first: first_variant,
        sandbox_second: second_variant,
        facebook_first: facebook_variant,
        facebook_second: unapproved_variant,
    }
    for slot_id, variant_id in fills.items():
        filled = await fill(platform, engagement_id, slot_id, variant_id)
        assert filled.status_code == 200, filled.text
    await approve_plan(platform, engagement_id)
    account = await connect_sandbox(platform, sandbox, organization_id)

    started = await start_publishing(platform, engagement_id, {"sandbox": account.connection_id})
    assert started.status_code == 202, started.text
    assert started.json()["workflow_id"] == f"plan-publishing-{engagement_id}"

    state = await publishing_state(platform, engagement_id)
    assert {slot["slot_id"]: slot["reason"] for slot in state["skipped"]} == {
        sandbox_past: "past",
        facebook_past: "unfilled",
        facebook_first: "no_connection",
        facebook_second: "not_approved",
    }
    scheduled = {slot["slot_id"]: slot for slot in state["scheduled"]}
    assert scheduled.keys() == {sandbox_first, sandbox_second}
    assert scheduled[sandbox_first]["item_id"] == first_item
    assert {slot["status"] for slot in scheduled.values()} == {"scheduled"}
    assert await item_status(platform, first_item) == "scheduled"

    starts = {slot["id"]: datetime.fromisoformat(slot["starts_at"]) for slot in slots}
    for slot_id, item_id in ((sandbox_first, first_item), (sandbox_second, second_item)):
        await assert_published_once_on_time(
            platform, account, scheduled[slot_id]["publication_id"], starts[slot_id]
        )

        async def item_published(item_id: str = item_id) -> bool:
            return await item_status(platform, item_id) == "published"

        await wait_until(item_published, timeout=15, interval=0.3)
    assert await item_status(platform, past_item) == "approved"
    posted = {post["text"] for post in await account.posts()}
    assert posted == {"Si parte: vendemmia aperta!", "Primo mosto della stagione"}

    history = await platform.temporal.get_workflow_handle(
        started.json()["workflow_id"]
    ).fetch_history()
    replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    if os.environ.get("ENGAGE_RECORD_HISTORIES"):
        (HISTORIES / "plan-publishing-posts-in-batches.json").write_text(history.to_json())


async def test_a_slot_with_an_image_is_published_with_a_link_signed_when_it_goes_out(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    now = await clear_of_midnight()
    organization_id, engagement_id = await planned_engagement(platform, now)
    photo_bytes = jpeg(1080, 1350)
    photo = await upload(platform, organization_id, photo_bytes, "image/jpeg", "mosto.jpg")
    variant_id = await approved_variant(
        platform,
        organization_id,
        engagement_id=engagement_id,
        kind="image",
        body="Il primo mosto, in foto",
        media_ids=[photo["id"]],
    )
    approved_variants = ApprovedVariants.model_validate(
        await platform.run_activity(
            task_queues.CONTENT,
            GET_APPROVED_VARIANTS,
            ApprovedVariantsQuery(
                organization_id=uuid.UUID(organization_id),
                engagement_id=uuid.UUID(engagement_id),
            ),
        )
    )
    [stored] = approved_variants.variants[0].media
    assert (stored.width, stored.height, stored.mime_type) == (1080, 1350, "image/jpeg")
    assert stored.url is not None
    async with httpx.AsyncClient(timeout=10) as anonymous:
        assert (await anonymous.get(stored.url)).content == photo_bytes

    slots = sorted(await slots_of(platform, engagement_id), key=lambda s: s["starts_at"])
    _, sandbox_first, _ = [slot for slot in slots if slot["channel"] == "sandbox"]
    filled = await fill(platform, engagement_id, sandbox_first["id"], variant_id)
    assert filled.status_code == 200, filled.text
    await approve_plan(platform, engagement_id)
    account = await connect_sandbox(platform, sandbox, organization_id)
    started = await start_publishing(platform, engagement_id, {"sandbox": account.connection_id})
    assert started.status_code == 202, started.text

    state = await publishing_state(platform, engagement_id)
    assert "media_without_url" not in {slot["reason"] for slot in state["skipped"]}
    [scheduled] = state["scheduled"]
    assert scheduled["slot_id"] == sandbox_first["id"]
    slot_start = datetime.fromisoformat(sandbox_first["starts_at"])
    await assert_published_once_on_time(platform, account, scheduled["publication_id"], slot_start)
    [post] = await account.posts()
    assert post["text"] == "Il primo mosto, in foto"
    [medium] = post["media"]
    assert medium["mime_type"] == "image/jpeg"
    assert medium["url"] != stored.url, "signed again when published"
    # Valid for the whole TTL from the moment it was published, not from when it was scheduled.
    expires = int(parse_qs(urlsplit(medium["url"]).query)["expires"][0])
    ttl = platform.settings.media.public_url_ttl_seconds
    assert expires >= datetime.fromisoformat(post["created_at"]).timestamp() + ttl - 5
    async with httpx.AsyncClient(timeout=10) as anonymous:
        fetched = await anonymous.get(medium["url"])
    assert fetched.status_code == 200, fetched.text
    assert hashlib.sha256(fetched.content).hexdigest() == photo["sha256"]

    history = await platform.temporal.get_workflow_handle(
        started.json()["workflow_id"]
    ).fetch_history()
    replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure


async def assert_published_once_on_time(
    platform: Platform, account: SandboxAccount, publication_id: str, slot_start: datetime
) -> None:
    remaining = (slot_start - datetime.now(UTC)).total_seconds()
    done = await settled(platform, publication_id, timeout=max(remaining, 0) + 30)
    assert done["status"] == "published", done
    assert datetime.fromisoformat(done["due_at"]) == slot_start
    lateness = datetime.fromisoformat(done["published_at"]) - slot_start
    assert timedelta(0) <= lateness < MAX_LATENESS
    posts = await account.posts(done["idempotency_key"])
    assert [post["id"] for post in posts] == [done["platform_post_id"]]


async def test_plan_publishing_refuses_what_it_cannot_publish(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    now = await clear_of_midnight()
    organization_id, engagement_id = await planned_engagement(platform, now)
    account = await connect_sandbox(platform, sandbox, organization_id)
    connections = {"sandbox": account.connection_id}
    path = f"/v1/engagements/{engagement_id}/plan/publishing"

    unknown = await platform.gateway.get(path, headers=platform.auth(Role.MANAGER))
    assert_problem(unknown, 404, "not-found")
    as_editor = await start_publishing(platform, engagement_id, connections, Role.EDITOR)
    assert_problem(as_editor, 403, "forbidden")
    draft = await start_publishing(platform, engagement_id, connections)
    assert_problem(draft, 409, "plan-not-approved")

    await approve_plan(platform, engagement_id)
    wrong_channel = await start_publishing(
        platform, engagement_id, {"facebook": account.connection_id}
    )
    errors = assert_problem(wrong_channel, 422, "validation-error")["errors"]
    assert errors == [
        {
            "field": "body.connections.facebook",
            "message": "the connection is on sandbox",
            "type": "wrong_channel",
        }
    ]
    other_org = await start_publishing(platform, engagement_id, {"sandbox": str(uuid.uuid4())})
    assert_problem(other_org, 422, "validation-error")
    empty = await start_publishing(platform, engagement_id, {})
    assert_problem(empty, 422, "validation-error")
    outsider = await platform.gateway.get(
        path, headers=platform.auth(Role.CLIENT_VIEWER, orgs=[str(uuid.uuid4())])
    )
    assert_problem(outsider, 404, "not-found")


async def test_scheduling_a_publication_twice_returns_the_first_one(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    account = await connect_sandbox(platform, sandbox, organization_id)
    _, variant_id = await variant(
        platform, organization_id, engagement_id, "sandbox", "Cantine aperte domenica"
    )
    command = SchedulePublicationCommand(
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        connection_id=uuid.UUID(account.connection_id),
        channel=Channel.SANDBOX,
        variant=VariantToPublish(variant_id=uuid.UUID(variant_id)),
        slot_id=uuid.uuid4(),
        due_at=datetime.now(UTC) + timedelta(days=30),
    )
    first = await platform.run_activity(task_queues.PUBLISHER, SCHEDULE_PUBLICATION, command)
    again = await platform.run_activity(task_queues.PUBLISHER, SCHEDULE_PUBLICATION, command)
    assert first["newly_created"] is True
    assert again["newly_created"] is False
    assert again["publication_id"] == first["publication_id"]
    assert first["workflow_id"] == f"publication-{first['publication_id']}"
    assert first["status"] == "scheduled"

    # The API takes the same path, and there a second request is a conflict.
    duplicate = await platform.gateway.post(
        "/v1/publications",
        json={
            "organization_id": organization_id,
            "connection_id": account.connection_id,
            "variant_id": str(command.variant.variant_id),
            "slot_id": str(command.slot_id),
            "due_at": command.due_at.isoformat(),
        },
        headers=platform.auth(Role.EDITOR),
    )
    body = assert_problem(duplicate, 409, "conflict")
    assert body["publication_id"] == first["publication_id"]
    listed = await platform.gateway.get(
        "/v1/publications",
        params={"engagement_id": engagement_id},
        headers=platform.auth(Role.MANAGER),
    )
    assert [publication["id"] for publication in listed.json()] == [first["publication_id"]]

    on_facebook = command.model_copy(update={"channel": Channel.FACEBOOK})
    with pytest.raises(WorkflowFailureError) as refused:
        await platform.run_activity(task_queues.PUBLISHER, SCHEDULE_PUBLICATION, on_facebook)
    activity_error = refused.value.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "connection-channel-mismatch"
    assert activity_error.cause.non_retryable
