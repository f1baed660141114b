"""Events about touchpoints (payloads are the CloudEvents ``data``), emitted through the strategy
service's outbox under its source (``services.strategy.events.SOURCE``).

Scans are not one event each: a poster at a fair may be scanned thousands of times a day, by
anyone on the internet, and an event per hit would let them flood the stream and every consumer.
``touchpoint_scanned`` marks the day's first scan or click of a touchpoint by each medium and
every tenfold after it (1, 10, 100, ...): at most a handful a day, each with the day's count so
far, whatever the traffic. The full counts are read from the reports.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel

from services.strategy.touchpoints.schemas import Medium, TouchpointKind

TOUCHPOINT_RECORDED = "strategy.touchpoint_recorded"
TOUCHPOINT_ARCHIVED = "strategy.touchpoint_archived"
TOUCHPOINT_SCANNED = "strategy.touchpoint_scanned"


class TouchpointFact(BaseModel):
    touchpoint_id: uuid.UUID
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    kind: TouchpointKind


class TouchpointRecorded(TouchpointFact):
    change: Literal["created", "updated"]
    name: str
    channels: list[str]
    objective_ids: list[str]


class TouchpointArchived(TouchpointFact):
    archived_by: str


class TouchpointScanned(TouchpointFact):
    day: date
    medium: Medium
    count: int


def is_milestone(count: int) -> bool:
    """1, 10, 100, ...: the counts at which ``touchpoint_scanned`` is emitted."""
    while count % 10 == 0 and count > 1:
        count //= 10
    return count == 1
