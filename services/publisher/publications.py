"""Rules for scheduled publications: placing a post of an approved variant once per (variant,
channel, slot), and withdrawing or moving one that is still waiting. Queries are in
``repository.py``; the workflow holding the post (its minute's batch, or its own workflow for a
post placed before batches) is started and controlled by ``scheduling.py``, its publishing is
``publishing.py``.

A post says what its variant said when it was approved (``approvals.py``), with the variant's
media as the content store's media ids; the link to each is signed by the publisher, here and
again at every publish attempt (``fresh_media.py``), so no link a caller gives is ever posted."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.content.events import ApprovedMedium
from services.publisher import events, repository
from services.publisher.approvals import require_approved_variant
from services.publisher.connections import require_connection
from services.publisher.connectors.base import MediaRef, PublishRequest
from services.publisher.connectors.registry import NO_PUBLISHING_API
from services.publisher.contracts import CancelCommand, batch_workflow_id, post_workflow_id
from services.publisher.models import ApprovedVariant, Connection, Publication, engagements, outbox
from services.publisher.schemas import PublicationCreate
from shared.auth import Principal
from shared.domain import Channel
from shared.errors import ConflictError, NotFoundError, ProblemError
from shared.events.envelope import new_event
from shared.media_links import MediaLinks


def idempotency_key(data: PublicationCreate, channel: str) -> str:
    """One key per (variant, channel, slot); without a slot, the due time stands for it."""
    slot = str(data.slot_id) if data.slot_id else data.due_at.isoformat()
    return f"{data.variant_id}:{channel}:{slot}"


async def require_publication(session: AsyncSession, publication_id: uuid.UUID) -> Publication:
    publication = await repository.get_publication(session, publication_id)
    if publication is None:
        raise NotFoundError("publication", publication_id)
    return publication


async def schedule_publication(
    session: AsyncSession, principal: Principal, data: PublicationCreate, links: MediaLinks
) -> Publication:
    """The API's way: asking again for the same (variant, channel, slot) is a conflict."""
    principal.require_organization(data.organization_id)
    publication, created = await place_publication(session, data, links, in_batch=True)
    if not created:
        raise ConflictError(
            "this variant is already scheduled on this channel for this slot",
            publication_id=str(publication.id),
        )
    return publication


async def place_publication(
    session: AsyncSession,
    data: PublicationCreate,
    links: MediaLinks,
    *,
    channel: str | None = None,
    in_batch: bool = False,
) -> tuple[Publication, bool]:
    """The publication of (variant, channel, slot): the existing one (False) or a new one (True).

    ``channel``, when given, is the channel the post is meant for: the connection must be on it,
    as it must be on the variant's. ``in_batch``: a new publication is held by its minute's
    ``PublishBatchWorkflow`` (else by a ``PublishPostWorkflow`` of its own).
    """
    connection = await require_connection(session, data.connection_id)
    if connection.organization_id != data.organization_id:
        raise NotFoundError("connection", data.connection_id)
    if data.engagement_id is not None:
        await engagements.require(session, data.engagement_id, data.organization_id)
    if channel is not None:
        _require_channel(connection, channel)
    if Channel(connection.channel) in NO_PUBLISHING_API:
        raise ProblemError(
            422,
            "channel-not-publishable",
            NO_PUBLISHING_API[Channel(connection.channel)],
            channel=connection.channel,
        )
    key = idempotency_key(data, connection.channel)
    existing = await repository.publication_with_key(session, key)
    if existing is not None:
        return existing, False
    if connection.status != "active":
        raise ProblemError(
            409,
            "connection-needs-reauth",
            f"the {connection.channel} connection must be re-authorised before scheduling",
            connection_id=str(connection.id),
        )
    variant = await require_approved_variant(session, data.organization_id, data.variant_id)
    _require_channel(connection, variant.channel)
    publication = _new_publication(data, connection, key, variant, links, in_batch=in_batch)
    try:
        async with session.begin_nested():
            session.add(publication)
    except IntegrityError:
        # The same post was placed concurrently (the key is unique): that one stands.
        existing = await repository.publication_with_key(session, key)
        assert existing is not None
        return existing, False
    await outbox.add(
        session,
        new_event(
            events.POST_SCHEDULED,
            events.PostScheduled(**events.post_fact(publication), due_at=publication.due_at),
            source=events.SOURCE,
            subject=str(publication.id),
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"publication-key/{key}/scheduled"),
        ),
    )
    return publication, True


