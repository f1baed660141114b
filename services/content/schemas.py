"""Request and response bodies for content items, variants, media and review (the gateway reuses
them).

A variant's fields default to its item's: ``text`` to the body, ``link`` to the link, ``media_ids``
to the media, and ``title`` to the title on channels whose posts have one (YouTube, Pinterest,
Vimeo, Spotify).
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)

from services.content.contracts import ReviewAction, ReviewState
from services.content.platform_rules import MediaKind, Violation
from shared.domain import Channel, ContentKind

MAX_MEDIA_PER_POST = 20


def _nfc(value: str) -> str:
    """One spelling per text, so lengths are counted the way the platforms count them."""
    return unicodedata.normalize("NFC", value)


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_nfc),
]
PostText = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(_nfc)]
Link = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s]+$")]
MediaIds = Annotated[list[uuid.UUID], Field(max_length=MAX_MEDIA_PER_POST)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def _distinct(values: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("media ids must not repeat")
    return values


class VariantFields(BaseModel):
    """What a variant may override; a field left out takes the item's value."""

    model_config = ConfigDict(extra="forbid")

    text: PostText | None = None
    title: Title | None = None
    link: Link | None = None
    media_ids: Annotated[MediaIds | None, AfterValidator(_distinct)] = None


class VariantPut(VariantFields):
    """Body of ``PUT /content-items/{id}/variants/{channel}``."""


class VariantSpec(VariantFields):
    channel: Channel


class VariantCheck(VariantSpec):
    """A variant to check against the platform rules without saving it."""

    text: PostText = ""


class ItemFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engagement_id: uuid.UUID | None = None
    kind: ContentKind
    title: Title
    body: PostText = ""
    link: Link | None = None
    media_ids: Annotated[MediaIds, AfterValidator(_distinct)] = Field(default_factory=list)
    client_approval_required: bool = Field(
        False, description="Approval then needs a client approver as well as the agency"
    )
    variants: list[VariantSpec] = Field(default_factory=list, max_length=len(Channel))

    @field_validator("variants")
    @classmethod
    def _one_variant_per_channel(cls, value: list[VariantSpec]) -> list[VariantSpec]:
        channels = [variant.channel for variant in value]
        if len(set(channels)) != len(channels):
            raise ValueError("one variant per channel")
        return value

    @model_validator(mode="after")
    def _links_have_a_link(self) -> ItemFields:
        if self.kind is ContentKind.LINK and not self.link:
            raise ValueError("a link item needs a link")
        return self


class ContentItemCreate(ItemFields):
    organization_id: uuid.UUID


class ContentItemUpdate(BaseModel):
    """Fields to change; ``link`` and ``engagement_id`` may be set to null to clear them."""

    model_config = ConfigDict(extra="forbid")

    engagement_id: uuid.UUID | None = None
    kind: ContentKind | None = None
    title: Title | None = None
    body: PostText | None = None
    link: Link | None = None
    media_ids: Annotated[MediaIds | None, AfterValidator(_distinct)] = None
    client_approval_required: bool | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ContentItemUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        clearable = {"engagement_id", "link"}
        nulled = [
            name
            for name in sorted(self.model_fields_set - clearable)
            if getattr(self, name) is None
        ]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} may not be null")
        return self

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class VariantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: Channel
    text: str
    title: str | None
    link: str | None
    media_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class ContentItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    kind: ContentKind
    title: str
    body: str
    link: str | None
    media_ids: list[uuid.UUID]
    client_approval_required: bool
    status: ReviewState
    agency_approved_by: str | None
    client_approved_by: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    variants: list[VariantOut]

    @field_validator("variants")
    @classmethod
    def _by_channel(cls, value: list[VariantOut]) -> list[VariantOut]:
        return sorted(value, key=lambda variant: variant.channel.value)


class MediaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    filename: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_seconds: float | None
    created_by: str
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind(self) -> MediaKind:
        return MediaKind(self.mime_type.partition("/")[0])


class ReviewNote(BaseModel):
    """Body of submit and approve: an optional comment for the audit trail."""

    model_config = ConfigDict(extra="forbid")

    comment: Comment | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Comment = Field(description="Why the item is rejected (required)")


class ReviewEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    item_id: uuid.UUID
    action: ReviewAction
    from_state: ReviewState
    to_state: ReviewState
    actor: str
    actor_roles: list[str]
    comment: str | None
    at: datetime


class CheckResult(BaseModel):
    passes: bool
    violations: list[Violation]


class ImportResult(BaseModel):
    imported: int
    item_ids: list[uuid.UUID]


class ImportRowError(BaseModel):
    """Why one row of an import file was refused; ``line`` is where the row starts (1-based)."""

    line: int
    field: str | None
    reason: str
