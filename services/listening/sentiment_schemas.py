"""Request and response bodies of sentiment corrections and per-organisation models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.listening.schemas import SentimentLabel
from shared.paging import PageQuery


class SentimentCorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: SentimentLabel


class SentimentModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID


class SentimentModelFilters(PageQuery):
    organization_id: uuid.UUID


class SentimentTrainingOut(BaseModel):
    training_id: uuid.UUID = Field(
        description="The same while the organisation's corrections stay the same: asking again "
        "does not train again"
    )
    organization_id: uuid.UUID
    workflow_id: str


class SentimentModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    training_id: uuid.UUID
    organization_id: uuid.UUID
    status: Literal["training", "ready", "failed"]
    version: str | None = Field(description="What labelled mentions show as their model version")
    current: bool = Field(
        default=False, description="The newest ready model: it labels the organisation's mentions"
    )
    trained_on: int | None = Field(description="Corrections it was trained on")
    languages: list[str] = Field(description="Languages it has heads for; others: the default")
    cross_validated_score: float | None = Field(
        description="SENTIPOLC polarity score over the corrections, each fold held out in turn"
    )
    default_model_score: float | None = Field(
        description="The default model's score over the same corrections"
    )
    requested_by: str
    failure: str | None
    created_at: datetime
    trained_at: datetime | None
