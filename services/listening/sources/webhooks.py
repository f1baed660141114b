"""Sources that are pushed to the service: what each kind's settings are, how a delivery proves
who sent it, and how its payload becomes raw mentions.

Facebook and Instagram follow Meta's Graph API Webhooks: a ``GET`` handshake answers
``hub.challenge`` when ``hub.verify_token`` is the source's, and each ``POST`` is signed in
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>``.

A generic inbound webhook signs ``"<timestamp>.<raw body>"`` with the source's shared secret in
``X-Signature-256: sha256=<hex>``, with the Unix ``timestamp`` in ``X-Signature-Timestamp``: a
delivery older or newer than ``MAX_TIMESTAMP_SKEW_SECONDS`` is refused, so a captured one cannot
be replayed later.

No function here touches the database or the network: ``push_api.py`` does."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from services.listening.contracts import Coordinates, RawAuthor, RawMention, SourceKind, Tag

SIGNATURE_PREFIX = "sha256="
MAX_TIMESTAMP_SKEW_SECONDS = 300
MAX_WEBHOOK_MENTIONS = 500

PlatformId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
VerifyToken = Annotated[str, StringConstraints(min_length=8, max_length=200)]


class FacebookPageSettings(BaseModel):
    """The page whose feed is subscribed, and the token Meta echoes at the handshake."""

    model_config = ConfigDict(extra="forbid")

    page_id: PlatformId
    verify_token: VerifyToken


class InstagramAccountSettings(BaseModel):
    """The Instagram professional account subscribed, and the handshake's token."""

    model_config = ConfigDict(extra="forbid")

    account_id: PlatformId
    verify_token: VerifyToken


class InboundWebhookSettings(BaseModel):
    """Nothing to set: the shared secret is the source's credentials."""

    model_config = ConfigDict(extra="forbid")


META_KINDS = frozenset({SourceKind.FACEBOOK, SourceKind.INSTAGRAM})
# The ``object`` Meta names in a delivery for each kind.
META_OBJECTS = {SourceKind.FACEBOOK: "page", SourceKind.INSTAGRAM: "instagram"}


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _matches(expected_hex: str, header: str | None) -> bool:
    if header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header.removeprefix(SIGNATURE_PREFIX).strip().lower()
    return hmac.compare_digest(expected_hex.encode(), given.encode())


def meta_signature_valid(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256`` over the raw bytes, compared in constant time."""
    return _matches(_hex_hmac(app_secret, raw_body), header)


def inbound_signature_valid(
    secret: str, raw_body: bytes, timestamp: str | None, header: str | None, now: datetime
) -> bool:
    """``X-Signature-256`` over ``"<timestamp>.<raw body>"``, the timestamp within the skew."""
    if timestamp is None or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now.timestamp() - int(timestamp)) > MAX_TIMESTAMP_SKEW_SECONDS:
        return False
    return _matches(_hex_hmac(secret, timestamp.encode() + b"." + raw_body), header)


def inbound_signature(secret: str, raw_body: bytes, timestamp: int) -> str:
    """The header value a sender computes (for senders' code and tests)."""
    return SIGNATURE_PREFIX + _hex_hmac(secret, str(timestamp).encode() + b"." + raw_body)


def meta_signature(app_secret: str, raw_body: bytes) -> str:
    return SIGNATURE_PREFIX + _hex_hmac(app_secret, raw_body)


class _MetaChange(BaseModel):
    field: str
    value: dict[str, Any] = Field(default_factory=dict)


class _MetaEntry(BaseModel):
    id: str
    time: int | None = None
    changes: list[_MetaChange] = Field(default_factory=list)


class MetaDelivery(BaseModel):
    """What Meta posts; unknown keys are kept out, never refused (Meta adds fields)."""

    object: str
    entry: list[_MetaEntry] = Field(default_factory=list)


class MentionOwner(BaseModel):
    """Whose the mentions of a source are."""

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None


def _moment(value: object, fallback: datetime) -> datetime:
    """Meta sends Unix seconds in some fields and ISO 8601 in others."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("+0000", "+00:00"))
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return fallback


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _facebook_comment(
    owner: MentionOwner, value: dict[str, Any], published: datetime
) -> RawMention | None:
    if value.get("item") != "comment" or value.get("verb") != "add":
        return None
    author = value.get("from")
    comment_id = _text(value.get("comment_id"))
    if comment_id is None or not isinstance(author, dict) or _text(author.get("id")) is None:
        return None
    return RawMention(
        **owner.model_dump(),
        source=SourceKind.FACEBOOK,
        external_id=comment_id,
        author=RawAuthor(handle=author["id"], display_name=_text(author.get("name"))),
        text=_text(value.get("message")) or "",
        url=f"https://www.facebook.com/{comment_id}",
        published_at=_moment(value.get("created_time"), published),
    )


def _instagram_comment(
    owner: MentionOwner, value: dict[str, Any], published: datetime
) -> RawMention | None:
    """A comment on the account's media (``comments``), or a comment that mentions the account
    when Meta includes its text and author (``mentions``: otherwise only ids, skipped)."""
    author = value.get("from")
    comment_id = _text(value.get("id")) or _text(value.get("comment_id"))
    text = _text(value.get("text"))
    if comment_id is None or text is None or not isinstance(author, dict):
        return None
    handle = _text(author.get("username")) or _text(author.get("id"))
    if handle is None:
        return None
    return RawMention(
        **owner.model_dump(),
        source=SourceKind.INSTAGRAM,
        external_id=comment_id,
        author=RawAuthor(handle=handle),
        text=text,
        published_at=_moment(value.get("created_time") or value.get("timestamp"), published),
    )


def meta_mentions(
    kind: SourceKind,
    account_id: str,
    owner: MentionOwner,
    delivery: MetaDelivery,
    received_at: datetime,
) -> list[RawMention]:
    """The new comments and mentions of a delivery for the source's own page or account;
    every other change (likes, edits, removals, another page's) is left out."""
    if delivery.object != META_OBJECTS[kind]:
        return []
    mentions: list[RawMention] = []
    for entry in delivery.entry:
        if entry.id != account_id:
            continue
        published = _moment(entry.time, received_at)
        for change in entry.changes:
            mention: RawMention | None = None
            try:
                if kind is SourceKind.FACEBOOK and change.field == "feed":
                    mention = _facebook_comment(owner, change.value, published)
                elif kind is SourceKind.INSTAGRAM and change.field in ("comments", "mentions"):
                    mention = _instagram_comment(owner, change.value, published)
            except ValidationError:
                # Out of a mention's bounds (an id too long): not a mention we can keep.
                mention = None
            if mention is not None:
                mentions.append(mention)
    return mentions


class InboundMention(BaseModel):
    """One mention of a generic webhook: a raw mention without its owner and source."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=300)
    author: RawAuthor
    text: str = Field(max_length=20_000)
    url: str | None = Field(None, max_length=2_000)
    published_at: AwareDatetime
    language: str | None = Field(None, max_length=16)
    coordinates: Coordinates | None = None
    hashtags: list[Tag] = Field(default_factory=list, max_length=100)
    accounts: list[Tag] = Field(default_factory=list, max_length=100)


class InboundDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentions: list[InboundMention] = Field(max_length=MAX_WEBHOOK_MENTIONS)


def inbound_mentions(owner: MentionOwner, delivery: InboundDelivery) -> list[RawMention]:
    return [
        RawMention(**owner.model_dump(), source=SourceKind.WEBHOOK, **item.model_dump())
        for item in delivery.mentions
    ]
