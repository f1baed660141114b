"""A watched page's Open Graph image (``og:image``) kept as the drafted item's medium.

The image is the client's URL: fetched only through ``shared.safe_fetch`` (``reading.fetch``),
at most ``IMAGE_LIMITS.max_bytes``; what it is comes from its own bytes (``media_probe``), never
from its name or its ``Content-Type``, and an image whose dimensions cannot be read is not kept,
as an upload's would be refused. It is stored as an upload is (``<organization>/<media id>`` in
the media store), before the draft's transaction; the draft then records the medium with the
item. An image that cannot be kept leaves the draft without it, and the reason is logged: a
page's picture is never worth losing the page.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from services.content import media_probe
from services.content.models import Media
from services.content.storage import MediaStorage, SpooledFile
from services.content.website import reading
from shared.errors import ProblemError
from shared.safe_fetch import FetchLimits

logger = logging.getLogger(__name__)

# Larger than any platform takes an image for a link post (X: 5 MB); the rules decide per channel.
IMAGE_LIMITS = FetchLimits(max_bytes=8 * 1024 * 1024, seconds=10.0)
IMAGE_TYPES = frozenset(kind for kind in media_probe.SUPPORTED_TYPES if kind.startswith("image/"))
MAX_FILENAME = 255


@dataclass(frozen=True)
class PageImage:
    """An image stored in the media store, not yet recorded: ``media`` makes its row."""

    media_id: uuid.UUID
    organization_id: uuid.UUID
    storage_key: str
    filename: str
    mime_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int

    def media(self, created_by: str) -> Media:
        return Media(
            id=self.media_id,
            organization_id=self.organization_id,
            filename=self.filename,
            mime_type=self.mime_type,
            size_bytes=self.size_bytes,
            sha256=self.sha256,
            width=self.width,
            height=self.height,
            storage_key=self.storage_key,
            created_by=created_by,
        )


@dataclass(frozen=True)
class ReadImage:
    body: bytes
    mime_type: str
    width: int
    height: int


async def read_image(url: str, *, loopback: bool = False) -> ReadImage:
    """The image's bytes and what they are; ``reading.SiteFailure`` says why not."""
    fetched = await reading.fetch(url, {"Accept": "image/*"}, IMAGE_LIMITS, loopback)
    found = media_probe.probe(fetched.body)
    if found is None or found.mime_type not in IMAGE_TYPES:
        detected = found.mime_type if found else "not recognised"
        raise reading.SiteFailure(f"not an image ({detected})")
    if not (found.width and found.height):
        raise reading.SiteFailure("the image's dimensions cannot be read from its header")
    return ReadImage(fetched.body, found.mime_type, found.width, found.height)


def filename_of(url: str, mime_type: str) -> str:
    name = PurePosixPath(httpx.URL(url).path).name
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip(".-")
    extension = "." + mime_type.partition("/")[2]
    return (cleaned or "og-image" + extension)[:MAX_FILENAME]


def _spool(body: bytes, directory: Path | None) -> Path:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix="og-image-", delete=False) as file:
        file.write(body)
    return Path(file.name)


async def keep_image(
    storage: MediaStorage,
    organization_id: uuid.UUID,
    page_url: str,
    image_url: str,
    *,
    loopback: bool = False,
) -> PageImage | None:
    """The page's image fetched and stored, or None (the reason logged) when it cannot be."""
    try:
        found = await read_image(image_url, loopback=loopback)
    except reading.SiteFailure as failure:
        logger.warning(
            "the og:image of %s is not kept: %s (%s)", page_url, failure.reason, image_url
        )
        return None
    media_id = uuid.uuid4()
    image = PageImage(
        media_id=media_id,
        organization_id=organization_id,
        storage_key=f"{organization_id}/{media_id}",
        filename=filename_of(image_url, found.mime_type),
        mime_type=found.mime_type,
        size_bytes=len(found.body),
        sha256=hashlib.sha256(found.body).hexdigest(),
        width=found.width,
        height=found.height,
    )
    path = await asyncio.to_thread(_spool, found.body, storage.spool_dir)
    try:
        spooled = SpooledFile(path, image.size_bytes, image.sha256)
        await storage.put(image.storage_key, spooled, image.mime_type)
    except (ProblemError, OSError) as failure:
        logger.warning("the og:image of %s is not kept: storing it failed: %s", page_url, failure)
        return None
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    return image


async def forget_image(storage: MediaStorage, image: PageImage | None) -> None:
    """Remove a stored image no draft recorded (the page was drafted meanwhile, or the site
    removed, or the draft's transaction failed)."""
    if image is not None:
        await storage.delete(image.storage_key)
