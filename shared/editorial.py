"""Editorial rules: the contract between the strategy service, which owns and versions them, and
the content service, which generates the editorial plan from them.

A rule says what to post (pillar, formats), where (channels), when (weekdays, local time windows,
cadence per channel), for whom (target persona), in which tone, with which hashtags, and what to
do and avoid. Times are local to ``EditorialRules.timezone``.
"""

from __future__ import annotations

from datetime import time
from enum import IntEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shared.domain import Channel, ContentKind, TimeZoneName

RuleId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", strip_whitespace=True)
]
Hashtag = Annotated[str, StringConstraints(pattern=r"^#?[\w]{1,100}$")]


class Weekday(IntEnum):
    """ISO weekday numbers minus one, as ``date.weekday()`` returns them."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class TimeWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("a time window must end after it starts (same day)")
        return self


class Cadence(BaseModel):
    """How many posts per channel in each period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per: Literal["day", "week", "month"]
    count: int = Field(ge=1, le=50)


# Bounds of a rule set: far beyond any plan, small enough to validate and store at once.
MAX_RULES = 100
MAX_WINDOWS = 24
MAX_GUIDELINES = 50
# A do or don't of a rule: one sentence.
Guideline = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class EditorialRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: RuleId
    pillar: str = Field(min_length=1, max_length=200, description="What: the content pillar")
    formats: list[ContentKind] = Field(min_length=1, max_length=len(ContentKind))
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel), description="Where")
    days: list[Weekday] = Field(
        min_length=1, max_length=7, description="When: weekdays eligible for posting"
    )
    windows: list[TimeWindow] = Field(
        min_length=1, max_length=MAX_WINDOWS, description="When: local time windows"
    )
    cadence: Cadence
    target: str = Field(min_length=1, max_length=200, description="For whom: the persona")
    tone_of_voice: str = Field("", max_length=500)
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=30)
    do: list[Guideline] = Field(default_factory=list, max_length=MAX_GUIDELINES)
    dont: list[Guideline] = Field(default_factory=list, max_length=MAX_GUIDELINES)

    @field_validator("channels", "days", "formats")
    @classmethod
    def _no_repeats(cls, value: list[object]) -> list[object]:
        if len(set(value)) != len(value):
            raise ValueError("values must not repeat")
        return value


class EditorialRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: TimeZoneName = "Europe/Rome"
    rules: list[EditorialRule] = Field(min_length=1, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _unique_ids(self) -> EditorialRules:
        ids = [rule.id for rule in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("rule ids must be unique")
        return self
