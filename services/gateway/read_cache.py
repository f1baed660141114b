"""Answers to reads the gateway forwarded, kept for the same caller for at most a second.

A dashboard polls the same few reads with the same token over and over, and each costs the
gateway and the service about 5 CPU-ms (issue 18). So a service's answer to a read is kept under
a key that hashes the caller's ``Authorization`` header with everything else the answer may
depend on (method, service, raw path, query, ``Accept``, ``Accept-Language``): it is only ever
given back to a request carrying the same token, so the service, which computed it for that
token, stays the one that decides who sees what; the cache decides nothing.

What is kept: ``200`` answers with a JSON body of at most ``MAX_ANSWER_BYTES``, from
authenticated routes, without ``Set-Cookie`` and without ``Cache-Control`` forbidding it
(``no-store``, ``no-cache``, ``private``). Freshness, counted from when the service was asked:

- an answer is served for at most ``max_age`` seconds (``read_cache_seconds``, at most 1): a
  change committed at a service is visible through every gateway within it;
- any write through this gateway (``clear``, by ``WritesClearReads``) forgets every answer before
  it is forwarded and again once it is answered, and no call in flight meanwhile is kept: the
  caller reads its own writes at once.

The gateway's own composed reads (an engagement with its workflow's live state) are kept the
same way, under the same kind of key; their age counts from the oldest read they were composed
from (``Kept.as_of``).

Identical reads that miss together share one call to the service (single flight). A kept answer
read again in the second half of its life is asked for again in the background, and given
meanwhile, so a read polled steadily does not wait for the service every ``max_age``. A failure is
given to the requests already waiting on that call and is never kept; a waiter whose call gives
nothing to share (a streamed or uncacheable answer, a leader that left) asks the service itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.metrics import GATEWAY_READ_CACHE

log = logging.getLogger(__name__)

# Larger answers (long lists, exports) are rare and would crowd out the small reads that
# dashboards repeat; a streamed answer is never kept.
MAX_ANSWER_BYTES = 64 * 1024
# Bounds on what one gateway process holds: 16 MiB at most (3 % of its 512 Mi limit), and enough
# entries for a few thousand callers' dashboards within one second.
MAX_ENTRIES = 4_096
MAX_TOTAL_BYTES = 16 * 1024 * 1024
# What an entry costs besides its body and headers (the key, the objects holding it).
ENTRY_OVERHEAD_BYTES = 256
# Requests that ask for a conditional or partial answer go to the service as they are.
CONDITIONAL_HEADERS = ("if-none-match", "if-modified-since", "range", "if-range")
REFUSING_CACHE_CONTROL = ("no-store", "no-cache", "private")
# A request's own directives (RFC 9111, 5.2.1): the caller wants the service's answer, not one
# kept (a page reloaded by hand, a client that has just changed something elsewhere).
FRESH_REQUEST_DIRECTIVES = ("no-cache", "no-store", "max-age=0")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A kept answer read again after this share of ``max_age`` is asked for again in the background
# while it is still given: a read polled steadily never waits for the service once kept (the
# open loop's p99 was the miss's latency), and no answer is given older than ``max_age``.
REFRESH_AFTER = 0.5

Result = TypeVar("Result")
# What a read's leader got from the service, and what of it may be shared and kept (or None).
Fetch = Callable[[], Awaitable[tuple[Result, "Kept | None"]]]


@dataclass(frozen=True)
class Kept:
    """A service's ``200`` answer, as it was given to the caller."""

    body: bytes
    headers: tuple[tuple[str, str], ...]
    # For an answer the gateway composed from reads of its own: the clock time the oldest of
    # them was asked, when before the composing began (its age counts from then).
    as_of: float | None = None

    @property
    def size(self) -> int:
        return (
            len(self.body)
            + sum(len(name) + len(value) for name, value in self.headers)
            + ENTRY_OVERHEAD_BYTES
        )

    def response(self) -> Response:
        return Response(self.body, 200, dict(self.headers))


