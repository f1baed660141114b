"""Mention ingestion on JetStream and the mentions API, through the gateway: raw mentions
published as sources publish them are stored once per organisation, source and external id,
with language, sentiment, place and the queries they matched; what cannot be read lands in the
dead letters; an engagement's mentions are filtered and paged by cursor."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening import ingestion as ingestion_module
from services.listening.contracts import RawMention
from services.listening.intake import mention_received, publish_raw_mentions
from services.listening.models import Mention, OutboxEvent
from services.listening.places import MentionClues, PlaceResolution, resolve
from shared.auth import Role
from shared.events.envelope import CloudEvent, new_event
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_listening_queries import create_query
from tests.test_thin_thread import create_org

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def gazetteer_failing_on_boom(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placing a mention whose text says "boom" raises, as a bug in the gazetteer would, on
    every delivery."""

    def resolve_with_a_bug(clues: MentionClues) -> PlaceResolution | None:
        if "boom" in clues.text:
            raise RuntimeError("the gazetteer has a bug")
        return resolve(clues)

    monkeypatch.setattr(ingestion_module, "resolve", resolve_with_a_bug)


def raw(organization_id: str, text: str, **fields: Any) -> RawMention:
    return RawMention.model_validate(
        {
            "organization_id": organization_id,
            "source": "instagram",
            "external_id": uuid.uuid4().hex,
            "author": {"handle": "@lucia", "display_name": "Lucia"},
            "text": text,
            "url": "https://example.org/p/1",
            "published_at": T0,
            **fields,
        }
    )


async def publish_event(nats_client: NatsClient, platform: Platform, event: CloudEvent) -> None:
    """Publish an event as a misbehaving source might: under a message id of its own."""
    events = platform.settings.events
    await nats_client.jetstream().publish(
        event.nats_subject(events.subject_prefix),
        json.dumps(event.model_dump(mode="json")).encode(),
        stream=events.stream,
        headers={"Nats-Msg-Id": uuid.uuid4().hex},
    )


async def engagement_mentions(
    platform: Platform, engagement_id: str, **params: Any
) -> httpx.Response:
    return await platform.gateway.get(
        f"/v1/listening/engagements/{engagement_id}/mentions",
        params=params,
        headers=platform.auth(Role.EDITOR),
    )


async def wait_for_mentions(platform: Platform, engagement_id: str, count: int) -> list[Any]:
    found: list[Any] = []

    async def arrived() -> bool:
        nonlocal found
        found = (await engagement_mentions(platform, engagement_id)).json()
        return len(found) == count

    await wait_until(arrived, timeout=15)
    return found


async def ingested_events(
    sessions: async_sessionmaker[AsyncSession], organization_id: str
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.name == "listening.mentions_ingested",
                OutboxEvent.envelope["subject"].astext == organization_id,
            )
            .order_by(OutboxEvent.seq)
        )
        return [row.envelope["data"] for row in rows]


