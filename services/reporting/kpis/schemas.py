"""What ``GET /engagements/{id}/kpis`` answers, and what a report shows: one engagement's KPIs
over one period (``[starts_at, ends_at)``), optionally for one channel, with the previous period
of the same length beside them when asked.

Each figure's definition is in ``docs/reporting.md``; a figure that cannot be computed (no data,
a zero denominator) is ``None``, never 0.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


class Period(BaseModel):
    """Instants measured: ``starts_at`` included, ``ends_at`` excluded."""

    starts_at: datetime
    ends_at: datetime


class ChannelPublishing(BaseModel):
    channel: str
    planned: int
    published: int
    failed: int
    reach: int
    impressions: int
    engagements: int
    engagement_rate: float | None


class PostFigures(BaseModel):
    """A published post and its figures at its latest sample before the period's end."""

    publication_id: uuid.UUID
    channel: str
    published_at: datetime
    url: str | None
    reach: int
    impressions: int
    engagements: int
    engagement_rate: float | None


class PublishingKpis(BaseModel):
    # Publications due in the period, those published in it, those that failed for good in it.
    planned: int
    published: int
    failed: int
    # Published no later than ``on_time_minutes`` after they were due.
    on_time: int
    on_time_share: float | None
    on_time_minutes: int
    # Summed over the posts published in the period, each at its latest sample.
    reach: int
    impressions: int
    # likes + comments + shares + saves
    engagements: int
    # engagements / reach (None when reach is 0)
    engagement_rate: float | None
    # Followers of the organisation's accounts (on the channel asked for) at the period's end,
    # and the change over the period.
    followers: int | None
    follower_growth: int | None
    by_channel: list[ChannelPublishing]
    top_posts: list[PostFigures]
    bottom_posts: list[PostFigures]


class SentimentShare(BaseModel):
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    mixed: int = 0
    unlabelled: int = 0


class DayVolume(BaseModel):
    """Mentions of one day (the organisation's time zone) by sentiment."""

    day: date
    mentions: int
    positive: int
    neutral: int
    negative: int
    mixed: int
    unlabelled: int


class VoiceShare(BaseModel):
    """A query's mentions in the period and their share of all the engagement's queries'."""

    query_id: uuid.UUID
    name: str
    competitor: bool
    mentions: int
    share: float | None


class PlaceCount(BaseModel):
    region_code: str
    region_name: str
    mentions: int


class AuthorCount(BaseModel):
    author: str
    mentions: int


class ListeningKpis(BaseModel):
    mentions: int
    sentiment: SentimentShare
    # (positive - negative) / (positive + neutral + negative + mixed) * 100
    net_sentiment: float | None
    # The own (non-competitor) queries' share of the mentions of all the engagement's queries.
    own_share_of_voice: float | None
    share_of_voice: list[VoiceShare]
    # Mentions by region (all of them, for the map; the ten largest are the "top" ones).
    places: list[PlaceCount]
    top_authors: list[AuthorCount]
    volume: list[DayVolume]


class ConversationKpis(BaseModel):
    opened: int
    # First answers given in the period, and their business minutes from opening.
    answered: int
    first_response_median_minutes: float | None
    first_response_p90_minutes: float | None
    within_sla: int
    within_sla_share: float | None
    # Opened before the period's end and neither answered nor closed by then.
    open_backlog: int


class ContestKpis(BaseModel):
    contests: int
    entries: int
    valid_entries: int
    winners: int


class ObjectiveState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    MISSED = "missed"
    ACHIEVED = "achieved"
    NO_DATA = "no_data"


class Trend(StrEnum):
    UP = "up"
    DOWN = "down"
    FLAT = "flat"


class ObjectiveStatus(BaseModel):
    """One KPI target of the approved ``objectives`` deliverable, against its actual."""

    objective_id: str
    objective_title: str
    metric: str
    channel: str | None
    comparator: str  # at_least | at_most
    target: float
    unit: str
    deadline: date
    actual: float | None
    previous: float | None
    trend: Trend | None
    status: ObjectiveState


class EngagementKpis(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    period: Period
    channel: str | None = None
    computed_at: datetime
    publishing: PublishingKpis
    listening: ListeningKpis
    conversations: ConversationKpis
    contests: ContestKpis
    objectives: list[ObjectiveStatus] = Field(default_factory=list)
    # The period of the same length just before, when comparison was asked for.
    previous: EngagementKpis | None = None


ChannelName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$"),
    Field(description="A channel or listening source (instagram, facebook, rss...)"),
]


class KpiFilters(BaseModel):
    """The query of ``GET /engagements/{id}/kpis`` and its exports: the period is ``from`` and
    ``to`` as the listening analytics take them."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(
        None,
        alias="from",
        description="The period's start, included (ISO 8601 with a time zone); default 30 days "
        "before to",
    )
    until: AwareDatetime | None = Field(
        None,
        alias="to",
        description="The period's end, excluded (ISO 8601 with a time zone); default now",
    )
    channel: ChannelName | None = Field(
        None, description="Only this channel's posts, accounts, mentions, conversations, entries"
    )
    compare: bool = Field(False, description="Also the period of the same length just before")
