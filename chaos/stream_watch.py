"""A browser's live view of one organisation: ``GET /v1/stream`` held open throughout the faults,
resumed with ``Last-Event-ID`` whenever it ends or drops. At the end every event of the
organisation on JetStream must have reached it (a stream left open but silent, as after the
gateway's NATS client died in a stall, misses the events after it), and the longest silence
between frames (events or keep-alives) says how long a connection hung."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from chaos.engagements import RetryingTransport

RECONNECT_SECONDS = 0.5


@dataclass
class StreamWatch:
    gateway_url: str
    token: str
    retry_seconds: float
    organization_id: str = ""
    received: set[str] = field(default_factory=set)
    endings: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    # The JetStream sequence of the first event received: what came before is not expected.
    first_seq: int | None = None
    longest_silence_s: float = 0.0

    async def run(self, organization_id: str) -> None:
        """Until cancelled."""
        self.organization_id = organization_id
        last_id: str | None = None
        transport = RetryingTransport(self.retry_seconds)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        async with httpx.AsyncClient(
            base_url=self.gateway_url,
            transport=transport,
            timeout=httpx.Timeout(10, read=None),
            trust_env=False,
        ) as client:
            while True:
                resume = {"Last-Event-ID": last_id} if last_id else {}
                try:
                    async with client.stream(
                        "GET",
                        "/v1/stream",
                        params={"organization_id": self.organization_id},
                        headers=headers | resume,
                    ) as response:
                        if response.status_code != 200:
                            await response.aread()
                            self.endings[f"refused {response.status_code}"] += 1
                        else:
                            self.connections += 1
                            last_id = await self._read(response, last_id)
                            self.endings["ended"] += 1
                except httpx.HTTPError as error:
                    self.endings[type(error).__name__] += 1
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _read(self, response: httpx.Response, last_id: str | None) -> str | None:
        """Frames until the stream ends: ``id``s resume it, ``stream.*`` events say why it ended
        (the ``data`` of both is a CloudEvent; keep-alive comments count as frames heard)."""
        heard = time.monotonic()
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            now = time.monotonic()
            self.longest_silence_s = max(self.longest_silence_s, now - heard)
            heard = now
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = fields.get(name, "") + value.removeprefix(" ")
                continue
            if "data" in fields:
                event = json.loads(fields["data"])
                if fields.get("event", "").startswith("stream."):
                    self.endings[fields["event"]] += 1
                elif event.get("id"):
                    self.received.add(str(event["id"]))
                last_id = fields.get("id") or last_id
                if self.first_seq is None and fields.get("id"):
                    self.first_seq = int(fields["id"])
            fields = {}
        return last_id

    def figures(self, organization_events: dict[str, tuple[int, str]]) -> dict[str, object]:
        """``organization_events``: the organisation's event ids on JetStream, with their
        sequences and types."""
        first = self.first_seq if self.first_seq is not None else 0
        expected = {event_id for event_id, (seq, _) in organization_events.items() if seq >= first}
        missed = sorted(
            expected - self.received, key=lambda event_id: organization_events[event_id]
        )
        return {
            "organization_id": self.organization_id,
            "events_on_jetstream": len(expected),
            "received": len(expected & self.received),
            "missed": len(missed),
            "connections": self.connections,
            "endings": dict(self.endings),
            "longest_silence_s": round(self.longest_silence_s, 1),
            "first_seq": self.first_seq,
            "missed_events": [
                {"seq": organization_events[event_id][0], "type": organization_events[event_id][1]}
                for event_id in missed[:10]
            ],
        }
