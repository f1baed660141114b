"""Request and response bodies of touchpoints and their scan reports (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    UrlConstraints,
    field_validator,
    model_validator,
)

from services.strategy.bodies import Body
from services.strategy.touchpoints.models import MAX_URL_LENGTH
from services.strategy.vocabulary import Text
from shared.domain import Channel
from shared.editorial import RuleId


class TouchpointKind(StrEnum):
    EVENT = "event"
    SHOP = "shop"
    SIGNAGE = "signage"
    PRINT = "print"


class Medium(StrEnum):
    """How the tracked link was followed: its QR code scanned, or the link itself clicked."""

    QR = "qr"
    LINK = "link"


def _plain_destination(url: AnyUrl) -> AnyUrl:
    # A user name in a link ("https://bank.example@evil.example/") is a phishing trick; a
    # destination printed on a client's poster has no reason to carry one.
    if url.username is not None or url.password is not None:
        raise ValueError("the destination must not carry a user name or password")
    # Normalising may lengthen it (an internationalised host in punycode): the stored form counts.
    if len(str(url)) > MAX_URL_LENGTH:
        raise ValueError(f"the destination must have at most {MAX_URL_LENGTH} characters")
    return url


Destination = Annotated[
    AnyUrl,
    UrlConstraints(
        max_length=MAX_URL_LENGTH, allowed_schemes=["http", "https"], host_required=True
    ),
    AfterValidator(_plain_destination),
]
Campaign = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"),
]
Channels = Annotated[list[Channel], Field(max_length=len(Channel))]
ObjectiveIds = Annotated[list[RuleId], Field(max_length=50)]


def _without_repeats(values: list[Any] | None) -> list[Any] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("values must not repeat")
    return values


class TouchpointCreate(Body):
    kind: TouchpointKind
    name: Text = Field(description="Unique in the engagement: “Stand at Vinitaly 2027”")
    place: Text | None = Field(None, description="Where it is: a fair hall, a shop's address")
    destination_url: Destination = Field(
        description="Where the tracked link leads (http or https); its own query is kept"
    )
    channels: Channels = Field(
        default_factory=list, description="The engagement's channels it promotes"
    )
    objective_ids: ObjectiveIds = Field(
        default_factory=list,
        description="Objectives it serves: ids of the engagement's objectives deliverable",
    )
    campaign: Campaign | None = Field(
        None,
        description="utm_campaign of the tagged destination; default: the organisation's name "
        "and the engagement's start month (`agriturismo-la-quercia-2026-12`)",
    )

    @field_validator("channels", "objective_ids")
    @classmethod
    def _distinct_values(cls, values: list[Any]) -> list[Any] | None:
        return _without_repeats(values)


class TouchpointChange(Body):
    """The fields to change; the tracked link's code never changes, so printed codes keep
    working and lead to the new destination."""

    kind: TouchpointKind | None = None
    name: Text | None = None
    place: Text | None = None
    destination_url: Destination | None = None
    channels: Channels | None = None
    objective_ids: ObjectiveIds | None = None
    campaign: Campaign | None = None

    @field_validator("channels", "objective_ids")
    @classmethod
    def _distinct_values(cls, values: list[Any] | None) -> list[Any] | None:
        return _without_repeats(values)

    @model_validator(mode="after")
    def _only_place_cleared(self) -> TouchpointChange:
        cleared = sorted(
            name for name in self.model_fields_set - {"place"} if getattr(self, name) is None
        )
        if cleared:
            raise ValueError(f"only place may be cleared (null): {', '.join(cleared)}")
        return self


class TaggedDestinations(BaseModel):
    qr: str = Field(description="Where a scan of the QR code leads (utm_medium=qr)")
    link: str = Field(description="Where a click on the link leads (utm_medium=link)")


class TouchpointOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    kind: TouchpointKind
    name: str
    place: str | None
    destination_url: str
    campaign: str
    channels: list[Channel]
    objective_ids: list[str]
    tracked_link: str = Field(description="The public short link to print or share")
    qr_link: str = Field(description="What the QR code holds: the short link, marked as a scan")
    tagged_destinations: TaggedDestinations
    archived: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class ScanDay(BaseModel):
    day: date
    qr: int
    link: int
    total: int


class TouchpointScans(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    touchpoint_id: uuid.UUID
    since: date = Field(serialization_alias="from")
    until: date = Field(serialization_alias="to")
    days: list[ScanDay] = Field(description="Days with at least one scan or click, oldest first")
    qr: int
    link: int
    total: int


class TouchpointScanTotals(BaseModel):
    touchpoint_id: uuid.UUID
    name: str
    kind: TouchpointKind
    archived: bool
    qr: int
    link: int
    total: int
    last_day: date | None = Field(description="The latest day with a scan or click, if any")


class EngagementScanSummary(BaseModel):
    engagement_id: uuid.UUID
    since: date = Field(serialization_alias="from")
    until: date = Field(serialization_alias="to")
    touchpoints: list[TouchpointScanTotals] = Field(description="Most followed first")
    qr: int
    link: int
    total: int