@dataclass(frozen=True)
class _Entry:
    answer: Kept
    asked_at: float


@dataclass(frozen=True)
class _Flight:
    """A call to the service for a key: the answer its waiters share, the writes' generation
    and the clock when it was asked."""

    answer: asyncio.Future[Kept | None]
    generation: int
    asked_at: float


def keepable(headers: Mapping[str, str], body: bytes) -> Kept | None:
    """The answer to keep from a ``200``'s headers and body, or None when it must not be."""
    if len(body) > MAX_ANSWER_BYTES or "set-cookie" in headers:
        return None
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not (content_type == "application/json" or content_type.endswith("+json")):
        return None
    cache_control = headers.get("cache-control", "").lower()
    if any(refusal in cache_control for refusal in REFUSING_CACHE_CONTROL):
        return None
    return Kept(body, tuple(headers.items()))


def asks_for_the_service(headers: Mapping[str, str]) -> bool:
    """Whether a read must reach the service: a conditional or partial request, or one whose
    ``Cache-Control`` (or ``Pragma``) says not to answer it from a cache."""
    if any(name in headers for name in CONDITIONAL_HEADERS):
        return True
    directives = headers.get("cache-control", "").lower().replace(" ", "")
    if any(wanted in directives.split(",") for wanted in FRESH_REQUEST_DIRECTIVES):
        return True
    return "no-cache" in headers.get("pragma", "").lower()


def cache_key(*parts: str) -> bytes:
    """A digest of the parts: the caller's token is not held in memory as it came."""
    digest = hashlib.blake2b(digest_size=32)
    for part in parts:
        digest.update(part.encode("latin-1", "replace"))
        digest.update(b"\0")
    return digest.digest()


