"""The S3 media store streams too (issue 15): a spooled file goes up, and byte ranges come down
in bounded chunks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from services.content.storage import (
    CHUNK_BYTES,
    ByteRange,
    MediaMissingError,
    S3Storage,
    SpooledFile,
)
from shared.settings import MediaSettings
from tests.conftest import _serve as serve
from tests.conftest import free_port


def fake_s3() -> tuple[FastAPI, dict[str, bytes]]:
    """A bucket that keeps objects in a dict and checks what S3 checks of a PUT: a declared
    length (S3 refuses chunked bodies without it) and the payload hash the request was signed
    with."""
    objects: dict[str, bytes] = {}

    async def object_route(request: StarletteRequest) -> StarletteResponse:
        key = request.path_params["key"]
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        if request.method == "PUT":
            body = await request.body()
            assert request.headers["content-length"] == str(len(body))
            assert "transfer-encoding" not in request.headers
            assert request.headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
            objects[key] = body
            return StarletteResponse(status_code=200)
        if key not in objects:
            return StarletteResponse(b"<Error><Code>NoSuchKey</Code></Error>", 404)
        if request.method == "DELETE":
            del objects[key]
            return StarletteResponse(status_code=204)
        data = objects[key]
        first, last = request.headers["range"].removeprefix("bytes=").split("-")
        return StarletteResponse(data[int(first) : int(last) + 1], 206)

    app = FastAPI()
    app.router.routes.append(
        Route("/media/{key:path}", object_route, methods=["GET", "PUT", "DELETE"])
    )
    return app, objects


async def test_the_s3_store_streams_a_spooled_file_up_and_ranges_down(tmp_path: Path) -> None:
    app, objects = fake_s3()
    port = free_port()
    server, task = await serve(app, port)
    try:
        settings = MediaSettings(
            storage="s3",
            s3_endpoint=f"http://127.0.0.1:{port}",
            s3_bucket="media",
            s3_access_key_id="key",
            s3_secret_access_key=SecretStr("secret"),
        )
        store = S3Storage(settings, timeout=10)
        data = bytes(range(256)) * (3 * 4096 + 7)
        path = tmp_path / "spooled"
        path.write_bytes(data)
        spooled = SpooledFile(path, len(data), hashlib.sha256(data).hexdigest())
        await store.put("org/one", spooled, "video/mp4")
        assert objects["org/one"] == data

        chunks = [chunk async for chunk in await store.open("org/one", ByteRange(5, 1_000_004))]
        assert b"".join(chunks) == data[5:1_000_005]
        assert max(len(chunk) for chunk in chunks) <= CHUNK_BYTES

        with pytest.raises(MediaMissingError):
            await store.open("org/other", ByteRange(0, 9))
        await store.delete("org/one")
        assert objects == {}
        await store.delete("org/one")  # already gone: no error
    finally:
        server.should_exit = True
        await task
