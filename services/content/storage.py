"""Where media files live: a local directory by default, an S3-compatible bucket by setting.

Both stores address a file by a key (``<organization id>/<media id>``); the database keeps the key,
checksum and type. The S3 store signs its requests with AWS Signature Version 4 itself and
addresses the bucket path-style, which AWS S3, MinIO and Ceph all accept.

Files go in and out in chunks: an upload is spooled to a file first (``spool_dir``), checked,
then handed over (renamed into place, or streamed to the bucket with its checksum); a download
is read as a byte range, one chunk at a time. Neither is ever held whole in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote, urlsplit

import httpx

from shared.errors import DependencyUnavailableError
from shared.settings import MediaSettings, Settings

CHUNK_BYTES = 256 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` of a file, both included (as in ``Content-Range``)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class SpooledFile:
    """An upload written to ``path`` whole: its size and SHA-256 as it arrived."""

    path: Path
    size: int
    sha256: str


class MediaStorage(Protocol):
    # Where uploads are spooled before they are stored (None: the system's temporary directory).
    spool_dir: Path | None

    async def put(self, key: str, spooled: SpooledFile, content_type: str) -> None: ...

    async def open(self, key: str, byte_range: ByteRange) -> AsyncIterator[bytes]:
        """The range's bytes in chunks; ``MediaMissingError`` before the first when absent."""
        ...

    async def delete(self, key: str) -> None: ...


class MediaMissingError(LookupError):
    """The database knows a file that the store does not have."""


async def file_chunks(file: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    """``length`` bytes of ``file`` from ``start``, read in a thread one chunk at a time."""
    await asyncio.to_thread(file.seek, start)
    remaining = length
    while remaining > 0:
        chunk = await asyncio.to_thread(file.read, min(CHUNK_BYTES, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self._root = root
        # Inside the store, so that a checked upload is renamed into place, not copied.
        self.spool_dir: Path | None = root / ".incoming"

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root.resolve()):
            raise ValueError(f"storage key {key!r} leaves the media directory")
        return path

    async def put(self, key: str, spooled: SpooledFile, content_type: str) -> None:
        await asyncio.to_thread(self._move, spooled.path, self._path(key))

    @staticmethod
    def _move(source: Path, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Moved aside and renamed, so a reader never sees half a file.
        partial = path.with_suffix(".partial")
        shutil.move(source, partial)
        partial.replace(path)

    async def open(self, key: str, byte_range: ByteRange) -> AsyncIterator[bytes]:
        try:
            file = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError as error:
            raise MediaMissingError(key) from error
        return self._chunks(file, byte_range)

    @staticmethod
    async def _chunks(file: BinaryIO, byte_range: ByteRange) -> AsyncIterator[bytes]:
        with file:
            async for chunk in file_chunks(file, byte_range.start, byte_range.length):
                yield chunk

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


class SigV4Signer:
    """AWS Signature Version 4 for one service and region (header-based authorisation).

    Signs requests without a query string, whose URL path is already percent-encoded (S3 signs
    the path as sent, without encoding it twice).
    """

    def __init__(self, access_key_id: str, secret_access_key: str, region: str, service: str):
        self._access_key_id = access_key_id
        self._secret = secret_access_key
        self._region = region
        self._service = service

    def headers(
        self,
        method: str,
        url: str,
        payload_hash: str,
        extra_headers: dict[str, str] | None = None,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """The headers to send: ``extra_headers`` plus host, date, payload hash, Authorization."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
        parts = urlsplit(url)
        if parts.query:
            raise ValueError("SigV4Signer signs requests without a query string")
        headers = {
            **{name.lower(): value.strip() for name, value in (extra_headers or {}).items()},
            "host": parts.netloc,
            "x-amz-content-sha256": payload_hash,
            "x-amz-date": amz_date,
        }
        signed = ";".join(sorted(headers))
        canonical_request = "\n".join(
            [
                method,
                parts.path or "/",
                "",
                "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
                signed,
                payload_hash,
            ]
        )
        scope = f"{amz_date[:8]}/{self._region}/{self._service}/aws4_request"
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        key = _hmac(("AWS4" + self._secret).encode(), amz_date[:8])
        for part in (self._region, self._service, "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self._access_key_id}/{scope},"
            f"SignedHeaders={signed},Signature={signature}"
        )
        return headers


class S3Storage:
    spool_dir: Path | None = None

    def __init__(self, settings: MediaSettings, timeout: float) -> None:
        self._base = f"{settings.s3_endpoint.rstrip('/')}/{settings.s3_bucket}"
        self._signer = SigV4Signer(
            settings.s3_access_key_id,
            settings.s3_secret_access_key.get_secret_value(),
            settings.s3_region,
            "s3",
        )
        self._timeout = timeout

    def _request(
        self,
        http: httpx.AsyncClient,
        method: str,
        key: str,
        payload_hash: str = EMPTY_SHA256,
        extra: dict[str, str] | None = None,
        content: AsyncIterator[bytes] | None = None,
    ) -> httpx.Request:
        url = f"{self._base}/{quote(key, safe='/')}"
        headers = self._signer.headers(method, url, payload_hash, extra)
        headers.pop("host")  # httpx sets the same value itself
        return http.build_request(method, url, headers=headers, content=content)

    async def put(self, key: str, spooled: SpooledFile, content_type: str) -> None:
        extra = {"content-type": content_type, "content-length": str(spooled.size)}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                with spooled.path.open("rb") as file:
                    request = self._request(
                        http, "PUT", key, spooled.sha256, extra, file_chunks(file, 0, spooled.size)
                    )
                    response = await http.send(request)
        except httpx.TransportError as error:
            raise DependencyUnavailableError("media-storage") from error
        _raise_for_status(response, key)

    async def open(self, key: str, byte_range: ByteRange) -> AsyncIterator[bytes]:
        http = httpx.AsyncClient(timeout=self._timeout)
        extra = {"range": f"bytes={byte_range.start}-{byte_range.end}"}
        try:
            response = await http.send(self._request(http, "GET", key, extra=extra), stream=True)
        except httpx.TransportError as error:
            await http.aclose()
            raise DependencyUnavailableError("media-storage") from error
        if not response.is_success:
            await response.aclose()
            await http.aclose()
            _raise_for_status(response, key)
        return self._chunks(http, response)

    @staticmethod
    async def _chunks(http: httpx.AsyncClient, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                yield chunk
        except httpx.TransportError as error:
            raise DependencyUnavailableError("media-storage") from error
        finally:
            await response.aclose()
            await http.aclose()

    async def delete(self, key: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                response = await http.send(self._request(http, "DELETE", key))
        except httpx.TransportError as error:
            raise DependencyUnavailableError("media-storage") from error
        if response.status_code != 404:
            _raise_for_status(response, key)


def _raise_for_status(response: httpx.Response, key: str) -> None:
    if response.status_code == 404:
        raise MediaMissingError(key)
    if not response.is_success:
        raise DependencyUnavailableError(
            "media-storage", f"the media store answered {response.status_code} for {key}"
        )


def media_storage(settings: Settings) -> MediaStorage:
    media = settings.media
    if media.storage == "s3":
        return S3Storage(media, settings.dependency_timeout_seconds * 6)
    root = Path(media.media_dir) if media.media_dir else Path(settings.data_dir) / "media"
    return LocalStorage(root)
