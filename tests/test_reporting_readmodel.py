"""The reporting service's read model: real events published to JetStream, stored by the
reporting consumers, idempotent per event and per fact, whatever their order, and made again
from the stream by ``engage reporting rebuild``; and the producers' events carrying what it
needs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NatsClient
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from engage.cli import app
from services.content.contests import events as contests
from services.content.contests.contracts import DrawReason
from services.content.contests.domain import RejectionReason
from services.listening import events as listening
from services.publisher import events as publisher
from services.reporting.readmodel.rebuild import READ_MODEL, rebuild
from services.reporting.readmodel.subscriptions import SUBSCRIPTIONS
from services.strategy import events as strategy
from services.strategy.contracts import DeliverableKind, LifecycleEventName
from services.strategy.models import OutboxEvent as StrategyOutboxEvent
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel, InterventionMode, Phase
from shared.events.envelope import CloudEvent, new_event
from shared.settings import EventSettings
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import create_org, engagement_body

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@asynccontextmanager
async def reporting_consumers(
    nats_client: NatsClient,
    events: EventSettings,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[None]:
    """The reporting worker's read-model consumers, on the test's own stream."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            subscription.consumer(nats_client.jetstream(), sessions, events).run(stop)
        )
        for subscription in SUBSCRIPTIONS
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


class Publisher:
    """Publishes events on the test's stream as the outbox relays do (message id = event id)."""

    def __init__(self, nats_client: NatsClient, events: EventSettings) -> None:
        self._js = nats_client.jetstream()
        self._events = events

    async def __call__(
        self, name: str, data: BaseModel, *, msg_id: str | None = None, event_id: str | None = None
    ) -> CloudEvent:
        event = new_event(name, data, source="urn:test", event_id=event_id)
        await self.again(event, msg_id=msg_id)
        return event

    async def again(self, event: CloudEvent, *, msg_id: str | None = None) -> None:
        """The same event as another message (a relay that published it twice)."""
        await self._js.publish(
            event.nats_subject(self._events.subject_prefix),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id or event.id},
        )


