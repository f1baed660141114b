"""Files over HTTP: what the content service accepts as a raw request body (media uploads and
import files), how it reads one, and how it sends a medium's bytes back.

A body is never held whole: it is read chunk by chunk against its cap, spooled to a file (an
upload) or parsed as it arrives (an import), and only once the route's role and parameter checks
(dependencies, run before the endpoint) have passed, so a refused caller's body is never read.
A medium is sent in chunks, whole or one byte range. No database code, so the gateway applies
the same rules before it forwards a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Literal

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from services.content import media_probe
from services.content.models import Media
from services.content.platform_rules import MediaKind
from services.content.storage import ByteRange, MediaMissingError, MediaStorage, SpooledFile
from shared.errors import NotFoundError, ProblemError
from shared.settings import MediaSettings

log = logging.getLogger(__name__)

ImportFormat = Literal["csv", "json"]
IMPORT_MEDIA_TYPES: dict[str, ImportFormat] = {"text/csv": "csv", "application/json": "json"}
MAX_IMPORT_BYTES = 10 * 1024 * 1024
SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


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


async def body_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, or 413 as soon as it (or its declared length) passes
    ``limit``. A client that hangs up mid-body is one line in the log, not a traceback."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            yield chunk
    except ClientDisconnect:
        log.info("%s %s: the client left after %d bytes", request.method, request.url.path, size)
        raise ProblemError(
            400, "body-incomplete", f"the connection closed after {size} bytes of the body"
        ) from None


@contextlib.asynccontextmanager
async def spooled_body(
    request: Request, limit: int, directory: Path | None
) -> AsyncIterator[SpooledFile]:
    """The body written to a file in ``directory`` as it arrives, hashed on the way; the file
    is gone when the block ends, unless it was moved (stored) meanwhile."""
    if directory is not None:
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    file = await asyncio.to_thread(_spool_file, directory)
    path = Path(file.name)
    try:
        digest, size = hashlib.sha256(), 0
        with file:
            async for chunk in body_chunks(request, limit):
                digest.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(_write, file, chunk)
        yield SpooledFile(path, size, digest.hexdigest())
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


def _spool_file(directory: Path | None) -> IO[bytes]:
    return tempfile.NamedTemporaryFile(dir=directory, prefix="upload-", delete=False)


def _write(file: IO[bytes], chunk: bytes) -> None:
    file.write(chunk)


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range a ``Range`` header asks for, None for the whole file.

    One range is served; of several (``bytes=0-9,20-29``) the first. A range that starts past
    the end is 416 with the file's size in ``Content-Range``; a header in another unit or that
    does not parse is ignored, as RFC 9110 allows."""
    if not header:
        return None
    first = header.split(",", 1)[0].replace(" ", "")
    match = SINGLE_RANGE.fullmatch(first)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    start_text, end_text = match.groups()
    if start_text == "":
        suffix = int(end_text)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(start_text)
    end = min(int(end_text), size - 1) if end_text else size - 1
    if end_text and int(end_text) < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return ByteRange(start, end)


def _unsatisfiable(size: int) -> ProblemError:
    return ProblemError(
        416,
        "range-not-satisfiable",
        f"the range is outside the file's {size} bytes",
        headers={
            "Content-Range": f"bytes */{size}",
            "Accept-Ranges": "bytes",
            "X-Content-Type-Options": "nosniff",
        },
        size_bytes=size,
    )


async def media_response(
    request: Request, storage: MediaStorage, media: Media, headers: dict[str, str]
) -> Response:
    """The medium's bytes (``HEAD``: its headers), whole or the range asked for, in chunks.

    Every answer says ``nosniff``: an uploaded file is served as the type it was checked to be,
    never as what a browser guesses from its bytes."""
    headers = {
        **headers,
        "ETag": f'"{media.sha256}"',
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    if_range = request.headers.get("if-range")
    asked = None if if_range not in (None, headers["ETag"]) else request.headers.get("range")
    byte_range = requested_range(asked, media.size_bytes)
    status = 200 if byte_range is None else 206
    span = byte_range or ByteRange(0, media.size_bytes - 1)
    headers["Content-Length"] = str(span.length)
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {span.start}-{span.end}/{media.size_bytes}"
    if request.method == "HEAD":
        return Response(status_code=status, media_type=media.mime_type, headers=headers)
    try:
        chunks = await storage.open(media.storage_key, span)
    except MediaMissingError as error:
        raise NotFoundError("media file", media.id) from error
    return StreamingResponse(chunks, status, headers, media_type=media.mime_type)
