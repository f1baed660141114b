"""Mention ingestion end to end: raw mentions published to JetStream as sources publish them
(``intake.publish_raw_mentions``), read by the ingestion consumer in a process of its own and
stored in PostgreSQL, on a scratch database and stream.

Figures:

- ``mentions_per_second``: N raw mentions (``mentions``; 100,000, or ``BENCH_LISTENING_MENTIONS``)
  from the start of publishing, with the consumer already waiting, until every one is stored
  and its message acknowledged (``messages``: intake publishes pages of mentions); baseline: a
  bare JetStream pull consumer fetching and acking the same messages in batches of the same
  size (``jetstream_fetch_ack``), its rate and CPU counted per mention as well.
- ``store_rows_per_second``: the same run's rate against a bare ``COPY`` of the same stored rows
  into a scratch table without indexes (``bare_copy``), measured after the run.
- ``consumer_peak_rss``: the consumer process's peak resident memory (``VmHWM``).

The mentions are generated from a fixed seed: Italian and English, positive, negative and
neutral, some with coordinates or a profile location, some naming an engagement, for four
organisations with two active queries each.

``python -m benchmarks.listening_pipeline consume`` is the consumer process: the ingestion
subscription alone, on the ``ENGAGE_*`` settings of its environment, until SIGTERM. It prints
``ready`` once it is subscribed; with ``BENCH_PROFILE=<file>`` it writes a cProfile there when
it stops (timed by the process's CPU clock). The SIGKILL test
(``tests/test_mentions_crash.py``) runs it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks import memory
from benchmarks.common import report, scratch_settings, scratch_stream
from benchmarks.workers import REPOSITORY, worker_environment
from services.listening.contracts import RawMention
from services.listening.ingestion import DURABLE, ingestion
from services.listening.intake import publish_raw_mentions
from services.listening.models import KnownEngagement, ListeningQuery, Mention
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.events.jetstream import connect_nats
from shared.settings import Settings

BENCHMARK = "listening_pipeline"
MENTIONS = int(os.environ.get("BENCH_LISTENING_MENTIONS", "100000"))
SEED = 12
ORGANISATIONS = 4
PUBLISH_CHUNK = 10_000
READY_SECONDS = 180.0  # a loaded machine warms the consumer up slowly
DRAIN_SECONDS = 600.0
T0 = datetime(2027, 5, 1, 8, 0, tzinfo=UTC)
# Where the consumer process writes its cProfile (``BENCH_LISTENING_PROFILE``), if anywhere.
_PROFILE_PATH = os.environ.get("BENCH_LISTENING_PROFILE")
PROFILE = Path(_PROFILE_PATH) if _PROFILE_PATH else None

_OPENINGS_IT = [
    "Che bella giornata {at} {place}",
    "Siamo stati {at} {place} con gli amici",
    "Weekend {at} {place}:",
    "Cena {at} {place} ieri sera,",
    "Qualcuno conosce {at} {place}?",
]
_CLOSINGS_IT = [
    "vino ottimo e personale gentilissimo!",
    "esperienza pessima, camerieri scortesi e conto salato.",
    "niente di speciale, nella media.",
    "panorama stupendo, torneremo sicuramente",
    "servizio lento ma cibo buono",
    "che delusione, mai più",
]
_OPENINGS_EN = [
    "Lovely afternoon in {place}",
    "We stayed near {place} last week",
    "Dinner in {place} tonight,",
    "Anyone been to {place}?",
]
_CLOSINGS_EN = [
    "the wine was excellent and the staff were wonderful!",
    "terrible experience, rude staff and we will never go back.",
    "it was fine, nothing special.",
    "great views, highly recommended",
]
_PLACES = [
    ("Siena", 43.3188, 11.3308),
    ("Firenze", 43.7696, 11.2558),
    ("Montalcino", 43.0586, 11.4893),
    ("San Gimignano", 43.4677, 11.0431),
    ("Bologna", 44.4949, 11.3426),
    ("Napoli", 40.8518, 14.2681),
    ("Roma", 41.9028, 12.4964),
    ("Alba", 44.7008, 8.0353),
]
_BRANDS = ["La Quercia", "Cantina del Poggio", "Agriturismo Il Cerro", "Tenuta Aurora"]
_TAGS = ["vendemmia2027", "toscana", "wine", "foodie", "weekend", "chianti"]
_LOCATIONS = ["Siena, Toscana", "Milano", "London, UK", "Roma", "somewhere nice", None]
_SOURCES = ["instagram", "mastodon", "x", "facebook", "rss"]


@dataclass(frozen=True)
class Organisation:
    id: uuid.UUID
    engagement_id: uuid.UUID
    brand: str


def organisations() -> list[Organisation]:
    chance = random.Random(SEED)
    return [
        Organisation(
            uuid.UUID(int=chance.getrandbits(128), version=4),
            uuid.UUID(int=chance.getrandbits(128), version=4),
            brand,
        )
        for brand in _BRANDS[:ORGANISATIONS]
    ]


def raw_mentions(orgs: list[Organisation], count: int) -> Iterator[RawMention]:
    """``count`` raw mentions, the same for the same seed."""
    chance = random.Random(SEED)
    for n in range(count):
        org = orgs[n % len(orgs)]
        place, latitude, longitude = chance.choice(_PLACES)
        italian = chance.random() < 0.6
        if italian:
            opening = chance.choice(_OPENINGS_IT).format(at=chance.choice(["a", "da"]), place=place)
            closing = chance.choice(_CLOSINGS_IT)
        else:
            opening = chance.choice(_OPENINGS_EN).format(place=place)
            closing = chance.choice(_CLOSINGS_EN)
        brand = org.brand if chance.random() < 0.5 else ""
        tags = chance.sample(_TAGS, chance.randint(0, 2))
        text_ = " ".join(part for part in (opening, brand, closing) if part)
        text_ += "".join(f" #{tag}" for tag in tags)
        coordinates = (
            {"latitude": latitude + chance.uniform(-0.01, 0.01), "longitude": longitude}
            if chance.random() < 0.2
            else None
        )
        yield RawMention.model_validate(
            {
                "organization_id": org.id,
                "source": _SOURCES[n % len(_SOURCES)],
                "external_id": f"m{n:07d}",
                "author": {
                    "handle": f"@user{chance.randrange(5000)}",
                    "display_name": None,
                    "profile_location": chance.choice(_LOCATIONS),
                },
                "text": text_,
                "url": f"https://example.org/p/{n}",
                "published_at": T0 + timedelta(seconds=n),
                "coordinates": coordinates,
                "language": chance.choice([None, None, "it" if italian else "en-GB"]),
                "hashtags": tags,
                "accounts": [],
                "engagement_id": org.engagement_id if chance.random() < 0.1 else None,
            }
        )


async def seed_organisations(
    sessions: async_sessionmaker[AsyncSession], orgs: list[Organisation]
) -> None:
    """Each organisation's engagement, and two active queries of it."""
    async with session_scope(sessions, SYSTEM) as session:
        for org in orgs:
            session.add(KnownEngagement(engagement_id=org.engagement_id, organization_id=org.id))
            for name, expression, exclusions in (
                ("brand", f'"{org.brand}" OR #vendemmia2027', "offerta"),
                ("wine", "(vino OR wine) place:Toscana", None),
            ):
                session.add(
                    ListeningQuery(
                        organization_id=org.id,
                        engagement_id=org.engagement_id,
                        name=name,
                        expression=expression,
                        exclusions=exclusions,
                        terms=[expression],
                        channels=["instagram"],
                        languages=[],
                        sources=_SOURCES,
                        starts_on=date(2027, 1, 1),
                        status="active",
                        created_by="bench",
                    )
                )


