"""Pushed sources: Meta's webhooks (Facebook, Instagram) and generic signed webhooks, served by
the listening service without a bearer token; a delivery counts only when its signature is the
source's, and an invalid one publishes nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.models import Mention
from services.listening.sources.webhooks import inbound_signature, meta_signature
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import create_org

APP_SECRET = "meta-app-secret"
SHARED_SECRET = "our-partner-shared-secret"
VERIFY_TOKEN = "verify-me-please"
PAGE_ID = "104523"
ACCOUNT_ID = "178414"


@pytest.fixture
async def listening(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """The listening service itself: Meta and partners call it, not the gateway."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{platform.settings.ports.listening}", trust_env=False
    ) as client:
        yield client


async def add_source(
    platform: Platform, organization_id: str, kind: str, settings: dict[str, Any], secret: str
) -> str:
    response = await platform.gateway.post(
        "/v1/listening/sources",
        json={
            "organization_id": organization_id,
            "kind": kind,
            "name": f"Our {kind}",
            "settings": settings,
            "credentials": secret,
        },
        headers=platform.auth(Role.MANAGER),
    )
    assert response.status_code == 201, response.text
    assert response.json()["polled"] is False
    source_id: str = response.json()["id"]
    return source_id


async def mentions_read(platform: Platform, source_id: str) -> int:
    response = await platform.gateway.get(
        f"/v1/listening/sources/{source_id}", headers=platform.auth(Role.MANAGER)
    )
    count: int = response.json()["health"]["mentions_read"]
    return count


async def stored(
    sessions: async_sessionmaker[AsyncSession], organization_id: str
) -> dict[str, Mention]:
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.scalars(
            select(Mention).where(Mention.organization_id == uuid.UUID(organization_id))
        )
        return {row.external_id: row for row in rows}


async def wait_for_mentions(
    sessions: async_sessionmaker[AsyncSession], organization_id: str, count: int
) -> dict[str, Mention]:
    async def arrived() -> bool:
        return len(await stored(sessions, organization_id)) >= count

    await wait_until(arrived, timeout=20)
    return await stored(sessions, organization_id)


def facebook_comment(comment_id: str, message: str, page_id: str = PAGE_ID) -> bytes:
    delivery = {
        "object": "page",
        "entry": [
            {
                "id": page_id,
                "time": 1_780_000_000,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "comment_id": comment_id,
                            "post_id": f"{page_id}_555",
                            "from": {"id": "9001", "name": "Giulia Rossi"},
                            "message": message,
                            "created_time": 1_780_000_100,
                        },
                    },
                    {
                        "field": "feed",
                        "value": {"item": "reaction", "verb": "add", "post_id": "x"},
                    },
                ],
            }
        ],
    }
    return json.dumps(delivery).encode()


