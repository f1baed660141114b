"""Activities the content service offers on its task queue for content items: names and payloads.

Plain pydantic models with no database code, so workflows (and the publisher) may import them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from shared.domain import Channel

GET_APPROVED_VARIANTS = "content.get_approved_variants"
MARK_SCHEDULED = "content.mark_scheduled"
MARK_PUBLISHED = "content.mark_published"


class ReviewState(StrEnum):
    """Where a content item stands: draft → in_review → approved → scheduled → published.

    ``rejected`` leads back to ``draft`` when the item is edited.
    """

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    REJECTED = "rejected"


class ReviewAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    # An edit of a rejected item reopens it as a draft.
    EDIT = "edit"
    SCHEDULE = "schedule"
    PUBLISH = "publish"


class ApprovedVariantsQuery(BaseModel):
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    channel: Channel | None = None


class MediaRef(BaseModel):
    media_id: uuid.UUID
    storage_key: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    # A signed public link (``GET /public/media/{id}``), valid for
    # ``ENGAGE_MEDIA__PUBLIC_URL_TTL_SECONDS`` from when the activity ran: publishing signs a
    # fresh one at every attempt. None from a worker without the signing settings.
    url: str | None = None


class ApprovedVariant(BaseModel):
    item_id: uuid.UUID
    variant_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    channel: Channel
    title: str | None
    text: str
    link: str | None
    media: list[MediaRef]


class ApprovedVariants(BaseModel):
    variants: list[ApprovedVariant]


class MarkScheduled(BaseModel):
    item_id: uuid.UUID
    scheduled_for: datetime
    actor: str = Field("system:publisher", min_length=1, max_length=200)


class MarkPublished(BaseModel):
    item_id: uuid.UUID
    published_at: datetime
    actor: str = Field("system:publisher", min_length=1, max_length=200)


class ReviewStateChanged(BaseModel):
    item_id: uuid.UUID
    status: ReviewState
    # False when the item was already in that state: the activity ran before.
    changed: bool
