"""The one way to reach Temporal: pydantic payloads and tracing on every client."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from shared.settings import Settings
from shared.telemetry import temporal_interceptors


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        data_converter=pydantic_data_converter,
        interceptors=temporal_interceptors(),
    )
