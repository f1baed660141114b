"""Bodies stream (issue 15): an upload goes to the media store, and a medium back to its reader,
in chunks, through the gateway and the content service, without either holding the file; a
caller who may not upload is refused before the body is read; downloads serve byte ranges; a cut
upload stores nothing and logs one line. Imports' caps: test_streaming_imports.py; the S3 store:
test_streaming_s3.py."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import struct
import tracemalloc
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.content import media_probe
from shared.auth import Role
from shared.media_links import MediaLinks
from tests.conftest import Platform, wait_until
from tests.test_content_media import _box, png
from tests.test_errors import assert_problem
from tests.test_thin_thread import create_org

MiB = 1024 * 1024


class Sent:
    """A request body that yields ``total`` bytes (``head`` first, then filler) and counts how
    many the client was asked for."""

    def __init__(self, total: int, head: bytes = b"", chunk: int = 64 * 1024) -> None:
        self.total = total
        self.head = head
        self.filler = b"\x00" * chunk
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            self.sent += len(self.head)
            yield self.head
        while self.sent < self.total:
            piece = self.filler[: self.total - self.sent]
            self.sent += len(piece)
            yield piece


def mp4_head(mdat_bytes: int) -> bytes:
    """An MP4's ``ftyp`` and the header of an ``mdat`` of ``mdat_bytes``: its ``moov`` comes
    after the media data, as many cameras write it (``moov_after``)."""
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isom")
    return ftyp + struct.pack(">I", 8 + mdat_bytes) + b"mdat"


def moov_after(width: int, height: int, seconds: float) -> bytes:
    duration = round(seconds * 1000)
    mvhd = _box(b"mvhd", b"\x00" * 4 + struct.pack(">IIII", 0, 0, 1000, duration) + b"\x00" * 80)
    tkhd = _box(
        b"tkhd",
        b"\x00\x00\x00\x07"
        + struct.pack(">IIIII", 0, 0, 1, 0, duration)
        + b"\x00" * 52
        + struct.pack(">II", width << 16, height << 16),
    )
    return _box(b"moov", mvhd + _box(b"trak", tkhd))


class VideoBody(Sent):
    """An MP4 of ``total`` bytes whose ``moov`` box comes last, after the media data."""

    def __init__(self, total: int) -> None:
        self.moov = moov_after(1920, 1080, 42.5)
        head = mp4_head(total - len(mp4_head(0)) - len(self.moov))
        super().__init__(total - len(self.moov), head, chunk=MiB)
        self.length = total
        self.digest = hashlib.sha256()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in super().__aiter__():
            self.digest.update(chunk)
            yield chunk
        self.digest.update(self.moov)
        self.sent += len(self.moov)
        yield self.moov


def media_dir(platform: Platform) -> Path:
    return Path(platform.settings.data_dir) / "media"


async def test_a_64_mib_video_streams_up_and_down_in_bounded_memory(platform: Platform) -> None:
    organization_id = await create_org(platform)
    body = VideoBody(64 * MiB)
    tracemalloc.start()
    try:
        response = await platform.gateway.post(
            "/v1/media",
            params={"organization_id": organization_id, "filename": "tour.mp4"},
            content=body,
            headers={
                **platform.auth(Role.EDITOR),
                "Content-Type": "video/mp4",
                "Content-Length": str(body.length),
            },
        )
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert response.status_code == 201, response.text
        media = response.json()
        digest, size = hashlib.sha256(), 0
        async with platform.gateway.stream(
            "GET",
            f"/v1/media/{media['id']}/content",
            headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
        ) as download:
            assert download.status_code == 200
            assert download.headers["x-content-type-options"] == "nosniff"
            assert download.headers["accept-ranges"] == "bytes"
            async for chunk in download.aiter_raw():
                digest.update(chunk)
                size += len(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert body.sent == body.length
    assert media["size_bytes"] == body.length == size
    assert media["sha256"] == body.digest.hexdigest() == digest.hexdigest()
    # Probed where it lies: the moov box after 64 MiB of media data still gives its facts.
    assert (media["width"], media["height"], media["duration_seconds"]) == (1920, 1080, 42.5)
    # Gateway, content service and client all run in this process: together they held a few
    # chunks at a time, not the file (holding it once would be 64 MiB).
    assert upload_peak < 8 * MiB, upload_peak
    assert download_peak < 8 * MiB, download_peak
    assert not any((media_dir(platform) / ".incoming").iterdir())


@dataclass
class EarlyAnswer:
    status: int
    problem: dict[str, Any]
    # How much of the body had gone out when the answer came.
    sent: int


async def send_until_answered(
    port: int, target: str, headers: dict[str, str], body: AsyncIterable[bytes]
) -> EarlyAnswer:
    """POST ``body`` as a browser does: sending while watching for the answer, and stopping
    when it comes. (httpx reads the answer only after sending the whole body.)"""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    chunked = "Content-Length" not in headers
    lines = [f"POST {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Transfer-Encoding: chunked"] if chunked else []
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    sent = 0
    try:
        async for chunk in body:
            if answer.done():
                break
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            sent += len(chunk)
            drained = asyncio.ensure_future(writer.drain())
            await asyncio.wait({drained, answer}, return_when=asyncio.FIRST_COMPLETED)
        head = (await asyncio.wait_for(answer, timeout=30)).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        length = int({name.lower(): value for name, value in fields.items()}["content-length"])
        problem: dict[str, Any] = json.loads(await reader.readexactly(length))
    finally:
        writer.close()
    return EarlyAnswer(status, problem, sent)


@pytest.mark.parametrize("direct", [False, True], ids=["through the gateway", "to the service"])
async def test_a_viewers_100_mib_upload_is_refused_before_its_body_is_read(
    platform: Platform, direct: bool
) -> None:
    organization_id = await create_org(platform)
    body = Sent(100 * MiB)
    port, prefix = (
        (platform.settings.ports.content, "")
        if direct
        else (platform.settings.ports.gateway, "/v1")
    )
    answer = await send_until_answered(
        port,
        f"{prefix}/media?organization_id={organization_id}&filename=big.mp4",
        {
            **platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
            "Content-Type": "video/mp4",
            "Content-Length": str(body.total),
        },
        body,
    )
    assert (answer.status, answer.problem["type"]) == (403, "urn:engage:problem:forbidden")
    # What went out before the answer: a few chunks, not the file.
    assert answer.sent < 16 * MiB, answer.sent
    # An httpx client, which reads the answer only after sending, gets the same 403.
    async with httpx.AsyncClient(timeout=30) as client:
        refused = await client.post(
            f"http://127.0.0.1:{port}{prefix}/media",
            params={"organization_id": organization_id, "filename": "big.mp4"},
            content=Sent(8 * MiB),
            headers={
                **platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
                "Content-Type": "video/mp4",
            },
        )
    assert_problem(refused, 403, "forbidden")


async def test_a_cut_upload_stores_nothing_and_logs_one_line(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    organization_id = await create_org(platform)

    class ClientGaveUpError(Exception):
        pass

    async def cut_short() -> AsyncIterator[bytes]:
        yield png(8, 8)
        for _ in range(8):
            yield b"\x00" * (256 * 1024)
        raise ClientGaveUpError

    caplog.set_level(logging.INFO)
    with pytest.raises(ClientGaveUpError):
        await platform.gateway.post(
            "/v1/media",
            params={"organization_id": organization_id, "filename": "cut.png"},
            content=cut_short(),
            headers={**platform.auth(Role.EDITOR), "Content-Type": "image/png"},
        )
    listed = await platform.gateway.get(
        "/v1/media", params={"organization_id": organization_id}, headers=platform.auth(Role.EDITOR)
    )
    assert listed.json() == []

    def content_lines() -> list[logging.LogRecord]:
        return [
            record
            for record in caplog.records
            if "client left" in record.getMessage() and record.name.startswith("services.content")
        ]

    async def content_saw_it() -> bool:
        return bool(content_lines())

    # The content service learns of the cut when its connection from the gateway closes, which
    # may be after the gateway has already answered the next request.
    await wait_until(content_saw_it, timeout=10)
    await asyncio.sleep(0.5)
    left = content_lines()
    assert len(left) == 1, [record.getMessage() for record in caplog.records]
    assert all(record.exc_info is None for record in caplog.records if record in left)
    assert not [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR or "ClientDisconnect" in record.getMessage()
    ]
    assert not any((media_dir(platform) / ".incoming").iterdir())


async def uploaded(platform: Platform, data: bytes) -> dict[str, str]:
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        "/v1/media",
        params={"organization_id": organization_id, "filename": "poster.png"},
        content=data,
        headers={**platform.auth(Role.EDITOR), "Content-Type": "image/png"},
    )
    assert response.status_code == 201, response.text
    media: dict[str, str] = response.json()
    return media


async def test_a_download_serves_the_byte_range_asked_for(platform: Platform) -> None:
    data = png(64, 64)
    size = len(data)
    media = await uploaded(platform, data)
    path = f"/v1/media/{media['id']}/content"
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[media["organization_id"]])

    async def get(range_header: str) -> httpx.Response:
        answer = await platform.gateway.get(path, headers={**viewer, "Range": range_header})
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["accept-ranges"] == "bytes"
        return answer

    cases = {
        "bytes=0-9": (0, 9),
        "bytes=10-": (10, size - 1),
        "bytes=-5": (size - 5, size - 1),
        "bytes=3-100000": (3, size - 1),
        # Several ranges: the first is served.
        "bytes=0-1, 5-6": (0, 1),
    }
    for header, (start, end) in cases.items():
        answer = await get(header)
        assert answer.status_code == 206, header
        assert answer.headers["content-range"] == f"bytes {start}-{end}/{size}", header
        assert answer.headers["content-length"] == str(end - start + 1), header
        assert answer.content == data[start : end + 1], header
        assert answer.headers["etag"] == f'"{media["sha256"]}"'

    for unsatisfiable in (f"bytes={size}-", "bytes=-0"):
        refused = await get(unsatisfiable)
        assert_problem(refused, 416, "range-not-satisfiable")
        assert refused.headers["content-range"] == f"bytes */{size}"
    # A range that does not parse, or in another unit, is ignored: the whole file.
    for ignored in ("bytes=abc", "lines=1-2", "bytes=9-3"):
        whole = await get(ignored)
        assert (whole.status_code, whole.content) == (200, data), ignored
    # A range of a file that changed since (another ETag in If-Range) is the whole new file.
    stale = await platform.gateway.get(
        path, headers={**viewer, "Range": "bytes=0-9", "If-Range": '"another"'}
    )
    assert (stale.status_code, stale.content) == (200, data)


async def test_a_public_link_serves_ranges_and_nosniff_too(platform: Platform) -> None:
    data = png(32, 32)
    media = await uploaded(platform, data)
    link = MediaLinks.from_settings(platform.settings).url(
        uuid.UUID(media["organization_id"]), uuid.UUID(media["id"])
    )
    async with httpx.AsyncClient(timeout=10) as anonymous:
        part = await anonymous.get(link, headers={"Range": "bytes=8-15"})
        assert part.status_code == 206
        assert part.content == data[8:16]
        assert part.headers["content-range"] == f"bytes 8-15/{len(data)}"
        assert part.headers["x-content-type-options"] == "nosniff"
        head = await anonymous.head(link, headers={"Range": "bytes=-4"})
        assert head.status_code == 206
        assert head.headers["content-length"] == "4"
        assert head.headers["x-content-type-options"] == "nosniff"
        refused = await anonymous.get(link, headers={"Range": f"bytes={len(data)}-"})
        assert_problem(refused, 416, "range-not-satisfiable")
        whole = await anonymous.get(link)
        assert (whole.status_code, whole.content) == (200, data)
        assert whole.headers["accept-ranges"] == "bytes"


def test_a_stored_file_is_probed_without_reading_it_whole(tmp_path: Path) -> None:
    moov = moov_after(1280, 720, 7)
    head = mp4_head(32 * MiB)
    path = tmp_path / "late-moov.mp4"
    with path.open("wb") as written:
        written.write(head)
        written.truncate(len(head) + 32 * MiB)
        written.seek(0, 2)
        written.write(moov)
    size = path.stat().st_size

    class Counting:
        def __init__(self, inner: object) -> None:
            self.inner = inner
            self.read_bytes = 0

        def read(self, n: int = -1) -> bytes:
            chunk: bytes = self.inner.read(n)  # type: ignore[attr-defined]
            self.read_bytes += len(chunk)
            return chunk

        def seek(self, offset: int, whence: int = 0) -> int:
            position: int = self.inner.seek(offset, whence)  # type: ignore[attr-defined]
            return position

    with path.open("rb") as file:
        counting = Counting(file)
        found = media_probe.probe_file(counting, size)  # type: ignore[arg-type]
    assert found == media_probe.Probe("video/mp4", 1280, 720, 7.0)
    assert counting.read_bytes < 512 * 1024
