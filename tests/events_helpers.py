"""Reading what reached a JetStream stream, for assertions."""

from __future__ import annotations

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from shared.events.envelope import CloudEvent


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
