"""The conversations inbox: triage with reasons, the mode rule per mode and role, intake from
ingested mentions (threads, idempotency), the API's refusals, replies and their outcomes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening import events
from services.listening.contracts import (
    RECORD_REPLY_OUTCOME,
    SLA_STARTED_BY,
    RawAuthor,
    RawMention,
    ReplyOutcome,
    SourceKind,
)
from services.listening.conversations import intake
from services.listening.conversations.answering import (
    ANSWERING,
    Review,
    in_review_sample,
    may_answer,
    may_review,
)
from services.listening.conversations.reply_limits import REPLY_LIMITS, violated
from services.listening.conversations.triage import Category, triage
from services.listening.intake import publish_raw_mentions
from services.listening.models import (
    Conversation,
    ConversationMessage,
    EngagementMode,
    Mention,
    OutboxEvent,
)
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import InterventionMode
from shared.events.envelope import new_event
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import create_org, engagement_body

T0 = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)

# Triage


@pytest.mark.parametrize(
    ("text", "label", "score", "category", "reason"),
    [
        ("A che ora aprite domenica?", None, None, Category.QUESTION, "asks a question"),
        ("Come si prenota la degustazione", None, None, Category.QUESTION, "opens with 'come'"),
        ("Voglio il rimborso, subito", None, None, Category.COMPLAINT, "says 'rimborso'"),
        ("Servizio lento e camerieri scortesi", "negative", 0.9, Category.COMPLAINT, "negative"),
        ("Complimenti per la cena di ieri", "positive", 0.9, Category.PRAISE, "'complimenti'"),
        ("Serata perfetta", "positive", 0.8, Category.PRAISE, "sentiment: positive"),
        ("Guadagna 500 euro al giorno", None, None, Category.SPAM, "'guadagna'"),
        ("http://a.example http://b.example http://c.example", None, None, Category.SPAM, "3"),
        ("Siamo passati di qui", "neutral", 0.7, Category.OTHER, "no rule matched"),
        ("Cena così così", "negative", 0.4, Category.OTHER, "no rule matched"),
    ],
)
def test_triage_says_the_category_and_why(
    text: str, label: str | None, score: float | None, category: Category, reason: str
) -> None:
    triaged = triage(text, label, score)
    assert triaged.category is category
    assert reason in triaged.reason


# The mode rule

AGENCY = [frozenset({Role.ADMIN}), frozenset({Role.MANAGER}), frozenset({Role.EDITOR})]
CLIENT = frozenset({Role.CLIENT_APPROVER})
VIEWER = frozenset({Role.CLIENT_VIEWER})
NOT_SAMPLED = next(i for i in (uuid.uuid4() for _ in range(100)) if not in_review_sample(i))
SAMPLED = next(i for i in (uuid.uuid4() for _ in range(100)) if in_review_sample(i))


@pytest.mark.parametrize("roles", AGENCY)
def test_realizzazione_the_agency_answers_the_client_may_not(roles: frozenset[Role]) -> None:
    mode = InterventionMode.REALIZZAZIONE
    decision = may_answer(mode, roles, Category.COMPLAINT, NOT_SAMPLED)
    assert (decision.allowed, decision.review) == (True, Review.NONE)
    refused = may_answer(mode, CLIENT, Category.QUESTION, NOT_SAMPLED)
    assert not refused.allowed
    assert refused.reason == "in realizzazione the agency answers the inbox"


@pytest.mark.parametrize("roles", AGENCY)
def test_affiancamento_both_answer_and_client_complaints_wait_for_review(
    roles: frozenset[Role],
) -> None:
    mode = InterventionMode.AFFIANCAMENTO
    assert may_answer(mode, roles, Category.COMPLAINT, NOT_SAMPLED).review is Review.NONE
    assert may_answer(mode, CLIENT, Category.QUESTION, NOT_SAMPLED).review is Review.NONE
    held = may_answer(mode, CLIENT, Category.COMPLAINT, NOT_SAMPLED)
    assert (held.allowed, held.review) == (True, Review.BEFORE_SENDING)


@pytest.mark.parametrize("roles", AGENCY)
def test_formazione_the_client_answers_and_the_agency_reviews_a_sample(
    roles: frozenset[Role],
) -> None:
    mode = InterventionMode.FORMAZIONE
    refused = may_answer(mode, roles, Category.QUESTION, NOT_SAMPLED)
    assert not refused.allowed
    assert "client's staff answer" in refused.reason
    assert may_answer(mode, CLIENT, Category.COMPLAINT, NOT_SAMPLED).review is Review.NONE
    assert may_answer(mode, CLIENT, Category.QUESTION, SAMPLED).review is Review.SAMPLE


@pytest.mark.parametrize("mode", list(InterventionMode))
def test_a_viewer_never_answers_and_only_the_agency_reviews(mode: InterventionMode) -> None:
    assert mode in ANSWERING
    assert not may_answer(mode, VIEWER, Category.QUESTION, NOT_SAMPLED).allowed
    assert all(may_review(roles) for roles in AGENCY)
    assert not may_review(CLIENT)
    assert not may_review(VIEWER)


def test_reply_limits_name_the_rule() -> None:
    assert violated("x", "a" * 280) is None
    broken = violated("x", "a" * 281)
    assert broken is not None
    assert broken.rule == "reply_text_limit.x"
    assert violated("sandbox", "a" * 1001) == REPLY_LIMITS["sandbox"]
    assert violated("rss", "a" * 100_000) is None


def test_the_sla_starter_listens_to_the_opened_event() -> None:
    assert SLA_STARTED_BY == events.CONVERSATION_OPENED


# Intake and the API, on the platform


@pytest.fixture
async def inbox_consumers(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], nats_client: NatsClient
) -> AsyncIterator[None]:
    """The listening worker's conversations consumers, as the worker runs them."""
    stop = asyncio.Event()
    running = [
        asyncio.create_task(
            subscription.consumer(nats_client.jetstream(), sessions, platform.settings.events).run(
                stop
            )
        )
        for subscription in intake.SUBSCRIPTIONS
    ]
    yield
    stop.set()
    with contextlib.suppress(Exception):
        await asyncio.gather(*running)


