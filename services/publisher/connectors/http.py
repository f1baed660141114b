"""What every connector needs from HTTP: one way to call a platform and classify what went wrong.

A failure becomes exactly one of the four classes in ``base.py``:

- the request never reached the platform (connection refused, connect or pool timeout) or a read
  failed: ``RetryableError``, nothing happened;
- a write was sent but its answer was lost (read timeout, connection dropped, a 5xx, a 2xx whose
  body is not what the platform documents): ``UnknownOutcomeError``, check before retrying;
- the platform refused the token: ``AuthError``; it refused the content: ``ContentRejectedError``;
- it asked us to slow down (429 and its platform variants): ``RetryableError`` with
  ``retry_after`` from ``Retry-After`` (RFC 9110 §10.2.3: seconds or an HTTP date) or from the
  platform's reset headers.

The answer to every write sent during a post's turn (``services/publisher/pacing.py``) also tells
its account's pacer what the platform said of the account's rate limit.

Access tokens travel only in the ``Authorization`` header, never in a URL: URLs end up in logs
(httpx logs every request line at INFO) and error messages here name only the method and path.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from services.publisher import pacing
from services.publisher.connectors.base import (
    AuthError,
    ConnectorError,
    ContentRejectedError,
    MediaRef,
    PublishRequest,
    PublishStatus,
    RetryableError,
    UnknownOutcomeError,
)
from shared.rate_limits import retry_after_seconds

Model = TypeVar("Model", bound=BaseModel)
Result = TypeVar("Result")

# Given a failed response and whether the request was a write, the platform's own reading of it.
Classifier = Callable[[httpx.Response, bool], ConnectorError]

# The figures of a Meta usage header, each a percentage of the allowance.
_USAGE_FIGURES = frozenset({"call_count", "total_cputime", "total_time"})
# Errors raised before a single byte of the request left this process.
_NEVER_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def usage_percent(headers: httpx.Headers, *names: str) -> int | None:
    """The highest figure in Meta-style usage headers (``x-app-usage: {"call_count": 97, ...}``);
    at 100 the app is throttled. Business-use-case headers nest the figures per business id."""
    figures: list[int] = []
    for name in names:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            figures.extend(_usage_figures(json.loads(raw)))
        except ValueError:
            continue
    return max(figures, default=None)


def _usage_figures(value: object) -> Iterator[int]:
    if isinstance(value, list):
        for inner in value:
            yield from _usage_figures(inner)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key in _USAGE_FIGURES and isinstance(inner, int):
                yield inner
            elif isinstance(inner, dict | list):
                yield from _usage_figures(inner)


def regain_access_seconds(headers: httpx.Headers) -> float | None:
    """Meta's ``x-business-use-case-usage``: ``estimated_time_to_regain_access`` in minutes."""
    raw = headers.get("x-business-use-case-usage")
    if raw is None:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        entry["estimated_time_to_regain_access"]
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("estimated_time_to_regain_access"), int | float)
    ]
    return float(max(minutes)) * 60 if minutes else None


def classify_by_status(response: httpx.Response, write: bool, detail: str) -> ConnectorError:
    """The reading every platform shares; platforms refine it with their own error codes."""
    status = response.status_code
    if status == 401:
        return AuthError(detail, status=status)
    if status in (408, 429):
        return RetryableError(
            detail, status=status, retry_after=retry_after_seconds(response.headers)
        )
    if status >= 500:
        if write:
            return UnknownOutcomeError(detail, status=status)
        return RetryableError(
            detail, status=status, retry_after=retry_after_seconds(response.headers)
        )
    return ContentRejectedError(detail, status=status)


def _throttled_for(error: ConnectorError) -> float | None:
    """How long the platform asked the account to wait: a retryable refusal with a delay that
    is not a failure on its side (those say when the platform is back, not the account)."""
    if not isinstance(error, RetryableError) or (error.status or 0) >= 500:
        return None
    return error.retry_after


def malformed(write: bool, detail: str, *, status: int | None = None) -> ConnectorError:
    """A 2xx answer that is not what the platform documents: the write may have happened."""
    if write:
        return UnknownOutcomeError(detail, status=status)
    return RetryableError(detail, status=status)


