"""Inputs and results of the channel-mix scoring; the result is the ``channel_mix`` deliverable."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from services.strategy.bodies import Body
from services.strategy.vocabulary import Goal, Persona
from shared.domain import Channel, ContentKind


class ChannelMixInputs(Body):
    personas: list[Persona] = Field(min_length=1, max_length=20)
    objectives: list[Goal] = Field(min_length=1, max_length=len(Goal))
    content_kinds: list[ContentKind] = Field(
        min_length=1, max_length=len(ContentKind), description="What the client can produce"
    )
    effort_hours_per_week: float = Field(
        gt=0, le=168, description="Hours a week the client (or agency) can spend on channels"
    )
    threshold: float = Field(
        50, ge=0, le=100, description="Minimum total score for a channel to be recommended"
    )

    @field_validator("objectives", "content_kinds")
    @classmethod
    def _distinct(cls, value: list[object]) -> list[object]:
        if len(set(value)) != len(value):
            raise ValueError("values must not repeat")
        return value


class Factor(StrEnum):
    AGE = "age"
    INTERESTS = "interests"
    PLACE = "place"
    LANGUAGE = "language"
    OBJECTIVES = "objectives"
    CONTENT = "content"
    EFFORT = "effort"


class Verdict(StrEnum):
    RECOMMENDED = "recommended"
    BELOW_THRESHOLD = "below_threshold"
    OVER_CAPACITY = "over_capacity"
    NOT_AN_AUDIENCE = "not_an_audience"


class Contribution(BaseModel):
    factor: Factor
    points: float
    explanation: str


class ChannelScore(BaseModel):
    channel: Channel
    total: float = Field(description="The sum of the contributions' points")
    contributions: list[Contribution]
    weekly_hours: float = Field(description="Assumed hours a week to run the channel well")
    verdict: Verdict


class ChannelMix(BaseModel):
    """Every scored channel, best first, and the recommended mix that fits the effort."""

    model: str = Field(description="Version of the channel profiles and weights used")
    inputs: ChannelMixInputs
    scores: list[ChannelScore]
    recommended: list[Channel]
    recommended_hours_per_week: float
