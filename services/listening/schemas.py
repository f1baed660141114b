"""Request and response bodies of the listening service (reused by the gateway)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from services.listening.contracts import QueryStatus
from shared.domain import Channel

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
    str, AfterValidator(_language_code), Field(description="An ISO 639-1 code (it, en)")
]


class QueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    name: Name
    terms: list[SearchTerm] = Field(min_length=1, max_length=50)
    channels: list[Channel] = Field(min_length=1)
    languages: list[Language] = Field(
        default_factory=list, max_length=20, description="Empty: every language"
    )

    @field_validator("terms", "channels", "languages")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len({item.casefold() for item in value}) != len(value):
            raise ValueError("values must not repeat")
        return value


class QueryStop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class QueryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    name: str
    terms: list[str]
    channels: list[Channel]
    languages: list[str]
    status: QueryStatus
    created_by: str
    created_at: datetime
    stopped_at: datetime | None
    stopped_by: str | None
    stop_reason: str | None
