"""Request and response bodies of the publisher (reused by the gateway). Tokens never appear in
a response."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
)

from services.publisher.contracts import FailureClass, PublicationStatus
from shared.domain import Channel, TimeZoneName

# A platform's account id goes into its API's paths: the characters platforms use for them
# (numeric ids, YouTube's UC…, usernames, Mastodon's user@instance), nothing that changes a path.
AccountId = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:+-]*$")
]
# Platforms' tokens are opaque strings of a few hundred characters (a JWT a few thousand).
MAX_TOKEN_LENGTH = 8192
# A token travels in an ``Authorization: Bearer`` header: visible ASCII without spaces (RFC 6750's
# b64token and every platform's tokens fit). Anything else could be stored but never sent.
HEADER_SAFE_CHARACTERS = r"^[\x21-\x7E]+$"
# A moment given with its offset (a client's local time), kept as the same instant in UTC.
UtcMoment = Annotated[AwareDatetime, AfterValidator(lambda moment: moment.astimezone(UTC))]


class ConnectionCreate(BaseModel):
    """A connection with a long-lived token, for platforms whose way that is."""

    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    channel: Channel
    account_id: AccountId
    display_name: str = Field("", max_length=200)
    access_token: str = Field(
        min_length=1, max_length=MAX_TOKEN_LENGTH, pattern=HEADER_SAFE_CHARACTERS, repr=False
    )
    refresh_token: str | None = Field(
        None, max_length=MAX_TOKEN_LENGTH, pattern=HEADER_SAFE_CHARACTERS, repr=False
    )
    expires_at: AwareDatetime | None = None


class OAuthStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    channel: Channel
    account_id: AccountId | None = Field(
        None,
        description="The page, profile, board or channel to connect (required but for the "
        "sandbox, which signs up a new account when it is absent)",
    )
    # Where the platform sends the user back with the code; registered with the agency's app.
    redirect_uri: HttpUrl


class OAuthStarted(BaseModel):
    authorize_url: str
    state: str
    expires_at: datetime


class OAuthComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = Field(min_length=8, max_length=128)
    code: str = Field(min_length=1, max_length=2000)


class ConnectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    channel: Channel
    account_id: str
    display_name: str
    status: str
    expires_at: datetime | None
    created_at: datetime


class KeysRotated(BaseModel):
    """Connections re-encrypted with the newest key, and those no configured key can open."""

    rotated: int
    unreadable: list[uuid.UUID]


class PublicationCreate(BaseModel):
    """A post of an approved content variant: what it says (text, title, link, media) is the
    variant's as approved, never given here; any other field is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    connection_id: uuid.UUID
    variant_id: uuid.UUID = Field(
        description="An approved variant of the organisation's content, on the connection's "
        "channel (409 variant-not-approved otherwise)"
    )
    slot_id: uuid.UUID | None = None
    due_at: UtcMoment
    timezone: TimeZoneName = "Europe/Rome"


class Reschedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_at: UtcMoment


class Cancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class PublicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    connection_id: uuid.UUID
    channel: Channel
    variant_id: uuid.UUID
    slot_id: uuid.UUID | None
    idempotency_key: str
    due_at: datetime
    timezone: str
    status: PublicationStatus
    attempts: int
    platform_post_id: str | None
    url: str | None
    failure_class: FailureClass | None
    failure_detail: str | None
    published_at: datetime | None
    workflow_id: str


class PostMetricsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    publication_id: uuid.UUID
    collected_at: datetime
    impressions: int | None
    reach: int | None
    likes: int | None
    comments: int | None
    shares: int | None
    saves: int | None
    video_views: int | None
