"""Per-principal rate limits at the gateway: a token bucket per caller and route class.

The caller is the verified token's subject; a request without a token, or with one that does
not verify, is counted against its client address, so a forged token cannot spend someone
else's budget. Routes fall in one class each: ``stream`` (live event streams), ``upload``
(routes taking a raw body, as ``body_limit`` knows them), ``write`` (POST, PUT, PATCH, DELETE)
and ``read`` (the rest); the health probes are never limited.

The token is verified once per request: the verdict is kept for the request's context, and the
gateway's ``TokenVerifier`` (``OncePerRequestVerifier``) answers the route's own check from it.

Buckets live in this process (one set per gateway replica) and are bounded: at most
``max_buckets``, the least recently used forgotten first, and a bucket that has refilled is
dropped as soon as it is seen, since a full bucket is what a new caller gets anyway.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.body_limit import methods_of, takes_raw_body
from shared.auth import Principal, TokenVerifier
from shared.errors import PROBLEM_MEDIA_TYPE, problem_response
from shared.settings import RateLimitSettings, TokenBucketSettings

RouteClass = Literal["read", "write", "upload", "stream"]
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A bucket that has been idle this much longer than it takes to refill is certainly full.
_IDLE_MARGIN_SECONDS = 1.0


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Verdict:
    """One request's answer: allowed or not, and what its headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
        ]
        if not self.allowed:
            headers.append((b"retry-after", str(self.retry_after_seconds).encode()))
        return headers


class TokenBuckets:
    """Token buckets by key, at most ``max_buckets`` of them."""

    def __init__(self, max_buckets: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_buckets = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: tuple[str, str], policy: TokenBucketSettings) -> Verdict:
        now = self._clock()
        rate, burst = policy.per_second, policy.burst
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = Bucket(tokens=float(burst), updated=now)
        else:
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        self._buckets[key] = bucket
        self._forget_idle(now, rate, burst)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return Verdict(
            allowed=allowed,
            limit=burst,
            remaining=int(bucket.tokens),
            reset_seconds=math.ceil((burst - bucket.tokens) / rate),
            retry_after_seconds=max(1, math.ceil((1.0 - bucket.tokens) / rate)),
        )

    def _forget_idle(self, now: float, rate: float, burst: int) -> None:
        """Drop the least recently used buckets while they have had time to refill (a few per
        call: the cost stays constant, and the cap bounds whatever is left)."""
        for _ in range(2):
            if not self._buckets:
                return
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.updated < burst / rate + _IDLE_MARGIN_SECONDS:
                return
            del self._buckets[key]


def _streams(route: BaseRoute) -> bool:
    return isinstance(route, APIRoute) and any(
        "text/event-stream" in answer.get("content", {}) for answer in route.responses.values()
    )


def _stream_routes(routes: Iterable[BaseRoute]) -> list[tuple[re.Pattern[str], set[str]]]:
    """(path pattern, methods) of the routes answering an event stream, included routers'
    routes too (FastAPI keeps those as route contexts, each with its full path)."""
    found = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for path, original in (
            [(context.path, context.original_route) for context in contexts()]
            if contexts is not None
            else [(getattr(route, "path", ""), route)]
        ):
            if _streams(original):
                assert isinstance(original, APIRoute)
                found.append((compile_path(path)[0], original.methods or set()))
    return found


def classify_by_route(routes: Iterable[BaseRoute]) -> Callable[[Scope], RouteClass]:
    """The route class of a request, from the route it goes to."""
    routes = list(routes)
    stream_routes = _stream_routes(routes)
    upload_routes = [route for route in routes if takes_raw_body(route)]
    # A read never goes to an upload route: its path is not matched against them.
    upload_methods = methods_of(upload_routes)

    def classify(scope: Scope) -> RouteClass:
        if any(
            scope["method"] in methods and pattern.match(scope["path"])
            for pattern, methods in stream_routes
        ):
            return "stream"
        if scope["method"] in upload_methods and any(
            route.matches(scope)[0] is Match.FULL for route in upload_routes
        ):
            return "upload"
        return "write" if scope["method"] in WRITE_METHODS else "read"

    return classify


