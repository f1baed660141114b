"""The publisher's side of the ``publish`` benchmark (``benchmarks/publish.py``): a client
organisation connected to the sandbox accounts, an approved variant, the posts placed through the
API's code path and handed to their batches as the API hands them, and what became of them."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.publish_sandbox import Account
from services.content.events import ITEM_APPROVED, ApprovedVariantFact, ItemApproved
from services.content.events import SOURCE as CONTENT_SOURCE
from services.publisher import approvals, connections, publications
from services.publisher.contracts import batch_workflow_id
from services.publisher.crypto import TokenVault
from services.publisher.models import Publication
from services.publisher.scheduling import Scheduler
from services.publisher.schemas import PublicationCreate
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.errors import DependencyUnavailableError
from shared.events.envelope import new_event
from shared.media_links import MediaLinks
from shared.settings import Settings

INSERT_BATCH = 500
INSERTS_IN_FLIGHT = 4
STARTS_IN_FLIGHT = 64
# Posts still unsettled after this long without any post settling are counted as lost.
STALL = timedelta(minutes=2)
SETTLED = ("published", "failed", "cancelled")


async def connect(
    sessions: async_sessionmaker[AsyncSession], vault: TokenVault, accounts: list[Account]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A client organisation with one connection per account."""
    organization_id = uuid.uuid4()
    async with session_scope(sessions, SYSTEM) as session:
        stored = [
            await connections.store_connection(
                session,
                organization_id=organization_id,
                channel=Channel.SANDBOX.value,
                account_id=account.account_id,
                display_name=f"bench {n}",
                credentials=account.credentials,
                vault=vault,
                connected_by="bench",
            )
            for n, account in enumerate(accounts)
        ]
        return organization_id, [connection.id for connection in stored]


async def approve_variant(
    sessions: async_sessionmaker[AsyncSession], organization_id: uuid.UUID
) -> uuid.UUID:
    """A sandbox variant the publisher knows as approved, as content's ``item_approved`` would
    have told it (every post publishes it, each in a slot of its own)."""
    variant_id = uuid.uuid4()
    approved = ItemApproved(
        item_id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=None,
        agency_approved_by="bench",
        client_approved_by=None,
        variants=[
            ApprovedVariantFact(
                variant_id=variant_id,
                channel=Channel.SANDBOX,
                text="Benchmark post",
                title=None,
                link=None,
                media=[],
            )
        ],
    )
    async with session_scope(sessions, SYSTEM) as session:
        await approvals.record_approval(
            session, new_event(ITEM_APPROVED, approved, source=CONTENT_SOURCE)
        )
    return variant_id


async def schedule(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    organization_id: uuid.UUID,
    connection_ids: list[uuid.UUID],
    posts: int,
) -> list[Publication]:
    """``posts`` publications through the API's code path, spread evenly over the accounts."""
    placeholder = datetime.now(UTC) + timedelta(days=1)
    in_flight = asyncio.Semaphore(INSERTS_IN_FLIGHT)
    variant_id = await approve_variant(sessions, organization_id)
    links = MediaLinks.from_settings(settings)

    async def place(first: int) -> list[Publication]:
        placed: list[Publication] = []
        async with in_flight, session_scope(sessions, SYSTEM) as session:
            for n in range(first, min(first + INSERT_BATCH, posts)):
                data = PublicationCreate(
                    organization_id=organization_id,
                    connection_id=connection_ids[n % len(connection_ids)],
                    variant_id=variant_id,
                    slot_id=uuid.uuid4(),
                    due_at=placeholder,
                )
                publication, _ = await publications.place_publication(
                    session, data, links, in_batch=True
                )
                placed.append(publication)
        return placed

    batches = await asyncio.gather(*(place(first) for first in range(0, posts, INSERT_BATCH)))
    return [publication for batch in batches for publication in batch]


async def set_due(
    sessions: async_sessionmaker[AsyncSession],
    organization_id: uuid.UUID,
    publications: list[Publication],
    due_at: datetime,
) -> None:
    """Every post of the organisation due at ``due_at``, in its connection's batch for it."""
    async with session_scope(sessions, SYSTEM) as session:
        for connection_id in {publication.connection_id for publication in publications}:
            await session.execute(
                update(Publication)
                .where(
                    Publication.organization_id == organization_id,
                    Publication.connection_id == connection_id,
                )
                .values(due_at=due_at, workflow_id=batch_workflow_id(connection_id, due_at))
            )
    for publication in publications:
        publication.due_at = due_at
        publication.workflow_id = batch_workflow_id(publication.connection_id, due_at)


@contextlib.asynccontextmanager
async def connected_scheduler(settings: Settings) -> AsyncIterator[Scheduler]:
    """The publisher API's scheduler, connected as the API connects it."""
    scheduler = Scheduler(settings)
    scheduler.start_connecting()
    try:
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(DependencyUnavailableError):
                    scheduler.require_connection()
                    break
                await asyncio.sleep(0.05)
        yield scheduler
    finally:
        await scheduler.close()


async def start_workflows(scheduler: Scheduler, publications: list[Publication]) -> None:
    """Each post handed to its batch as the API hands it once the post is placed (a
    signal-with-start of its account's and due minute's ``PublishBatchWorkflow``)."""
    in_flight = asyncio.Semaphore(STARTS_IN_FLIGHT)

    async def start(publication: Publication) -> None:
        async with in_flight:
            await scheduler.start(publication)

    await asyncio.gather(*(start(publication) for publication in publications))


async def wait_settled(
    sessions: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, posts: int
) -> None:
    """Until every post is settled, or no post has settled for ``STALL`` (the rest are lost)."""
    settled, progress_at = -1, time.monotonic()
    while settled < posts and time.monotonic() - progress_at < STALL.total_seconds():
        await asyncio.sleep(1)
        async with session_scope(sessions, SYSTEM) as session:
            now_settled = await session.scalar(
                select(func.count()).where(
                    Publication.organization_id == organization_id,
                    Publication.status.in_(SETTLED),
                )
            )
        if now_settled != settled:
            settled, progress_at = now_settled or 0, time.monotonic()


async def latenesses(
    sessions: async_sessionmaker[AsyncSession], organization_id: uuid.UUID
) -> list[tuple[datetime, float]]:
    """(published at, seconds after due) of every published post of the organisation."""
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.execute(
            select(Publication.published_at, Publication.due_at).where(
                Publication.organization_id == organization_id,
                Publication.status == "published",
            )
        )
        return [
            (published_at, (published_at - due_at).total_seconds())
            for published_at, due_at in rows.all()
            if published_at is not None
        ]


async def postgres_backends(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[int]]:
    """PostgreSQL's processes serving the scratch database (connections come and go)."""
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return {"postgres": list(found)}
