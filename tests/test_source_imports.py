"""Imports: a CSV or JSON Lines file of mentions uploaded through the gateway into an import
source, all or nothing, bounded in bytes, rows and errors."""

from __future__ import annotations

import asyncio
import io
import json
import tracemalloc
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.sources import imports
from shared.auth import Role
from tests.conftest import Platform
from tests.test_source_webhooks import mentions_read, stored, wait_for_mentions
from tests.test_thin_thread import create_org

CSV_FILE = (
    "external_id,author,text,published_at,url,language,latitude,longitude,author_location\r\n"
    "r-1,anna.b,Ottimo vino a Montepulciano,2027-04-01T10:00:00+02:00,"
    "https://reviews.example/r-1,it,43.09,11.78,Siena\r\n"
    'r-2,luca,"Servizio lento, ma\r\nil panorama vale la visita",2027-04-02T12:30:00Z,,,,,\r\n'
    "\r\n"
    "r-3,sofia,Consigliato,2027-04-03T09:00:00Z,,en,,,\r\n"
)


async def import_source(platform: Platform, organization_id: str) -> str:
    response = await platform.gateway.post(
        "/v1/listening/sources",
        json={
            "organization_id": organization_id,
            "kind": "import",
            "name": "Last year's reviews export",
            "settings": {},
        },
        headers=platform.auth(Role.MANAGER),
    )
    assert response.status_code == 201, response.text
    assert response.json()["has_credentials"] is False
    source_id: str = response.json()["id"]
    return source_id


async def test_a_csv_file_is_imported_with_quoted_lines_and_coordinates(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    source_id = await import_source(platform, organization_id)
    response = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=("\ufeff" + CSV_FILE).encode(),
        headers={**platform.auth(Role.MANAGER), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"rows": 3, "mentions": 3}
    found = await wait_for_mentions(sessions, organization_id, 3)
    assert sorted(found) == ["r-1", "r-2", "r-3"]
    assert found["r-1"].source == "import"
    assert (found["r-1"].latitude, found["r-1"].longitude) == (43.09, 11.78)
    assert found["r-1"].author_location == "Siena"
    assert found["r-2"].text == "Servizio lento, ma\r\nil panorama vale la visita"
    assert found["r-2"].url is None
    assert await mentions_read(platform, source_id) == 3


async def test_a_jsonl_file_is_imported(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    source_id = await import_source(platform, organization_id)
    lines = [
        {
            "external_id": f"j-{number}",
            "author": "forum.user",
            "text": f"Messaggio {number} sul Palio di Siena",
            "published_at": "2027-06-30T18:00:00+02:00",
            "language": "it",
        }
        for number in range(4)
    ]
    content = "\n".join(json.dumps(line) for line in lines).encode() + b"\n\n"
    response = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=content,
        headers={**platform.auth(Role.MANAGER), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"rows": 4, "mentions": 4}
    found = await wait_for_mentions(sessions, organization_id, 4)
    assert sorted(found) == ["j-0", "j-1", "j-2", "j-3"]


async def test_a_file_with_bad_lines_lists_them_and_imports_nothing(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    source_id = await import_source(platform, organization_id)
    content = (
        b"external_id,author,text,published_at,latitude,longitude\n"
        b"ok-1,anna,Bene,2027-04-01T10:00:00Z,,\n"
        b"bad-1,anna,Senza fuso,2027-04-01T10:00:00,,\n"
        b"ok-2,anna,Bene,2027-04-01T10:00:00Z,,\n"
        b",anna,Senza id,2027-04-01T10:00:00Z,95,\n"
        b"bad-3,anna,troppe,2027-04-01T10:00:00Z,,,extra\n"
    )
    response = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=content,
        headers={**platform.auth(Role.MANAGER), "Content-Type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["lines"] == [3, 5, 6]
    fields = {error["field"] for error in problem["errors"]}
    assert {
        "body.line.3.published_at",
        "body.line.5.external_id",
        "body.line.5.latitude",
        "body.line.6.row",
    } <= fields
    assert problem["truncated"] is False

    valid_line = {
        "external_id": "x",
        "author": "a",
        "text": "t",
        "published_at": "2027-01-01T00:00:00Z",
    }
    broken_json = json.dumps(valid_line).encode() + b"\n{not json\n"
    response = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=broken_json,
        headers={**platform.auth(Role.MANAGER), "Content-Type": "application/jsonl"},
    )
    assert response.status_code == 422
    assert response.json()["lines"] == [2]

    await asyncio.sleep(1)
    assert await stored(sessions, organization_id) == {}
    assert await mentions_read(platform, source_id) == 0


async def test_reading_stops_at_the_limits(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    organization_id = await create_org(platform)
    source_id = await import_source(platform, organization_id)
    header = "external_id,author,text,published_at\n"
    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 5)
    six_rows = header + "".join(f"n-{n},anna,Testo,2027-04-01T10:00:00Z\n" for n in range(6))
    too_many = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=six_rows.encode(),
        headers={**platform.auth(Role.MANAGER), "Content-Type": "text/csv"},
    )
    assert too_many.status_code == 413
    assert too_many.json()["type"] == "urn:engage:problem:import-too-many-rows"

    monkeypatch.setattr(imports, "MAX_IMPORT_ERRORS", 3)
    all_bad = header + "".join(f"n-{n},anna,Testo,ieri\n" for n in range(5))
    stopped = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=all_bad.encode(),
        headers={**platform.auth(Role.MANAGER), "Content-Type": "text/csv"},
    )
    assert stopped.status_code == 422
    assert stopped.json()["lines"] == [2, 3, 4]
    assert stopped.json()["truncated"] is True

    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 200)
    too_large = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=(header + "l-1,anna," + "x" * 300 + ",2027-04-01T10:00:00Z\n").encode(),
        headers={**platform.auth(Role.MANAGER), "Content-Type": "text/csv"},
    )
    assert too_large.status_code == 413
    assert too_large.json()["type"] == "urn:engage:problem:payload-too-large"

    async def chunks() -> AsyncIterator[bytes]:
        yield header.encode()
        for _ in range(10):
            yield b"c-1,anna," + b"x" * 100 + b",2027-04-01T10:00:00Z\n"

    streamed = await platform.gateway.post(
        f"/v1/listening/sources/{source_id}/imports",
        content=chunks(),
        headers={**platform.auth(Role.MANAGER), "Content-Type": "text/csv"},
    )
    assert streamed.status_code == 413

    await asyncio.sleep(0.5)
    assert await stored(sessions, organization_id) == {}