async def engagement_in_mode(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    organization_id: str,
    mode: InterventionMode,
) -> str:
    """An engagement stored by strategy (no lifecycle), once listening knows its mode."""
    response = await platform.gateway.post(
        f"{platform.settings.service_url('strategy')}/engagements",
        json={**engagement_body(organization_id), "mode": mode.value},
        headers=platform.auth(Role.MANAGER),
    )
    assert response.status_code == 201, response.text
    engagement_id: str = response.json()["id"]

    async def known() -> bool:
        async with session_scope(sessions, SYSTEM) as session:
            found = await session.get(EngagementMode, uuid.UUID(engagement_id))
            return found is not None and found.mode == mode.value

    await wait_until(known, timeout=20)
    return engagement_id


def raw(
    organization_id: str,
    engagement_id: str,
    external_id: str,
    text: str,
    author: str = "giulia.r",
    source: SourceKind = SourceKind.SANDBOX,
    minutes: int = 0,
) -> RawMention:
    return RawMention(
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        source=source,
        external_id=external_id,
        author=RawAuthor(handle=author),
        text=text,
        published_at=T0 + timedelta(minutes=minutes),
        language="it",
    )


async def conversations_of(
    sessions: async_sessionmaker[AsyncSession], engagement_id: str
) -> list[Conversation]:
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.execute(
            select(Conversation)
            .where(Conversation.engagement_id == uuid.UUID(engagement_id))
            .order_by(Conversation.opened_at, Conversation.author_handle)
        )
        return list(found.scalars())


