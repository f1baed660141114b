"""Ingestion under a real crash: the consumer process is killed (SIGKILL) in the middle of the
mentions, with a batch in hand, and started again; every mention is stored exactly once and
announced exactly once.

The consumer runs as ``python -m benchmarks.listening_pipeline consume`` (the ingestion
subscription alone) on the test's database and a stream of the test's own. Its durable consumer is
created by the test first, with a short ack wait, so the killed process's unacknowledged batch is
redelivered within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.ingestion import DURABLE, FETCH_BATCH
from services.listening.intake import PAGE_MENTIONS, publish_raw_mentions
from services.listening.models import Mention, OutboxEvent
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.consumer import spec_for
from shared.settings import EventSettings, Settings
from tests.conftest import wait_until
from tests.test_mentions import raw
from tests.worker_processes import ROOT, worker_environment

MENTIONS = 5_000
ACK_WAIT_SECONDS = 2.0


@contextlib.asynccontextmanager
async def consumer_process(
    settings: Settings, scratch: Path, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The ingestion consumer in a process group of its own, subscribed; killed on the way out."""
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "benchmarks.listening_pipeline", "consume"),
            cwd=ROOT,
            env=worker_environment(settings, scratch),
            stdout=asyncio.subprocess.PIPE,
            stderr=output,
            start_new_session=True,
        )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            assert await process.stdout.readline() == b"ready\n", log.read_text()
        yield process
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def stored(sessions: async_sessionmaker[AsyncSession], organization_id: str) -> list[int]:
    """How many mentions of the organisation are stored, and how many distinct external ids."""
    async with session_scope(sessions, SYSTEM) as session:
        row = (
            await session.execute(
                select(func.count(), func.count(func.distinct(Mention.external_id))).where(
                    Mention.organization_id == uuid.UUID(organization_id)
                )
            )
        ).one()
    return [int(row[0]), int(row[1])]


async def announced(sessions: async_sessionmaker[AsyncSession], organization_id: str) -> list[str]:
    async with session_scope(sessions, SYSTEM) as session:
        envelopes = await session.scalars(
            select(OutboxEvent.envelope).where(
                OutboxEvent.name == "listening.mentions_ingested",
                OutboxEvent.envelope["subject"].astext == organization_id,
            )
        )
        return [mention for envelope in envelopes for mention in envelope["data"]["mention_ids"]]


async def test_a_consumer_killed_mid_batch_loses_and_duplicates_no_mention(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
    tmp_path: Path,
) -> None:
    scoped = settings.model_copy(update={"events": isolated_events})
    js = nats_client.jetstream()
    spec = spec_for(DURABLE, "listening.mention_received", isolated_events)
    await js.add_consumer(
        isolated_events.stream,
        config=ConsumerConfig(
            durable_name=DURABLE,
            filter_subject=spec.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_SECONDS,
            max_deliver=spec.max_deliver,
        ),
    )
    organization_id = str(uuid.uuid4())
    await publish_raw_mentions(
        js, scoped, [raw(organization_id, f"Mention {n}") for n in range(MENTIONS)]
    )
    log = tmp_path / "consumer.log"

    async with consumer_process(scoped, tmp_path, log) as first:

        async def some_stored() -> bool:
            return (await stored(sessions, organization_id))[0] >= 2 * FETCH_BATCH * PAGE_MENTIONS

        await wait_until(some_stored, timeout=30, interval=0.02)
        os.killpg(first.pid, signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
    before_restart = (await stored(sessions, organization_id))[0]
    assert 0 < before_restart < MENTIONS, "killed in the middle"
    info = await js.consumer_info(isolated_events.stream, DURABLE)
    assert info.num_ack_pending > 0, "killed with a batch fetched and not acknowledged"

    async with consumer_process(scoped, tmp_path, log):

        async def all_stored() -> bool:
            return (await stored(sessions, organization_id))[0] >= MENTIONS

        await wait_until(all_stored, timeout=30, interval=0.1)

        async def settled() -> bool:
            info = await js.consumer_info(isolated_events.stream, DURABLE)
            return bool(info.num_ack_pending == 0 and info.num_pending == 0)

        await wait_until(settled, timeout=15)
    assert await stored(sessions, organization_id) == [MENTIONS, MENTIONS]
    mention_ids = await announced(sessions, organization_id)
    assert len(mention_ids) == len(set(mention_ids)) == MENTIONS, "each announced exactly once"
