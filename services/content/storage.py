"""Where media files live: a local directory by default, an S3-compatible bucket by setting.

Both stores address a file by a key (``<organization id>/<media id>``); the database keeps the key,
checksum and type. The S3 store signs its requests with AWS Signature Version 4 itself and
addresses the bucket path-style, which AWS S3, MinIO and Ceph all accept.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

import httpx

from shared.errors import DependencyUnavailableError
from shared.settings import MediaSettings, Settings


class MediaStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


class MediaMissingError(LookupError):
    """The database knows a file that the store does not have."""


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root.resolve()):
            raise ValueError(f"storage key {key!r} leaves the media directory")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside and rename, so a reader never sees half a file.
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(path)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as error:
            raise MediaMissingError(key) from error

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
    def __init__(self, settings: MediaSettings, timeout: float) -> None:
        self._base = f"{settings.s3_endpoint.rstrip('/')}/{settings.s3_bucket}"
        self._signer = SigV4Signer(
            settings.s3_access_key_id,
            settings.s3_secret_access_key.get_secret_value(),
            settings.s3_region,
            "s3",
        )
        self._timeout = timeout

    async def _send(
        self, method: str, key: str, data: bytes = b"", content_type: str | None = None
    ) -> httpx.Response:
        url = f"{self._base}/{quote(key, safe='/')}"
        extra = {"content-type": content_type} if content_type else {}
        headers = self._signer.headers(method, url, hashlib.sha256(data).hexdigest(), extra)
        headers.pop("host")  # httpx sets the same value itself
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                return await http.request(method, url, headers=headers, content=data or None)
        except httpx.TransportError as error:
            raise DependencyUnavailableError("media-storage") from error

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        _raise_for_status(await self._send("PUT", key, data, content_type), key)

    async def get(self, key: str) -> bytes:
        response = await self._send("GET", key)
        _raise_for_status(response, key)
        return response.content

    async def delete(self, key: str) -> None:
        response = await self._send("DELETE", key)
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