async def test_raw_mentions_are_stored_once_with_language_sentiment_place_and_queries(
    platform: Platform, nats_client: NatsClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    query = await create_query(
        platform,
        organization_id,
        engagement_id=engagement_id,
        expression='"La Quercia" OR #vendemmia2027',
        exclusions="offerta",
        sources=["instagram", "mastodon"],
        languages=[],
    )
    praised = raw(
        organization_id,
        "Che bella giornata all'agriturismo La Quercia, vino ottimo!",
        author={"handle": "lucia", "profile_location": "Siena, Toscana"},
    )
    panned = raw(
        organization_id,
        "This was a terrible experience, the staff was rude and we will never go back "
        "#vendemmia2027",
        source="mastodon",
        language="en-GB",
        published_at=T0 + timedelta(hours=1),
    )
    excluded = raw(organization_id, "La Quercia: offerta speciale")
    other_source = raw(organization_id, "La Quercia", source="x")
    named = raw(
        organization_id,
        "Nothing to do with any query",
        engagement_id=engagement_id,
        published_at=T0 - timedelta(hours=1),
    )
    await publish_raw_mentions(
        nats_client.jetstream(),
        platform.settings,
        [praised, panned, excluded, other_source, named],
    )

    newest_first = await wait_for_mentions(platform, engagement_id, 3)

    assert [m["external_id"] for m in newest_first] == [
        panned.external_id,
        praised.external_id,
        named.external_id,
    ]
    in_english, in_italian, by_name = newest_first
    assert in_italian["language"] == "it"
    assert in_italian["sentiment"]["label"] == "positive"
    assert in_italian["sentiment"]["score"] > 0
    assert in_italian["place"]["level"] == "comune"
    assert (in_italian["place"]["name"], in_italian["place"]["method"]) == ("Siena", "profile")
    assert (in_italian["place"]["province_code"], in_italian["place"]["region_code"]) == (
        "052",
        "09",
    )
    assert in_italian["query_ids"] == [query["id"]]
    assert in_italian["engagement_ids"] == [engagement_id]
    assert in_italian["author"] == {
        "handle": "lucia",
        "display_name": None,
        "profile_location": "Siena, Toscana",
    }
    assert in_english["language"] == "en"
    assert in_english["sentiment"]["label"] == "negative"
    assert in_english["hashtags"] == []
    assert in_english["query_ids"] == [query["id"]]
    assert (by_name["query_ids"], by_name["engagement_ids"]) == ([], [engagement_id])
    read = await platform.gateway.get(
        f"/v1/listening/mentions/{in_italian['id']}",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[in_italian["organization_id"]]),
    )
    assert read.status_code == 200, read.text
    assert read.json() == in_italian

    # Filters.
    async def ids(**params: Any) -> list[str]:
        response = await engagement_mentions(platform, engagement_id, **params)
        assert response.status_code == 200, response.text
        return [m["external_id"] for m in response.json()]

    assert await ids(sentiment="negative") == [panned.external_id]
    assert await ids(language="IT", source="instagram") == [praised.external_id]
    assert await ids(query_id=query["id"]) == [panned.external_id, praised.external_id]
    assert await ids(place="052") == [praised.external_id]
    assert await ids(place="09") == [praised.external_id]
    assert await ids(q="giornata vino") == [praised.external_id]
    assert await ids(q='"never go back"') == [panned.external_id]
    assert await ids(**{"from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat()}) == [
        praised.external_id
    ]
    bad = await engagement_mentions(
        platform, engagement_id, sentiment="happy", limit=201, place="0-5"
    )
    assert bad.status_code == 422
    fields = {error["field"] for error in bad.json()["errors"]}
    assert fields == {"query.sentiment", "query.limit", "query.place"}
    backwards = await engagement_mentions(
        platform, engagement_id, **{"from": T0.isoformat(), "to": T0.isoformat()}
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "query.to"

    # The same mention again, under another message id and event id: stored once. The sentinel
    # published after it is handled after it (one consumer reads the subject in order).
    again = mention_received(praised).model_copy(update={"id": str(uuid.uuid4())})
    await publish_event(nats_client, platform, again)
    sentinel = raw(organization_id, "sentinel", engagement_id=engagement_id, published_at=T0)
    await publish_raw_mentions(nats_client.jetstream(), platform.settings, [sentinel])
    await wait_for_mentions(platform, engagement_id, 4)
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Mention)
            .where(Mention.external_id == praised.external_id)
        )
    assert stored == 1

    # One mentions_ingested per organisation and batch: every stored mention in exactly one,
    # none for the duplicate.
    ingested = await ingested_events(sessions, organization_id)
    announced = [mention_id for e in ingested for mention_id in e["mention_ids"]]
    assert len(announced) == len(set(announced)) == sum(e["mentions"] for e in ingested) == 6
    [of_praised] = [e for e in ingested if in_italian["id"] in e["mention_ids"]]
    assert of_praised["organization_id"] == organization_id
    assert engagement_id in of_praised["engagement_ids"]
    assert query["id"] in of_praised["query_ids"]
    assert sum(of_praised["sentiment"].values()) == of_praised["mentions"]
    assert of_praised["sentiment"]["positive"] >= 1
    # Each stored mention is told whole, for read models (reporting) that keep them.
    items = {item["mention_id"]: item for e in ingested for item in e["items"]}
    assert sorted(items) == sorted(announced)
    assert items[in_italian["id"]] == {
        "mention_id": in_italian["id"],
        "engagement_ids": [engagement_id],
        "query_ids": [query["id"]],
        "channel": "instagram",
        "author": "lucia",
        "sentiment": "positive",
        "region_code": "09",
        "region_name": in_italian["place"]["region_name"],
        "published_at": in_italian["published_at"],
    }
    assert items[in_english["id"]]["sentiment"] == "negative"


