"""The connectors' shared HTTP plumbing: delays from rate-limit headers, failure classes,
lost answers, media streaming, resumable uploads and text matching."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from fastapi import FastAPI, Response
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from services.publisher.connectors.base import (
    AuthError,
    ContentRejectedError,
    MediaRef,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.connectors.http import (
    PlatformApi,
    classify_by_status,
    media_bytes,
    normalized_text,
    regain_access_seconds,
    same_text,
    upload_resumably,
    usage_percent,
)
from shared.rate_limits import parse_reset, parse_retry_after, retry_after_seconds
from tests.fakes.common import free_port, serve

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Created(BaseModel):
    id: str


def test_retry_after_is_seconds_or_an_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=90), usegmt=True), NOW) == 90
    assert parse_retry_after("soon", NOW) is None


@pytest.mark.parametrize(
    ("value", "delay"),
    [
        (str(int((NOW + timedelta(seconds=300)).timestamp())), 300),  # X, Vimeo: epoch seconds
        ("45", 45),  # a delay in seconds
        ("2026-11-26T12:00:30.019685Z", 30.019685),  # Mastodon: ISO 8601
        ("Thu, 26 Nov 2026 12:01:00 GMT", 60),  # an HTTP date
        (str(int((NOW - timedelta(seconds=5)).timestamp())), 0),  # already passed
    ],
)
def test_reset_headers_in_every_documented_form(value: str, delay: float) -> None:
    assert parse_reset(value, NOW) == pytest.approx(delay)


@given(st.integers(min_value=0, max_value=10**7))
def test_an_epoch_reset_is_the_delay_until_it(delay: int) -> None:
    epoch = str(int(NOW.timestamp()) + delay)
    assert parse_reset(epoch, NOW) == delay
    assert parse_retry_after(str(delay), NOW) == delay


@given(st.text(max_size=40))
def test_no_header_value_gives_a_negative_delay_or_an_exception(value: str) -> None:
    for parse in (parse_retry_after, parse_reset):
        delay = parse(value, NOW)
        assert delay is None or delay >= 0


def test_retry_after_wins_over_reset_headers() -> None:
    headers = httpx.Headers({"Retry-After": "7", "x-rate-limit-reset": "900"})
    assert retry_after_seconds(headers, NOW) == 7
    assert retry_after_seconds(httpx.Headers({"x-ratelimit-reset": "900"}), NOW) == 900
    assert retry_after_seconds(httpx.Headers(), NOW) is None


def test_meta_usage_headers() -> None:
    buc = {
        "123": [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 3,
                "total_time": 4,
                "estimated_time_to_regain_access": 12,
            }
        ]
    }
    headers = httpx.Headers(
        {
            "x-app-usage": json.dumps({"call_count": 40, "total_time": 97, "total_cputime": 5}),
            "x-business-use-case-usage": json.dumps(buc),
        }
    )
    assert usage_percent(headers, "x-app-usage") == 97
    assert usage_percent(headers, "x-app-usage", "x-business-use-case-usage") == 100
    assert regain_access_seconds(headers) == 720
    assert usage_percent(httpx.Headers({"x-app-usage": "not json"}), "x-app-usage") is None


@pytest.mark.parametrize(
    ("status", "write", "expected"),
    [
        (401, True, AuthError),
        (429, True, RetryableError),
        (408, True, RetryableError),
        (500, True, UnknownOutcomeError),
        (503, False, RetryableError),
        (400, True, ContentRejectedError),
        (422, False, ContentRejectedError),
    ],
)
def test_status_codes_map_to_the_four_classes(status: int, write: bool, expected: type) -> None:
    assert type(classify_by_status(httpx.Response(status), write, "detail")) is expected


@pytest.fixture
async def api() -> AsyncIterator[PlatformApi]:
    app = FastAPI()

    @app.post("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(1)
        return {"id": "1"}

    @app.get("/slow")
    async def slow_read() -> dict[str, str]:
        await asyncio.sleep(1)
        return {"id": "1"}

    @app.post("/garbled")
    async def garbled() -> Response:
        return Response(b"<html>ok</html>", media_type="text/html")

    @app.get("/media/{size}")
    async def media(size: int) -> Response:
        return Response(b"m" * size)

    @app.get("/broken-media")
    async def broken_media() -> Response:
        return Response(status_code=500)

    async with serve(app) as base_url, httpx.AsyncClient(timeout=0.3) as http:
        yield PlatformApi(http, base_url, lambda r, w: classify_by_status(r, w, "x"), name="t")


async def test_a_write_whose_answer_times_out_has_an_unknown_outcome(api: PlatformApi) -> None:
    with pytest.raises(UnknownOutcomeError):
        await api.fetch("POST", "/slow", Created, write=True)
    with pytest.raises(RetryableError):
        await api.fetch("GET", "/slow", Created, write=False)


async def test_an_undocumented_success_body_is_unknown_for_a_write(api: PlatformApi) -> None:
    with pytest.raises(UnknownOutcomeError, match="undocumented"):
        await api.fetch("POST", "/garbled", Created, write=True)


async def test_a_request_that_was_never_sent_is_retryable_even_for_a_write() -> None:
    async with httpx.AsyncClient(timeout=1) as http:
        nowhere = PlatformApi(
            http,
            f"http://127.0.0.1:{free_port()}",
            lambda r, w: classify_by_status(r, w, ""),
            name="t",
        )
        with pytest.raises(RetryableError, match="not sent"):
            await nowhere.fetch("POST", "/posts", Created, write=True)


async def test_media_are_read_whole_and_checked_against_their_declared_size(
    api: PlatformApi,
) -> None:
    url = api.url("/media/1500")
    assert (
        await media_bytes(api.http, MediaRef(url=url, mime_type="image/png", size_bytes=1500))
        == b"m" * 1500
    )
    with pytest.raises(ContentRejectedError, match="declared"):
        await media_bytes(api.http, MediaRef(url=url, mime_type="image/png", size_bytes=9))
    with pytest.raises(ContentRejectedError, match="gone"):
        await media_bytes(
            api.http, MediaRef(url=api.url("/nothing"), mime_type="image/png", size_bytes=9)
        )
    with pytest.raises(RetryableError):
        await media_bytes(
            api.http, MediaRef(url=api.url("/broken-media"), mime_type="image/png", size_bytes=9)
        )


class LossySession:
    """A platform that loses some answers, before or after keeping the bytes."""

    def __init__(self, losses: list[str]) -> None:
        self.held = b""
        self._losses = losses

    async def send(self, offset: int, data: bytes) -> int:
        assert offset == len(self.held), "a chunk must continue where the platform stands"
        loss = self._losses.pop(0) if self._losses else "none"
        if loss != "before":
            self.held += data
        if loss != "none":
            raise UnknownOutcomeError(f"answer lost {loss} keeping the bytes")
        return len(self.held)

    async def received(self) -> int:
        return len(self.held)


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@given(
    data=st.binary(min_size=1, max_size=2000),
    size=st.integers(min_value=1, max_value=700),
    losses=st.lists(st.sampled_from(["none", "before", "after"]), max_size=12),
)
def test_a_resumed_upload_delivers_every_byte_exactly_once(
    data: bytes, size: int, losses: list[str]
) -> None:
    session = LossySession(list(losses))
    asyncio.run(upload_resumably(chunks_of(data, size), session, max_resumes=len(losses)))
    assert session.held == data


def test_a_chunk_that_never_gets_through_leaves_the_outcome_unknown() -> None:
    session = LossySession(["before", "before", "before"])
    with pytest.raises(UnknownOutcomeError):
        asyncio.run(upload_resumably(chunks_of(b"abcdef", 2), session, max_resumes=2))
    assert session.held == b""


def test_mastodon_html_and_x_short_links_match_the_text_that_was_sent() -> None:
    sent = "Vendemmia 2026!\nPrenotate: https://laquercia.example/vendemmia & venite"
    mastodon = (
        '<p>Vendemmia 2026!<br />Prenotate: <a href="https://laquercia.example/vendemmia">'
        '<span class="invisible">https://</span><span class="">laquercia.example/vendemmia</span>'
        '<span class="invisible"></span></a> &amp; venite</p>'
    )
    x = "Vendemmia 2026!\nPrenotate: https://t.co/AbC123 & venite"

    assert same_text(mastodon, sent)
    assert same_text(x, sent)
    assert not same_text("Vendemmia 2025!", sent)
    assert not same_text(None, sent)
    assert normalized_text("  a \n\n b ") == "a b"
