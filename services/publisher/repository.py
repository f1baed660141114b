"""Every query of the publisher: connections and their OAuth states, publications, replies,
metrics samples, its outbox, and its read model of approved content. Organisation scoping is
applied by the session; the rules that use these queries live in ``connections.py``,
``publications.py``, ``publishing.py``, ``replies.py``, ``metrics.py`` and ``approvals.py``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.models import (
    ApprovedVariant,
    Connection,
    OAuthState,
    OutboxEvent,
    PostMetricsSample,
    Publication,
    Reply,
    ReviewedItem,
)
from shared.paging import Keyset, PageQuery, paged

# Oldest first; the id orders rows stored in the same transaction.
CONNECTION_ORDER = Keyset((Connection.created_at, Connection.id))
# By when they fall due.
PUBLICATION_ORDER = Keyset((Publication.due_at, Publication.id))
METRICS_ORDER = Keyset((PostMetricsSample.collected_at, PostMetricsSample.id))

# --- connections ----------------------------------------------------------------------------


async def get_connection(
    session: AsyncSession, connection_id: uuid.UUID, *, for_update: bool = False
) -> Connection | None:
    return await session.get(Connection, connection_id, with_for_update=for_update)


async def connection_of_account(
    session: AsyncSession, organization_id: uuid.UUID, channel: str, account_id: str
) -> Connection | None:
    return await session.scalar(
        select(Connection).where(
            Connection.organization_id == organization_id,
            Connection.channel == channel,
            Connection.account_id == account_id,
        )
    )


async def list_connections(
    session: AsyncSession, organization_id: uuid.UUID | None, page: PageQuery
) -> Sequence[Connection]:
    """A page of the connections from after the page's cursor (one more than the page when
    more follow)."""
    statement = select(Connection)
    if organization_id is not None:
        statement = statement.where(Connection.organization_id == organization_id)
    return (await session.scalars(paged(statement, CONNECTION_ORDER, page))).all()


async def connections_for_update(session: AsyncSession) -> Sequence[Connection]:
    """Every connection the session sees, locked (re-encrypting their tokens)."""
    return (await session.scalars(select(Connection).with_for_update())).all()


async def connections_on(
    session: AsyncSession, organization_id: uuid.UUID, channels: Sequence[str]
) -> Sequence[Connection]:
    """The organisation's connections on these channels, most recently connected first."""
    return (
        await session.scalars(
            select(Connection)
            .where(Connection.organization_id == organization_id, Connection.channel.in_(channels))
            .order_by(Connection.created_at.desc(), Connection.id)
        )
    ).all()


async def active_connections(
    session: AsyncSession, organization_id: uuid.UUID | None = None
) -> Sequence[Connection]:
    """Active connections, of one organisation or of all."""
    statement = select(Connection).where(Connection.status == "active")
    if organization_id is not None:
        statement = statement.where(Connection.organization_id == organization_id)
    return (await session.scalars(statement)).all()


async def connections_expiring_before(
    session: AsyncSession, moment: datetime
) -> Sequence[Connection]:
    """Active connections whose access token expires before ``moment``."""
    return (
        await session.scalars(
            select(Connection).where(
                Connection.status == "active",
                Connection.expires_at.is_not(None),
                Connection.expires_at < moment,
            )
        )
    ).all()


async def oauth_state_for_update(session: AsyncSession, state: str) -> OAuthState | None:
    """Locked, so that two callbacks with the same state cannot both use it."""
    return await session.get(OAuthState, state, with_for_update=True)


# --- publications ---------------------------------------------------------------------------


async def get_publication(
    session: AsyncSession, publication_id: uuid.UUID, *, for_update: bool = False
) -> Publication | None:
    return await session.get(Publication, publication_id, with_for_update=for_update)


async def publication_with_key(session: AsyncSession, key: str) -> Publication | None:
    return await session.scalar(select(Publication).where(Publication.idempotency_key == key))


