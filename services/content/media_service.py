"""Rules for media: what an upload must be, where its bytes go, and when it may be deleted."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.content import media_probe, repository
from services.content.models import Media
from services.content.storage import MediaMissingError, MediaStorage
from shared.auth import Principal
from shared.errors import ConflictError, NotFoundError, ProblemError


def inspect(mime_type: str, data: bytes) -> media_probe.Probe:
    """What the bytes really are; 422 when they are not what the upload declared."""
    found = media_probe.probe(data)
    if found is None or found.mime_type != mime_type:
        detected = found.mime_type if found else None
        raise ProblemError(
            422,
            "media-type-mismatch",
            f"the file is declared {mime_type} but its content is {detected or 'not recognised'}",
            declared=mime_type,
            detected=detected,
        )
    if mime_type.startswith("image/") and not (found.width and found.height):
        raise ProblemError(
            422, "unreadable-media", "the image's dimensions cannot be read from its header"
        )
    return found


async def upload(
    session: AsyncSession,
    principal: Principal,
    storage: MediaStorage,
    organization_id: uuid.UUID,
    filename: str,
    mime_type: str,
    data: bytes,
) -> Media:
    principal.require_organization(organization_id)
    found = inspect(mime_type, data)
    media_id = uuid.uuid4()
    media = Media(
        id=media_id,
        organization_id=organization_id,
        filename=filename,
        mime_type=mime_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        width=found.width,
        height=found.height,
        duration_seconds=found.duration_seconds,
        storage_key=f"{organization_id}/{media_id}",
        created_by=principal.subject,
    )
    await storage.put(media.storage_key, data, mime_type)
    session.add(media)
    try:
        await session.flush()
    except Exception:
        await storage.delete(media.storage_key)
        raise
    return media


async def require_media(session: AsyncSession, media_id: uuid.UUID) -> Media:
    media = await repository.get_media(session, media_id)
    if media is None:
        raise NotFoundError("media", media_id)
    return media


async def read_bytes(storage: MediaStorage, media: Media) -> bytes:
    try:
        return await storage.get(media.storage_key)
    except MediaMissingError as error:
        raise NotFoundError("media file", media.id) from error


async def delete(session: AsyncSession, storage: MediaStorage, media_id: uuid.UUID) -> None:
    media = await require_media(session, media_id)
    if await repository.media_in_use(session, media_id):
        raise ConflictError(
            "the media is used by a content item or variant", media_id=str(media_id)
        )
    await session.delete(media)
    # Commit before the file goes, so a failed commit never leaves a row without its file.
    await session.commit()
    await storage.delete(media.storage_key)