async def wait_for_conversations(
    sessions: async_sessionmaker[AsyncSession], engagement_id: str, count: int, messages: int
) -> list[Conversation]:
    async def arrived() -> bool:
        if len(await conversations_of(sessions, engagement_id)) != count:
            return False
        async with session_scope(sessions, SYSTEM) as session:
            stored = await session.scalar(
                select(func.count())
                .select_from(ConversationMessage)
                .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
                .where(Conversation.engagement_id == uuid.UUID(engagement_id))
            )
        return stored == messages

    await wait_until(arrived, timeout=30)
    return await conversations_of(sessions, engagement_id)


async def opened_conversation(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    mode: InterventionMode = InterventionMode.REALIZZAZIONE,
    text: str = "Avete posti per sabato sera?",
) -> tuple[str, str, Conversation]:
    organization_id = await create_org(platform)
    engagement_id = await engagement_in_mode(platform, sessions, organization_id, mode)
    await publish_raw_mentions(
        nats_client.jetstream(),
        platform.settings,
        [raw(organization_id, engagement_id, f"c-{uuid.uuid4()}", text)],
    )
    [conversation] = await wait_for_conversations(sessions, engagement_id, 1, 1)
    return organization_id, engagement_id, conversation


async def outbox_events(
    sessions: async_sessionmaker[AsyncSession], conversation_id: uuid.UUID
) -> list[dict[str, Any]]:
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.execute(
            select(OutboxEvent.envelope)
            .where(OutboxEvent.envelope["subject"].astext == str(conversation_id))
            .order_by(OutboxEvent.seq)
        )
        return list(found.scalars())