def _require_channel(connection: Connection, channel: str) -> None:
    if connection.channel != channel:
        raise ProblemError(
            422,
            "connection-channel-mismatch",
            f"the connection is on {connection.channel}, the post is for {channel}",
            connection_id=str(connection.id),
        )


def _post(
    variant: ApprovedVariant, connection: Connection, key: str, links: MediaLinks
) -> PublishRequest:
    """The approved variant as it goes out through the connection."""
    stored = [ApprovedMedium.model_validate(medium) for medium in variant.media]
    media = [
        MediaRef(url=links.url(variant.organization_id, medium.media_id), **medium.model_dump())
        for medium in stored
    ]
    return PublishRequest(
        idempotency_key=key,
        channel=connection.channel,
        account_id=connection.account_id,
        text=variant.text,
        title=variant.title,
        link=variant.link,
        media=media,
    )


def _new_publication(
    data: PublicationCreate,
    connection: Connection,
    key: str,
    variant: ApprovedVariant,
    links: MediaLinks,
    *,
    in_batch: bool,
) -> Publication:
    publication_id = uuid.uuid4()
    request = _post(variant, connection, key, links)
    return Publication(
        id=publication_id,
        organization_id=data.organization_id,
        # A post of an engagement's content belongs to the engagement (its withdrawal, its
        # figures, its failures) unless the request says which engagement it is for.
        engagement_id=data.engagement_id or variant.engagement_id,
        connection_id=connection.id,
        channel=connection.channel,
        variant_id=data.variant_id,
        slot_id=data.slot_id,
        idempotency_key=key,
        due_at=data.due_at,
        timezone=data.timezone,
        status="scheduled",
        request=request.model_dump(mode="json"),
        workflow_id=(
            batch_workflow_id(connection.id, data.due_at)
            if in_batch
            else post_workflow_id(publication_id)
        ),
    )


async def withdraw_waiting_publication(
    session: AsyncSession, command: CancelCommand
) -> Publication | None:
    """Cancel the publication if it is still waiting (with its ``post_withdrawn``); one that
    publishing has reached is left as it is. None if there is no such publication."""
    publication = await repository.get_publication(session, command.publication_id, for_update=True)
    if publication is None or publication.status != "scheduled":
        return publication
    await _cancel(session, publication, command)
    return publication


async def lock_waiting(session: AsyncSession, publication: Publication, change: str) -> None:
    """Lock the post's row (the lock its claim takes) and refuse unless it is still waiting:
    a change made under it can never race a publish."""
    await session.refresh(publication, with_for_update=True)
    if publication.status != "scheduled":
        raise ProblemError(
            409,
            "publication-not-waiting",
            f"the post can no longer be {change}: it is {publication.status}",
        )


async def cancel_waiting(
    session: AsyncSession, publication: Publication, command: CancelCommand
) -> None:
    """Cancel a batch's post in its row: its batch finds it cancelled when it reaches it."""
    await lock_waiting(session, publication, "cancelled")
    await _cancel(session, publication, command)


async def _cancel(session: AsyncSession, publication: Publication, command: CancelCommand) -> None:
    publication.status = "cancelled"
    publication.failure_detail = f"cancelled by {command.cancelled_by}: {command.reason}"
    await outbox.add(
        session,
        new_event(
            events.POST_WITHDRAWN,
            events.PostWithdrawn(**events.post_fact(publication), reason=command.reason),
            source=events.SOURCE,
            subject=str(publication.id),
        ),
    )
