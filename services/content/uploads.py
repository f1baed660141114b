"""What the content service accepts as a raw request body: media uploads and import files.

No database code, so the gateway applies the same limits before it forwards a body.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from services.content import media_probe
from services.content.platform_rules import MediaKind
from shared.errors import ProblemError
from shared.settings import MediaSettings

ImportFormat = Literal["csv", "json"]
IMPORT_MEDIA_TYPES: dict[str, ImportFormat] = {"text/csv": "csv", "application/json": "json"}
MAX_IMPORT_BYTES = 10 * 1024 * 1024


def _unsupported(given: str, supported: list[str]) -> ProblemError:
    return ProblemError(
        415,
        "unsupported-media-type",
        f"{given or 'a missing Content-Type'} is not accepted here",
        supported=supported,
    )


def media_type_of_upload(content_type: str | None) -> str:
    """The upload's declared MIME type, refused with 415 when the service does not take it."""
    mime_type = media_probe.normalize_mime_type(content_type or "")
    if mime_type not in media_probe.SUPPORTED_TYPES:
        raise _unsupported(mime_type, sorted(media_probe.SUPPORTED_TYPES))
    return mime_type


def upload_limit(mime_type: str, limits: MediaSettings) -> int:
    return {
        MediaKind.IMAGE: limits.max_image_bytes,
        MediaKind.VIDEO: limits.max_video_bytes,
        MediaKind.AUDIO: limits.max_audio_bytes,
    }[MediaKind(mime_type.partition("/")[0])]


def import_format(content_type: str | None) -> ImportFormat:
    bare = media_probe.normalize_mime_type(content_type or "")
    if bare not in IMPORT_MEDIA_TYPES:
        raise _unsupported(bare, sorted(IMPORT_MEDIA_TYPES))
    return IMPORT_MEDIA_TYPES[bare]


def too_large(limit: int) -> ProblemError:
    return ProblemError(
        413, "payload-too-large", f"the body is larger than {limit} bytes", limit_bytes=limit
    )


async def read_capped_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it (or its declared length) passes ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