async def test_meta_handshake_answers_the_challenge_only_with_the_sources_token(
    platform: Platform, listening: httpx.AsyncClient
) -> None:
    organization_id = await create_org(platform)
    source_id = await add_source(
        platform,
        organization_id,
        "facebook",
        {"page_id": PAGE_ID, "verify_token": VERIFY_TOKEN},
        APP_SECRET,
    )
    path = f"/listening/sources/{source_id}/webhook"
    answered = await listening.get(
        path,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"},
    )
    assert answered.status_code == 200
    assert answered.text == "1158"
    assert answered.headers["content-type"].startswith("text/plain")
    refused = await listening.get(
        path,
        params={"hub.mode": "subscribe", "hub.verify_token": "not-it-at-all", "hub.challenge": "1"},
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    unknown = await listening.get(
        f"/listening/sources/{uuid.uuid4()}/webhook",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
    )
    assert unknown.status_code == 404


async def test_a_signed_facebook_comment_is_ingested_and_a_bad_signature_publishes_nothing(
    platform: Platform,
    listening: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    organization_id = await create_org(platform)
    source_id = await add_source(
        platform,
        organization_id,
        "facebook",
        {"page_id": PAGE_ID, "verify_token": VERIFY_TOKEN},
        APP_SECRET,
    )
    path = f"/listening/sources/{source_id}/webhook"

    forged = facebook_comment(f"{PAGE_ID}_555_1", "Forged")
    for signature in (None, "sha256=" + "0" * 64, meta_signature("another-secret", forged)):
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        refused = await listening.post(path, content=forged, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
    # The signature covers the raw bytes: the same JSON spaced otherwise does not match.
    reformatted = json.dumps(json.loads(forged), indent=2).encode()
    tampered = await listening.post(
        path,
        content=reformatted,
        headers={"X-Hub-Signature-256": meta_signature(APP_SECRET, forged)},
    )
    assert tampered.status_code == 401

    body = facebook_comment(f"{PAGE_ID}_555_2", "Che bella la vendemmia a Montalcino!")
    accepted = await listening.post(
        path, content=body, headers={"X-Hub-Signature-256": meta_signature(APP_SECRET, body)}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"mentions": 1}
    found = await wait_for_mentions(sessions, organization_id, 1)
    # Only the signed delivery's comment: the forged one was never published.
    assert list(found) == [f"{PAGE_ID}_555_2"]
    comment = found[f"{PAGE_ID}_555_2"]
    assert (comment.source, comment.author_handle, comment.author_name) == (
        "facebook",
        "9001",
        "Giulia Rossi",
    )
    assert comment.text == "Che bella la vendemmia a Montalcino!"
    assert int(comment.published_at.timestamp()) == 1_780_000_100
    assert await mentions_read(platform, source_id) == 1


async def test_another_pages_changes_and_other_fields_are_acknowledged_and_left_out(
    platform: Platform, listening: httpx.AsyncClient
) -> None:
    organization_id = await create_org(platform)
    source_id = await add_source(
        platform,
        organization_id,
        "facebook",
        {"page_id": PAGE_ID, "verify_token": VERIFY_TOKEN},
        APP_SECRET,
    )
    body = facebook_comment("999_1_1", "Not our page", page_id="999")
    answered = await listening.post(
        f"/listening/sources/{source_id}/webhook",
        content=body,
        headers={"X-Hub-Signature-256": meta_signature(APP_SECRET, body)},
    )
    # Meta retries what is not 2xx: what we do not keep is still acknowledged.
    assert answered.status_code == 200
    assert answered.json() == {"mentions": 0}
    assert await mentions_read(platform, source_id) == 0


async def test_an_instagram_comment_is_ingested(
    platform: Platform,
    listening: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    organization_id = await create_org(platform)
    source_id = await add_source(
        platform,
        organization_id,
        "instagram",
        {"account_id": ACCOUNT_ID, "verify_token": VERIFY_TOKEN},
        APP_SECRET,
    )
    body = json.dumps(
        {
            "object": "instagram",
            "entry": [
                {
                    "id": ACCOUNT_ID,
                    "time": 1_780_000_200,
                    "changes": [
                        {
                            "field": "comments",
                            "value": {
                                "id": "17865799348089039",
                                "text": "Ci torneremo di sicuro #toscana",
                                "from": {"id": "7001", "username": "marco.viaggia"},
                                "media": {"id": "123123", "media_product_type": "FEED"},
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    accepted = await listening.post(
        f"/listening/sources/{source_id}/webhook",
        content=body,
        headers={"X-Hub-Signature-256": meta_signature(APP_SECRET, body)},
    )
    assert accepted.status_code == 200, accepted.text
    found = await wait_for_mentions(sessions, organization_id, 1)
    comment = found["17865799348089039"]
    assert (comment.source, comment.author_handle) == ("instagram", "marco.viaggia")
    assert int(comment.published_at.timestamp()) == 1_780_000_200


def inbound_item(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "author": {"handle": "press.office", "display_name": "Ufficio stampa"},
        "text": "Il festival del tartufo torna a San Miniato",
        "url": f"https://partner.example/{external_id}",
        "published_at": "2027-05-01T08:00:00+00:00",
        "language": "it",
        "coordinates": {"latitude": 43.68, "longitude": 10.85},
        "hashtags": ["tartufo"],
        **fields,
    }


def signed(body: bytes, secret: str = SHARED_SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {
        "Content-Type": "application/json",
        "X-Signature-Timestamp": str(timestamp),
        "X-Signature-256": inbound_signature(secret, body, timestamp),
    }


async def test_a_generic_webhook_is_signed_with_a_timestamp_and_all_or_nothing(
    platform: Platform,
    listening: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    organization_id = await create_org(platform)
    source_id = await add_source(platform, organization_id, "webhook", {}, SHARED_SECRET)
    path = f"/listening/sources/{source_id}/webhook"

    stale_body = json.dumps({"mentions": [inbound_item("stale")]}).encode()
    stale = await listening.post(
        path, content=stale_body, headers=signed(stale_body, at=int(time.time()) - 600)
    )
    assert stale.status_code == 401
    wrong_secret = await listening.post(
        path, content=stale_body, headers=signed(stale_body, secret="guessed")
    )
    assert wrong_secret.status_code == 401

    invalid_body = json.dumps(
        {"mentions": [inbound_item("fine"), inbound_item("bad", published_at="yesterday")]}
    ).encode()
    invalid = await listening.post(path, content=invalid_body, headers=signed(invalid_body))
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in invalid.json()["errors"]] == [
        "body.mentions.1.published_at"
    ]

    body = json.dumps({"mentions": [inbound_item("p-1"), inbound_item("p-2")]}).encode()
    accepted = await listening.post(path, content=body, headers=signed(body))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"mentions": 2}
    found = await wait_for_mentions(sessions, organization_id, 2)
    await asyncio.sleep(0.5)
    found = await stored(sessions, organization_id)
    # Neither the stale delivery nor the valid item of the invalid one was published.
    assert sorted(found) == ["p-1", "p-2"]
    assert found["p-1"].source == "webhook"
    assert (found["p-1"].latitude, found["p-1"].longitude) == (43.68, 10.85)
    assert await mentions_read(platform, source_id) == 2


async def test_webhook_bodies_are_bounded_and_stopped_sources_answer_gone(
    platform: Platform, listening: httpx.AsyncClient
) -> None:
    organization_id = await create_org(platform)
    source_id = await add_source(platform, organization_id, "webhook", {}, SHARED_SECRET)
    path = f"/listening/sources/{source_id}/webhook"
    huge = b'{"mentions": [], "padding": "' + b"x" * (1024 * 1024) + b'"}'
    too_large = await listening.post(path, content=huge, headers=signed(huge))
    assert too_large.status_code == 413
    assert too_large.headers["content-type"] == "application/problem+json"

    stopped = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/stop", headers=platform.auth(Role.MANAGER)
    )
    assert stopped.status_code == 200
    body = json.dumps({"mentions": [inbound_item("late")]}).encode()
    gone = await listening.post(path, content=body, headers=signed(body))
    assert gone.status_code == 410


async def test_pushed_sources_need_their_settings_and_secret_and_webhooks_skip_the_gateway(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    manager = platform.auth(Role.MANAGER)
    for kind, settings in (
        ("facebook", {"page_id": PAGE_ID, "verify_token": VERIFY_TOKEN}),
        ("webhook", {}),
    ):
        unsigned = await platform.gateway.post(
            "/v1/listening/sources",
            json={
                "organization_id": organization_id,
                "kind": kind,
                "name": "No secret",
                "settings": settings,
            },
            headers=manager,
        )
        assert unsigned.status_code == 422
        assert [error["field"] for error in unsigned.json()["errors"]] == ["body.credentials"]
    missing_token = await platform.gateway.post(
        "/v1/listening/sources",
        json={
            "organization_id": organization_id,
            "kind": "facebook",
            "name": "No verify token",
            "settings": {"page_id": PAGE_ID},
            "credentials": APP_SECRET,
        },
        headers=manager,
    )
    assert missing_token.status_code == 422
    assert [error["field"] for error in missing_token.json()["errors"]] == [
        "body.settings.verify_token"
    ]
    source_id = await add_source(platform, organization_id, "webhook", {}, SHARED_SECRET)
    body = json.dumps({"mentions": []}).encode()
    through_gateway = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/webhook", content=body, headers=signed(body)
    )
    assert through_gateway.status_code in (401, 404, 405)
