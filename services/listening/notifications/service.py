"""Rules of notification channels: who may add one, what each kind needs, which channels an
event goes to (a delivery recorded per channel, with the event's consumption), and the log."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import get_args

import httpx
from pydantic import SecretStr
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.models import (
    NotificationAttempt,
    NotificationChannel,
    NotificationDelivery,
    ProcessedEvent,
    engagements,
)
from services.listening.notifications.schemas import (
    AttemptOut,
    ChannelCreate,
    ChannelFilters,
    ChannelOut,
    DeliveryFilters,
    DeliveryOut,
    NotifiedEvent,
)
from shared.auth import Principal
from shared.errors import FieldError, NotFoundError, validation_problem
from shared.events.consumer import Subscription
from shared.events.envelope import CloudEvent
from shared.paging import Keyset, paged
from shared.sealing import Sealer
from shared.settings import ListeningSettings

log = logging.getLogger(__name__)

NOTIFIED_EVENTS: tuple[str, ...] = get_args(NotifiedEvent)
# One address, no display name: enough to refuse a typo and a header injection.
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
# Channels oldest first, a channel's deliveries newest first; the id breaks ties.
CHANNEL_ORDER = Keyset((NotificationChannel.created_at, NotificationChannel.id))
DELIVERY_ORDER = Keyset((NotificationDelivery.created_at, NotificationDelivery.id), descending=True)


class SecretVault:
    """Webhooks' signing secrets at rest, with the listening service's credential keys."""

    def __init__(self, settings: ListeningSettings) -> None:
        self._sealer = Sealer(settings.credential_keys)

    def seal(self, secret: SecretStr) -> bytes:
        return self._sealer.seal(secret.get_secret_value().encode())

    def open(self, sealed: bytes) -> bytes:
        return self._sealer.open(sealed)


def _problem(field: str, message: str, kind: str) -> Exception:
    return validation_problem([FieldError(field=f"body.{field}", message=message, type=kind)])


def _check_webhook(data: ChannelCreate) -> None:
    if data.recipients:
        raise _problem("recipients", "a webhook channel has no recipients", "extra_forbidden")
    if data.url is None:
        raise _problem("url", "a webhook channel needs its url", "missing")
    if data.secret is None:
        raise _problem("secret", "a webhook channel needs a signing secret", "missing")
    try:
        url = httpx.URL(data.url)
    except httpx.InvalidURL:
        raise _problem("url", "not a URL", "url_parsing") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _problem("url", "an http or https URL with a host", "url_scheme")
    if url.userinfo:
        # It would be answered with the channel: a credential belongs in the secret.
        raise _problem("url", "the URL must not carry a user or password", "url_userinfo")


def _check_email(data: ChannelCreate) -> None:
    if data.url is not None or data.secret is not None:
        field = "url" if data.url is not None else "secret"
        raise _problem(field, "an email channel has no url or secret", "extra_forbidden")
    if not data.recipients:
        raise _problem("recipients", "an email channel needs at least one recipient", "missing")
    for index, address in enumerate(data.recipients):
        if not ADDRESS.match(address):
            raise _problem(f"recipients.{index}", "not an e-mail address", "email")


async def create_channel(
    session: AsyncSession, principal: Principal, data: ChannelCreate, vault: SecretVault
) -> NotificationChannel:
    principal.require_organization(data.organization_id)
    if data.kind == "webhook":
        _check_webhook(data)
    else:
        _check_email(data)
    if data.engagement_id is not None:
        await engagements.require(session, data.engagement_id, data.organization_id)
    channel = NotificationChannel(
        id=uuid.uuid4(),
        organization_id=data.organization_id,
        engagement_id=data.engagement_id,
        kind=data.kind,
        name=data.name,
        url=data.url,
        secret=vault.seal(data.secret) if data.secret is not None else None,
        recipients=list(dict.fromkeys(address.lower() for address in data.recipients)),
        events=list(dict.fromkeys(data.events)),
        created_by=principal.subject,
    )
    session.add(channel)
    await session.flush()
    await session.refresh(channel, ["created_at"])
    return channel


async def require_channel(session: AsyncSession, channel_id: uuid.UUID) -> NotificationChannel:
    """A channel the caller's organisations own (the session's scope), not deleted."""
    channel = await session.get(NotificationChannel, channel_id)
    if channel is None or channel.deleted_at is not None:
        raise NotFoundError("notification channel", channel_id)
    return channel


async def list_channels(
    session: AsyncSession, filters: ChannelFilters
) -> Sequence[NotificationChannel]:
    """A page of channels from after the cursor: one more than the page when more follow."""
    statement = select(NotificationChannel).where(NotificationChannel.deleted_at.is_(None))
    if filters.organization_id is not None:
        statement = statement.where(NotificationChannel.organization_id == filters.organization_id)
    if filters.engagement_id is not None:
        statement = statement.where(NotificationChannel.engagement_id == filters.engagement_id)
    return (await session.scalars(paged(statement, CHANNEL_ORDER, filters))).all()


async def delete_channel(session: AsyncSession, channel_id: uuid.UUID) -> None:
    """Nothing more is sent to it (deliveries waiting fail); its log stays in the database."""
    channel = await require_channel(session, channel_id)
    channel.deleted_at = datetime.now(UTC)


def channel_view(channel: NotificationChannel) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        organization_id=channel.organization_id,
        engagement_id=channel.engagement_id,
        kind="webhook" if channel.kind == "webhook" else "email",
        name=channel.name,
        events=channel.events,
        url=channel.url,
        has_secret=channel.secret is not None,
        recipients=channel.recipients,
        created_by=channel.created_by,
        created_at=channel.created_at,
    )


async def list_deliveries(
    session: AsyncSession, channel: NotificationChannel, filters: DeliveryFilters
) -> Sequence[NotificationDelivery]:
    """A page of the channel's deliveries from after the cursor: one more than the page when
    more follow."""
    statement = select(NotificationDelivery).where(NotificationDelivery.channel_id == channel.id)
    if filters.status is not None:
        statement = statement.where(NotificationDelivery.status == filters.status)
    return (await session.scalars(paged(statement, DELIVERY_ORDER, filters))).all()


async def delivery_views(
    session: AsyncSession, deliveries: Sequence[NotificationDelivery]
) -> list[DeliveryOut]:
    """Each delivery with its attempts (at most ``max_attempts``, so a page stays bounded)."""
    attempts: dict[uuid.UUID, list[AttemptOut]] = {delivery.id: [] for delivery in deliveries}
    if deliveries:
        rows = await session.scalars(
            select(NotificationAttempt)
            .where(NotificationAttempt.delivery_id.in_(list(attempts)))
            .order_by(NotificationAttempt.delivery_id, NotificationAttempt.number)
        )
        for row in rows:
            attempts[row.delivery_id].append(
                AttemptOut(
                    number=row.number,
                    attempted_at=row.attempted_at,
                    outcome=row.outcome,
                    status_code=row.status_code,
                    error=row.error,
                    duration_ms=row.duration_ms,
                )
            )
    return [_delivery_view(delivery, attempts[delivery.id]) for delivery in deliveries]


def _delivery_view(delivery: NotificationDelivery, attempts: list[AttemptOut]) -> DeliveryOut:
    waiting = delivery.status in ("pending", "retrying")
    return DeliveryOut(
        id=delivery.id,
        channel_id=delivery.channel_id,
        event_id=delivery.event_id,
        event_name=delivery.event_name,
        status=delivery.status,
        attempt_count=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at if waiting else None,
        delivered_at=delivery.delivered_at,
        attempts=attempts,
    )


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


async def record_deliveries(session: AsyncSession, event: CloudEvent) -> None:
    """One delivery per channel of the event's organisation (and, for a channel of one
    engagement, of that engagement) that is sent the event: committed with the consumption,
    once per event and channel however often the event comes."""
    organization_id = _uuid(event.data.get("organization_id"))
    if organization_id is None:
        log.warning("event %s (%s) names no organisation; not notified", event.id, event.name)
        return
    engagement_id = _uuid(event.data.get("engagement_id"))
    engagement_matches = or_(
        NotificationChannel.engagement_id.is_(None),
        NotificationChannel.engagement_id == engagement_id,
    )
    channel_ids = (
        await session.scalars(
            select(NotificationChannel.id).where(
                NotificationChannel.organization_id == organization_id,
                NotificationChannel.deleted_at.is_(None),
                NotificationChannel.events.contains([event.name]),
                engagement_matches,
            )
        )
    ).all()
    if not channel_ids:
        return
    now = datetime.now(UTC)
    envelope = event.model_dump(mode="json", exclude_none=True)
    await session.execute(
        insert(NotificationDelivery)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "channel_id": channel_id,
                    "event_id": event.id,
                    "event_name": event.name,
                    "event": envelope,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for channel_id in channel_ids
            ]
        )
        .on_conflict_do_nothing(index_elements=["channel_id", "event_id"])
    )


def _durable(name: str) -> str:
    return "listening-notify-" + name.replace(".", "-")


SUBSCRIPTIONS: Sequence[Subscription] = [
    Subscription(
        durable=_durable(name),
        event=name,
        handler=record_deliveries,
        processed_model=ProcessedEvent,
    )
    for name in NOTIFIED_EVENTS
]