async def publication_and_connection_for_update(
    session: AsyncSession, publication_id: uuid.UUID
) -> tuple[Publication, Connection] | None:
    """The post and its connection in one round trip; only the post is locked."""
    row = (
        await session.execute(
            select(Publication, Connection)
            .join(Connection, Connection.id == Publication.connection_id)
            .where(Publication.id == publication_id)
            .with_for_update(of=Publication)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def claim_waiting(
    session: AsyncSession, publication_id: uuid.UUID, due_at: datetime | None
) -> tuple[Publication, bytes] | None:
    """The usual claim in one statement: a ``scheduled`` post (due at ``due_at`` when given) of
    an active connection turns ``publishing``, with its attempt counted, under its row's lock;
    the post and its connection's sealed token. None when the post is anything else (settled,
    moved, publishing, of a connection needing re-authorisation): the caller reads it and
    decides. Only the post's row is locked, as ``publication_and_connection_for_update``'s."""
    statement = (
        update(Publication)
        .where(
            Publication.id == publication_id,
            Publication.status == "scheduled",
            Publication.connection_id == Connection.id,
            Connection.status == "active",
        )
        .values(status="publishing", attempts=Publication.attempts + 1)
        .returning(Publication, Connection.token_ciphertext)
        .execution_options(synchronize_session=False)
    )
    if due_at is not None:
        statement = statement.where(Publication.due_at == due_at)
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


async def mark_published(
    session: AsyncSession,
    publication_id: uuid.UUID,
    *,
    platform_post_id: str,
    url: str | None,
    published_at: datetime,
) -> Publication | None:
    """The publication, now ``published`` (its failure cleared); None if it already was.

    One conditional UPDATE, atomic on the row like a SELECT FOR UPDATE: only the first record of
    a publish changes the row."""
    return await session.scalar(
        update(Publication)
        .where(Publication.id == publication_id, Publication.status != "published")
        .values(
            status="published",
            platform_post_id=platform_post_id,
            url=url,
            published_at=published_at,
            failure_class=None,
            failure_detail=None,
        )
        .returning(Publication)
    )


def _publications(
    organization_id: uuid.UUID | None, engagement_id: uuid.UUID | None, status: str | None
) -> Select[Publication]:
    statement = select(Publication)
    if organization_id is not None:
        statement = statement.where(Publication.organization_id == organization_id)
    if engagement_id is not None:
        statement = statement.where(Publication.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(Publication.status == status)
    return statement


async def list_publications(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    engagement_id: uuid.UUID | None,
    status: str | None,
) -> Sequence[Publication]:
    statement = _publications(organization_id, engagement_id, status)
    return (await session.scalars(statement.order_by(*PUBLICATION_ORDER.columns))).all()


async def page_of_publications(
    session: AsyncSession,
    page: PageQuery,
    *,
    organization_id: uuid.UUID | None,
    engagement_id: uuid.UUID | None,
    status: str | None,
) -> Sequence[Publication]:
    """A page of the publications from after the page's cursor (one more than the page when
    more follow)."""
    statement = _publications(organization_id, engagement_id, status)
    return (await session.scalars(paged(statement, PUBLICATION_ORDER, page))).all()


async def published_since(
    session: AsyncSession,
    since: datetime,
    connection_ids: Sequence[uuid.UUID],
    *,
    engagement_id: uuid.UUID | None = None,
) -> Sequence[Publication]:
    """Posts published through these connections since ``since`` (of one engagement, or all)."""
    statement = select(Publication).where(
        Publication.status == "published",
        Publication.published_at >= since,
        Publication.connection_id.in_(connection_ids),
    )
    if engagement_id is not None:
        statement = statement.where(Publication.engagement_id == engagement_id)
    return (await session.scalars(statement)).all()


async def publications_of_period(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
) -> Sequence[Publication]:
    """The engagement's posts published in ``[starts_at, ends_at)``, and its failed posts that
    were due in it (a failed post has no publication time)."""
    return (
        await session.scalars(
            select(Publication)
            .where(
                Publication.organization_id == organization_id,
                Publication.engagement_id == engagement_id,
                or_(
                    and_(
                        Publication.status == "published",
                        Publication.published_at >= starts_at,
                        Publication.published_at < ends_at,
                    ),
                    and_(
                        Publication.status == "failed",
                        Publication.due_at >= starts_at,
                        Publication.due_at < ends_at,
                    ),
                ),
            )
            .order_by(Publication.due_at, Publication.id)
        )
    ).all()


# --- metrics --------------------------------------------------------------------------------


async def metrics_of(
    session: AsyncSession, publication_id: uuid.UUID, page: PageQuery
) -> Sequence[PostMetricsSample]:
    """A page of the post's metrics samples from after the page's cursor (one more than the
    page when more follow)."""
    statement = select(PostMetricsSample).where(PostMetricsSample.publication_id == publication_id)
    return (await session.scalars(paged(statement, METRICS_ORDER, page))).all()


async def latest_metrics(
    session: AsyncSession, publication_ids: Sequence[uuid.UUID], as_of: datetime | None
) -> Sequence[PostMetricsSample]:
    """Each publication's newest metrics sample (collected at or before ``as_of``)."""
    if not publication_ids:
        return []
    statement = (
        select(PostMetricsSample)
        .where(PostMetricsSample.publication_id.in_(publication_ids))
        .order_by(
            PostMetricsSample.publication_id,
            PostMetricsSample.collected_at.desc(),
            PostMetricsSample.id.desc(),
        )
        .ext(distinct_on(PostMetricsSample.publication_id))
    )
    if as_of is not None:
        statement = statement.where(PostMetricsSample.collected_at <= as_of)
    return (await session.scalars(statement)).all()


# --- outbox ---------------------------------------------------------------------------------


async def staged_event_data(session: AsyncSession, event_id: uuid.UUID) -> dict[str, Any] | None:
    """The ``data`` of an event this service staged (sent or not), or None."""
    envelope = await session.scalar(
        select(OutboxEvent.envelope).where(OutboxEvent.event_id == str(event_id))
    )
    return None if envelope is None else dict(envelope["data"])


# --- approved variants (the read model of the content service's review facts) ---------------


async def record_review(
    session: AsyncSession, item_id: uuid.UUID, organization_id: uuid.UUID, reviewed_at: datetime
) -> bool:
    """Record the item's review fact of ``reviewed_at``; False when a newer one is recorded."""
    statement = insert(ReviewedItem).values(
        item_id=item_id, organization_id=organization_id, reviewed_at=reviewed_at
    )
    newer = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[ReviewedItem.item_id],
            set_={"reviewed_at": statement.excluded.reviewed_at},
            where=ReviewedItem.reviewed_at < statement.excluded.reviewed_at,
        ).returning(ReviewedItem.item_id)
    )
    return newer is not None


async def replace_approved_variants(
    session: AsyncSession, item_id: uuid.UUID, variants: Sequence[ApprovedVariant]
) -> None:
    """The item's approved variants become ``variants`` (none: it is no longer approved)."""
    await session.execute(delete(ApprovedVariant).where(ApprovedVariant.item_id == item_id))
    session.add_all(variants)


async def approved_variant(
    session: AsyncSession, organization_id: uuid.UUID, variant_id: uuid.UUID
) -> ApprovedVariant | None:
    return await session.scalar(
        select(ApprovedVariant).where(
            ApprovedVariant.variant_id == variant_id,
            ApprovedVariant.organization_id == organization_id,
        )
    )


# --- replies --------------------------------------------------------------------------------


async def reply_for_update(session: AsyncSession, values: dict[str, Any]) -> Reply:
    """The reply with ``values["id"]``, created from ``values`` when it is new, locked."""
    await session.execute(insert(Reply).values(**values).on_conflict_do_nothing())
    reply = await session.get(Reply, values["id"], with_for_update=True, populate_existing=True)
    assert reply is not None
    return reply


async def get_reply(
    session: AsyncSession, reply_id: uuid.UUID, *, for_update: bool = False
) -> Reply | None:
    return await session.get(Reply, reply_id, with_for_update=for_update)
