"""The NATS subjects events travel on: ``<prefix>.<domain>.<event>.<organisation>``.

The organisation is the last token so that NATS itself can select one organisation's events
(``<prefix>.*.*.<organisation>``) or one kind of event (``<prefix>.<domain>.<event>.*``) without
a reader seeing any other. An event that names no organisation (``data.organization_id``
missing or not a UUID) travels under ``NO_ORGANIZATION``. Dead letters stay on
``<prefix>.deadletter.<durable>``: one token shorter, so no event filter matches them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

# Not a UUID, so never an organisation; a single character, so a valid NATS token.
NO_ORGANIZATION = "_"


def organization_token(data: Mapping[str, Any]) -> str:
    """The subject token of the organisation an event's ``data`` names."""
    try:
        return str(uuid.UUID(str(data.get("organization_id"))))
    except ValueError:
        return NO_ORGANIZATION


def event_subject(prefix: str, name: str, data: Mapping[str, Any]) -> str:
    """Where the event ``<domain>.<event>`` with ``data`` is published."""
    return f"{prefix}.{name}.{organization_token(data)}"


def event_filter(prefix: str, event: str) -> str:
    """Every organisation's events ``<domain>.<event>`` (``event`` may hold wildcards:
    ``lifecycle.*``)."""
    return f"{prefix}.{event}.*"


def organization_filter(prefix: str, organization_id: uuid.UUID) -> str:
    """Every event of one organisation."""
    return f"{prefix}.*.*.{organization_id}"


def all_events_filter(prefix: str) -> str:
    """Every event of every organisation (and of none), without the dead letters."""
    return f"{prefix}.*.*.*"
