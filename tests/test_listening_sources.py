"""Sources: added through the gateway with their settings checked per kind and their secrets
sealed; polled from their cursor, what they read ingested, their health kept and announced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel, SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening import events
from services.listening.contracts import RawAuthor, RawMention, SourceKind, SourcePolled
from services.listening.models import Mention, OutboxEvent, Source
from services.listening.sources import polling
from services.listening.sources.readers import (
    Cursor,
    Page,
    RateLimited,
    SourceReader,
    SourceRefused,
    SourceScope,
    SourceUnavailable,
)
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org

T0 = datetime(2027, 5, 1, 8, 0, tzinfo=UTC)


class FeedSettings(BaseModel):
    url: str


class ScriptedReader:
    """A reader whose answers the test writes: a page, or a failure to raise."""

    kind: ClassVar[SourceKind] = SourceKind.RSS
    Settings: ClassVar[type[BaseModel]] = FeedSettings
    needs_credentials: ClassVar[bool] = True

    def __init__(self, *answers: Page | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[Cursor, datetime, str | None]] = []

    async def read(
        self,
        scope: SourceScope,
        settings: BaseModel,
        credentials: SecretStr | None,
        cursor: Cursor,
        since: datetime,
    ) -> Page:
        self.calls.append((cursor, since, credentials.get_secret_value() if credentials else None))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def mention(organization_id: str, number: int) -> RawMention:
    return RawMention(
        organization_id=uuid.UUID(organization_id),
        source=SourceKind.RSS,
        external_id=f"entry-{number}",
        author=RawAuthor(handle="news.example"),
        text=f"Articolo numero {number} sulla vendemmia a Montalcino",
        published_at=T0 + timedelta(minutes=number),
    )


async def create_source(platform: Platform, organization_id: str, **fields: Any) -> httpx.Response:
    return await platform.gateway.post(
        "/v1/listening/sources",
        json={
            "organization_id": organization_id,
            "kind": "sandbox",
            "name": "Comments on our sandbox posts",
            "settings": {"connection_id": str(uuid.uuid4())},
            **fields,
        },
        headers=platform.auth(Role.MANAGER),
    )


async def stored_source(
    sessions: async_sessionmaker[AsyncSession], organization_id: str, engagement_id: str
) -> uuid.UUID:
    """An RSS source, stored as the service stores one, due now."""
    from services.listening.sources.service import SourceVault

    source = Source(
        id=uuid.uuid4(),
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        kind="rss",
        name="Local news",
        settings={"url": "https://news.example/feed.xml"},
        credentials=SourceVault(_settings().listening).seal(SecretStr("s3cret")),
        cursor={},
        reads_from=T0,
        poll_interval_seconds=120,
        status="active",
        consecutive_failures=0,
        next_poll_at=datetime.now(UTC) - timedelta(seconds=1),
        mentions_read=0,
        created_by="tester",
    )
    async with session_scope(sessions, SYSTEM) as session:
        session.add(source)
    return source.id


def _settings() -> Any:
    from shared.settings import Settings

    return Settings()


async def _source(sessions: async_sessionmaker[AsyncSession], source_id: uuid.UUID) -> Source:
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.get(Source, source_id)
        assert found is not None
        return found


async def _make_due(sessions: async_sessionmaker[AsyncSession], source_id: uuid.UUID) -> None:
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.get(Source, source_id)
        assert found is not None
        found.next_poll_at = datetime.now(UTC) - timedelta(seconds=1)


async def _health_events(
    sessions: async_sessionmaker[AsyncSession], source_id: uuid.UUID
) -> list[str]:
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.envelope["subject"].astext == str(source_id))
            .order_by(OutboxEvent.seq)
        )
        return [row.name for row in rows]


async def test_a_source_is_added_with_its_settings_checked_and_its_secret_never_answered(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    created = await create_source(platform, organization_id, credentials="not-needed-but-kept")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["kind"] == "sandbox"
    assert body["polled"] is True
    assert body["has_credentials"] is True
    assert "not-needed-but-kept" not in created.text
    assert body["health"]["status"] == "active"
    assert body["health"]["next_poll_at"] is not None

    listed = await platform.gateway.get(
        "/v1/listening/sources",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert [source["id"] for source in listed.json()] == [body["id"]]

    stopped = await platform.gateway.post(
        f"/v1/listening/sources/{body['id']}/stop", headers=platform.auth(Role.MANAGER)
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["health"]["status"] == "stopped"
    assert stopped.json()["health"]["next_poll_at"] is None


async def test_bad_settings_are_a_422_naming_the_field(platform: Platform) -> None:
    organization_id = await create_org(platform)
    bad = await create_source(platform, organization_id, settings={"connection_id": "nope"})
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in bad.json()["errors"]] == ["body.settings.connection_id"]

    unknown = await create_source(platform, organization_id, kind="carrier-pigeon")
    assert unknown.status_code == 422


async def test_another_organisations_sources_are_not_found(platform: Platform) -> None:
    mine, theirs = await create_org(platform), await create_org(platform)
    created = (await create_source(platform, theirs)).json()
    outsider = {"Authorization": f"Bearer {platform.token(Role.MANAGER, orgs=[mine])}"}
    read = await platform.gateway.get(f"/v1/listening/sources/{created['id']}", headers=outsider)
    assert read.status_code == 404
    stop = await platform.gateway.post(
        f"/v1/listening/sources/{created['id']}/stop", headers=outsider
    )
    assert stop.status_code == 404
    refused = await platform.gateway.post(
        "/v1/listening/sources",
        json={
            "organization_id": theirs,
            "kind": "sandbox",
            "name": "Theirs",
            "settings": {"connection_id": str(uuid.uuid4())},
        },
        headers=outsider,
    )
    assert refused.status_code in (403, 404)


async def test_a_poll_publishes_what_it_read_keeps_the_cursor_and_reads_once_when_run_twice(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    source_id = await stored_source(sessions, organization_id, engagement_id)
    reader = ScriptedReader(
        Page(
            mentions=[mention(organization_id, number) for number in range(3)],
            cursor={"newest": "entry-2"},
        )
    )

    def reader_for(kind: SourceKind) -> SourceReader:
        assert kind is SourceKind.RSS
        return reader

    js = nats_client.jetstream()
    polled = await polling.poll_source(sessions, js, platform.settings, reader_for, source_id)
    assert polled.outcome == "read"
    assert polled.mentions == 3
    # The reader was given the backfill's start, an empty cursor and the opened secret.
    assert reader.calls == [({}, T0, "s3cret")]
    again = await polling.poll_source(sessions, js, platform.settings, reader_for, source_id)
    assert again.outcome == "skipped"
    assert len(reader.calls) == 1

    source = await _source(sessions, source_id)
    assert source.cursor == {"newest": "entry-2"}
    assert source.mentions_read == 3
    assert source.status == "active"
    assert source.next_poll_at >= datetime.now(UTC) + timedelta(seconds=100)

    async def stored() -> bool:
        async with session_scope(sessions, SYSTEM) as session:
            rows = await session.scalars(
                select(Mention.external_id).where(
                    Mention.organization_id == uuid.UUID(organization_id)
                )
            )
            return sorted(rows) == ["entry-0", "entry-1", "entry-2"]

    await wait_until(stored, timeout=15)


async def test_a_failing_source_says_why_backs_off_and_recovers(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    source_id = await stored_source(sessions, organization_id, engagement_id)
    reader = ScriptedReader(
        SourceRefused("feed: HTTP 404", status=404),
        SourceUnavailable("feed: ConnectTimeout"),
        RuntimeError("a bug in a reader"),
        Page(mentions=[mention(organization_id, 9)], cursor={"newest": "entry-9"}),
    )
    js = nats_client.jetstream()

    async def poll() -> SourcePolled:
        await _make_due(sessions, source_id)
        return await polling.poll_source(
            sessions, js, platform.settings, lambda _: reader, source_id
        )

    first = await poll()
    assert first.outcome == "failing"
    assert first.reason == "feed: HTTP 404"
    source = await _source(sessions, source_id)
    assert (source.status, source.failure_kind, source.consecutive_failures) == (
        "failing",
        "refused",
        1,
    )
    first_wait = source.next_poll_at - source.last_polled_at  # type: ignore[operator]

    await poll()
    source = await _source(sessions, source_id)
    assert (source.failure_kind, source.failure_reason) == ("unavailable", "feed: ConnectTimeout")
    assert source.next_poll_at - source.last_polled_at > first_wait  # type: ignore[operator]

    third = await poll()
    assert third.outcome == "failing"
    source = await _source(sessions, source_id)
    assert source.failure_kind == "unexpected"
    assert "RuntimeError" in (source.failure_reason or "")
    assert source.cursor == {}

    recovered = await poll()
    assert recovered.outcome == "read"
    source = await _source(sessions, source_id)
    assert (source.status, source.consecutive_failures, source.failure_reason) == (
        "active",
        0,
        None,
    )
    assert source.cursor == {"newest": "entry-9"}
    # Failing is announced once for the three failures, and the recovery once.
    assert await _health_events(sessions, source_id) == [
        events.SOURCE_FAILING,
        events.SOURCE_RECOVERED,
    ]

    health = await platform.gateway.get(
        f"/v1/listening/sources/{source_id}",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert health.json()["health"]["status"] == "active"
    assert health.json()["health"]["mentions_read"] == 1


async def test_a_rate_limited_source_waits_as_long_as_the_platform_asked(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    source_id = await stored_source(sessions, organization_id, engagement_id)
    partial = Page(mentions=[mention(organization_id, 1)], cursor={"newest": "entry-1"})
    reader = ScriptedReader(RateLimited(900, partial))
    polled = await polling.poll_source(
        sessions, nats_client.jetstream(), platform.settings, lambda _: reader, source_id
    )
    assert (polled.outcome, polled.mentions) == ("rate_limited", 1)
    source = await _source(sessions, source_id)
    assert source.status == "active"
    assert source.cursor == {"newest": "entry-1"}
    assert source.next_poll_at >= datetime.now(UTC) + timedelta(seconds=850)


@pytest.mark.parametrize("kind", ["webhook", "import"])
async def test_pushed_sources_are_never_due(kind: str) -> None:
    from services.listening.sources.service import is_polled

    assert not is_polled(SourceKind(kind))
