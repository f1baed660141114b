"""What the publisher knows of approved content: a read model of the content service's review
facts, so that a post says exactly what was approved and nothing a caller typed.

The content service announces an item's approval (``item_approved``, once every required
approval, the agency's and where needed the client's, is in) with its variants as approved:
text, title, link and media (ids and facts; the publisher signs the links). The publisher keeps
them in ``approved_variants`` until the item goes back to review (``review_requested``) or is
rejected (``item_rejected``). Content edits only draft and rejected items, and an approved item
only moves on (scheduled, published), so what was approved stays what was approved; an item
reopened for editing would pass through one of those two events, which take its variants out
of the model, so an edited variant is publishable again only once approved again.

Each event is handled once (the kernel's consumer records its id with the change), and a fact
older than the item's newest one is ignored: the three events arrive through consumers of their
own, and a redelivery may come late. To rebuild the model, delete the rows of its two tables and
the three consumers' ``processed_events``, and replay the stream.

The model lags the content service by the relay and the consumer (milliseconds when both run),
so a variant approved a moment ago and not yet known is waited for briefly before the answer is
409: a client that approves a variant and at once schedules it is not refused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.content import events as content_events
from services.publisher import repository
from services.publisher.models import ApprovedVariant, ProcessedEvent
from shared.engagement_directory import READ_YOUR_WRITES_SECONDS
from shared.errors import ProblemError
from shared.events.consumer import PoisonMessageError, Subscription
from shared.events.envelope import CloudEvent

POLL_SECONDS = 0.05
Fact = TypeVar("Fact", bound=BaseModel)


class VariantNotApprovedError(ProblemError):
    def __init__(self, variant_id: uuid.UUID) -> None:
        super().__init__(
            409,
            "variant-not-approved",
            f"variant {variant_id} is not approved content of this organisation: a post "
            "publishes a variant once the agency and, when the item needs it, the client "
            "have approved it",
            variant_id=str(variant_id),
        )


def _fact(model: type[Fact], event: CloudEvent) -> Fact:
    try:
        return model.model_validate(event.data)
    except ValidationError as error:
        raise PoisonMessageError(f"{event.type} {event.id}: {error}") from error


async def record_approval(session: AsyncSession, event: CloudEvent) -> None:
    approved = _fact(content_events.ItemApproved, event)
    if not await repository.record_review(
        session, approved.item_id, approved.organization_id, event.time
    ):
        return
    await repository.replace_approved_variants(
        session,
        approved.item_id,
        [
            ApprovedVariant(
                variant_id=variant.variant_id,
                item_id=approved.item_id,
                organization_id=approved.organization_id,
                engagement_id=approved.engagement_id,
                channel=variant.channel.value,
                text=variant.text,
                title=variant.title,
                link=variant.link,
                media=[medium.model_dump(mode="json") for medium in variant.media],
                approved_at=event.time,
            )
            for variant in approved.variants
        ],
    )


async def record_withdrawal(session: AsyncSession, event: CloudEvent) -> None:
    """The item is in review again, or rejected: none of its variants is publishable now."""
    fact = _fact(content_events.ItemFact, event)
    if await repository.record_review(session, fact.item_id, fact.organization_id, event.time):
        await repository.replace_approved_variants(session, fact.item_id, [])


# What the publisher's worker consumes to keep the model up to date.
SUBSCRIPTIONS = [
    Subscription(
        durable=f"publisher-approvals-{event.partition('.')[2]}",
        event=event,
        handler=handler,
        processed_model=ProcessedEvent,
    )
    for event, handler in (
        (content_events.ITEM_APPROVED, record_approval),
        (content_events.REVIEW_REQUESTED, record_withdrawal),
        (content_events.ITEM_REJECTED, record_withdrawal),
    )
]


async def require_approved_variant(
    session: AsyncSession,
    organization_id: uuid.UUID,
    variant_id: uuid.UUID,
    *,
    wait_seconds: float = READ_YOUR_WRITES_SECONDS,
) -> ApprovedVariant:
    """The organisation's approved variant, waited for up to ``wait_seconds``; else 409."""
    deadline = time.monotonic() + wait_seconds
    while True:
        # Each statement of a READ COMMITTED transaction sees rows committed since the last one.
        found = await repository.approved_variant(session, organization_id, variant_id)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise VariantNotApprovedError(variant_id)
        await asyncio.sleep(POLL_SECONDS)
