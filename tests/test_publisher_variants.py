"""A post publishes an approved content variant and nothing a caller types: the publisher's read
model of the content service's approvals, 409 for a variant that is not approved, 422 for any
text, title, link, tags or media in the request, and media as links the publisher signs to the
content store."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content import events as content_events
from services.publisher import approvals, repository
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.events.consumer import EventHandler, PoisonMessageError
from shared.events.envelope import CloudEvent, new_event
from tests.conftest import Platform
from tests.engagement_helpers import new_engagement
from tests.publisher_content_helpers import approved_variant, review, variant_in_review
from tests.publisher_helpers import SandboxAccount, connect_sandbox, schedule, settled
from tests.test_content_items import create_item, outbox_events, post_body
from tests.test_content_media import jpeg, upload
from tests.test_errors import assert_problem
from tests.test_thin_thread import create_org


def request(account: SandboxAccount, variant_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "organization_id": account.organization_id,
        "connection_id": account.connection_id,
        "variant_id": variant_id,
        "due_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        **fields,
    }


async def post(platform: Platform, body: dict[str, Any]) -> httpx.Response:
    return await platform.gateway.post(
        "/v1/publications", json=body, headers=platform.auth(Role.EDITOR)
    )


async def test_a_post_says_exactly_what_was_approved_with_its_media_linked_by_the_publisher(
    platform: Platform, account: SandboxAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    photo_bytes = jpeg(1080, 1350)
    photo = await upload(platform, account.organization_id, photo_bytes, "image/jpeg", "vigna.jpg")
    item_id, variant_id = await variant_in_review(
        platform,
        account.organization_id,
        kind="image",
        link="https://laquercia.example/vendemmia",
        media_ids=[photo["id"]],
        variant={"text": "Vendemmia: il testo approvato", "title": "Vendemmia"},
    )
    await review(platform, item_id, "approve", Role.MANAGER)
    (approval,) = await outbox_events(sessions, content_events.ITEM_APPROVED, item_id)
    [announced] = approval["data"]["variants"]
    assert announced["variant_id"] == variant_id
    assert [medium["media_id"] for medium in announced["media"]] == [photo["id"]]

    publication = await schedule(platform, account, in_seconds=0.5, variant_id=variant_id)
    done = await settled(platform, publication["id"])

    assert done["status"] == "published", done
    [sent] = await account.posts(publication["idempotency_key"])
    assert (sent["text"], sent["title"], sent["link"]) == (
        "Vendemmia: il testo approvato",
        "Vendemmia",
        "https://laquercia.example/vendemmia",
    )
    [medium] = sent["media"]
    assert medium["mime_type"] == "image/jpeg"
    assert f"/public/media/{photo['id']}?" in medium["url"]
    async with httpx.AsyncClient(timeout=10) as anonymous:
        fetched = await anonymous.get(medium["url"])
    assert fetched.status_code == 200, fetched.text
    assert hashlib.sha256(fetched.content).hexdigest() == photo["sha256"]


async def test_a_request_naming_text_media_or_a_link_is_refused(
    platform: Platform, account: SandboxAccount
) -> None:
    variant_id = await account.approved_variant(platform)
    own_words: dict[str, Any] = {
        "text": "Testo mai approvato",
        "title": "Titolo mai approvato",
        "link": "https://elsewhere.example/",
        "tags": ["promo"],
        "media": [{"url": "https://elsewhere.example/a.jpg", "mime_type": "image/jpeg"}],
    }
    for field, value in own_words.items():
        refused = await post(platform, request(account, variant_id, **{field: value}))
        assert_problem(refused, 422, "validation-error")
        errors = refused.json()["errors"]
        assert [(error["field"], error["type"]) for error in errors] == [
            (f"body.{field}", "extra_forbidden")
        ], field
    listed = await platform.gateway.get(
        "/v1/publications",
        params={"organization_id": account.organization_id},
        headers=platform.auth(Role.MANAGER),
    )
    assert listed.json() == []


async def test_only_a_variant_approved_by_everyone_it_needs_is_published(
    platform: Platform, account: SandboxAccount
) -> None:
    organization_id = account.organization_id
    draft = await create_item(
        platform, post_body(organization_id, variants=[{"channel": "sandbox"}])
    )
    _, in_review = await variant_in_review(platform, organization_id)
    client_item, needs_client = await variant_in_review(
        platform, organization_id, client_approval_required=True
    )
    await review(platform, client_item, "approve", Role.MANAGER)
    elsewhere = await approved_variant(platform, await create_org(platform))

    refusals = await asyncio.gather(
        *(
            post(platform, request(account, variant_id))
            for variant_id in (draft["variants"][0]["id"], in_review, needs_client, elsewhere)
        )
    )
    for refused in refusals:
        assert_problem(refused, 409, "variant-not-approved")

    await review(platform, client_item, "approve", Role.CLIENT_APPROVER, organization_id)
    created = await post(platform, request(account, needs_client))
    assert created.status_code == 201, created.text
    assert created.json()["variant_id"] == needs_client


async def test_a_variant_approved_a_moment_ago_is_published_not_refused(
    platform: Platform, account: SandboxAccount
) -> None:
    item_id, variant_id = await variant_in_review(platform, account.organization_id)
    await review(platform, item_id, "approve", Role.MANAGER)
    created = await post(platform, request(account, variant_id))
    assert created.status_code == 201, created.text


async def test_a_post_of_an_engagements_content_belongs_to_the_engagement(
    platform: Platform, sandbox: httpx.AsyncClient
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    account = await connect_sandbox(platform, sandbox, organization_id)
    variant_id = await approved_variant(platform, organization_id, engagement_id=engagement_id)
    created = await post(platform, request(account, variant_id))
    assert created.status_code == 201, created.text
    assert created.json()["engagement_id"] == engagement_id


async def test_a_variant_goes_out_only_on_its_own_channel(
    platform: Platform, account: SandboxAccount
) -> None:
    on_facebook = await approved_variant(platform, account.organization_id, "facebook")
    refused = await post(platform, request(account, on_facebook))
    assert_problem(refused, 422, "connection-channel-mismatch")


async def test_the_read_model_keeps_the_newest_review_fact_of_each_item(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The three events reach the publisher through consumers of their own, and a redelivery
    may come late: a fact older than the item's newest one changes nothing."""
    item = content_events.ItemFact(
        item_id=uuid.uuid4(), organization_id=uuid.uuid4(), engagement_id=None
    )
    variant_id = uuid.uuid4()
    start = datetime.now(UTC)

    def at(minutes: int, name: str, data: BaseModel) -> CloudEvent:
        event = new_event(name, data, source=content_events.SOURCE)
        return event.model_copy(update={"time": start + timedelta(minutes=minutes)})

    def approved(minutes: int, text: str) -> CloudEvent:
        variant = content_events.ApprovedVariantFact(
            variant_id=variant_id,
            channel=Channel.SANDBOX,
            text=text,
            title=None,
            link=None,
            media=[],
        )
        data = content_events.ItemApproved(
            **item.model_dump(),
            agency_approved_by="pm",
            client_approved_by=None,
            variants=[variant],
        )
        return at(minutes, content_events.ITEM_APPROVED, data)

    def resubmitted(minutes: int) -> CloudEvent:
        data = content_events.ReviewRequested(
            **item.model_dump(),
            requested_by="editor",
            channels=[Channel.SANDBOX],
            client_approval_required=False,
        )
        return at(minutes, content_events.REVIEW_REQUESTED, data)

    def rejected(minutes: int) -> CloudEvent:
        data = content_events.ItemRejected(**item.model_dump(), rejected_by="pm", comment="No")
        return at(minutes, content_events.ITEM_REJECTED, data)

    async def known_after(handler: EventHandler, event: CloudEvent) -> str | None:
        """The variant's text once the event is handled; None when it is not publishable."""
        async with session_scope(sessions, SYSTEM) as session:
            await handler(session, event)
        async with session_scope(sessions, SYSTEM) as session:
            found = await repository.approved_variant(session, item.organization_id, variant_id)
        return None if found is None else found.text

    first = approved(2, "Prima versione")
    assert await known_after(approvals.record_withdrawal, resubmitted(1)) is None
    assert await known_after(approvals.record_approval, first) == "Prima versione"
    assert await known_after(approvals.record_withdrawal, rejected(1)) == "Prima versione"
    assert await known_after(approvals.record_withdrawal, resubmitted(3)) is None
    assert await known_after(approvals.record_approval, first) is None, "a late redelivery"
    second = approved(4, "Seconda versione")
    assert await known_after(approvals.record_approval, second) == "Seconda versione"

    malformed = new_event(
        content_events.ITEM_APPROVED, {"item_id": "not an id"}, source=content_events.SOURCE
    )
    with pytest.raises(PoisonMessageError):
        await known_after(approvals.record_approval, malformed)