class PlatformApi:
    """One platform's HTTP API on an injected client: sends, parses, classifies."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, classify: Classifier, *, name: str
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._classify = classify
        self.name = name

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}{path_or_url}"

    async def send(
        self,
        method: str,
        path_or_url: str,
        *,
        write: bool,
        accept: Callable[[httpx.Response], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; return its response when it succeeded (or ``accept`` says so)."""
        url = self.url(path_or_url)
        where = f"{self.name}: {method} {urlsplit(url).path}"
        try:
            response = await self.http.request(method, url, **kwargs)
        except (UnicodeEncodeError, httpx.InvalidURL) as error:
            # A header or a URL no HTTP request can carry (a stored token or account id with a
            # character stored before it was checked): nothing was sent, and sending again will
            # not help until the account is reconnected.
            raise AuthError(
                f"{self.name}: {method} was not sent: the connection's token or account id is "
                "not ASCII"
            ) from error
        except _NEVER_SENT as error:
            raise RetryableError(f"{where} was not sent: {type(error).__name__}") from error
        except httpx.TransportError as error:
            # Sent, but the answer was lost: a write may have been applied.
            message = f"{where} got no answer: {type(error).__name__}"
            raise (UnknownOutcomeError if write else RetryableError)(message) from error
        if response.is_success or (accept is not None and accept(response)):
            if write:
                pacing.observe(response.status_code, response.headers, None)
            return response
        refusal = self._classify(response, write)
        if write:
            pacing.observe(response.status_code, response.headers, _throttled_for(refusal))
        raise refusal

    async def fetch(
        self, method: str, path_or_url: str, model: type[Model], *, write: bool, **kwargs: Any
    ) -> Model:
        """Send and parse the documented answer; anything else is malformed."""
        response = await self.send(method, path_or_url, write=write, **kwargs)
        return parse(response, model, write=write, platform=self.name)

    async def get(
        self,
        path_or_url: str,
        model: type[Model],
        token: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Model:
        """Read with the account's token: the documented answer, parsed."""
        return await self.fetch(
            "GET",
            path_or_url,
            model,
            write=False,
            params=params,
            headers=bearer(token) | dict(headers or {}),
        )


def parse(response: httpx.Response, model: type[Model], *, write: bool, platform: str) -> Model:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        where = f"{platform}: {response.request.method} {response.request.url.path}"
        raise malformed(
            write,
            f"{where} answered {response.status_code} with an undocumented body",
            status=response.status_code,
        ) from error


def error_body(response: httpx.Response, model: type[Model]) -> Model | None:
    """The platform's documented error body, or None when the answer is something else (a
    proxy's HTML page, an empty body)."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        return None


def error_detail(response: httpx.Response) -> str:
    """The body's text, shortened: enough for an operator, never a whole page."""
    return f"{response.status_code} {response.text[:300]}"


@contextmanager
def nothing_published_yet(step: str) -> Iterator[None]:
    """Steps before the publishing call (media uploads, containers) create no post: a lost answer
    there is safe to retry, whatever the HTTP method was."""
    try:
        yield
    except UnknownOutcomeError as error:
        raise RetryableError(f"{step} interrupted before publishing: {error}") from error


async def poll(
    check: Callable[[], Awaitable[Result | None]], *, attempts: int, interval: float
) -> Result | None:
    """Ask ``check`` until it answers something, at most ``attempts`` times."""
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(interval)
        if (answer := await check()) is not None:
            return answer
    return None


async def media_chunks(
    http: httpx.AsyncClient, media: MediaRef, chunk_size: int
) -> AsyncIterator[bytes]:
    """The media file as chunks of ``chunk_size`` bytes, streamed from its URL.

    Checks the declared size, because the chunked upload protocols announce it first."""
    received = 0
    try:
        async with http.stream("GET", media.url) as response:
            if response.status_code in (404, 410):
                raise ContentRejectedError(f"media {media.url} is gone", status=404)
            if not response.is_success:
                raise RetryableError(f"media {media.url} answered {response.status_code}")
            async for chunk in response.aiter_bytes(chunk_size):
                received += len(chunk)
                yield chunk
    except httpx.TransportError as error:
        raise RetryableError(f"media {media.url} could not be read: {error!r}") from error
    if received != media.size_bytes:
        raise ContentRejectedError(
            f"media {media.url} has {received} bytes, {media.size_bytes} were declared"
        )


async def media_bytes(http: httpx.AsyncClient, media: MediaRef) -> bytes:
    """The whole media file, for platforms that take it in one request."""
    return b"".join([chunk async for chunk in media_chunks(http, media, 1024 * 1024)])


class UploadSession(Protocol):
    """A resumable upload on the platform: sends bytes from an offset, reports what it holds."""

    async def send(self, offset: int, data: bytes) -> int:
        """Send ``data`` starting at ``offset``; return how many bytes the platform now holds."""
        ...

    async def received(self) -> int:
        """Ask the platform how many bytes it holds."""
        ...


async def upload_resumably(
    chunks: AsyncIterator[bytes], session: UploadSession, *, max_resumes: int = 3
) -> None:
    """Send every chunk; when a chunk's answer is lost, ask what arrived and send the rest.

    Only the chunk in hand can be resent (the source is a stream), which is all that an
    interruption can lose with sequential chunks."""
    offset = 0
    async for chunk in chunks:
        end = offset + len(chunk)
        resumes = 0
        held = offset
        while held < end:
            try:
                held = await session.send(held, chunk[held - offset :])
            except UnknownOutcomeError:
                if resumes == max_resumes:
                    raise
                resumes += 1
                held = await session.received()
            if not offset <= held <= end:
                raise RetryableError(f"the upload holds {held} bytes, expected {offset}..{end}")
        offset = end


_TAG = re.compile(r"<[^>]+>")
_LINE_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


def normalized_text(text: str) -> str:
    """Text as platforms echo it back, for comparison: without markup (Mastodon answers HTML and
    splits a link over several spans, so tags vanish without a trace), links (X shortens them to
    t.co) and spacing differences."""
    text = html.unescape(_TAG.sub("", _LINE_BREAK.sub("\n", text)))
    return _SPACE.sub(" ", _URL.sub(" ", text)).strip()


def same_text(published: str | None, wanted: str) -> bool:
    return published is not None and normalized_text(published) == normalized_text(wanted)


def found_by_text(posts: Iterable[tuple[str, str | None]], wanted: str) -> PublishStatus:
    """Among recent posts (id, text as the platform shows it), the one that says ``wanted``: how
    a post whose answer was lost is found, on platforms that keep no idempotency key."""
    for post_id, text in posts:
        if same_text(text, wanted):
            return PublishStatus(state="published", platform_post_id=post_id)
    return PublishStatus(state="not_found")


def text_with_link(request: PublishRequest) -> str:
    """For platforms without a link field: the link ends the text, unless the text has it."""
    if request.link and request.link not in request.text:
        return f"{request.text}\n{request.link}".strip()
    return request.text
