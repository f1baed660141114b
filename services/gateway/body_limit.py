"""Request bodies are capped at the gateway: 413 problem+json before a service sees too much.

A declared ``Content-Length`` over the cap is refused before any of the body is read; a body
without one (chunked) is counted as it streams through and refused the moment it passes the cap,
so the gateway never holds more than the cap, whatever the caller sends. Routes that take a raw
body (media uploads, imports) stream it to their service and have their own, larger cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import problem_response
from shared.settings import GatewaySettings

LimitOf = Callable[[Scope], int]


class BodyTooLargeError(Exception):
    """Raised to whoever reads the body past the cap; the caller is answered 413."""


def takes_raw_body(route: BaseRoute) -> bool:
    """A route whose body is documented by hand as bytes (an upload or an import file)."""
    return isinstance(route, APIRoute) and "requestBody" in (route.openapi_extra or {})


def methods_of(routes: Iterable[BaseRoute]) -> frozenset[str]:
    """Every method some of ``routes`` answer."""
    return frozenset(
        method for route in routes if isinstance(route, APIRoute) for method in route.methods or ()
    )


def limit_by_route(routes: Iterable[BaseRoute], settings: GatewaySettings) -> LimitOf:
    """The upload cap on routes that take a raw body, the JSON cap everywhere else."""
    raw_body_routes = [route for route in routes if takes_raw_body(route)]
    # A request of another method (every read) goes to none of them: no path matched.
    raw_body_methods = methods_of(raw_body_routes)

    def limit_of(scope: Scope) -> int:
        if scope["method"] not in raw_body_methods:
            return settings.max_body_bytes
        for route in raw_body_routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return settings.max_upload_bytes
        return settings.max_body_bytes

    return limit_of


class BodyLimit:
    """ASGI middleware answering 413 to a body larger than ``limit_of(scope)``."""

    def __init__(self, app: ASGIApp, limit_of: LimitOf) -> None:
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            # Whatever the route makes of a body cut short (a failed parse, a service that lost
            # its upload) is not the caller's answer: the 413 is.
            if exceeded:
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not answered:
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        Request(scope),
        413,
        "payload-too-large",
        f"the body is larger than {limit} bytes",
        limit_bytes=limit,
    )
    await response(scope, receive, send)
