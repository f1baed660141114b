"""Request and response bodies of the watched sites."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.domain import Channel

SiteUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=2048, pattern=r"^https?://[^\s/@]+(/\S*)?$"
    ),
]
Campaign = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]


class WatchedSiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: SiteUrl = Field(description="The site's RSS or Atom feed, or its sitemap.xml")
    channels: list[Channel] = Field(
        min_length=1,
        max_length=len(Channel),
        description="The engagement's channels each new page is drafted for (one variant each)",
    )
    utm_campaign: Campaign | None = Field(
        None,
        description="The drafted links' utm_campaign (lower case, digits, - and _); "
        "by default the site's host as a slug",
    )

    @field_validator("url")
    @classmethod
    def _fetchable(cls, value: str) -> str:
        """A URL the fetch can send: its host a name or an address (IDN allowed), no control
        character anywhere."""
        if any(ord(character) < 0x20 or 0x7F <= ord(character) < 0xA0 for character in value):
            raise ValueError("the URL holds a control character")
        try:
            parsed = httpx.URL(value)
        except (httpx.InvalidURL, UnicodeError) as error:
            raise ValueError(f"not a URL: {error}") from None
        if not parsed.host or parsed.userinfo:
            raise ValueError("the URL needs a host and no user name or password")
        return value

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value


class WatchedSiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    url: str
    channels: list[Channel]
    utm_campaign: str
    status: Literal["active", "failing"]
    failure: str | None = Field(description="Why the last poll failed, while failing")
    consecutive_failures: int
    watched_since: datetime = Field(description="Pages dated before are never drafted")
    next_poll_at: datetime
    last_polled_at: datetime | None
    created_by: str
    created_at: datetime


class SiteDraftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    site_id: uuid.UUID
    page_url: str
    published_at: datetime
    item_id: uuid.UUID | None = Field(description="The content item drafted from the page")
    og_title: str | None
    og_description: str | None
    og_image: str | None
    skipped_channels: dict[str, str] = Field(
        description="Channels left out of the item, each with the platform rule it broke"
    )
    drafted_at: datetime
