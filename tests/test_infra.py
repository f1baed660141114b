"""Embedded infrastructure for ``engage up``: real servers from the venv's wheels, on free ports."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
from pathlib import Path

import asyncpg
import nats
from rich.console import Console
from sqlalchemy.engine import make_url

from engage.infra import (
    EmbeddedProcess,
    nats_reachable,
    postgres_pid,
    postgres_reachable,
    start_nats,
    start_postgres,
    start_temporal,
    stop_process,
    temporal_reachable,
)
from engage.nats_auth import as_component
from engage.supervisor import (
    COMPONENTS,
    EMBEDDED,
    _Component,
    _Platform,
    child_component,
    child_environment,
    child_specs,
)
from shared.events.jetstream import connect_nats
from shared.settings import Settings, TemporalSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def group_alive(handle: EmbeddedProcess) -> bool:
    try:
        os.killpg(handle.process.pid, 0)
    except ProcessLookupError:
        return False
    return True


async def assert_stopped(handle: EmbeddedProcess) -> None:
    await stop_process(handle)
    assert handle.process.returncode is not None
    assert not group_alive(handle), f"{handle.name} left processes in its group"


async def test_closed_ports_are_not_reachable(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/engage",
        nats_url=f"nats://127.0.0.1:{free_port()}",
        temporal=TemporalSettings(address=f"127.0.0.1:{free_port()}"),
        data_dir=str(tmp_path),
    )

    assert not await postgres_reachable(settings)
    assert not await nats_reachable(settings)
    assert not await temporal_reachable(settings)


async def test_embedded_nats_serves_jetstream_and_stops(tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    settings = Settings(nats_url=url, data_dir=str(tmp_path))

    handle = await start_nats(settings)

    assert handle is not None
    try:
        assert await nats_reachable(settings)
        assert await start_nats(settings) is None, "a running server is reused, not duplicated"
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await js.add_stream(name="T", subjects=["t.>"])
            ack = await js.publish("t.hello", b"hi")
            assert ack.stream == "T"
        finally:
            await nc.drain()
        assert (tmp_path / "logs" / "nats.log").exists()
    finally:
        await assert_stopped(handle)
    assert not await nats_reachable(settings)


async def test_embedded_postgres_serves_and_restarts_on_its_data(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/engage",
        data_dir=str(tmp_path),
    )

    for _ in range(2):  # the second start reuses the cluster initialised by the first
        handle = await start_postgres(settings)
        assert handle is not None
        try:
            assert await postgres_reachable(settings)
            assert await select_one(settings) == 1
        finally:
            await assert_stopped(handle)
        assert not await postgres_reachable(settings)
    assert (tmp_path / "postgres" / "PG_VERSION").exists()


async def select_one(settings: Settings) -> int:
    port = int(settings.database_url.rsplit(":", 1)[1].split("/")[0])
    connection = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", database="postgres"
    )
    try:
        value: int = await connection.fetchval("SELECT 1")
        return value
    finally:
        await connection.close()


async def test_embedded_temporal_answers_and_stops(tmp_path: Path) -> None:
    settings = Settings(
        temporal=TemporalSettings(address=f"127.0.0.1:{free_port()}", ui_port=free_port()),
        data_dir=str(tmp_path),
    )

    handle = await start_temporal(settings)

    assert handle is not None
    try:
        assert await temporal_reachable(settings)
        assert (tmp_path / "temporal.db").exists()
    finally:
        await assert_stopped(handle)
    assert not await temporal_reachable(settings)


def test_each_child_connects_as_its_own_component() -> None:
    settings = Settings(
        environment="dev",
        database_url="postgresql+asyncpg://owner:secret@db.local:5432/engage",
    )
    specs = {spec.name: spec for spec in child_specs(settings)}

    def environment(name: str, *, nats_users: bool) -> dict[str, str]:
        return child_environment(settings, child_component(specs[name]), nats_users=nats_users)

    for name in ("content", "worker content"):
        content = environment(name, nats_users=True)
        url = make_url(content["ENGAGE_DATABASE_URL"])
        assert (url.username, url.host, url.database) == ("engage_content", "db.local", "engage")
        assert url.password == "engage-dev-content-not-for-production"
        assert content["ENGAGE_NATS_USER"] == "engage-content"
    # No database of their own: they keep the URL they were given.
    for name in ("gateway", "sandbox", "worker workflows"):
        assert environment(name, nats_users=True)["ENGAGE_DATABASE_URL"] == settings.database_url
    assert environment("worker workflows", nats_users=True)["ENGAGE_NATS_USER"] == (
        "engage-workflows"
    )
    assert "ENGAGE_NATS_USER" not in environment("sandbox", nats_users=True)
    # A NATS that answered before ``engage up``: the children keep the environment's credentials.
    assert environment("content", nats_users=False).get("ENGAGE_NATS_USER") == os.environ.get(
        "ENGAGE_NATS_USER"
    )


def quiet_platform(settings: Settings, components: tuple[_Component, ...]) -> _Platform:
    return _Platform(settings, Console(file=io.StringIO()), components=components)


async def test_engage_up_restarts_an_embedded_server_that_dies_and_stops_it(
    tmp_path: Path,
) -> None:
    settings = Settings(nats_url=f"nats://127.0.0.1:{free_port()}", data_dir=str(tmp_path))
    platform = quiet_platform(settings, tuple(c for c in COMPONENTS if c.title == "NATS"))
    await platform._ensure_infrastructure()
    [embedded] = platform.embedded
    first = embedded.handle
    try:
        os.killpg(first.process.pid, signal.SIGKILL)
        async with asyncio.timeout(30):
            while embedded.handle is first or not await nats_reachable(settings):
                await asyncio.sleep(0.1)
        # The server started again is configured as the first was: users only.
        nc = await connect_nats(as_component(settings, "admin"), "test")
        await nc.close()
    finally:
        await platform._stop_infrastructure()
    assert not await nats_reachable(settings)
    assert not group_alive(embedded.handle)


async def test_a_postgres_started_by_hand_on_the_embedded_cluster_stops_with_the_platform(
    tmp_path: Path,
) -> None:
    """``engage up`` had started PostgreSQL; someone started it again by hand on the same
    cluster (before the supervisor did): stopping the platform stops it too."""
    settings = Settings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/engage",
        data_dir=str(tmp_path),
    )
    by_hand = await start_postgres(settings)
    assert by_hand is not None
    try:
        platform = quiet_platform(settings, ())
        platform.origins["PostgreSQL"] = EMBEDDED
        assert postgres_pid(settings) == by_hand.process.pid

        await platform._stop_infrastructure()

        assert not await postgres_reachable(settings)
        assert await asyncio.wait_for(by_hand.process.wait(), 5) == 0  # a clean, fast shutdown
        assert postgres_pid(settings) is None
    finally:
        await stop_process(by_hand)