async def test_mentions_that_want_an_answer_open_conversations_and_threads_join_them(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await engagement_in_mode(
        platform, sessions, organization_id, InterventionMode.AFFIANCAMENTO
    )
    mentions = [
        raw(organization_id, engagement_id, "c-1", "Avete posti per sabato sera?"),
        raw(organization_id, engagement_id, "c-2", "Siamo in quattro", minutes=2),
        raw(organization_id, engagement_id, "c-3", "Pessimo servizio, vergogna", "marco"),
        # From a feed, only a question or a complaint wants an answer.
        raw(organization_id, engagement_id, "f-1", "Bella giornata", "news", SourceKind.RSS),
        raw(organization_id, engagement_id, "f-2", "Quando riaprite?", "anna", SourceKind.RSS),
    ]
    await publish_raw_mentions(nats_client.jetstream(), platform.settings, mentions)
    found = await wait_for_conversations(sessions, engagement_id, 3, 4)
    by_author = {conversation.author_handle: conversation for conversation in found}
    assert set(by_author) == {"giulia.r", "marco", "anna"}
    giulia = by_author["giulia.r"]
    assert (giulia.category, giulia.state, giulia.source) == ("question", "open", "sandbox")
    assert giulia.triage_reason == "rule: asks a question ('?')"
    assert by_author["marco"].category == "complaint"
    assert by_author["anna"].source == "rss"
    assert giulia.opened_at < giulia.due_soon_at < giulia.first_response_due_at
    assert giulia.first_response_due_at < giulia.escalate_at

    # Another mention of the same author joins the conversation.
    await publish_raw_mentions(
        nats_client.jetstream(),
        platform.settings,
        [raw(organization_id, engagement_id, "c-4", "Alle 20:30 va bene?", minutes=5)],
    )
    await wait_for_conversations(sessions, engagement_id, 3, 5)

    detail = await platform.gateway.get(
        f"/v1/listening/conversations/{giulia.id}", headers=platform.auth(Role.EDITOR)
    )
    assert detail.status_code == 200, detail.text
    assert [message["external_id"] for message in detail.json()["messages"]] == [
        "c-1",
        "c-2",
        "c-4",
    ]
    published = [event["type"] for event in await outbox_events(sessions, giulia.id)]
    assert published == [
        "engage.conversations.conversation_opened.v1",
        "engage.conversations.triaged.v1",
    ]
    opened = (await outbox_events(sessions, giulia.id))[0]["data"]
    assert opened["organization_id"] == organization_id
    assert opened["engagement_id"] == engagement_id

    # The same ingested event handled again (its consumer's record lost) adds nothing.
    async with session_scope(sessions, SYSTEM) as session:
        mention_ids = list(
            (
                await session.execute(
                    select(Mention.id).where(Mention.organization_id == uuid.UUID(organization_id))
                )
            ).scalars()
        )
        again = new_event(
            events.MENTIONS_INGESTED,
            events.MentionsIngested(
                organization_id=uuid.UUID(organization_id),
                mentions=len(mention_ids),
                mention_ids=mention_ids,
                engagement_ids=[uuid.UUID(engagement_id)],
                query_ids=[],
                sentiment=events.SentimentCounts(),
            ),
            source=events.SOURCE,
        )
        await intake.open_conversations(session, again)
    await wait_for_conversations(sessions, engagement_id, 3, 5)

    inbox = await platform.gateway.get(
        f"/v1/listening/engagements/{engagement_id}/conversations",
        params={"category": "complaint"},
        headers=platform.auth(Role.EDITOR),
    )
    assert inbox.status_code == 200, inbox.text
    assert [item["author_handle"] for item in inbox.json()] == ["marco"]


async def test_triage_assignment_notes_and_states(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    _, engagement_id, conversation = await opened_conversation(platform, sessions, nats_client)
    url = f"/v1/listening/conversations/{conversation.id}"
    editor = platform.auth(Role.EDITOR)
    retriaged = await platform.gateway.post(
        f"{url}/triage",
        json={"category": "complaint", "reason": "asks again after a bad stay"},
        headers=editor,
    )
    assert retriaged.status_code == 200, retriaged.text
    assert (retriaged.json()["category"], retriaged.json()["triaged_by"]) == (
        "complaint",
        "tester",
    )
    assigned = await platform.gateway.post(
        f"{url}/assign", json={"role": "editor"}, headers=platform.auth(Role.MANAGER)
    )
    assert (assigned.json()["state"], assigned.json()["assignee_role"]) == ("assigned", "editor")
    both = await platform.gateway.post(
        f"{url}/assign", json={"role": "editor", "subject": "anna"}, headers=editor
    )
    assert both.status_code == 422
    note = await platform.gateway.post(
        f"{url}/notes", json={"text": "Cliente abituale"}, headers=editor
    )
    assert note.status_code == 201, note.text
    closed = await platform.gateway.post(f"{url}/close", headers=editor)
    assert closed.json()["state"] == "closed"
    assert closed.json()["resolution_minutes"] is not None
    assert (await platform.gateway.post(f"{url}/ignore", headers=editor)).status_code == 409
    reopened = await platform.gateway.post(f"{url}/reopen", headers=editor)
    assert reopened.json()["state"] == "assigned"
    detail = (await platform.gateway.get(url, headers=editor)).json()
    assert [item["text"] for item in detail["notes"]] == ["Cliente abituale"]
    breached_only = await platform.gateway.get(
        f"/v1/listening/engagements/{engagement_id}/conversations",
        params={"breached": "true"},
        headers=editor,
    )
    assert breached_only.json() == []
    names = [event["type"] for event in await outbox_events(sessions, conversation.id)]
    assert "engage.conversations.assigned.v1" in names
    assert "engage.conversations.closed.v1" in names


async def test_the_api_refuses_unknown_closed_forbidden_and_too_long(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    organization_id, _, conversation = await opened_conversation(platform, sessions, nats_client)
    url = f"/v1/listening/conversations/{conversation.id}"
    unknown = await platform.gateway.get(
        f"/v1/listening/conversations/{uuid.uuid4()}", headers=platform.auth(Role.EDITOR)
    )
    assert unknown.status_code == 404
    other_client = platform.auth(Role.CLIENT_APPROVER, orgs=[str(uuid.uuid4())])
    assert (await platform.gateway.get(url, headers=other_client)).status_code == 404
    assert (
        await platform.gateway.post(f"{url}/replies", json={"text": "Sì"}, headers=other_client)
    ).status_code == 404

    # realizzazione: the client's staff may not answer.
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])
    forbidden = await platform.gateway.post(
        f"{url}/replies", json={"text": "Sì, vi aspettiamo"}, headers=client
    )
    assert forbidden.status_code == 403, forbidden.text
    assert forbidden.json()["detail"] == "in realizzazione the agency answers the inbox"

    too_long = await platform.gateway.post(
        f"{url}/replies", json={"text": "a" * 1001}, headers=platform.auth(Role.EDITOR)
    )
    assert too_long.status_code == 422, too_long.text
    [error] = too_long.json()["errors"]
    assert error["type"] == "reply_text_limit.sandbox"
    assert "at most 1000 characters" in error["message"]

    assert (
        await platform.gateway.post(f"{url}/close", headers=platform.auth(Role.EDITOR))
    ).status_code == 200
    closed = await platform.gateway.post(
        f"{url}/replies", json={"text": "Sì"}, headers=platform.auth(Role.EDITOR)
    )
    assert closed.status_code == 409, closed.text


async def test_a_client_reply_to_a_complaint_in_affiancamento_waits_for_agency_review(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    organization_id, _, conversation = await opened_conversation(
        platform,
        sessions,
        nats_client,
        InterventionMode.AFFIANCAMENTO,
        "Camera sporca, voglio un rimborso",
    )
    assert conversation.category == "complaint"
    url = f"/v1/listening/conversations/{conversation.id}"
    saved = await platform.gateway.post(
        "/v1/listening/saved-replies",
        json={
            "organization_id": organization_id,
            "title": "Scuse",
            "text": "Ci scusiamo, la contattiamo in privato.",
        },
        headers=platform.auth(Role.MANAGER),
    )
    assert saved.status_code == 201, saved.text
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])
    held = await platform.gateway.post(
        f"{url}/replies", json={"saved_reply_id": saved.json()["id"]}, headers=client
    )
    assert held.status_code == 202, held.text
    reply = held.json()
    assert (reply["status"], reply["review"], reply["workflow_id"]) == (
        "awaiting_review",
        "before_sending",
        None,
    )
    assert reply["text"] == "Ci scusiamo, la contattiamo in privato."
    refused = await platform.gateway.post(f"{url}/replies/{reply['id']}/approve", headers=client)
    assert refused.status_code == 403
    approved = await platform.gateway.post(
        f"{url}/replies/{reply['id']}/approve", headers=platform.auth(Role.EDITOR)
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["reviewed_by"]) == ("pending", "tester")
    again = await platform.gateway.post(
        f"{url}/replies/{reply['id']}/approve", headers=platform.auth(Role.EDITOR)
    )
    assert again.status_code == 409


