"""Signed, expiring links to media of the content store, for platforms to fetch them from.

Instagram, Facebook and Pinterest take a media URL and fetch the file themselves; they carry no
bearer token. A link names the medium and an expiry, and its signature is HMAC-SHA256 over the
medium's organisation, id and expiry (``ENGAGE_MEDIA__URL_SIGNING_KEYS``, the first key signs,
any key verifies). The organisation is signed but not written in the link: the content service
reads it from the medium itself, so a link signed for one organisation never opens another
organisation's medium, whatever id it names.

The content service serves and verifies the links; the publisher signs a fresh one at every
publish attempt (both need the key, so it lives here).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from shared.settings import Settings

PATH = "/public/media"
# Bumped if what is signed ever changes, so old and new signatures cannot be confused.
_VERSION = "engage-media-link-v1"


class LinkCheck(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class MediaLinks:
    base_url: str
    keys: tuple[bytes, ...]
    ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLinks:
        media = settings.media
        return cls(
            base_url=(media.public_base_url or settings.service_url("content")).rstrip("/"),
            keys=tuple(key.get_secret_value().encode() for key in media.url_signing_keys),
            ttl=timedelta(seconds=media.public_url_ttl_seconds),
        )

    def url(
        self, organization_id: uuid.UUID, media_id: uuid.UUID, *, now: datetime | None = None
    ) -> str:
        """A link to the medium, valid for ``ttl`` from now."""
        expires = int(((now or datetime.now(UTC)) + self.ttl).timestamp())
        signature = _sign(self.keys[0], organization_id, media_id, expires)
        query = urlencode({"expires": expires, "signature": signature})
        return f"{self.base_url}{PATH}/{media_id}?{query}"

    def check(
        self,
        organization_id: uuid.UUID,
        media_id: uuid.UUID,
        expires: str,
        signature: str,
        *,
        now: datetime | None = None,
    ) -> LinkCheck:
        """Whether a link's ``expires`` and ``signature`` open this medium of this organisation.

        The signature is checked before the expiry, so ``EXPIRED`` is only ever said of a link
        this service did sign."""
        # compare_digest refuses non-ASCII text, and only digits make an expiry.
        if not (expires.isascii() and expires.isdigit() and signature.isascii()):
            return LinkCheck.INVALID
        moment = int(expires)
        genuine = any(
            hmac.compare_digest(_sign(key, organization_id, media_id, moment), signature)
            for key in self.keys
        )
        if not genuine:
            return LinkCheck.INVALID
        if moment <= (now or datetime.now(UTC)).timestamp():
            return LinkCheck.EXPIRED
        return LinkCheck.VALID


def _sign(key: bytes, organization_id: uuid.UUID, media_id: uuid.UUID, expires: int) -> str:
    message = f"{_VERSION}\n{organization_id}\n{media_id}\n{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
