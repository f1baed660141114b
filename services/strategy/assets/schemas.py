"""Bodies of an organisation's assets (reused by the gateway): what the client already has."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from services.strategy.bodies import Body
from services.strategy.vocabulary import LongText, Text
from shared.domain import Channel

Count = Annotated[int, Field(ge=0, le=10_000_000_000)]


class AssetKind(StrEnum):
    ACCOUNT = "account"
    WEBSITE = "website"
    NEWSLETTER = "newsletter"
    EVENT = "event"
    TOUCHPOINT = "touchpoint"


class AccountAsset(Body):
    """An existing account of the client on a channel."""

    kind: Literal["account"]
    channel: Channel
    handle: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^@?[^\s@]+$")]
    url: HttpUrl | None = None
    audience_size: Count = Field(description="Followers or subscribers today")
    posts_per_week: float = Field(ge=0, le=1000, description="Posting frequency")
    last_activity_on: date | None = Field(None, description="Date of the latest post")
    notes: LongText = ""

    @property
    def normalized_handle(self) -> str:
        return self.handle.removeprefix("@").casefold()


class WebsiteAsset(Body):
    kind: Literal["website"]
    url: HttpUrl
    monthly_visits: Count | None = None
    notes: LongText = ""


class NewsletterAsset(Body):
    kind: Literal["newsletter"]
    name: Text
    subscribers: Count
    issues_per_month: float = Field(ge=0, le=100)
    notes: LongText = ""


class EventAsset(Body):
    """An event the client runs or attends (a fair, a festival, an open day)."""

    kind: Literal["event"]
    name: Text
    place: Text
    starts_on: date
    ends_on: date | None = None
    expected_attendance: Count | None = None
    recurring: bool = False
    notes: LongText = ""

    @model_validator(mode="after")
    def _ordered(self) -> EventAsset:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class TouchpointAsset(Body):
    """An offline touchpoint: a shop, a reception desk, packaging, a printed menu."""

    kind: Literal["touchpoint"]
    name: Text
    place: Text | None = None
    notes: LongText = ""


AssetDetails = Annotated[
    AccountAsset | WebsiteAsset | NewsletterAsset | EventAsset | TouchpointAsset,
    Field(discriminator="kind"),
]


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    kind: AssetKind
    details: AssetDetails
    created_by: str
    created_at: datetime
    updated_at: datetime
