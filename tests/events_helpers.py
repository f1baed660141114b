"""Reading what reached a JetStream stream, for assertions; a NATS server to take away."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from engage import infra
from engage.infra import EmbeddedProcess
from shared.events.envelope import CloudEvent
from shared.events.jetstream import connect_nats, ensure_stream
from shared.settings import Settings
from tests.conftest import free_port, isolated_event_settings, wait_until


async def stream_messages(js: JetStreamContext, stream: str, subject: str) -> list[Msg]:
    """Every message on ``subject`` currently stored in ``stream``, oldest first."""
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return []
    subscription = await js.subscribe(subject, stream=stream, ordered_consumer=True)
    messages: list[Msg] = []
    try:
        while True:
            try:
                msg = await subscription.next_msg(timeout=0.5)
            except TimeoutError:
                return messages
            messages.append(msg)
    finally:
        await subscription.unsubscribe()


def events_of(messages: list[Msg]) -> list[CloudEvent]:
    return [CloudEvent.model_validate_json(msg.data) for msg in messages]


class OwnNats:
    """A NATS server of the test's own (JetStream stored under ``data_dir``), to stop and start
    again under the code being tested, with a client connected to it and a stream on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events = isolated_event_settings(uuid.uuid4().hex[:10])
        self._server: EmbeddedProcess | None = None

    async def start(self) -> None:
        self._server = await infra.start_nats(self.settings)
        assert self._server is not None

    async def stop(self, client: NatsClient) -> None:
        assert self._server is not None
        await infra.stop_process(self._server)
        self._server = None
        await wait_until(lambda: asyncio.sleep(0, result=not client.is_connected), timeout=10)

    def pause(self) -> None:
        """Stall the server (SIGSTOP): connections stay open and nothing answers."""
        assert self._server is not None
        os.kill(self._server.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._server is not None
        os.kill(self._server.process.pid, signal.SIGCONT)

    async def close(self) -> None:
        if self._server is not None:
            self.resume()
            await infra.stop_process(self._server)


@asynccontextmanager
async def own_nats(settings: Settings, data_dir: Path) -> AsyncIterator[tuple[OwnNats, NatsClient]]:
    nats = OwnNats(
        settings.model_copy(
            update={"nats_url": f"nats://127.0.0.1:{free_port()}", "data_dir": str(data_dir)}
        )
    )
    await nats.start()
    client = await connect_nats(nats.settings, "outage-test")
    await ensure_stream(client.jetstream(), nats.events)
    try:
        yield nats, client
    finally:
        await client.close()
        await nats.close()
