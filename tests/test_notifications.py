"""Notifications: channels added through the gateway (secrets sealed, never answered, another
organisation's a 404); events consumed into one delivery per matching channel, once; webhooks
signed and tried again after a 5xx but not a 4xx; e-mail sent over SMTP; every attempt logged."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from nats.aio.client import Client as NatsClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engage import infra
from services.listening.models import NotificationChannel, NotificationDelivery
from services.listening.notifications.delivery import Deliverer, backoff_seconds, delivering
from services.listening.notifications.email import compose, send_email
from services.listening.notifications.service import SUBSCRIPTIONS, record_deliveries
from services.listening.notifications.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    verify,
)
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.envelope import CloudEvent, new_event
from shared.settings import Settings
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import create_org

SECRET = "whsec-a-long-enough-signing-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering the statuses the test scripts (then 200)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[httpx.Headers, bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    found = Receiver(url=f"http://127.0.0.1:{port}/hooks/engage")

    async def hook(request: Request) -> Response:
        found.received.append((httpx.Headers(request.headers.raw), await request.body()))
        return Response(status_code=found.statuses.pop(0) if found.statuses else 200)

    app = Starlette(routes=[Route("/hooks/engage", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield found
    server.should_exit = True
    await task


@pytest.fixture
async def notifying(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], nats_client: NatsClient
) -> AsyncIterator[None]:
    """The notification consumers, as the listening worker runs them."""
    stop = asyncio.Event()
    js = nats_client.jetstream()
    consumers = [
        asyncio.create_task(subscription.consumer(js, sessions, platform.settings.events).run(stop))
        for subscription in SUBSCRIPTIONS
    ]
    yield
    stop.set()
    await asyncio.gather(*consumers)


def alert(organization_id: str, **data: Any) -> CloudEvent:
    return new_event(
        "listening.alert_raised",
        {
            "organization_id": organization_id,
            "alert_id": str(uuid.uuid4()),
            "title": "Negative sentiment spike",
            "severity": "high",
            "negative_mentions": 42,
            **data,
        },
        source="urn:atlantide-engage:listening",
    )


async def publish(nats_client: NatsClient, settings: Settings, event: CloudEvent) -> None:
    await nats_client.jetstream().publish(
        event.nats_subject(settings.events.subject_prefix),
        event.model_dump_json().encode(),
        stream=settings.events.stream,
        # A message id of its own: JetStream keeps each copy, the consumer must drop it.
        headers={"Nats-Msg-Id": f"{event.id}:{uuid.uuid4()}"},
    )


async def create_channel(platform: Platform, organization_id: str, **fields: Any) -> httpx.Response:
    body = {
        "organization_id": organization_id,
        "kind": "webhook",
        "name": "Ops webhook",
        "events": ["listening.alert_raised", "conversations.sla_breached"],
        "secret": SECRET,
        **fields,
    }
    return await platform.gateway.post(
        "/v1/listening/notifications/channels", json=body, headers=platform.auth(Role.MANAGER)
    )


async def webhook_channel(platform: Platform, organization_id: str, url: str) -> str:
    created = await create_channel(platform, organization_id, url=url)
    assert created.status_code == 201, created.text
    channel_id: str = created.json()["id"]
    return channel_id


async def deliveries_of(
    sessions: async_sessionmaker[AsyncSession], channel_id: str
) -> list[NotificationDelivery]:
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.scalars(
            select(NotificationDelivery).where(
                NotificationDelivery.channel_id == uuid.UUID(channel_id)
            )
        )
        return list(rows)


async def recorded(
    sessions: async_sessionmaker[AsyncSession], channel_id: str, count: int = 1
) -> list[NotificationDelivery]:
    async def enough() -> bool:
        return len(await deliveries_of(sessions, channel_id)) >= count

    await wait_until(enough, timeout=15)
    return await deliveries_of(sessions, channel_id)


async def delivery_log(platform: Platform, channel_id: str) -> list[dict[str, Any]]:
    answer = await platform.gateway.get(
        f"/v1/listening/notifications/channels/{channel_id}/deliveries",
        headers=platform.auth(Role.ADMIN),
    )
    assert answer.status_code == 200, answer.text
    log: list[dict[str, Any]] = answer.json()
    return log


def deliverer(platform: Platform, sessions: async_sessionmaker[AsyncSession]) -> Deliverer:
    return Deliverer(sessions, platform.settings, allow_loopback=True)


async def test_channels_are_added_checked_and_their_secret_never_answered(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    created = await create_channel(platform, organization_id, url="https://hooks.example/engage")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["has_secret"] is True
    assert SECRET not in created.text

    read = await platform.gateway.get(
        f"/v1/listening/notifications/channels/{body['id']}", headers=platform.auth(Role.ADMIN)
    )
    assert read.status_code == 200
    assert SECRET not in read.text
    listed = await platform.gateway.get(
        "/v1/listening/notifications/channels",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.MANAGER),
    )
    assert [channel["id"] for channel in listed.json()] == [body["id"]]

    mail = await create_channel(
        platform,
        organization_id,
        kind="email",
        secret=None,
        recipients=["ops@agriturismo.example", "Owner@Agriturismo.example"],
        events=["conversations.sla_due_soon"],
    )
    assert mail.status_code == 201, mail.text
    assert mail.json()["recipients"] == ["ops@agriturismo.example", "owner@agriturismo.example"]

    no_secret = await create_channel(
        platform, organization_id, url="https://a.example", secret=None
    )
    assert no_secret.status_code == 422
    assert no_secret.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in no_secret.json()["errors"]] == ["body.secret"]
    too_many = await create_channel(
        platform,
        organization_id,
        kind="email",
        secret=None,
        recipients=[f"person{n}@example.com" for n in range(21)],
    )
    assert too_many.status_code == 422
    unknown_event = await create_channel(
        platform, organization_id, url="https://a.example", events=["listening.everything"]
    )
    assert unknown_event.status_code == 422
    not_an_address = await create_channel(
        platform, organization_id, kind="email", secret=None, recipients=["nobody"]
    )
    assert [e["field"] for e in not_an_address.json()["errors"]] == ["body.recipients.0"]

    viewer = await platform.gateway.get(
        "/v1/listening/notifications/channels", headers=platform.auth(Role.CLIENT_VIEWER)
    )
    assert viewer.status_code == 403

    deleted = await platform.gateway.delete(
        f"/v1/listening/notifications/channels/{body['id']}", headers=platform.auth(Role.ADMIN)
    )
    assert deleted.status_code == 204
    gone = await platform.gateway.get(
        f"/v1/listening/notifications/channels/{body['id']}", headers=platform.auth(Role.ADMIN)
    )
    assert gone.status_code == 404


async def test_another_organisations_channel_is_not_found(platform: Platform) -> None:
    mine, theirs = await create_org(platform), await create_org(platform)
    channel_id = await webhook_channel(platform, theirs, "https://hooks.example/theirs")
    outsider = {"Authorization": f"Bearer {platform.token(Role.MANAGER, orgs=[mine])}"}
    base = f"/v1/listening/notifications/channels/{channel_id}"
    assert (await platform.gateway.get(base, headers=outsider)).status_code == 404
    assert (await platform.gateway.get(f"{base}/deliveries", headers=outsider)).status_code == 404
    assert (await platform.gateway.delete(base, headers=outsider)).status_code == 404
    listed = await platform.gateway.get(
        "/v1/listening/notifications/channels", headers=outsider, params={"organization_id": theirs}
    )
    assert listed.json() == []
    refused = await platform.gateway.post(
        "/v1/listening/notifications/channels",
        json={
            "organization_id": theirs,
            "kind": "webhook",
            "name": "x",
            "events": ["listening.alert_raised"],
            "url": "https://a.example",
            "secret": SECRET,
        },
        headers=outsider,
    )
    assert refused.status_code == 404


async def test_a_webhook_is_delivered_signed_and_logged(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    receiver: Receiver,
    notifying: None,
) -> None:
    organization_id = await create_org(platform)
    channel_id = await webhook_channel(platform, organization_id, receiver.url)
    event = alert(organization_id)
    await publish(nats_client, platform.settings, event)
    await recorded(sessions, channel_id)

    assert await deliverer(platform, sessions).deliver_due() >= 1

    [(headers, body)] = receiver.received
    assert headers[EVENT_ID_HEADER] == event.id
    assert headers["content-type"] == "application/cloudevents+json"
    assert verify(SECRET.encode(), headers[SIGNATURE_HEADER], body)
    assert not verify(b"another-secret-entirely", headers[SIGNATURE_HEADER], body)
    timestamp = int(headers[SIGNATURE_HEADER].split(",")[0].removeprefix("t="))
    assert abs(timestamp - datetime.now(UTC).timestamp()) < 60
    sent = CloudEvent.model_validate_json(body)
    assert sent.id == event.id
    assert sent.type == event.type
    assert sent.data == event.data

    [logged] = await delivery_log(platform, channel_id)
    assert logged["event_id"] == event.id
    assert logged["event_name"] == "listening.alert_raised"
    assert logged["status"] == "delivered"
    assert logged["attempt_count"] == 1
    assert logged["last_status_code"] == 200
    assert logged["delivered_at"] is not None
    assert logged["next_attempt_at"] is None
    assert [attempt["outcome"] for attempt in logged["attempts"]] == ["delivered"]


async def test_a_webhook_answered_503_is_tried_again_with_backoff_then_delivered(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    receiver: Receiver,
    notifying: None,
) -> None:
    organization_id = await create_org(platform)
    channel_id = await webhook_channel(platform, organization_id, receiver.url)
    receiver.statuses = [503]
    await publish(nats_client, platform.settings, alert(organization_id))
    await recorded(sessions, channel_id)
    sending = deliverer(platform, sessions)
    now = datetime.now(UTC)

    await sending.deliver_due(now)
    [first] = await delivery_log(platform, channel_id)
    assert first["status"] == "retrying"
    assert first["last_status_code"] == 503
    assert "503" in first["last_error"]
    assert datetime.fromisoformat(first["next_attempt_at"]) == now + timedelta(seconds=30)

    await sending.deliver_due(now + timedelta(seconds=10))
    assert len(receiver.received) == 1, "not due before its backoff"

    await sending.deliver_due(now + timedelta(seconds=31))
    [second] = await delivery_log(platform, channel_id)
    assert second["status"] == "delivered"
    assert second["attempt_count"] == 2
    assert [(a["number"], a["outcome"], a["status_code"]) for a in second["attempts"]] == [
        (1, "retrying", 503),
        (2, "delivered", 200),
    ]
    # Both tries carried the same event id, so a receiver can drop a copy.
    assert {headers[EVENT_ID_HEADER] for headers, _ in receiver.received} == {second["event_id"]}


def test_backoff_doubles_from_30_seconds_to_an_hour() -> None:
    waits = [backoff_seconds(attempt, 30, 3600) for attempt in range(1, 9)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600]


async def test_a_webhook_answered_400_is_not_tried_again(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    receiver: Receiver,
    notifying: None,
) -> None:
    organization_id = await create_org(platform)
    channel_id = await webhook_channel(platform, organization_id, receiver.url)
    receiver.statuses = [400]
    await publish(nats_client, platform.settings, alert(organization_id))
    await recorded(sessions, channel_id)
    sending = deliverer(platform, sessions)
    now = datetime.now(UTC)

    await sending.deliver_due(now)
    await sending.deliver_due(now + timedelta(hours=2))

    assert len(receiver.received) == 1
    [logged] = await delivery_log(platform, channel_id)
    assert logged["status"] == "failed"
    assert logged["attempt_count"] == 1
    assert logged["last_status_code"] == 400
    assert logged["next_attempt_at"] is None
    assert [attempt["outcome"] for attempt in logged["attempts"]] == ["failed"]


async def test_a_loopback_webhook_is_refused_outside_tests(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    organization_id = await create_org(platform)
    channel_id = await webhook_channel(platform, organization_id, receiver.url)
    async with session_scope(sessions, SYSTEM) as session:
        await record_deliveries(session, alert(organization_id))

    await Deliverer(sessions, platform.settings).deliver_due()

    assert receiver.received == []
    [logged] = await delivery_log(platform, channel_id)
    assert logged["status"] == "failed"
    assert "loopback" in logged["last_error"]


async def test_an_event_reaches_only_its_own_organisations_channels(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    receiver: Receiver,
    notifying: None,
) -> None:
    ours, theirs = await create_org(platform), await create_org(platform)
    our_channel = await webhook_channel(platform, ours, receiver.url)
    their_channel = await webhook_channel(platform, theirs, receiver.url)
    other_engagement = uuid.uuid4()
    async with session_scope(sessions, SYSTEM) as session:
        # Our channel for one engagement, and one that is sent only SLA events.
        session.add_all(
            [
                NotificationChannel(
                    organization_id=uuid.UUID(ours),
                    engagement_id=other_engagement,
                    kind="webhook",
                    name="Another engagement's",
                    url=receiver.url,
                    events=["listening.alert_raised"],
                    created_by="tester",
                ),
                NotificationChannel(
                    organization_id=uuid.UUID(ours),
                    kind="email",
                    name="SLA only",
                    recipients=["ops@example.com"],
                    events=["conversations.sla_breached"],
                    created_by="tester",
                ),
            ]
        )
    event = alert(ours, engagement_id=str(uuid.uuid4()))
    await publish(nats_client, platform.settings, event)
    [delivery] = await recorded(sessions, our_channel)
    assert delivery.organization_id == uuid.UUID(ours)

    async with session_scope(sessions, SYSTEM) as session:
        everywhere = await session.scalars(
            select(NotificationDelivery.channel_id).where(NotificationDelivery.event_id == event.id)
        )
        assert list(everywhere) == [uuid.UUID(our_channel)]
    assert await deliveries_of(sessions, their_channel) == []
    assert await delivery_log(platform, their_channel) == []


async def test_the_same_event_consumed_twice_is_sent_once(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    receiver: Receiver,
    notifying: None,
) -> None:
    organization_id = await create_org(platform)
    channel_id = await webhook_channel(platform, organization_id, receiver.url)
    event = alert(organization_id)
    await publish(nats_client, platform.settings, event)
    await publish(nats_client, platform.settings, event)
    await recorded(sessions, channel_id)
    # The handler run again directly (another consumer, a replay) records nothing more.
    async with session_scope(sessions, SYSTEM) as session:
        await record_deliveries(session, event)
    await asyncio.sleep(0.5)  # the second copy has been consumed by now
    assert len(await deliveries_of(sessions, channel_id)) == 1

    sending = deliverer(platform, sessions)
    await sending.deliver_due()
    await sending.deliver_due(datetime.now(UTC) + timedelta(hours=2))
    assert len(receiver.received) == 1


@dataclass
class Kept:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    kept = Kept()
    port = free_port()
    controller = Controller(kept, hostname="127.0.0.1", port=port)
    controller.start()
    yield kept, port
    controller.stop()


async def test_email_is_sent_over_smtp_with_a_link_free_summary(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    smtp_server: tuple[Kept, int],
    notifying: None,
) -> None:
    kept, port = smtp_server
    organization_id = await create_org(platform)
    created = await create_channel(
        platform,
        organization_id,
        kind="email",
        name="Agency on call",
        secret=None,
        recipients=["ops@agriturismo.example", "owner@agriturismo.example"],
        events=["conversations.sla_breached"],
    )
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    event = new_event(
        "conversations.sla_breached",
        {
            "organization_id": organization_id,
            "conversation_id": str(uuid.uuid4()),
            "title": "Complaint about a booking",
            "minutes_overdue": 35,
            "permalink": "https://social.example/posts/123",
            "access_token": "never-in-an-email",
        },
        source="urn:atlantide-engage:publisher",
    )
    await publish(nats_client, platform.settings, event)
    await recorded(sessions, channel_id)
    notifications = platform.settings.notifications.model_copy(update={"smtp_port": port})
    settings = platform.settings.model_copy(update={"notifications": notifications})

    await Deliverer(sessions, settings).deliver_due()

    [(recipients, message)] = kept.messages
    assert sorted(recipients) == ["ops@agriturismo.example", "owner@agriturismo.example"]
    assert message["Subject"] == (
        "[Atlantide Engage] A reply is overdue (SLA breached): Complaint about a booking"
    )
    assert message["From"] == settings.notifications.smtp_from
    assert message["Engage-Event-Id"] == event.id
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    text, markup = plain.get_content(), rich.get_content()
    assert "Minutes overdue: 35" in text
    assert "conversations.sla_breached" in text
    assert "Agency on call" in text
    assert "<strong>Minutes overdue</strong>: 35" in markup
    for shown in (text, markup):
        assert "http" not in shown
        assert "never-in-an-email" not in shown
    [logged] = await delivery_log(platform, channel_id)
    assert logged["status"] == "delivered"
    assert logged["last_status_code"] == 250


async def test_the_workers_delivery_loop_sends_what_is_due(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    smtp_server: tuple[Kept, int],
) -> None:
    kept, port = smtp_server
    organization_id = await create_org(platform)
    created = await create_channel(
        platform,
        organization_id,
        kind="email",
        secret=None,
        recipients=["ops@example.com"],
        events=["listening.alert_raised"],
    )
    channel_id = created.json()["id"]
    async with session_scope(sessions, SYSTEM) as session:
        await record_deliveries(session, alert(organization_id))
    notifications = platform.settings.notifications.model_copy(
        update={"smtp_port": port, "poll_seconds": 0.1}
    )
    settings = platform.settings.model_copy(update={"notifications": notifications})

    async def delivered() -> bool:
        [delivery] = await deliveries_of(sessions, channel_id)
        return delivery.status == "delivered"

    async with delivering(settings):
        await wait_until(delivered, timeout=15)
    assert len(kept.messages) == 1


async def test_engage_up_keeps_sent_mail_as_eml_files(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    settings = settings.model_copy(
        update={
            "notifications": settings.notifications.model_copy(update={"smtp_port": free_port()})
        }
    )
    assert not await infra.smtp_reachable(settings)
    handle = await infra.start_smtp(settings)
    assert handle is not None
    try:
        assert await infra.start_smtp(settings) is None, "one answering is used as it is"
        message = compose(
            alert(str(uuid.uuid4())).model_dump(mode="json"),
            recipients=["ops@example.com"],
            sender=settings.notifications.smtp_from,
            channel_name="Ops",
            message_id="<test@atlantide-engage>",
        )
        sent = await send_email(message, settings.notifications)
        assert sent.verdict == "sent", sent.error
    finally:
        await infra.stop_process(handle)
    [kept] = list((tmp_path / "mail").glob("*.eml"))
    parsed = email.message_from_bytes(kept.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "[Atlantide Engage] Alert raised: Negative sentiment spike"
    assert parsed["To"] == "ops@example.com"
