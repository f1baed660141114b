"""An import stops reading its body at its row and error caps: the parsers pull no more lines than
they keep, and an upload far over the caps is answered before it is read whole (issue 15)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx

from services.content import importing
from shared.auth import Role
from tests.conftest import Platform
from tests.test_errors import assert_problem
from tests.test_streaming_bodies import MiB, Sent, send_until_answered
from tests.test_thin_thread import create_org

CSV_HEADER = b"title,kind,body\r\n"


def counted(lines: Iterator[bytes], pulled: list[int]) -> Iterator[bytes]:
    for line in lines:
        pulled[0] += len(line)
        yield line


def test_the_csv_parser_stops_reading_at_the_row_cap() -> None:
    pulled = [0]
    rows = (b"Post %d,text,ciao\r\n" % n for n in range(1_000_000))
    parsed = importing.parse_csv(counted(_chain(CSV_HEADER, rows), pulled))
    assert parsed.stopped_at_line == importing.MAX_ROWS + 2
    assert len(parsed.rows) == importing.MAX_ROWS
    assert parsed.errors[-1].reason.startswith(f"more than {importing.MAX_ROWS} posts")
    assert pulled[0] < 1_000_000, pulled


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def test_the_json_parser_stops_reading_at_the_error_cap() -> None:
    pulled = [0]
    items = (b'%s{"title": "", "kind": "text"}\n' % (b"," if n else b"") for n in range(100_000))
    parsed = importing.parse_json(counted(_chain(b"[\n", items), pulled))
    assert len(parsed.errors) == importing.MAX_ERRORS
    assert parsed.stopped_at_line == importing.MAX_ERRORS + 1
    assert pulled[0] < 100_000, pulled


async def test_an_import_far_over_its_caps_stops_reading_early(platform: Platform) -> None:
    organization_id = await create_org(platform)

    class Rows(Sent):
        def __init__(self, total: int, row: bytes) -> None:
            super().__init__(total, CSV_HEADER)
            self.row = row

        async def __aiter__(self) -> AsyncIterator[bytes]:
            self.sent += len(self.head)
            yield self.head
            block = self.row * (64 * 1024 // len(self.row))
            while self.sent < self.total:
                self.sent += len(block)
                yield block

    async def send(body: Rows, content_type: str = "text/csv") -> httpx.Response:
        return await platform.gateway.post(
            "/v1/content-items/import",
            params={"organization_id": organization_id},
            content=body,
            headers={**platform.auth(Role.EDITOR), "Content-Type": content_type},
        )

    # 40 MiB of posts: far over the rows cap, and 4 times the 10 MiB byte cap; reading stops at
    # the 5001st post (a 422 that says where), before the byte cap would have answered 413.
    refused = await send(Rows(40 * MiB, b"Post,text,ciao\r\n"))
    problem = assert_problem(refused, 422, "import-failed")
    assert problem["stopped_at_line"] == importing.MAX_ROWS + 2
    assert problem["truncated"] is True

    # Every row wrong: the list stops at the error cap, and so does reading.
    refused = await send(Rows(40 * MiB, b"Post,hologram,ciao\r\n"))
    problem = assert_problem(refused, 422, "import-failed")
    rows = problem["rows"]
    assert isinstance(rows, list)
    assert len(rows) == importing.MAX_ERRORS
    assert problem["stopped_at_line"] == importing.MAX_ERRORS + 1

    # Sent as a browser sends (watching for the answer), the body stops when the service
    # answers: it read the first rows, not the file.
    for row, stopped_at in (
        (b"Post,text,ciao\r\n", importing.MAX_ROWS + 2),
        (b"Post,hologram,ciao\r\n", importing.MAX_ERRORS + 1),
    ):
        early = await send_until_answered(
            platform.settings.ports.content,
            f"/content-items/import?organization_id={organization_id}",
            {**platform.auth(Role.EDITOR), "Content-Type": "text/csv"},
            Rows(200 * MiB, row),
        )
        assert (early.status, early.problem["stopped_at_line"]) == (422, stopped_at)
        assert early.sent < 16 * MiB, early.sent

    listed = await platform.gateway.get(
        "/v1/content-items",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.EDITOR),
    )
    assert listed.json() == []
    assert json.loads(refused.text)["detail"].endswith("nothing was imported")
