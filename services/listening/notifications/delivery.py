"""The delivery loop: sends the deliveries that are due, records every attempt, and schedules
another after a failure that may pass.

Run by the listening worker beside its outbox relay and restarted the same way. A round claims
a batch of due deliveries (``FOR UPDATE SKIP LOCKED``, so several workers share the work) and
leases them (``next_attempt_at`` moved past the longest send) in one short transaction, sends
them concurrently with no transaction open, then records each outcome in its own. A worker that
dies mid-send leaves the lease to expire and the delivery is tried again: at least once, with
the same ``Engage-Event-Id`` (webhooks) or ``Message-ID`` (e-mail) for the receiver to drop the
copy. A delivery of a deleted channel fails without being sent.

Why not a Temporal activity: a delivery is already a durable row with its own retry schedule
(hours apart), which a person reads as the delivery log; a loop over that table needs no
workflow per event, and an activity's retries would keep the same state twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.models import NotificationAttempt, NotificationChannel, NotificationDelivery
from services.listening.notifications.email import compose, send_email
from services.listening.notifications.outcomes import Sent
from services.listening.notifications.service import SecretVault
from services.listening.notifications.webhooks import send_webhook
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.sealing import SealedKeyError
from shared.settings import Settings
from shared.worker import keep_running

log = logging.getLogger(__name__)

BATCH = 20
# Beyond the longest send: a lease that expires while a send still runs would send it twice.
LEASE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Claimed:
    """What a send needs, read when the delivery was claimed."""

    delivery_id: uuid.UUID
    event: dict[str, Any]
    kind: str
    channel_name: str
    url: str | None
    secret: bytes | None
    recipients: list[str]
    deleted: bool


def backoff_seconds(attempts: int, first: float, longest: float) -> float:
    """After the ``attempts``-th failed attempt: first, twice as long each time, up to longest."""
    return float(min(first * 2.0 ** min(max(attempts - 1, 0), 30), longest))


class Deliverer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        allow_loopback: bool = False,
    ) -> None:
        """``allow_loopback`` lets tests deliver to receivers on 127.0.0.1 (see ``safe_fetch``)."""
        self._sessions = sessions
        self._settings = settings.notifications
        self._vault = SecretVault(settings.listening)
        self._allow_loopback = allow_loopback

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await self.deliver_due() < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._settings.poll_seconds)

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Send one batch of due deliveries; returns how many were tried. ``now`` is the
        clock the schedule is read with (tests move it on to reach a retry)."""
        now = now or datetime.now(UTC)
        claimed = await self._claim(now)
        if claimed:
            await asyncio.gather(*(self._attempt(item, now) for item in claimed))
        return len(claimed)

    def _lease(self) -> timedelta:
        longest = max(self._settings.webhook_timeout_seconds, self._settings.smtp_timeout_seconds)
        return timedelta(seconds=longest + LEASE_MARGIN_SECONDS)

    async def _claim(self, now: datetime) -> list[Claimed]:
        async with session_scope(self._sessions, SYSTEM) as session:
            rows = (
                await session.execute(
                    select(NotificationDelivery, NotificationChannel)
                    .join(
                        NotificationChannel,
                        NotificationChannel.id == NotificationDelivery.channel_id,
                    )
                    .where(
                        or_(
                            NotificationDelivery.status == "pending",
                            NotificationDelivery.status == "retrying",
                        ),
                        NotificationDelivery.next_attempt_at <= now,
                    )
                    .order_by(NotificationDelivery.next_attempt_at)
                    .limit(BATCH)
                    .with_for_update(of=NotificationDelivery, skip_locked=True)
                )
            ).all()
            leased_until = now + self._lease()
            claimed = []
            for delivery, channel in rows:
                delivery.next_attempt_at = leased_until
                claimed.append(
                    Claimed(
                        delivery_id=delivery.id,
                        event=delivery.event,
                        kind=channel.kind,
                        channel_name=channel.name,
                        url=channel.url,
                        secret=channel.secret,
                        recipients=list(channel.recipients),
                        deleted=channel.deleted_at is not None,
                    )
                )
            return claimed

    async def _send(self, item: Claimed, now: datetime) -> Sent:
        if item.deleted:
            return Sent("give_up", None, "the channel was deleted")
        if item.kind == "webhook":
            if item.url is None or item.secret is None:
                return Sent("give_up", None, "the channel has no url or secret")
            try:
                secret = self._vault.open(item.secret)
            except SealedKeyError:
                return Sent("give_up", None, "the channel's secret was sealed with a retired key")
            return await send_webhook(
                item.url,
                item.event,
                secret,
                now=now,
                timeout_seconds=self._settings.webhook_timeout_seconds,
                allow_loopback=self._allow_loopback,
            )
        message = compose(
            item.event,
            recipients=item.recipients,
            sender=self._settings.smtp_from,
            channel_name=item.channel_name,
            message_id=f"<{item.delivery_id}@atlantide-engage>",
        )
        return await send_email(message, self._settings)

    async def _attempt(self, item: Claimed, now: datetime) -> None:
        started = time.monotonic()
        try:
            sent = await self._send(item, now)
        except Exception as error:
            # A bug, not the receiver: logged, and the delivery tried again on its schedule.
            log.exception("notification delivery %s failed", item.delivery_id)
            sent = Sent("retry", None, f"{type(error).__name__}: {error}")
        took = int((time.monotonic() - started) * 1000)
        await self._record(item.delivery_id, sent, now, took)

    async def _record(self, delivery_id: uuid.UUID, sent: Sent, now: datetime, took: int) -> None:
        settings = self._settings
        async with session_scope(self._sessions, SYSTEM) as session:
            delivery = await session.get(NotificationDelivery, delivery_id, with_for_update=True)
            if delivery is None:
                return
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.last_status_code = sent.status_code
            delivery.last_error = sent.error
            if sent.verdict == "sent":
                delivery.status = "delivered"
                delivery.delivered_at = now
                delivery.next_attempt_at = None
            elif sent.verdict == "retry" and delivery.attempts < settings.max_attempts:
                delivery.status = "retrying"
                delivery.next_attempt_at = now + timedelta(
                    seconds=backoff_seconds(
                        delivery.attempts,
                        settings.first_backoff_seconds,
                        settings.max_backoff_seconds,
                    )
                )
            else:
                delivery.status = "failed"
                delivery.next_attempt_at = None
            session.add(
                NotificationAttempt(
                    id=uuid.uuid4(),
                    organization_id=delivery.organization_id,
                    delivery_id=delivery.id,
                    number=delivery.attempts,
                    attempted_at=now,
                    outcome=delivery.status,
                    status_code=sent.status_code,
                    error=sent.error,
                    duration_ms=took,
                )
            )
        if sent.verdict != "sent":
            log.warning("notification delivery %s: %s", delivery_id, sent.error)


@contextlib.asynccontextmanager
async def delivering(settings: Settings) -> AsyncIterator[None]:
    """The delivery loop, running while the block runs (the listening worker's life), with a
    small pool of its own and restarted after a failure like the worker's other loops."""
    pooled = settings.model_copy(update={"database_pool_size": 2})
    engine = create_engine(pooled)
    deliverer = Deliverer(create_session_factory(engine), settings)
    stop = asyncio.Event()
    loop = asyncio.create_task(
        keep_running("notification deliveries", lambda: deliverer.run(stop), stop)
    )
    try:
        yield
    finally:
        stop.set()
        await loop
        await engine.dispose()