async def test_an_agency_reply_starts_its_workflow_which_records_the_outcome(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    _, _, conversation = await opened_conversation(platform, sessions, nats_client)
    url = f"/v1/listening/conversations/{conversation.id}"
    answered = await platform.gateway.post(
        f"{url}/replies", json={"text": "Sì, vi aspettiamo"}, headers=platform.auth(Role.EDITOR)
    )
    assert answered.status_code == 202, answered.text
    reply = answered.json()
    assert (reply["status"], reply["review"]) == ("pending", "none")
    assert reply["workflow_id"] == f"reply-{reply['id']}"

    async def settled() -> bool:
        detail = (await platform.gateway.get(url, headers=platform.auth(Role.EDITOR))).json()
        statuses = {message["id"]: message["status"] for message in detail["messages"]}
        return statuses[reply["id"]] in ("sent", "failed")

    # The engagement has no sandbox connection here: the publisher answers, either way, and
    # the outcome is recorded on the conversation.
    await wait_until(settled, timeout=60)


async def test_record_reply_outcome_answers_once_and_shows_failures(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    _, engagement_id, conversation = await opened_conversation(platform, sessions, nats_client)
    failed_id, sent_id = uuid.uuid4(), uuid.uuid4()
    async with session_scope(sessions, SYSTEM) as session:
        for reply_id in (failed_id, sent_id):
            session.add(
                ConversationMessage(
                    id=reply_id,
                    organization_id=conversation.organization_id,
                    conversation_id=conversation.id,
                    direction="outbound",
                    author="tester",
                    text="Sì, vi aspettiamo",
                    status="pending",
                    created_at=datetime.now(UTC),
                )
            )

    def outcome(reply_id: uuid.UUID, **fields: Any) -> ReplyOutcome:
        return ReplyOutcome(
            reply_id=reply_id,
            conversation_id=conversation.id,
            organization_id=conversation.organization_id,
            at=datetime.now(UTC),
            **fields,
        )

    listening = task_queues.LISTENING
    await platform.run_activity(
        listening, RECORD_REPLY_OUTCOME, outcome(failed_id, status="failed", failure="503")
    )
    detail = (
        await platform.gateway.get(
            f"/v1/listening/conversations/{conversation.id}", headers=platform.auth(Role.EDITOR)
        )
    ).json()
    assert (detail["state"], detail["reply_failure"]) == ("open", "503")
    sent = outcome(sent_id, status="sent", platform_reply_id="sb-9")
    for _ in range(2):
        await platform.run_activity(listening, RECORD_REPLY_OUTCOME, sent)
    detail = (
        await platform.gateway.get(
            f"/v1/listening/conversations/{conversation.id}", headers=platform.auth(Role.EDITOR)
        )
    ).json()
    assert (detail["state"], detail["reply_failure"]) == ("answered", None)
    assert detail["first_response_minutes"] is not None
    statuses = {message["id"]: message["status"] for message in detail["messages"]}
    assert (statuses[str(failed_id)], statuses[str(sent_id)]) == ("failed", "sent")
    names = [event["type"] for event in await outbox_events(sessions, conversation.id)]
    assert names.count("engage.conversations.first_response.v1") == 1
    assert names.count("engage.conversations.reply_failed.v1") == 1
    # Every sent reply is announced once with who wrote it (the audit log's "reply").
    events = await outbox_events(sessions, conversation.id)
    [reply_sent] = [e for e in events if e["type"] == "engage.conversations.reply_sent.v1"]
    assert (reply_sent["data"]["reply_id"], reply_sent["data"]["sent_by"]) == (
        str(sent_id),
        "tester",
    )
    report = await platform.gateway.get(
        f"/v1/listening/engagements/{engagement_id}/conversations/sla",
        headers=platform.auth(Role.MANAGER),
    )
    assert report.status_code == 200, report.text
    assert (report.json()["answered"], report.json()["share_within_sla"]) == (1, 1.0)


async def test_inbox_settings_default_and_are_set_by_managers(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], inbox_consumers: None
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await engagement_in_mode(
        platform, sessions, organization_id, InterventionMode.FORMAZIONE
    )
    url = f"/v1/listening/engagements/{engagement_id}/inbox-settings"
    defaults = await platform.gateway.get(url, headers=platform.auth(Role.MANAGER))
    assert defaults.status_code == 200, defaults.text
    assert defaults.json()["target_first_response_minutes"] == 240
    assert defaults.json()["time_zone"] == "Europe/Rome"
    assert defaults.json()["business_days"] == [1, 2, 3, 4, 5]
    body = {
        "target_first_response_minutes": 60,
        "business_days": [1, 2, 3, 4, 5, 6],
        "opens": "08:30",
        "closes": "20:00",
        "time_zone": "Europe/Rome",
    }
    assert (
        await platform.gateway.put(url, json=body, headers=platform.auth(Role.EDITOR))
    ).status_code == 403
    stored = await platform.gateway.put(url, json=body, headers=platform.auth(Role.MANAGER))
    assert stored.status_code == 200, stored.text
    read = (await platform.gateway.get(url, headers=platform.auth(Role.ADMIN))).json()
    assert (read["target_first_response_minutes"], read["opens"]) == (60, "08:30:00")
    bad_zone = await platform.gateway.put(
        url, json={**body, "time_zone": "Mars/Olympus"}, headers=platform.auth(Role.MANAGER)
    )
    assert bad_zone.status_code == 422