# The current request's token and what verifying it gave: a principal or the refusal.
_verified: ContextVar[tuple[str, Principal | Exception] | None] = ContextVar(
    "gateway_verified_token", default=None
)


class OncePerRequestVerifier(TokenVerifier):
    """The gateway's verifier: a token the rate limiter verified for this request is not
    verified again by the route."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def verify(self, token: str) -> Principal:
        known = _verified.get()
        if known is not None and known[0] == token:
            if isinstance(known[1], Exception):
                raise known[1]
            return known[1]
        return await self._verifier.verify(token)


def _bearer_token(scope: Scope) -> str | None:
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class RateLimit:
    """ASGI middleware: 429 problem+json with ``Retry-After`` past a caller's budget."""

    def __init__(
        self,
        app: ASGIApp,
        settings: RateLimitSettings,
        classify: Callable[[Scope], RouteClass],
        verifier: TokenVerifier,
        buckets: TokenBuckets | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.classify = classify
        self.verifier = verifier
        self.buckets = buckets or TokenBuckets(settings.max_buckets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Whatever an earlier request in this context verified is not this request's.
        _verified.set(None)
        if scope["type"] != "http" or not self.settings.enabled or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        route_class = self.classify(scope)
        caller = await self._caller(scope)
        verdict = self.buckets.take((route_class, caller), getattr(self.settings, route_class))
        if not verdict.allowed:
            await _refuse(scope, receive, send, route_class, verdict)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *verdict.headers()]
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _caller(self, scope: Scope) -> str:
        """``sub:<subject>`` of a verified token, else ``addr:<client address>``."""
        token = _bearer_token(scope)
        if token is not None:
            outcome: Principal | Exception
            try:
                outcome = await self.verifier.verify(token)
            except Exception as refused:
                outcome = refused
            _verified.set((token, outcome))
            if isinstance(outcome, Principal):
                return f"sub:{outcome.subject}"
        client = scope.get("client")
        return f"addr:{client[0] if client else 'unknown'}"


async def _refuse(
    scope: Scope, receive: Receive, send: Send, route_class: RouteClass, verdict: Verdict
) -> None:
    response = problem_response(
        Request(scope),
        429,
        "rate-limited",
        f"Too many {route_class} requests; try again in {verdict.retry_after_seconds} s.",
        headers={name.decode(): value.decode() for name, value in verdict.headers()},
        route_class=route_class,
        limit=verdict.limit,
    )
    await response(scope, receive, send)


RATE_LIMITED_RESPONSE: dict[str, Any] = {
    "description": "Too many requests of this route's class by this caller; see Retry-After",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before the next request",
            "schema": {"type": "integer", "minimum": 1},
        },
        "RateLimit-Limit": {"schema": {"type": "integer"}},
        "RateLimit-Remaining": {"schema": {"type": "integer"}},
        "RateLimit-Reset": {"schema": {"type": "integer"}},
    },
    "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def install_rate_limits(app: FastAPI, settings: RateLimitSettings, routes: list[BaseRoute]) -> None:
    """Limit ``app``'s requests, verify each token once, and document the 429 on every route
    it limits."""
    verifier: TokenVerifier = app.state.token_verifier
    app.state.token_verifier = OncePerRequestVerifier(verifier)
    app.add_middleware(
        RateLimit, settings=settings, classify=classify_by_route(routes), verifier=verifier
    )
    if not settings.enabled:
        return
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path, item in schema.get("paths", {}).items():
            if path in UNLIMITED_PATHS:
                continue
            for operation in item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation["responses"].setdefault("429", RATE_LIMITED_RESPONSE)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
