"""Request and response bodies of the listening service (reused by the gateway)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from services.listening import query_language
from services.listening.contracts import QueryStatus, SourceKind
from shared.domain import Channel
from shared.paging import PageQuery

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SearchTerm = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(description="A word, phrase, hashtag or handle to listen for"),
]
_LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")


def _language_code(value: str) -> str:
    code = value.strip().lower()
    if not _LANGUAGE_CODE.match(code):
        raise ValueError("a language is an ISO 639-1 code of two letters (it, en)")
    return code


Language = Annotated[
    str,
    StringConstraints(max_length=16),
    AfterValidator(_language_code),
    Field(description="An ISO 639-1 code (it, en)"),
]


def _parsed(value: str) -> query_language.Expression:
    try:
        return query_language.parse(value)
    except query_language.QuerySyntaxError as error:
        # The error's own text is the message: a template would read braces in it as fields.
        raise PydanticCustomError(
            "query_syntax",
            "{message}",
            {
                "message": str(error),
                "position": error.position,
                "expected": error.expected,
                "found": error.found,
            },
        ) from None


def _canonical_expression(value: str) -> str:
    expression = _parsed(value)
    if not query_language.is_anchored(expression):
        raise PydanticCustomError(
            "query_unbounded",
            "{message}",
            {
                "message": f"{expression} would match mentions with none of its words, "
                "phrases, #hashtags or @accounts: every mention it matches must contain one"
            },
        )
    return str(expression)


def _canonical_exclusions(value: str) -> str:
    return str(_parsed(value))


QueryExpression = Annotated[
    str,
    AfterValidator(_canonical_expression),
    # After the parser, which refuses a longer text with the position it stopped at.
    Field(
        max_length=query_language.MAX_LENGTH,
        description='What to listen for, as listening tools write it: words, "exact phrases", '
        "#hashtags, @accounts, lang:it, place:Siena, joined by AND, OR, NOT and parentheses "
        "(side by side: AND); answered in its canonical form",
        examples=['"La Quercia" AND (vino OR #vendemmia2027) NOT @competitor lang:it'],
    ),
]
Exclusions = Annotated[
    str,
    AfterValidator(_canonical_exclusions),
    Field(
        max_length=query_language.MAX_LENGTH,
        description="Mentions matching this expression are left out (same syntax)",
    ),
]


class QueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    name: Name
    expression: QueryExpression | None = None
    terms: list[SearchTerm] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="Instead of an expression (the older form): listen for any of them, each "
        "an exact phrase, hashtag or account",
    )
    exclusions: Exclusions | None = None
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))
    sources: list[SourceKind] | None = Field(
        default=None,
        min_length=1,
        max_length=len(SourceKind),
        description="Where to read mentions from; by default the channels that are sources",
    )
    languages: list[Language] = Field(
        default_factory=list, max_length=20, description="Empty: every language"
    )
    starts_on: date | None = Field(
        default=None, description="Read mentions from this day on (backfill); default today (UTC)"
    )
    competitor: bool = Field(
        default=False, description="A competitor's query, counted for share of voice"
    )
    starts: Literal["now", "at_seeding"] = Field(
        default="now",
        description="now: listen at once (analysing the state of the art listens before the "
        "strategy is set); at_seeding: an engagement's query waits, pending, until its seeding "
        "phase switches it on (at once if seeding has begun)",
    )

    @field_validator("terms", "channels", "sources", "languages")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len({item.casefold() for item in value}) != len(value):
            raise ValueError("values must not repeat")
        return value


class QueryStop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class QueryFilters(PageQuery):
    """``GET /listening/queries``: which queries, oldest first, one page."""

    organization_id: uuid.UUID | None = None
    engagement_id: uuid.UUID | None = None
    status: QueryStatus | None = None


class QueryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    name: str
    expression: str = Field(description="The canonical form of the expression")
    terms: list[str] = Field(
        description="The expression's words, phrases, hashtags and accounts (not those under "
        "NOT), or the terms it was made from"
    )
    exclusions: str | None
    channels: list[Channel]
    sources: list[SourceKind]
    languages: list[str]
    starts_on: date
    competitor: bool
    status: QueryStatus
    created_by: str
    created_at: datetime
    stopped_at: datetime | None
    stopped_by: str | None
    stop_reason: str | None


# Mentions

SentimentLabel = Literal["positive", "neutral", "negative", "mixed"]
PlaceCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]{2,16}$"),
    Field(
        description="A place at any level: an ISTAT code (comune 052032, province 052, region "
        "09) or an ISO 3166-1 alpha-2 country code (IT)"
    ),
]


class MentionFilters(PageQuery):
    """``GET /listening/engagements/{id}/mentions``: which mentions, newest first, one page."""

    model_config = ConfigDict(populate_by_name=True)

    query_id: uuid.UUID | None = Field(None, description="Only those this query matched")
    source: SourceKind | None = None
    language: Language | None = None
    sentiment: SentimentLabel | None = None
    place: PlaceCode | None = None
    published_from: AwareDatetime | None = Field(
        None, alias="from", description="Published at or after (ISO 8601 with a time zone)"
    )
    published_to: AwareDatetime | None = Field(
        None, alias="to", description="Published before (ISO 8601 with a time zone)"
    )
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description='Full-text search of the text, words as written: "quoted phrase", OR, '
        "-excluded",
    )


class DeadLetterFilters(PageQuery):
    organization_id: uuid.UUID | None = None


class AuthorOut(BaseModel):
    handle: str
    display_name: str | None
    profile_location: str | None


class SentimentOut(BaseModel):
    label: SentimentLabel | None = Field(
        description="None in a language the model does not read (neither Italian nor English)"
    )
    score: float | None = Field(description="From -1 (negative) to 1 (positive)")
    model_version: str


class PlaceOut(BaseModel):
    level: Literal["comune", "province", "region", "country"]
    code: str = Field(description="ISTAT at the place's level, ISO 3166-1 alpha-2 for a country")
    name: str | None
    method: Literal["coordinates", "profile", "text"]
    confidence: float
    comune_code: str | None
    comune_name: str | None
    province_code: str | None
    province_name: str | None
    region_code: str | None
    region_name: str | None
    country_code: str | None
    country_name: str | None


class MentionOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_ids: list[uuid.UUID] = Field(
        description="The engagements it was kept for: named by its source, or whose query "
        "matched it"
    )
    query_ids: list[uuid.UUID] = Field(description="The active queries it matched")
    source: SourceKind
    external_id: str
    author: AuthorOut
    text: str
    url: str | None
    published_at: datetime
    hashtags: list[str]
    accounts: list[str]
    latitude: float | None
    longitude: float | None
    language: str | None = Field(description="The source's, else detected; None: unknown")
    sentiment: SentimentOut
    place: PlaceOut | None
    ingested_at: datetime


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID | None
    consumer: str
    event_id: str
    event_type: str
    reason: str
    payload: dict[str, Any] = Field(description="The CloudEvent as it was received")
    created_at: datetime


# Analytics: figures over an engagement's mentions (``services.listening.analytics``)

MAX_BUCKETS = 2000
MAX_RANKED = 100
DEFAULT_RANKED = 10
DEFAULT_TIME_ZONE = "Europe/Rome"
Interval = Literal["hour", "day", "week"]
MapLevel = Literal["comune", "province", "region"]
PictureLevel = Literal["province", "region"]
PictureLanguage = Literal["it", "en"]


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone (Europe/Rome, UTC)") from None
    return value


TimeZoneName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_time_zone),
    Field(description="An IANA time zone (Europe/Rome, UTC)"),
]


class AnalyticsFilters(BaseModel):
    """Which of an engagement's mentions the figures count: the mentions list's filters, less
    its paging and full text; the period is ``from`` and ``to`` as there."""

    model_config = ConfigDict(extra="forbid")

    query_id: uuid.UUID | None = Field(None, description="Only those this query matched")
    source: SourceKind | None = None
    language: Language | None = None
    sentiment: SentimentLabel | None = None
    place: PlaceCode | None = Field(
        None, description="Only those placed in this place (a code at any level)"
    )
    since: AwareDatetime | None = Field(
        None, alias="from", description="Published at or after (ISO 8601 with a time zone)"
    )
    until: AwareDatetime | None = Field(
        None, alias="to", description="Published before (ISO 8601 with a time zone); default now"
    )


class VolumeFilters(AnalyticsFilters):
    interval: Interval = Field("day", description="The buckets' length")
    tz: TimeZoneName = Field(
        DEFAULT_TIME_ZONE,
        description="Where days and weeks start (local midnight, Monday); hours are the "
        "zone's hours",
    )


class RankFilters(AnalyticsFilters):
    limit: int = Field(DEFAULT_RANKED, ge=1, le=MAX_RANKED, description="How many, at most")


class PlaceRankFilters(RankFilters):
    level: Literal["comune", "province", "region", "country"] = Field(
        "region", description="Rank places at this level"
    )


class MapFilters(AnalyticsFilters):
    level: MapLevel = Field("region", description="One feature per place at this level")


class MapPictureFilters(AnalyticsFilters):
    level: PictureLevel = Field("region", description="Colour regions or provinces")
    width: int = Field(1200, ge=600, le=2000, description="Pixels; the height is 4/5 of it")
    lang: PictureLanguage = Field("it", description="The language of the title and legend")


class SentimentCounts(BaseModel):
    """How many mentions, by sentiment label."""

    count: int = Field(description="Mentions")
    positive: int
    neutral: int
    negative: int
    mixed: int
    unlabelled: int = Field(description="In a language the sentiment model does not read")
    net_sentiment: float | None = Field(
        description="(positive - negative) / labelled (positive, neutral, negative and mixed), "
        "from -1 to 1; None without labelled mentions"
    )


class VolumeBucket(SentimentCounts):
    start: datetime = Field(description="The bucket's first instant, with the zone's offset")
    end: datetime = Field(description="The next bucket's start (a day may last 23 or 25 hours)")


class VolumeOut(BaseModel):
    engagement_id: uuid.UUID
    interval: Interval
    tz: str
    since: datetime = Field(description="The period counted: from since, inclusive")
    until: datetime = Field(description="To until, exclusive")
    total: SentimentCounts
    buckets: list[VolumeBucket] = Field(
        description="Oldest first, every bucket of the period (empty ones with zero); the "
        "first and last are cut to the period"
    )


class AuthorRank(SentimentCounts):
    source: SourceKind
    handle: str
    display_name: str | None = Field(description="As their most recent mention gave it")


class PlaceRank(SentimentCounts):
    level: Literal["comune", "province", "region", "country"]
    code: str = Field(description="ISTAT at the level, ISO 3166-1 alpha-2 for a country")
    name: str | None


class MapGeometry(BaseModel):
    type: Literal["Point", "MultiPolygon"]
    coordinates: list[Any] = Field(description="GeoJSON (RFC 7946) coordinates: lon, lat")


class MapPlaceProperties(SentimentCounts):
    code: str
    name: str
    level: MapLevel


class MapFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="The place's ISTAT code")
    geometry: MapGeometry | None = Field(
        description="A region's or province's outline, a comune's centroid"
    )
    properties: MapPlaceProperties


class MapFeatureCollection(BaseModel):
    """A GeoJSON (RFC 7946) FeatureCollection: one feature per place with mentions."""

    type: Literal["FeatureCollection"]
    features: list[MapFeature]
