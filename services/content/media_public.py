"""``GET /public/media/{id}?expires&signature``: a medium's bytes for a platform to fetch.

The one route of the content service without a bearer token: platforms (Instagram, Facebook,
Pinterest, ...) fetch the files of a post from the URL they are given and send no credentials.
The signed link (``shared/media_links.py``) is the credential: a forged, altered or foreign link
is 403 and a genuine one past its expiry 410. An unknown medium is 403 as well, so that ids cannot
be probed. Platforms may ask with ``HEAD`` first; that answer has the headers without the bytes.
The bytes are streamed, whole or one ``Range`` of them (a video fetched in parts).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.content import repository
from services.content.api import StorageDep
from services.content.models import Media
from services.content.uploads import media_response
from shared.app import Runtime
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import ProblemError
from shared.media_links import PATH, LinkCheck, MediaLinks
from shared.settings import Settings

router = APIRouter(tags=["public media"])
# A Unix time in seconds has 10 digits until the year 2286; a signature is an unpadded base64
# SHA-256 digest (43 characters).
MAX_EXPIRES_DIGITS = 20
MAX_SIGNATURE_LENGTH = 100


def _refused() -> ProblemError:
    return ProblemError(403, "media-link-invalid", "the media link is not valid")


async def _linked_media(
    runtime: Runtime, settings: Settings, media_id: str, expires: str, signature: str
) -> Media:
    try:
        identifier = uuid.UUID(media_id)
    except ValueError:
        raise _refused() from None
    async with session_scope(runtime.sessions, SYSTEM) as session:
        media = await repository.get_media(session, identifier)
    if media is None:
        raise _refused()
    check = MediaLinks.from_settings(settings).check(
        media.organization_id, media.id, expires, signature
    )
    if check is LinkCheck.EXPIRED:
        raise ProblemError(410, "media-link-expired", "the media link has expired")
    if check is not LinkCheck.VALID:
        raise _refused()
    return media


@router.api_route(
    f"{PATH}/{{media_id}}",
    methods=["GET", "HEAD"],
    response_class=Response,
    summary="A medium's bytes through a signed, expiring link (no bearer token)",
)
async def public_media(
    media_id: str,
    request: Request,
    runtime: Runtime,
    storage: StorageDep,
    expires: Annotated[str, Query(max_length=MAX_EXPIRES_DIGITS)] = "",
    signature: Annotated[str, Query(max_length=MAX_SIGNATURE_LENGTH)] = "",
) -> Response:
    settings: Settings = request.app.state.settings
    media = await _linked_media(runtime, settings, media_id, expires, signature)
    # Only the holder of the link may keep it; no shared cache outlives the link's expiry.
    return await media_response(request, storage, media, {"Cache-Control": "private, no-store"})
