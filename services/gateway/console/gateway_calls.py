"""The console's server-side reads: the gateway's own ``/v1`` routes, called in-process with the
caller's bearer token, so the same authentication, roles and organisation scoping answer the
console as answer any frontend (the console holds no privilege of its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from fastapi import Request

# A page's reads in flight at once, so one page opening stays well inside the caller's budget.
CONCURRENT_READS = 6
# The largest answer the console reads whole (a map picture at the console's width is far less).
MAX_ANSWER_BYTES = 4 * 1024 * 1024
INTERNAL_BASE_URL = "http://gateway.console"

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """One read's outcome: its JSON (or bytes), or the problem the route answered with."""

    status: int
    body: Any = None
    content: bytes = b""
    problem: dict[str, Any] | None = None
    # The list's next page (its Link rel=next's cursor), when there is one.
    cursor: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def detail(self) -> str:
        if self.problem is None:
            return ""
        return str(self.problem.get("detail") or self.problem.get("title") or self.status)


class GatewayCalls:
    """Reads of one console request, on behalf of its caller."""

    def __init__(self, request: Request) -> None:
        self._authorization = request.headers.get("authorization", "")
        self._language = request.headers.get("accept-language", "")
        self._transport = httpx.ASGITransport(app=request.app)
        self._limit = asyncio.Semaphore(CONCURRENT_READS)

    @property
    def signed_in(self) -> bool:
        return self._authorization.lower().startswith("bearer ")

    async def get(self, path: str, params: dict[str, str] | None = None) -> Answer:
        headers = {"Authorization": self._authorization}
        if self._language:
            headers["Accept-Language"] = self._language
        async with (
            self._limit,
            httpx.AsyncClient(transport=self._transport, base_url=INTERNAL_BASE_URL) as client,
        ):
            response = await client.get(path, params=params, headers=headers)
        return answer_of(response)

    async def all(self, reads: Iterable[Awaitable[T]]) -> list[T]:
        return list(await asyncio.gather(*reads))


def answer_of(response: httpx.Response) -> Answer:
    if len(response.content) > MAX_ANSWER_BYTES:
        problem = {"detail": f"the answer is larger than {MAX_ANSWER_BYTES} bytes"}
        return Answer(response.status_code, problem=problem)
    media_type = response.headers.get("content-type", "")
    if not response.is_success:
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text[:500] or str(response.status_code)}
        if not isinstance(problem, dict):
            problem = {"detail": str(problem)}
        return Answer(response.status_code, problem=problem)
    if "json" in media_type:
        return Answer(response.status_code, body=response.json(), cursor=_next_cursor(response))
    return Answer(response.status_code, content=response.content)


def _next_cursor(response: httpx.Response) -> str | None:
    following = response.links.get("next", {}).get("url")
    if not following:
        return None
    cursor: str | None = httpx.URL(following).params.get("cursor")
    return cursor