@contextlib.asynccontextmanager
async def consumer_process(
    settings: Settings, scratch: Path, profile: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The consumer process, ready (subscribed); SIGTERM (then SIGKILL) on the way out."""
    extra = {"BENCH_PROFILE": str(profile)} if profile else {}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "benchmarks.listening_pipeline", "consume"),
        cwd=REPOSITORY,
        env=worker_environment(settings, scratch, extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=(scratch / "consumer.log").open("ab"),
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(READY_SECONDS):
            line = await process.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"consumer did not start: {(scratch / 'consumer.log').read_text()}")
        yield process
    finally:
        if process.returncode is None:
            memory.note("listening-consumer", process.pid)
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


async def drained(js: JetStreamContext, stream: str, durable: str, count: int) -> None:
    """Until the durable consumer has acknowledged the stream's first ``count`` messages and
    holds none."""
    async with asyncio.timeout(DRAIN_SECONDS):
        while True:
            info = await js.consumer_info(stream, durable)
            if info.ack_floor.stream_seq >= count and info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.05)


async def bare_fetch_ack(
    js: JetStreamContext, settings: Settings, count: int
) -> tuple[float, float]:
    """Seconds and CPU seconds a bare pull consumer (in this process) takes to fetch and ack
    ``count`` messages."""
    subscription = await js.pull_subscribe(
        f"{settings.events.subject_prefix}.>",
        durable="bench-bare",
        stream=settings.events.stream,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    batch = ingestion.subscription.fetch_batch
    received = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    while received < count:
        try:
            messages = await subscription.fetch(batch, timeout=1.0)
        except NatsTimeoutError:
            continue
        for msg in messages:
            await msg.ack()
        received += len(messages)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await subscription.unsubscribe()
    return elapsed, cpu


async def bare_copy(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, float]:
    """The rows ingestion stored, and the seconds a COPY of them into an unindexed table takes."""
    columns = ", ".join(
        column.name
        for column in Mention.__table__.columns
        if column.name not in {"search", "ingested_at"}
    )
    async with sessions() as session:
        connection = await (await session.connection()).get_raw_connection()
        driver = connection.driver_connection
        assert driver is not None
        records = await driver.fetch(f"SELECT {columns} FROM listening.mentions")  # noqa: S608
        await driver.execute(
            f"CREATE TABLE public.bench_copy AS SELECT {columns} "  # noqa: S608
            "FROM listening.mentions WITH NO DATA"
        )
        started = time.perf_counter()
        await driver.copy_records_to_table(
            "bench_copy", schema_name="public", records=records, columns=columns.split(", ")
        )
        await session.commit()
        return len(records), time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    """One run of the consumer over N mentions, on a scratch database and stream of its own."""

    mentions: int
    # The messages that carried them (pages of mentions).
    messages: int
    # From the start of publishing (concurrent) or of consuming (drain) to the last ack.
    seconds: float
    publish_seconds: float
    consumer_cpu_seconds: float
    consumer_peak_rss: int
    fetch_ack_per_second: float
    fetch_ack_cpu_seconds: float
    copied_rows: int
    copy_seconds: float


async def measured(mentions: list[RawMention], *, concurrent: bool, consumers: int = 1) -> Run:
    """Ingest ``mentions``: published while the consumer waits (``concurrent``), or published
    first and then drained by consumers started afterwards (``consumers`` processes sharing the
    durable consumer); then the bare baselines, on the same stream and database."""
    orgs = organisations()
    async with (
        scratch_settings("listening") as settings,
        scratch_stream(settings, "bench") as js,
    ):
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        try:
            await seed_organisations(sessions, orgs)
            publish_seconds, messages = 0.0, 0
            if not concurrent:
                publish_seconds, messages = await published(js, settings, mentions)
            with tempfile.TemporaryDirectory(prefix="bench-listening-") as scratch:
                profile = None if concurrent else PROFILE
                async with contextlib.AsyncExitStack() as stack:
                    processes = [
                        await stack.enter_async_context(
                            consumer_process(settings, Path(scratch), profiled(profile, n))
                        )
                        for n in range(consumers)
                    ]
                    cpu_before = sum(cpu_seconds(process.pid) for process in processes)
                    started = time.perf_counter()
                    if concurrent:
                        publish_seconds, messages = await published(js, settings, mentions)
                    await drained(js, settings.events.stream, DURABLE, messages)
                    elapsed = time.perf_counter() - started
                    consumer_cpu = sum(cpu_seconds(process.pid) for process in processes)
                    consumer_cpu -= cpu_before
                    rss = max(peak_rss_bytes(process.pid) for process in processes)
            async with sessions() as session:
                stored = await session.scalar(text("SELECT count(*) FROM listening.mentions"))
            if stored != len(mentions):
                raise RuntimeError(f"{stored} of {len(mentions)} mentions stored")
            fetch_ack_seconds, fetch_ack_cpu = await bare_fetch_ack(js, settings, messages)
            copied, copy_seconds = await bare_copy(sessions)
        finally:
            await engine.dispose()
    return Run(
        mentions=len(mentions),
        messages=messages,
        seconds=elapsed,
        publish_seconds=publish_seconds,
        consumer_cpu_seconds=consumer_cpu,
        consumer_peak_rss=rss,
        fetch_ack_per_second=len(mentions) / fetch_ack_seconds,
        fetch_ack_cpu_seconds=fetch_ack_cpu,
        copied_rows=copied,
        copy_seconds=copy_seconds,
    )


async def published(
    js: JetStreamContext, settings: Settings, mentions: list[RawMention]
) -> tuple[float, int]:
    """Seconds taken to publish the mentions as sources do, in chunks, and the messages (pages)
    that carried them (the stream holds nothing else)."""
    started = time.perf_counter()
    messages = 0
    for offset in range(0, len(mentions), PUBLISH_CHUNK):
        chunk = mentions[offset : offset + PUBLISH_CHUNK]
        messages += len(await publish_raw_mentions(js, settings, chunk))
    return time.perf_counter() - started, messages


def profiled(profile: Path | None, consumer: int) -> Path | None:
    """Where a consumer writes its profile: the path given, then ``<path>.1`` and so on."""
    if profile is None or consumer == 0:
        return profile
    return profile.with_name(f"{profile.name}.{consumer}")


def reported(prefix: str, run: Run) -> None:
    rate = run.mentions / run.seconds
    report(
        BENCHMARK,
        f"{prefix}mentions_per_second",
        round(rate, 1),
        "mentions/s",
        mentions=run.mentions,
        messages=run.messages,
        seconds=round(run.seconds, 2),
        publish_seconds=round(run.publish_seconds, 2),
        baseline="jetstream_fetch_ack",
        baseline_value=round(run.fetch_ack_per_second, 1),
        ratio=round(rate / run.fetch_ack_per_second, 3),
        target=10_000,
    )
    copy_rate = run.copied_rows / run.copy_seconds
    report(
        BENCHMARK,
        f"{prefix}store_rows_per_second",
        round(rate, 1),
        "rows/s",
        baseline="bare_copy",
        baseline_value=round(copy_rate, 1),
        ratio=round(rate / copy_rate, 3),
    )
    cpu_per_mention = run.consumer_cpu_seconds / run.mentions * 1e6
    fetch_ack_cpu = run.fetch_ack_cpu_seconds / run.mentions * 1e6
    report(
        BENCHMARK,
        f"{prefix}consumer_cpu_per_mention",
        round(cpu_per_mention, 1),
        "us",
        consumer_cpu_seconds=round(run.consumer_cpu_seconds, 2),
        baseline="jetstream_fetch_ack_cpu_per_mention",
        baseline_value=round(fetch_ack_cpu, 1),
        ratio=round(cpu_per_mention / fetch_ack_cpu, 2),
    )
    report(BENCHMARK, f"{prefix}consumer_peak_rss", round(run.consumer_peak_rss / 2**20, 1), "MiB")


async def run() -> None:
    mentions = list(raw_mentions(organisations(), MENTIONS))
    reported("", await measured(mentions, concurrent=True))
    # The worker scaled out to two processes on the same durable consumer, as an operator runs it.
    reported("two_consumers_", await measured(mentions, concurrent=True, consumers=2))
    reported("drain_", await measured(mentions, concurrent=False))
    reported("drain_two_consumers_", await measured(mentions, concurrent=False, consumers=2))


async def consume() -> None:
    """The consumer process: the ingestion subscription alone, until SIGTERM."""
    settings = Settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Ready means at full speed: what ingestion keeps loaded, out of the collector's sight.
    ingestion.warm_up()
    engine = create_engine(settings)
    nats = await connect_nats(settings, "bench-listening-consumer")
    js = nats.jetstream()
    consumer = ingestion.subscription.consumer(js, create_session_factory(engine), settings.events)
    await consumer.subscribe()
    print("ready", flush=True)
    try:
        await consumer.run(stop)
    finally:
        await nats.close()
        await engine.dispose()


def main() -> None:
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        asyncio.run(consume())
        return
    # CPU time, not wall time: on a shared machine the wall clock also counts other processes.
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(asyncio.run, consume())
    profiler.dump_stats(profile)


if __name__ == "__main__" and sys.argv[1:] == ["consume"]:
    main()