async def rows_of(
    sessions: async_sessionmaker[AsyncSession], organization_id: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    """Every read-model row of the organisation, table by table, in a stable order."""
    found: dict[str, list[dict[str, Any]]] = {}
    async with session_scope(sessions, SYSTEM) as session:
        for model in READ_MODEL:
            table = model.__table__
            result = await session.execute(
                select(table).where(table.c.organization_id == organization_id)
            )
            rows = [dict(row._mapping) for row in result]
            found[model.__tablename__] = sorted(rows, key=lambda row: sorted(map(str, row.items())))
    return found


def one(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    [row] = [row for row in rows if all(row[key] == value for key, value in match.items())]
    return row


def post_fact(organization_id: uuid.UUID, engagement_id: uuid.UUID) -> dict[str, Any]:
    return {
        "publication_id": uuid.uuid4(),
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "channel": "instagram",
        "variant_id": uuid.uuid4(),
        "slot_id": None,
    }


def conversation(
    organization_id: uuid.UUID, engagement_id: uuid.UUID, conversation_id: uuid.UUID
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "source": "instagram",
        "category": "question",
        "state": "open",
        "assignee_subject": None,
        "assignee_role": None,
    }


def entry(
    organization_id: uuid.UUID, engagement_id: uuid.UUID, contest_id: uuid.UUID, handle: str
) -> dict[str, Any]:
    return {
        "contest_id": contest_id,
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "entry_id": uuid.uuid4(),
        "platform": "instagram",
        "user_handle": handle,
        "source": "listening",
    }


class Story:
    """One organisation's facts, published in an order that is not always the facts' own."""

    def __init__(self) -> None:
        self.organization_id = uuid.uuid4()
        self.engagement_id = uuid.uuid4()
        self.query_id = uuid.uuid4()
        self.contest_id = uuid.uuid4()
        self.mentions = [uuid.uuid4(), uuid.uuid4()]
        self.published = post_fact(self.organization_id, self.engagement_id)
        self.failed = post_fact(self.organization_id, self.engagement_id)
        self.withdrawn = post_fact(self.organization_id, self.engagement_id)
        self.conversation_id = uuid.uuid4()
        self.connection_id = uuid.uuid4()
        self.entries = [
            entry(self.organization_id, self.engagement_id, self.contest_id, handle)
            for handle in ("anna", "bruno", "carla")
        ]

    async def tell(self, publish: Publisher) -> None:
        org, engagement = self.organization_id, self.engagement_id
        # The lifecycle before the contract it needs: it waits for it.
        await publish(
            strategy.lifecycle_event(LifecycleEventName.PHASE_STARTED),
            strategy.LifecycleFact(
                engagement_id=engagement, organization_id=org, phase=Phase.DESIGN
            ),
        )
        await publish(
            strategy.ORGANIZATION_CREATED,
            strategy.OrganizationCreated(
                organization_id=org, name="Cantina Rossi", timezone="Europe/London"
            ),
        )
        await publish(
            strategy.ENGAGEMENT_CREATED,
            strategy.EngagementCreated(
                engagement_id=engagement,
                organization_id=org,
                mode=InterventionMode.REALIZZAZIONE,
                channels=[Channel.INSTAGRAM, Channel.FACEBOOK],
                starts_on=date(2027, 3, 1),
                ends_on=date(2027, 8, 31),
                report_cadence="monthly",
            ),
        )
        for phase in (Phase.ANALYSIS, Phase.SETUP):
            await publish(
                strategy.lifecycle_event(LifecycleEventName.PHASE_STARTED),
                strategy.LifecycleFact(engagement_id=engagement, organization_id=org, phase=phase),
            )
        await publish(
            strategy.lifecycle_event(LifecycleEventName.ENGAGEMENT_COMPLETED),
            strategy.LifecycleFact(
                engagement_id=engagement, organization_id=org, phase=Phase.SETUP
            ),
        )
        # Version 2 of the objectives, then version 1 approved late: 2 stays.
        for version in (2, 1):
            await publish(
                strategy.DELIVERABLE_APPROVED,
                strategy.DeliverableApproved(
                    deliverable_id=uuid.uuid4(),
                    engagement_id=engagement,
                    organization_id=org,
                    kind=DeliverableKind.OBJECTIVES,
                    version=version,
                    approved_by="pm",
                    approved_as="agency",
                    comment=None,
                    body={"objectives": [], "version": version},
                ),
            )
        await publish(
            strategy.DELIVERABLE_APPROVED,
            strategy.DeliverableApproved(
                deliverable_id=uuid.uuid4(),
                engagement_id=engagement,
                organization_id=org,
                kind=DeliverableKind.BRIEF,
                version=3,
                approved_by="pm",
                approved_as="agency",
                comment=None,
                body={"context": "not objectives"},
            ),
        )
        await self._listening(publish)
        await self._posts(publish)
        await self._conversation(publish)
        await self._contest(publish)

    async def _listening(self, publish: Publisher) -> None:
        org, engagement = self.organization_id, self.engagement_id
        await publish(
            listening.QUERY_STARTED,
            listening.QueryStarted(
                query_id=self.query_id,
                organization_id=org,
                engagement_id=engagement,
                name="Rivale",
                terms=["rivale"],
                channels=[],
                languages=[],
                created_by="pm",
                expression="rivale",
                exclusions=None,
                sources=["instagram"],
                starts_on=date(2027, 3, 1),
                competitor=True,
            ),
        )
        other_engagement = uuid.uuid4()
        ingested = await publish(
            listening.MENTIONS_INGESTED,
            listening.MentionsIngested(
                organization_id=org,
                mentions=2,
                mention_ids=self.mentions,
                engagement_ids=[engagement, other_engagement],
                query_ids=[self.query_id],
                sentiment=listening.SentimentCounts(positive=1, unlabelled=1),
                items=[
                    listening.IngestedMention(
                        mention_id=self.mentions[0],
                        engagement_ids=[engagement, other_engagement],
                        query_ids=[self.query_id],
                        channel="instagram",
                        author="lucia",
                        sentiment="positive",
                        region_code="09",
                        region_name="Toscana",
                        published_at=T0,
                    ),
                    listening.IngestedMention(
                        mention_id=self.mentions[1],
                        engagement_ids=[engagement],
                        query_ids=[],
                        channel="mastodon",
                        author=None,
                        sentiment=None,
                        region_code=None,
                        region_name=None,
                        published_at=T0 + timedelta(hours=1),
                    ),
                ],
            ),
        )
        # Delivered twice (the relay published it again under another message id).
        await publish.again(ingested, msg_id=f"again-{ingested.id}")

    async def _posts(self, publish: Publisher) -> None:
        due = T0 + timedelta(days=1)
        # Published before its scheduling is read, then a late failure for good: still published.
        await publish(
            publisher.POST_PUBLISHED,
            publisher.PostPublished(
                **self.published,
                platform_post_id="p-1",
                url="https://instagram.example/p/1",
                due_at=due,
                published_at=due + timedelta(seconds=20),
            ),
        )
        await publish(
            publisher.POST_SCHEDULED, publisher.PostScheduled(**self.published, due_at=due)
        )
        await publish(
            publisher.POST_FAILED,
            publisher.PostFailed(
                **self.published,
                failure_class="retryable",
                detail="late",
                attempt=1,
                will_retry=False,
            ),
        )
        await publish(publisher.POST_SCHEDULED, publisher.PostScheduled(**self.failed, due_at=due))
        for attempt, will_retry in ((1, True), (2, False)):
            await publish(
                publisher.POST_FAILED,
                publisher.PostFailed(
                    **self.failed,
                    failure_class="content_rejected",
                    detail="refused",
                    attempt=attempt,
                    will_retry=will_retry,
                ),
            )
        await publish(
            publisher.POST_WITHDRAWN, publisher.PostWithdrawn(**self.withdrawn, reason="stop")
        )
        await publish(
            publisher.POST_SCHEDULED, publisher.PostScheduled(**self.withdrawn, due_at=due)
        )
        for hours in (1, 2):
            collected_at = due + timedelta(hours=hours)
            sampled = await publish(
                publisher.METRICS_SAMPLED,
                publisher.MetricsSampled(
                    organization_id=self.organization_id,
                    collected_at=collected_at,
                    chunk=0,
                    posts=[
                        publisher.PostSample(
                            publication_id=self.published["publication_id"],
                            collected_at=collected_at,
                            impressions=100 * hours,
                            reach=80 * hours,
                            likes=10 * hours,
                        )
                    ],
                    accounts=[
                        publisher.AccountSample(
                            connection_id=self.connection_id,
                            channel="instagram",
                            collected_at=collected_at,
                            followers=1000 + hours,
                        )
                    ],
                ),
            )
            await publish.again(sampled, msg_id=f"again-{sampled.id}")

    async def _conversation(self, publish: Publisher) -> None:
        fact = conversation(self.organization_id, self.engagement_id, self.conversation_id)
        # The answer read before the opening.
        await publish(
            listening.CONVERSATION_FIRST_RESPONSE,
            listening.ConversationFirstResponse(
                **{**fact, "state": "answered"},
                reply_id=uuid.uuid4(),
                answered_at=T0 + timedelta(minutes=50),
                response_minutes=50.0,
                within_sla=False,
            ),
        )
        await publish(
            listening.CONVERSATION_OPENED,
            listening.ConversationOpened(
                **fact,
                author_handle="lucia",
                first_mention_id=self.mentions[0],
                triage_reason="question mark",
                opened_at=T0,
                due_soon_at=T0 + timedelta(minutes=20),
                due_at=T0 + timedelta(minutes=30),
                escalate_at=T0 + timedelta(minutes=60),
            ),
        )
        await publish(
            listening.CONVERSATION_SLA_BREACHED,
            listening.ConversationSlaFact(
                **fact,
                due_at=T0 + timedelta(minutes=30),
                task_owner="editor",
                escalated_to=None,
                at=T0 + timedelta(minutes=30),
            ),
        )
        await publish(
            listening.CONVERSATION_CLOSED,
            listening.ConversationClosed(
                **{**fact, "state": "closed"},
                closed_by="editor",
                closed_at=T0 + timedelta(hours=2),
                resolution_minutes=120.0,
            ),
        )

    async def _contest(self, publish: Publisher) -> None:
        first, second, third = self.entries
        common = {
            "contest_id": self.contest_id,
            "organization_id": self.organization_id,
            "engagement_id": self.engagement_id,
        }
        # The draw read before its entries: it waits for them.
        await publish(
            contests.CONTEST_DRAWN,
            contests.ContestDrawn(
                **common,
                number=1,
                reason=DrawReason.INITIAL,
                seed="seed",
                entries_hash="hash",
                candidates=2,
                winners=[first["entry_id"]],
                reserves=[second["entry_id"]],
            ),
        )
        for accepted in (first, second):
            await publish(contests.CONTEST_ENTRY_ACCEPTED, contests.EntryRecorded(**accepted))
        await publish(
            contests.CONTEST_ENTRY_REJECTED,
            contests.EntryRejected(**third, reason=RejectionReason.KEYWORD_MISSING),
        )
        await publish(
            contests.CONTEST_WINNER_UNCLAIMED,
            contests.WinnerUnclaimed(
                **common,
                entry_id=first["entry_id"],
                claim_deadline=T0,
                replaced_by=second["entry_id"],
            ),
        )

    def complete(self, rows: dict[str, list[dict[str, Any]]]) -> bool:
        """Every fact told is stored: each kind of event has its own consumer, so the facts
        of one row (a post's scheduling and withdrawal) settle in any order."""
        engagement = rows["engagements"]
        entries = rows["contest_entries"]
        posts = {row["publication_id"]: row["status"] for row in rows["posts"]}
        return (
            len(rows["organizations"]) == 1
            and len(engagement) == 1
            and engagement[0]["phase"] == "setup"
            and engagement[0]["ended"] == "completed"
            and len(rows["objectives"]) == 1
            and len(rows["queries"]) == 1
            and len(rows["mentions"]) == 3
            and posts
            == {
                self.published["publication_id"]: "published",
                self.failed["publication_id"]: "failed",
                self.withdrawn["publication_id"]: "withdrawn",
            }
            and len(rows["post_metrics"]) == 2
            and len(rows["account_metrics"]) == 2
            and all(row["due_at"] is not None for row in rows["posts"])
            and len(rows["conversations"]) == 1
            and all(
                rows["conversations"][0][moment] is not None
                for moment in ("opened_at", "first_response_at", "breached_at", "closed_at")
            )
            and len(entries) == 3
            and any(row["unclaimed_at"] is not None for row in entries)
            and sum(row["won_at"] is not None for row in entries) == 2
        )


async def told(
    nats_client: NatsClient,
    isolated_events: EventSettings,
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[Story, dict[str, list[dict[str, Any]]]]:
    story = Story()
    async with reporting_consumers(nats_client, isolated_events, sessions):
        await story.tell(Publisher(nats_client, isolated_events))
        found: dict[str, list[dict[str, Any]]] = {}

        async def stored() -> bool:
            nonlocal found
            found = await rows_of(sessions, story.organization_id)
            return story.complete(found)

        try:
            await wait_until(stored, timeout=60, interval=0.2)
        except TimeoutError:
            raise AssertionError(f"not every fact was stored: {found}") from None
    return story, found


async def test_the_read_model_keeps_what_the_events_said_once_whatever_their_order(
    nats_client: NatsClient,
    isolated_events: EventSettings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    story, rows = await told(nats_client, isolated_events, sessions)
    org, engagement = story.organization_id, story.engagement_id

    assert rows["organizations"] == [
        {"organization_id": org, "name": "Cantina Rossi", "timezone": "Europe/London"}
    ]
    [contract] = rows["engagements"]
    assert contract["report_cadence"] == "monthly"
    assert contract["channels"] == ["instagram", "facebook"]
    assert (contract["starts_on"], contract["ends_on"]) == (date(2027, 3, 1), date(2027, 8, 31))
    # The furthest phase started (setup), though design was read first and analysis after it.
    assert (contract["phase"], contract["ended"]) == ("setup", "completed")
    [objectives] = rows["objectives"]
    assert (objectives["version"], objectives["body"]["version"]) == (2, 2)

    assert rows["queries"] == [
        {
            "query_id": story.query_id,
            "organization_id": org,
            "engagement_id": engagement,
            "name": "Rivale",
            "competitor": True,
        }
    ]
    # A mention per engagement it matched; the event delivered twice stored it once.
    praised = one(rows["mentions"], mention_id=story.mentions[0], engagement_id=engagement)
    assert praised["channel"] == "instagram"
    assert (praised["author"], praised["sentiment"]) == ("lucia", "positive")
    assert (praised["region_code"], praised["region_name"]) == ("09", "Toscana")
    assert praised["query_ids"] == [story.query_id]
    assert praised["published_at"] == T0
    unlabelled = one(rows["mentions"], mention_id=story.mentions[1])
    assert (unlabelled["sentiment"], unlabelled["author"], unlabelled["channel"]) == (
        None,
        None,
        "mastodon",
    )

    published = one(rows["posts"], publication_id=story.published["publication_id"])
    due = T0 + timedelta(days=1)
    assert published["due_at"] == due
    assert published["published_at"] == due + timedelta(seconds=20)
    assert published["url"] == "https://instagram.example/p/1"
    assert (published["status"], published["failed_at"], published["failure_class"]) == (
        "published",
        None,
        None,
    )
    failed = one(rows["posts"], publication_id=story.failed["publication_id"])
    assert failed["failure_class"] == "content_rejected"
    assert failed["failed_at"] is not None
    assert failed["published_at"] is None
    withdrawn = one(rows["posts"], publication_id=story.withdrawn["publication_id"])
    assert withdrawn["due_at"] == due

    assert [
        (row["collected_at"], row["impressions"], row["saves"])
        for row in sorted(rows["post_metrics"], key=lambda row: row["collected_at"])
    ] == [(due + timedelta(hours=1), 100, None), (due + timedelta(hours=2), 200, None)]
    assert sorted(row["followers"] for row in rows["account_metrics"]) == [1001, 1002]

    [talk] = rows["conversations"]
    assert talk["opened_at"] == T0
    assert talk["due_at"] == T0 + timedelta(minutes=30)
    assert talk["first_response_at"] == T0 + timedelta(minutes=50)
    assert (talk["response_minutes"], talk["within_sla"]) == (50.0, False)
    assert talk["breached_at"] == T0 + timedelta(minutes=30)
    assert talk["closed_at"] == T0 + timedelta(hours=2)

    first, second, third = (
        one(rows["contest_entries"], entry_id=told_entry["entry_id"])
        for told_entry in story.entries
    )
    assert (first["accepted"], second["accepted"], third["accepted"]) == (True, True, False)
    assert first["won_at"] is not None
    assert first["unclaimed_at"] is not None
    assert second["won_at"] is not None
    assert second["unclaimed_at"] is None
    assert third["won_at"] is None
    assert {row["platform"] for row in rows["contest_entries"]} == {"instagram"}


async def test_a_rebuild_from_the_stream_gives_the_same_rows(
    nats_client: NatsClient,
    isolated_events: EventSettings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    story, before = await told(nats_client, isolated_events, sessions)
    progress: list[str] = []

    # As with the worker running: its consumers keep going while the rebuild replays.
    async with reporting_consumers(nats_client, isolated_events, sessions):
        replayed = await rebuild(
            sessions, nats_client.jetstream(), isolated_events, progress.append
        )

    assert await rows_of(sessions, story.organization_id) == before
    assert replayed[listening.MENTIONS_INGESTED] == 2, "both copies read; one stored"
    assert replayed[publisher.POST_FAILED] == 3
    assert progress[0] == "read model emptied"
    assert progress[-1].startswith("read model rebuilt:")
    # The replay's consumers are gone; the worker's durable ones stay.
    consumers = [info.name async for info in _consumers(nats_client, isolated_events.stream)]
    assert sorted(consumers) == sorted(s.durable for s in SUBSCRIPTIONS)


async def _consumers(nats_client: NatsClient, stream: str) -> AsyncIterator[Any]:
    for info in await nats_client.jetstream().consumers_info(stream):
        yield info


async def test_engagements_take_a_report_cadence_and_strategy_announces_it(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    manager = platform.auth(Role.MANAGER)
    organization = await platform.gateway.post(
        "/v1/organizations",
        json={"name": "Bakery", "timezone": "Europe/London"},
        headers=platform.auth(Role.ADMIN),
    )
    assert organization.status_code == 201, organization.text
    organization_id = organization.json()["id"]
    monthly = await platform.gateway.post(
        "/v1/engagements",
        json={**engagement_body(organization_id), "report_cadence": "monthly"},
        headers=manager,
    )
    assert monthly.status_code == 201, monthly.text
    assert monthly.json()["report_cadence"] == "monthly"
    weekly = await platform.gateway.post(
        "/v1/engagements", json=engagement_body(await create_org(platform)), headers=manager
    )
    assert weekly.json()["report_cadence"] == "weekly"
    read = await platform.gateway.get(f"/v1/engagements/{monthly.json()['id']}", headers=manager)
    assert read.json()["report_cadence"] == "monthly"
    refused = await platform.gateway.post(
        "/v1/engagements",
        json={**engagement_body(organization_id), "report_cadence": "daily"},
        headers=manager,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.report_cadence"

    async with session_scope(sessions, SYSTEM) as session:
        staged = {
            row.envelope["subject"]: row.envelope["data"]
            for row in await session.scalars(
                select(StrategyOutboxEvent).where(
                    StrategyOutboxEvent.envelope["subject"].astext.in_(
                        [organization_id, monthly.json()["id"]]
                    ),
                    StrategyOutboxEvent.name.in_(
                        [strategy.ORGANIZATION_CREATED, strategy.ENGAGEMENT_CREATED]
                    ),
                )
            )
        }
    assert staged[organization_id]["timezone"] == "Europe/London"
    assert staged[monthly.json()["id"]]["report_cadence"] == "monthly"


def test_events_emitted_before_the_new_fields_still_validate() -> None:
    organization_id, engagement_id = uuid.uuid4(), uuid.uuid4()
    created = strategy.EngagementCreated.model_validate(
        {
            "engagement_id": str(engagement_id),
            "organization_id": str(organization_id),
            "mode": "realizzazione",
            "channels": ["instagram"],
            "starts_on": "2027-01-01",
            "ends_on": "2027-02-01",
        }
    )
    assert created.report_cadence == "weekly"
    organization = strategy.OrganizationCreated.model_validate(
        {"organization_id": str(organization_id), "name": "Old"}
    )
    assert organization.timezone == "Europe/Rome"
    approved = strategy.DeliverableApproved.model_validate(
        {
            "deliverable_id": str(uuid.uuid4()),
            "engagement_id": str(engagement_id),
            "organization_id": str(organization_id),
            "kind": "objectives",
            "version": 1,
            "approved_by": "pm",
            "approved_as": "agency",
            "comment": None,
        }
    )
    assert approved.body is None
    ingested = listening.MentionsIngested.model_validate(
        {
            "organization_id": str(organization_id),
            "mentions": 0,
            "mention_ids": [],
            "engagement_ids": [],
            "query_ids": [],
            "sentiment": {},
        }
    )
    assert ingested.items == []


def test_engage_reporting_rebuild_is_a_command() -> None:
    result = CliRunner().invoke(app, ["reporting", "rebuild", "--help"])
    assert result.exit_code == 0, result.output
    assert "replay the event stream" in result.output
