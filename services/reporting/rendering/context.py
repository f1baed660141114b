"""What a report needs beyond the KPIs: who it is for, the period as the client reads it, the
language and time zone, and links the KPIs do not carry."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.reporting.kpis.schemas import Period
from services.reporting.rendering.relationships import RelationshipFigures

Language = Literal["it", "en"]


class PostLink(BaseModel):
    """A link to a post the KPIs do not know the address of (their ``url`` is ``None``)."""

    model_config = ConfigDict(frozen=True)

    publication_id: uuid.UUID
    url: AnyHttpUrl


def period_days(period: Period, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last day a period covers in ``zone``, both included, for the cover: the
    period's end is excluded, so its last day is the one of the instant just before it."""
    last_instant = period.ends_at - timedelta(microseconds=1)
    return period.starts_at.astimezone(zone).date(), last_instant.astimezone(zone).date()


class ReportContext(BaseModel):
    model_config = ConfigDict(frozen=True)

    organization_name: str = Field(min_length=1, max_length=200)
    engagement_id: uuid.UUID
    # The days the cover names, both included, in the organisation's time zone: the KPIs'
    # period is instants with the end excluded, which a reader would misread by a day.
    first_day: date
    last_day: date
    language: Language = "it"
    time_zone: str = "Europe/Rome"
    generated_at: datetime
    post_links: list[PostLink] = Field(default_factory=list, max_length=50)
    # Seeding and training as they stood in the period (None: not read, no section).
    relationships: RelationshipFigures | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("generated_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("generated_at needs a time zone")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ReportContext:
        if self.first_day > self.last_day:
            raise ValueError("first_day is after last_day")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def post_url(self, publication_id: uuid.UUID) -> str | None:
        for link in self.post_links:
            if link.publication_id == publication_id:
                return str(link.url)
        return None