async def test_only_managers_of_the_sources_organisation_import_into_an_import_source(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    source_id = await import_source(platform, organization_id)
    path = f"/v1/listening/sources/{source_id}/imports"
    content = CSV_FILE.encode()
    editor = await platform.gateway.post(
        path, content=content, headers={**platform.auth(Role.EDITOR), "Content-Type": "text/csv"}
    )
    assert editor.status_code == 403
    outsider = await platform.gateway.post(
        path,
        content=content,
        headers={
            **platform.auth(Role.MANAGER, orgs=[str(uuid.uuid4())]),
            "Content-Type": "text/csv",
        },
    )
    assert outsider.status_code == 404
    wrong_type = await platform.gateway.post(
        path,
        content=content,
        headers={**platform.auth(Role.MANAGER), "Content-Type": "application/pdf"},
    )
    assert wrong_type.status_code == 415
    webhook = await platform.gateway.post(
        "/v1/listening/sources",
        json={
            "organization_id": organization_id,
            "kind": "webhook",
            "name": "Partner",
            "settings": {},
            "credentials": "shared-secret",
        },
        headers=platform.auth(Role.MANAGER),
    )
    not_an_import = await platform.gateway.post(
        f"/v1/listening/sources/{webhook.json()['id']}/imports",
        content=content,
        headers={**platform.auth(Role.MANAGER), "Content-Type": "text/csv"},
    )
    assert not_an_import.status_code == 404


class ReadCounting(io.BytesIO):
    """A spooled file that remembers how far it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.furthest = 0

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self.furthest = max(self.furthest, self.tell())
        return chunk

    def read1(self, size: int | None = -1, /) -> bytes:
        chunk = super().read1(size)
        self.furthest = max(self.furthest, self.tell())
        return chunk


def test_checking_stops_reading_at_the_error_cap() -> None:
    file = ReadCounting(b"{not json\n" * 1_000_000)
    check = imports.check_file(file, imports.ImportFormat.JSONL)
    assert check.truncated
    assert len(check.errors) == imports.MAX_IMPORT_ERRORS
    assert check.errors[-1].line == imports.MAX_IMPORT_ERRORS
    # 100 lines of 10 bytes, and the read-ahead of one buffer: not the file's 10 MB.
    assert file.furthest < 64 * 1024, file.furthest


def test_checking_stops_reading_at_the_row_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "MAX_IMPORT_ROWS", 50)
    header = b"external_id,author,text,published_at\n"
    rows = b"".join(b"n-%d,anna,Testo,2027-04-01T10:00:00Z\n" % n for n in range(200_000))
    file = ReadCounting(header + rows)
    check = imports.check_file(file, imports.ImportFormat.CSV)
    assert check.too_many_rows
    assert check.rows == 50
    assert not check.errors
    assert file.furthest < 64 * 1024, file.furthest


def test_an_overlong_json_line_is_an_error_without_being_held() -> None:
    valid = {
        "external_id": "x",
        "author": "a",
        "text": "t",
        "published_at": "2027-01-01T00:00:00Z",
    }
    overlong = json.dumps({**valid, "text": "x" * (8 * 1024 * 1024)}).encode()
    file = io.BytesIO(json.dumps(valid).encode() + b"\n" + overlong + b"\n" + b"{bad\n")
    tracemalloc.start()
    try:
        check = imports.check_file(file, imports.ImportFormat.JSONL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(error.line, error.type) for error in check.errors] == [
        (2, "line_too_long"),
        (3, "json_invalid"),
    ]
    # The 8 MiB line was skipped a piece at a time.
    assert peak < 4 * 1024 * 1024, peak
