"""Events the content service emits about content items (payloads are the CloudEvents ``data``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.domain import Channel, ContentKind

SOURCE = "urn:atlantide-engage:content"

ITEM_CREATED = "content.item_created"
REVIEW_REQUESTED = "content.review_requested"
ITEM_APPROVED = "content.item_approved"
ITEM_REJECTED = "content.item_rejected"
ITEM_SCHEDULED = "content.item_scheduled"
ITEM_PUBLISHED = "content.item_published"
ITEMS_IMPORTED = "content.items_imported"


class ItemFact(BaseModel):
    """What every event about one content item carries."""

    item_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None


class ItemCreated(ItemFact):
    kind: ContentKind
    title: str
    channels: list[Channel]


class ReviewRequested(ItemFact):
    requested_by: str
    channels: list[Channel]
    client_approval_required: bool


class ApprovedMedium(BaseModel):
    """A medium of an approved variant: its id in the content store and what a platform is told
    of it (the publisher signs the link to it)."""

    media_id: uuid.UUID
    mime_type: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


class ApprovedVariantFact(BaseModel):
    """One variant of the item exactly as it was approved (an approved item cannot be edited)."""

    variant_id: uuid.UUID
    channel: Channel
    text: str
    title: str | None
    link: str | None
    media: list[ApprovedMedium]


class ItemApproved(ItemFact):
    agency_approved_by: str
    client_approved_by: str | None
    # What was approved, so that a service publishing it (the publisher's read model) needs not
    # ask the content service. Added later: events emitted before carry none.
    variants: list[ApprovedVariantFact] = Field(default_factory=list)


class ItemRejected(ItemFact):
    rejected_by: str
    comment: str


class ItemScheduled(ItemFact):
    scheduled_for: datetime


class ItemPublished(ItemFact):
    published_at: datetime


class ItemsImported(BaseModel):
    organization_id: uuid.UUID
    item_ids: list[uuid.UUID]
    format: Literal["csv", "json"]
    imported_by: str
