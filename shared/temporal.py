"""The one way to reach Temporal: pydantic payloads, tracing, and TLS or an API key as the
settings say, on every client."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from shared.errors import DependencyUnavailableError
from shared.retrying import until_connected
from shared.settings import Settings
from shared.telemetry import temporal_interceptors


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal.address,
        data_converter=pydantic_data_converter,
        interceptors=temporal_interceptors(),
        **connect_options(settings),
    )


def connect_options(settings: Settings) -> dict[str, Any]:
    """The namespace and the transport security of a connection: ``tls`` is ``False`` (plaintext,
    the development server) or a ``TLSConfig`` from the configured PEM files, read now so that a
    rotated certificate is picked up on the next connection."""
    temporal = settings.temporal
    options: dict[str, Any] = {"namespace": temporal.namespace, "tls": False}
    if temporal.uses_tls(settings.environment):
        options["tls"] = TLSConfig(
            server_root_ca_cert=_pem(temporal.tls_server_ca_cert_file),
            client_cert=_pem(temporal.tls_client_cert_file),
            client_private_key=_pem(temporal.tls_client_key_file),
            domain=temporal.tls_server_name or None,
        )
    if temporal.api_key is not None:
        options["api_key"] = temporal.api_key.get_secret_value()
    return options


def _pem(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None


async def ensure_interval_schedule(
    client: Client,
    schedule_id: str,
    workflow: str,
    argument: BaseModel,
    task_queue: str,
    every: timedelta,
) -> None:
    """Keep one schedule starting ``workflow`` (with id ``schedule_id``) every ``every``; one
    in place already is left as it is. A run still going when the next is due makes the next
    wait (the schedule's default overlap policy skips it)."""
    try:
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    workflow, argument, id=schedule_id, task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            ),
        )
    except ScheduleAlreadyRunningError:
        return


class TemporalConnection:
    """A Temporal client for an HTTP service, connected in the background so the service starts
    (and reports not-ready) while Temporal is away; requests meanwhile get a 503."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._connecting: asyncio.Task[None] | None = None

    def start_connecting(self) -> None:
        self._connecting = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        self._client = await until_connected(lambda: connect_temporal(self._settings), "temporal")

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting

    @property
    def client(self) -> Client:
        return self.require_connection()

    def require_connection(self) -> Client:
        if self._client is None:
            raise DependencyUnavailableError("temporal")
        return self._client

    async def check(self) -> None:
        await self.client.workflow_service.get_system_info(GetSystemInfoRequest())
