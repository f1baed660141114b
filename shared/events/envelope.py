"""The one event envelope: CloudEvents 1.0, structured JSON mode.

``type`` carries the schema version (``engage.lifecycle.phase_started.v1``); the NATS subject is
the type without its version, under the configured prefix, followed by the organisation the event
belongs to (``engage.lifecycle.phase_started.<organization_id>``, see ``subjects.py``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.subjects import NO_ORGANIZATION, event_subject, organization_token

EVENT_TYPE_PREFIX = "engage"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode: ``type`` is
    ``engage.<domain>.<event>.v<version>``, ``subject`` the id of the resource it is about,
    ``data`` the event's fields (``organization_id`` among them when it belongs to one)."""

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    type: str
    specversion: Literal["1.0"] = "1.0"
    time: datetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """``<domain>.<event>``: the type without prefix and version."""
        _, domain, event, _version = self.type.split(".")
        return f"{domain}.{event}"

    @property
    def organization_id(self) -> uuid.UUID | None:
        """The organisation the event belongs to (``data.organization_id``), if it names one."""
        token = organization_token(self.data)
        return None if token == NO_ORGANIZATION else uuid.UUID(token)

    def nats_subject(self, prefix: str) -> str:
        return event_subject(prefix, self.name, self.data)


def new_event(
    name: str,
    data: BaseModel | dict[str, Any],
    *,
    source: str,
    subject: str | None = None,
    version: int = 1,
    event_id: str | uuid.UUID | None = None,
) -> CloudEvent:
    """Build an event named ``<domain>.<event>``.

    Pass ``event_id`` when the same fact may be recorded twice (an activity retried), so both
    copies carry one id and JetStream keeps one.
    """
    domain, _, event = name.partition(".")
    if not domain or not event or "." in event:
        raise ValueError(f"event name must be '<domain>.<event>', got {name!r}")
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return CloudEvent(
        id=str(event_id or uuid.uuid4()),
        source=source,
        type=f"{EVENT_TYPE_PREFIX}.{domain}.{event}.v{version}",
        time=datetime.now(UTC),
        subject=subject,
        data=payload,
    )