class ReadCache:
    def __init__(
        self,
        max_age: float,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_TOTAL_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._kept: OrderedDict[bytes, _Entry] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Future[Kept | None]] = {}
        self._bytes = 0
        # Moved on by every write: a call sent before it is not kept.
        self._generation = 0
        # Background refreshes running (held here: the loop keeps only weak references).
        self._refreshing: set[asyncio.Task[object]] = set()

    @property
    def enabled(self) -> bool:
        return self.max_age > 0

    def may_answer(self, headers: Mapping[str, str]) -> bool:
        """Whether a read with these headers may be answered from here."""
        return self.enabled and not asks_for_the_service(headers)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        """A write is on its way or answered: every read asks the service again."""
        self._kept.clear()
        self._bytes = 0
        self._generation += 1
        # Reads from now on start their own call; those waiting keep waiting on theirs.
        self._in_flight.clear()

    def young(self, key: bytes) -> Kept | None:
        """The answer kept under ``key`` while in the first part of its life (before a read
        would ask for it again in the background), else None: for a route that looks its
        answer up before doing anything else, and asks ``read`` when this is None."""
        fresh = self._fresh(key) if self.enabled else None
        if fresh is None or fresh[1] >= self.max_age * REFRESH_AFTER:
            return None
        return self._given(key, fresh[0])

    async def read(self, key: bytes, fetch: Fetch[Result]) -> Result | Kept:
        """The kept answer under ``key`` if fresh, else the answer of a call in flight for
        it, else ``fetch``'s (kept when it says so)."""
        if not self.enabled:
            return (await fetch())[0]
        fresh = self._fresh(key)
        if fresh is not None:
            entry, age = fresh
            if age >= self.max_age * REFRESH_AFTER and key not in self._in_flight:
                self._refresh(key, fetch)
            return self._given(key, entry)
        in_flight = self._in_flight.get(key)
        if in_flight is not None:
            # A waiter that leaves (its client hung up) does not cancel the others' call.
            shared = await asyncio.shield(in_flight)
            if shared is not None:
                GATEWAY_READ_CACHE.add(1, {"outcome": "shared"})
                return shared
            GATEWAY_READ_CACHE.add(1, {"outcome": "miss"})
            return (await fetch())[0]
        GATEWAY_READ_CACHE.add(1, {"outcome": "miss"})
        return await self._fly(key, self._take_off(key), fetch)

    def _fresh(self, key: bytes) -> tuple[_Entry, float] | None:
        """The entry under ``key`` and its age, while younger than ``max_age``; an older one
        is forgotten."""
        entry = self._kept.get(key)
        if entry is None:
            return None
        age = self._clock() - entry.asked_at
        if age >= self.max_age:
            self._forget(key)
            return None
        return entry, age

    def _given(self, key: bytes, entry: _Entry) -> Kept:
        """``entry``'s answer, given again: the most recently read, and counted a hit."""
        self._kept.move_to_end(key)
        GATEWAY_READ_CACHE.add(1, {"outcome": "hit"})
        return entry.answer

    def _refresh(self, key: bytes, fetch: Fetch[Result]) -> None:
        """Ask for the answer under ``key`` again in the background; the kept one is given
        until the new one replaces it or it expires."""
        # In flight from now, not from when the task first runs: the reads already waiting
        # in the loop (64 connections' worth under load) would each start a refresh of their
        # own, every one a call to the service (issue 18).
        flight = self._take_off(key)
        refresh = asyncio.get_running_loop().create_task(self._fly(key, flight, fetch))
        self._refreshing.add(refresh)
        refresh.add_done_callback(self._refreshed)

    def _refreshed(self, refresh: asyncio.Task[object]) -> None:
        self._refreshing.discard(refresh)
        # A failed refresh keeps nothing; the next read after the kept answer expires asks
        # the service itself and gets the failure as any miss does.
        if not refresh.cancelled() and (error := refresh.exception()) is not None:
            log.debug("a background refresh failed: %r", error)

    def _take_off(self, key: bytes) -> _Flight:
        """A call for ``key`` in flight: reads of it from now on wait for its answer."""
        flight = _Flight(
            asyncio.get_running_loop().create_future(), self._generation, self._clock()
        )
        self._in_flight[key] = flight.answer
        return flight

    async def _fly(self, key: bytes, flight: _Flight, fetch: Fetch[Result]) -> Result:
        """``fetch``'s result; its answer shared with the reads waiting on ``flight`` and kept
        when it may be."""
        try:
            result, kept = await fetch()
        except Exception as error:
            flight.answer.set_exception(error)
            # Marked as seen: with no one waiting, asyncio would report it as never retrieved.
            flight.answer.exception()
            raise
        except BaseException:
            # This request was cancelled: those waiting on it ask the service themselves.
            flight.answer.set_result(None)
            raise
        finally:
            if self._in_flight.get(key) is flight.answer:
                del self._in_flight[key]
        flight.answer.set_result(kept)
        if kept is not None and flight.generation == self._generation:
            asked_at = flight.asked_at
            if kept.as_of is not None:
                asked_at = min(asked_at, kept.as_of)
            self._keep(key, _Entry(kept, asked_at))
        return result

    def _keep(self, key: bytes, entry: _Entry) -> None:
        self._forget(key)
        self._kept[key] = entry
        self._bytes += entry.answer.size
        while len(self._kept) > self.max_entries or self._bytes > self.max_bytes:
            _, oldest = self._kept.popitem(last=False)
            self._bytes -= oldest.answer.size

    def _forget(self, key: bytes) -> None:
        entry = self._kept.pop(key, None)
        if entry is not None:
            self._bytes -= entry.answer.size


class WritesClearReads:
    """Every request but a read clears ``cache`` before it reaches a route and again once it
    is answered (whatever its outcome), so its caller's next read reaches the service."""

    def __init__(self, app: ASGIApp, cache: ReadCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        self.cache.clear()
        try:
            await self.app(scope, receive, send)
        finally:
            self.cache.clear()
