"""Calls from the gateway to the data services, on behalf of the caller.

The caller's bearer token travels with each call, so every service checks it, enforces roles and
scopes its queries itself. A service's problem document is passed back to the caller unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx
from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect

from services.gateway.read_cache import (
    Kept,
    ReadCache,
    cache_key,
    keepable,
)
from shared.errors import PROBLEM_TYPE_PREFIX, DependencyUnavailableError, ProblemError
from shared.keep_alive import ConnectionLanes
from shared.paging import FORWARDED_PREFIX_HEADER
from shared.settings import ServiceName, Settings
from shared.telemetry import current_trace_headers

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)
# A composed read: its answer, and the clock time its oldest part was read (None: not kept).
Compose = Callable[[], Awaitable[tuple[BaseModel, float | None]]]
# A media answer's 416 keeps its Content-Range (the file's size) and its other media headers.
PASSED_THROUGH_HEADERS = frozenset(
    {
        "retry-after",
        "www-authenticate",
        "content-range",
        "accept-ranges",
        "x-content-type-options",
    }
)
# What a forwarded request carries to the service besides the trace context.
FORWARDED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "content-length",
    "accept",
    "accept-language",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "range",
    "if-range",
)
# Connection-level headers are the gateway's own: never copied from a service's answer.
HOP_BY_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "server", "date"}
)
# An answer up to this size is read whole and sent in one piece; a larger one (a media file, an
# export) is streamed through without being held in the gateway's memory.
BUFFERED_ANSWER_BYTES = 256 * 1024


class ServiceClient:
    def __init__(self, name: str, lanes: ConnectionLanes, base_url: str, reads: ReadCache) -> None:
        self.name = name
        self._lanes = lanes
        self._base_url = base_url.rstrip("/")
        self._reads = reads

    async def call(
        self,
        request: Request,
        method: str,
        path: str,
        returns: type[Model],
        *,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
        cached: bool = True,
    ) -> Model:
        """Call the service on the caller's behalf; a problem answer is raised as its own.

        With ``cached``, a read's answer may come from the read cache: the caller's own, at most
        ``read_cache_seconds`` old."""
        authorization = request.headers.get("Authorization", "")
        if cached and method == "GET" and body is None and self._reads.may_answer(request.headers):
            query = str(httpx.QueryParams(params)) if params else ""
            key = cache_key(self.name, "call", authorization, method, path, query)
            answer = await self._reads.read(
                key, lambda: self._call(authorization, method, path, None, params)
            )
        else:
            answer, _ = await self._call(authorization, method, path, body, params)
        return returns.model_validate_json(answer.body if isinstance(answer, Kept) else answer)

    async def _call(
        self,
        authorization: str,
        method: str,
        path: str,
        body: BaseModel | None,
        params: dict[str, str] | None,
    ) -> tuple[bytes, Kept | None]:
        headers = {"Authorization": authorization}
        headers.update(current_trace_headers())
        lane = await self._lanes.acquire()
        try:
            response = await lane.request(
                method,
                self._base_url + path,
                headers=headers,
                params=params,
                # Only what the caller sent: a partial edit must not turn absent fields into nulls.
                json=body.model_dump(mode="json", exclude_unset=True) if body is not None else None,
            )
        except httpx.TransportError as error:
            raise self._unreachable() from error
        finally:
            self._lanes.release(lane)
        if not response.is_success:
            raise _problem_from(self.name, response)
        kept = keepable(response.headers, response.content) if response.status_code == 200 else None
        return response.content, kept

    async def aclose(self) -> None:
        await self._lanes.aclose()

    def _unreachable(self) -> DependencyUnavailableError:
        return DependencyUnavailableError(self.name, f"the {self.name} service is not reachable")

    async def forward(self, request: Request, prefix: str, *, cached: bool = False) -> Response:
        """Send the caller's request, less the gateway's path ``prefix``, to the service as it
        came and give back the service's answer.

        Bodies stream both ways; a problem answer is raised as the service's own problem. With
        ``cached``, a ``GET``'s answer may come from the read cache: the caller's own, at most
        ``read_cache_seconds`` old."""
        if cached and request.method == "GET" and self._reads.may_answer(request.headers):
            key = _request_key(self.name, "forward", request)
            answer = await self._reads.read(key, lambda: self._forward(request, prefix))
            return answer.response() if isinstance(answer, Kept) else answer
        response, _ = await self._forward(request, prefix)
        return response

    async def _forward(self, request: Request, prefix: str) -> tuple[Response, Kept | None]:
        path = _encoded_path(request).removeprefix(prefix)
        headers = {
            name: value
            for name in FORWARDED_REQUEST_HEADERS
            if (value := request.headers.get(name)) is not None
        }
        headers.update(current_trace_headers())
        headers[FORWARDED_PREFIX_HEADER] = prefix
        has_body = "content-length" in headers or "transfer-encoding" in request.headers
        lane = await self._lanes.acquire()
        try:
            upstream = await lane.send(
                lane.build_request(
                    request.method,
                    httpx.URL(self._base_url + path, query=request.scope["query_string"] or None),
                    headers=headers,
                    content=request.stream() if has_body else None,
                ),
                stream=True,
            )
        except httpx.TransportError as error:
            self._lanes.release(lane)
            raise self._unreachable() from error
        except ClientDisconnect:
            self._lanes.release(lane)
            # The caller hung up mid-body; the service sees its request cut short too.
            log.info("%s %s: the client left before the body's end", request.method, path)
            raise ProblemError(400, "body-incomplete", "the connection closed mid-body") from None
        except BaseException:
            self._lanes.release(lane)
            raise
        answer_headers = {
            name: value
            for name, value in upstream.headers.items()
            if name.lower() not in HOP_BY_HOP_HEADERS
        }
        length = upstream.headers.get("content-length")
        if upstream.status_code >= 400 or (
            length is not None and length.isdigit() and int(length) <= BUFFERED_ANSWER_BYTES
        ):
            try:
                await upstream.aread()
            finally:
                await upstream.aclose()
                self._lanes.release(lane)
            if upstream.status_code >= 400:
                raise _problem_from(self.name, upstream)
            kept = (
                keepable(answer_headers, upstream.content) if upstream.status_code == 200 else None
            )
            # The service's bytes as they came: its answer is already the route's schema.
            return Response(upstream.content, upstream.status_code, answer_headers), kept

        self._lanes.detach()

        async def close() -> None:
            await upstream.aclose()
            await self._lanes.return_detached(lane)

        return StreamingResponse(
            upstream.aiter_raw(),
            upstream.status_code,
            answer_headers,
            background=BackgroundTask(close),
        ), None


def _request_key(owner: str, kind: str, request: Request) -> bytes:
    """The read cache's key for ``request``'s answer, forwarded to the service ``owner`` or
    composed by the gateway: everything the answer may depend on."""
    headers = request.headers
    return cache_key(
        owner,
        kind,
        headers.get("authorization", ""),
        request.method,
        _encoded_path(request),
        request.scope["query_string"].decode("latin-1"),
        headers.get("accept", ""),
        headers.get("accept-language", ""),
    )


def _encoded_path(request: Request) -> str:
    """The path as the caller encoded it: decoding it first would turn an escaped "/" inside a
    segment into a separator. (``raw_path`` is optional in ASGI, and some clients' test
    transports put the query string in it.)"""
    raw: bytes | None = request.scope.get("raw_path")
    if not raw:
        return request.url.path
    return raw.split(b"?", 1)[0].decode("latin-1")


def _problem_from(service: str, response: httpx.Response) -> ProblemError:
    if response.status_code >= 500:
        return DependencyUnavailableError(
            service, f"the {service} service failed ({response.status_code})"
        )
    try:
        problem: dict[str, Any] = response.json()
        kind = str(problem.pop("type", "")).removeprefix(PROBLEM_TYPE_PREFIX) or "http-error"
        for echoed in ("status", "instance"):
            problem.pop(echoed, None)
        return ProblemError(
            response.status_code,
            kind,
            problem.pop("detail", None),
            title=problem.pop("title", None),
            headers={
                key: value
                for key, value in response.headers.items()
                if key.lower() in PASSED_THROUGH_HEADERS
            },
            **problem,
        )
    except (ValueError, AttributeError):
        return ProblemError(response.status_code, "http-error", response.text[:500])


@dataclass(frozen=True)
class Services:
    """One client per data service, each with its own kept-alive connections, and the read
    cache they share."""

    clients: dict[ServiceName, ServiceClient]
    reads: ReadCache

    @classmethod
    def connect(
        cls, settings: Settings, connections: int, names: Iterable[ServiceName]
    ) -> Services:
        """A client per service, each with up to ``connections`` kept-alive connections."""
        timeout = settings.dependency_timeout_seconds * 2
        reads = ReadCache(settings.gateway.read_cache_seconds)
        return cls(
            {
                name: ServiceClient(
                    name, ConnectionLanes(connections, timeout), settings.service_url(name), reads
                )
                for name in names
            },
            reads,
        )

    async def composed_read(self, request: Request, compose: Compose) -> Response:
        """The answer of a gateway route that composes reads of its own (``compose``: the
        answer, and when its oldest part was read, or None when it is not to be kept), kept by
        the read cache like a forwarded read for the same caller, path and query, its age
        counted from that oldest part."""

        async def fetch() -> tuple[Response, Kept | None]:
            answer, as_of = await compose()
            headers = {"content-type": "application/json"}
            body = answer.model_dump_json().encode()
            kept = keepable(headers, body) if as_of is not None else None
            response = Response(body, 200, headers)
            return response, (replace(kept, as_of=as_of) if kept else None)

        if not self.reads.may_answer(request.headers):
            return (await fetch())[0]
        answer = await self.reads.read(_request_key("gateway", "composed", request), fetch)
        return answer.response() if isinstance(answer, Kept) else answer

    def young_composed_read(self, request: Request) -> Response | None:
        """``composed_read``'s kept answer to ``request`` while young (``ReadCache.young``),
        without composing anything; None when the route must be run."""
        if not self.reads.may_answer(request.headers):
            return None
        kept = self.reads.young(_request_key("gateway", "composed", request))
        return kept.response() if kept is not None else None

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def client(self, name: ServiceName) -> ServiceClient:
        return self.clients[name]

    @property
    def strategy(self) -> ServiceClient:
        return self.clients["strategy"]

    @property
    def content(self) -> ServiceClient:
        return self.clients["content"]

    @property
    def publisher(self) -> ServiceClient:
        return self.clients["publisher"]
