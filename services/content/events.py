"""Events the content service emits about content items (payloads are the CloudEvents ``data``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

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


class ItemApproved(ItemFact):
    agency_approved_by: str
    client_approved_by: str | None


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
