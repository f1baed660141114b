"""Rules for media: what an upload must be, where its bytes go, and when it may be deleted."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.content import media_probe, repository
from services.content.models import Media
from services.content.storage import MediaStorage, SpooledFile
from shared.auth import Principal
from shared.errors import ConflictError, NotFoundError, ProblemError


def _probe(spooled: SpooledFile) -> media_probe.Probe | None:
    with spooled.path.open("rb") as file:
        return media_probe.probe_file(file, spooled.size)


async def inspect(mime_type: str, spooled: SpooledFile) -> media_probe.Probe:
    """What the file really is; 422 when it is not what the upload declared."""
    found = await asyncio.to_thread(_probe, spooled)
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
    spooled: SpooledFile,
) -> Media:
    """Record a spooled upload and hand its file to the store (which moves or copies it)."""
    principal.require_organization(organization_id)
    found = await inspect(mime_type, spooled)
    media_id = uuid.uuid4()
    media = Media(
        id=media_id,
        organization_id=organization_id,
        filename=filename,
        mime_type=mime_type,
        size_bytes=spooled.size,
        sha256=spooled.sha256,
        width=found.width,
        height=found.height,
        duration_seconds=found.duration_seconds,
        storage_key=f"{organization_id}/{media_id}",
        created_by=principal.subject,
    )
    await storage.put(media.storage_key, spooled, mime_type)
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
