"""Request and response bodies of the sandbox platform (also read by its connector)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Handle = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.]{2,30}$")]


class SandboxDescription(BaseModel):
    name: str = "Atlantide Engage sandbox platform"
    sandbox: Literal[True] = True
    description: str = (
        "A local simulation of a social network for demos and tests. It is not a real network: "
        "nothing posted here leaves this machine, and every like, comment and mention is "
        "generated from a seed."
    )
    documentation: str = "/docs"


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    handle: Handle | None = Field(None, description="Derived from the name when absent")


class AccountOut(BaseModel):
    id: str
    name: str
    handle: str
    followers: int
    created_at: datetime


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    mime_type: Annotated[str, StringConstraints(min_length=3, max_length=100)]


class PostCreate(BaseModel):
    """Structure only; the platform's own limits (length, media) are checked after, as 422."""

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    title: Annotated[str, StringConstraints(max_length=200)] | None = None
    link: Annotated[str, StringConstraints(max_length=2000)] | None = None
    media: list[MediaIn] = Field(default_factory=list)
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=30
    )


class Violation(BaseModel):
    """One broken platform limit, listed in the 422 answer to a post."""

    rule: str
    field: str
    limit: str
    actual: str


class PostOut(BaseModel):
    id: str
    account_id: str
    text: str
    title: str | None
    link: str | None
    media: list[MediaIn]
    tags: list[str]
    # Echoed so that a client whose request timed out can find what it created.
    idempotency_key: str | None
    url: str
    created_at: datetime


class PostPage(BaseModel):
    """Newest first; pass ``next_cursor`` as ``cursor`` for the following page."""

    data: list[PostOut]
    next_cursor: str | None


class PostMetricsOut(BaseModel):
    post_id: str
    impressions: int
    reach: int
    likes: int
    comments: int
    shares: int
    saves: int
    # Video views; null for posts without a video.
    views: int | None
    collected_at: datetime


class Place(BaseModel):
    name: str
    latitude: float
    longitude: float


class Author(BaseModel):
    id: str
    handle: str
    name: str


class Conversation(BaseModel):
    """A comment on a post or a mention of an account, written by a simulated user."""

    id: str
    account_id: str
    post_id: str | None
    author: Author
    text: str
    language: Literal["it", "en"]
    # What the generator meant; real platforms give no such label, it is for checking listening.
    simulated_sentiment: Literal["positive", "neutral", "negative"]
    place: Place | None
    created_at: datetime


class ConversationPage(BaseModel):
    """Oldest first; pass the last ``created_at`` as ``since`` for the following page."""

    data: list[Conversation]


class ReplyCreate(BaseModel):
    """Structure only; the platform's own limits (length) are checked after, as 422."""

    model_config = ConfigDict(extra="forbid")

    text: str


class ReplyOut(BaseModel):
    """A reply of an account to a comment or a mention (``in_reply_to``)."""

    id: str
    account_id: str
    in_reply_to: str
    # The post the comment answered is under; None for a mention.
    post_id: str | None
    text: str
    # Echoed so that a client whose request timed out can find what it created.
    idempotency_key: str | None
    url: str
    created_at: datetime


class ReplyPage(BaseModel):
    """Oldest first; pass ``next_cursor`` as ``cursor`` for the following page."""

    data: list[ReplyOut]
    next_cursor: str | None


class TokenRequest(BaseModel):
    """``POST /oauth/token`` form fields (RFC 6749 section 4.1.3 and 6)."""

    model_config = ConfigDict(extra="ignore")

    grant_type: Literal["authorization_code", "refresh_token"]
    code: str | None = None
    redirect_uri: str | None = None
    refresh_token: str | None = None
    client_id: str | None = None

    @model_validator(mode="after")
    def _grant_has_its_credential(self) -> TokenRequest:
        if self.grant_type == "authorization_code" and not self.code:
            raise ValueError("grant_type authorization_code needs code")
        if self.grant_type == "refresh_token" and not self.refresh_token:
            raise ValueError("grant_type refresh_token needs refresh_token")
        return self


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int
    refresh_token: str
    scope: str = "read publish"
    account_id: str


class AcceptThenTimeout(BaseModel):
    """The next ``count`` new posts or replies are created, then answered too late or garbled."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(1, ge=0, le=1000)
    mode: Literal["delay", "malformed"] = "delay"
    delay_seconds: float = Field(30.0, gt=0, le=600)


class FaultsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failure_rate: float | None = Field(None, ge=0, le=1)
    rate_limit_per_second: float | None = Field(None, gt=0)
    rate_limit_burst: int | None = Field(None, ge=1)
    accept_then_timeout: AcceptThenTimeout | None = None


class FaultsOut(BaseModel):
    seed: int
    failure_rate: float
    rate_limit_per_second: float
    rate_limit_burst: int
    accept_then_timeout: AcceptThenTimeout


class StatsOut(BaseModel):
    """Counters since the sandbox started (or since ``DELETE /sandbox/stats``)."""

    requests: int
    accepted_posts: int
    accepted_replies: int
    duplicates_prevented: int
    rejected_rate_limited: int
    rejected_failures: int
    rejected_invalid: int
    rejected_unauthorized: int
    accept_then_timeout_applied: int
