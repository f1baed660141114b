"""Request and response bodies of alert rules and alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.listening.alerts.contracts import AlertKind, AlertStatus, ResponsibleRole
from shared.paging import PageQuery

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]

MAX_KEYWORDS = 50


class Thresholds(BaseModel):
    """A rule's figures; those left out take the kind's defaults (docs/alerts.md)."""

    min_count: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Mentions the hour needs (negative ones for negative_spike; matching ones "
        "for keyword); spikes need at least 5. Default: 20 volume_spike, 10 negative_spike, "
        "1 keyword",
    )
    factor: float | None = Field(
        None, ge=1.5, le=100, description="volume_spike: times the baseline; default 3"
    )
    share_increase: float | None = Field(
        None,
        ge=0.05,
        le=1,
        description="negative_spike: the hour's negative share over the baseline share plus "
        "this; default 0.25",
    )
    alpha: float | None = Field(
        None, ge=0.01, le=1, description="The baseline EWMA's smoothing; default 0.1"
    )
    baseline_hours: int | None = Field(
        None, ge=24, le=672, description="Hours before the window the baseline reads; default 168"
    )


class AlertRuleCreate(Thresholds):
    model_config = ConfigDict(extra="forbid")

    kind: AlertKind
    name: Name
    query_id: uuid.UUID | None = Field(
        None, description="Only this query's mentions (a query of the engagement)"
    )
    keywords: list[Keyword] = Field(
        default_factory=list,
        max_length=MAX_KEYWORDS,
        description="keyword: whole words or phrases, ignoring case and accents",
    )
    active: bool = True


class AlertRuleUpdate(Thresholds):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    keywords: list[Keyword] | None = Field(None, max_length=MAX_KEYWORDS)
    active: bool | None = None


class AlertRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    query_id: uuid.UUID | None
    kind: AlertKind
    name: str
    keywords: list[str]
    min_count: int
    factor: float
    share_increase: float
    alpha: float
    baseline_hours: int
    active: bool
    created_by: str
    created_at: datetime
    updated_at: datetime | None


class SampleMention(BaseModel):
    mention_id: uuid.UUID
    text: str = Field(description="At most 500 characters of it")
    source: str
    author_handle: str
    published_at: datetime
    sentiment_label: str | None
    url: str | None


class Evidence(BaseModel):
    """Why the alert was raised: the hour, what was observed, what it was compared with."""

    window_start: datetime
    window_end: datetime
    observed: float = Field(
        description="Mentions (volume_spike, keyword) or the negative share (negative_spike)"
    )
    baseline: float = Field(
        description="The EWMA of the hours before: mentions an hour, or the negative share"
    )
    threshold: float = Field(description="What observed had to reach")
    mentions: int = Field(description="The hour's mentions")
    negative: int | None = None
    labelled: int | None = Field(None, description="The hour's mentions with a sentiment label")
    matched_keywords: list[str] = Field(default_factory=list)
    baseline_hours: int
    alpha: float
    samples: list[SampleMention] = Field(max_length=5)


class AlertOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    query_id: uuid.UUID | None
    kind: AlertKind
    status: AlertStatus
    window_start: datetime
    window_end: datetime
    evidence: Evidence
    responsible_role: ResponsibleRole
    escalation_level: int
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_note: str | None
    workflow_id: str = Field(description="Its CrisisEscalation workflow")


class AlertFilters(PageQuery):
    """``GET /listening/engagements/{id}/alerts``: newest first, at most ``limit``; the
    ``cursor`` is the previous page's ``next_cursor``."""

    status: AlertStatus | None = None
    kind: AlertKind | None = None


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    next_cursor: str | None = Field(description="Where the next page starts; None: no more")


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note
