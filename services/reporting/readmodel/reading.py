"""How a handler reads an event's data: its producer's payload model, or a poison message."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from shared.events.consumer import PoisonMessageError
from shared.events.envelope import CloudEvent

Payload = TypeVar("Payload", bound=BaseModel)


def read(payload: type[Payload], event: CloudEvent) -> Payload:
    """The event's data as ``payload``; data that is not one can never be handled."""
    try:
        return payload.model_validate(event.data)
    except ValidationError as error:
        raise PoisonMessageError(f"{event.name} {event.id}: {error}") from error