async def test_mentions_are_paged_by_cursor_and_kept_from_other_organisations(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    published = [
        raw(
            organization_id,
            f"Mention {index}",
            engagement_id=engagement_id,
            published_at=T0 + timedelta(minutes=index // 2),
        )
        for index in range(5)
    ]
    await publish_raw_mentions(nats_client.jetstream(), platform.settings, published)
    everything = await wait_for_mentions(platform, engagement_id, 5)

    pages: list[list[str]] = []
    response = await engagement_mentions(platform, engagement_id, limit=2, source="instagram")
    while True:
        assert response.status_code == 200, response.text
        pages.append([m["id"] for m in response.json()])
        link = response.headers.get("Link")
        if link is None:
            break
        assert link.startswith(f"</v1/listening/engagements/{engagement_id}/mentions?")
        assert link.endswith('>; rel="next"')
        response = await platform.gateway.get(
            link[1 : link.index(">")], headers=platform.auth(Role.EDITOR)
        )
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [mention_id for page in pages for mention_id in page] == [m["id"] for m in everything]
    times = [m["published_at"] for m in everything]
    assert times == sorted(times, reverse=True)
    forged = await engagement_mentions(platform, engagement_id, cursor="not-a-cursor")
    assert forged.status_code == 422
    assert forged.json()["type"] == "urn:engage:problem:invalid-cursor"

    stranger = platform.auth(Role.MANAGER, orgs=[str(uuid.uuid4())])
    assert (
        await platform.gateway.get(
            f"/v1/listening/engagements/{engagement_id}/mentions", headers=stranger
        )
    ).status_code == 404
    assert (
        await platform.gateway.get(
            f"/v1/listening/mentions/{everything[0]['id']}", headers=stranger
        )
    ).status_code == 404
    unknown = await platform.gateway.get(
        f"/v1/listening/mentions/{uuid.uuid4()}", headers=platform.auth(Role.MANAGER)
    )
    assert unknown.status_code == 404


async def test_a_mention_that_cannot_be_read_lands_in_the_dead_letters(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization_id = await create_org(platform)
    other_organization = await create_org(platform, "Cantina Rivale")
    foreign_engagement = await stored_engagement(platform, other_organization)
    malformed = new_event(
        "listening.mention_received",
        {"organization_id": organization_id, "source": "instagram", "text": "no id, no date"},
        source="urn:test",
    )
    await publish_event(nats_client, platform, malformed)
    await publish_raw_mentions(
        nats_client.jetstream(),
        platform.settings,
        [raw(organization_id, "Not theirs", engagement_id=foreign_engagement)],
    )
    manager = platform.auth(Role.MANAGER)
    letters: list[Any] = []

    async def arrived() -> bool:
        nonlocal letters
        response = await platform.gateway.get(
            "/v1/listening/dead-letters",
            params={"organization_id": organization_id},
            headers=manager,
        )
        letters = response.json()
        return len(letters) == 2

    await wait_until(arrived, timeout=15)

    # Both come from one batch: the list's order between them is not the test's concern.
    [unreadable] = [letter for letter in letters if letter["event_id"] == malformed.id]
    [belongs_elsewhere] = [letter for letter in letters if letter is not unreadable]
    assert unreadable["event_id"] == malformed.id
    assert unreadable["event_type"] == "engage.listening.mention_received.v1"
    assert unreadable["consumer"] == "listening-mentions"
    assert unreadable["reason"].startswith("not a raw mention: ")
    for field in ("external_id", "author", "published_at"):
        assert field in unreadable["reason"]
    assert unreadable["payload"]["data"]["text"] == "no id, no date"
    assert unreadable["organization_id"] == organization_id
    assert "another organisation" in belongs_elsewhere["reason"]
    assert (
        await platform.gateway.get(
            "/v1/listening/dead-letters", headers=platform.auth(Role.CLIENT_VIEWER)
        )
    ).status_code == 403
