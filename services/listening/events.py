"""Events the listening service emits (``engage.listening.*``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel

SOURCE = "urn:atlantide-engage:listening"

QUERY_STARTED = "listening.query_started"
QUERY_STOPPED = "listening.query_stopped"


def query_event_id(query_id: uuid.UUID, fact: str) -> uuid.UUID:
    """A query starts once and stops once: the same fact recorded again keeps its id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"listening-query/{query_id}/{fact}")


class QueryFact(BaseModel):
    query_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None


class QueryStarted(QueryFact):
    name: str
    # The expression's words, phrases, hashtags and accounts (or the terms it was made from).
    terms: list[str]
    channels: list[str]
    languages: list[str]
    created_by: str
    # Canonical texts (``services.listening.query_language``).
    expression: str
    exclusions: str | None
    sources: list[str]
    starts_on: date
    competitor: bool


class QueryStopped(QueryFact):
    reason: str
    stopped_by: str
    stopped_at: datetime
