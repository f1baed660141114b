"""What every fake platform shares: serving over real HTTP, faults, the token check, media."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import itertools
import socket
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

VALID_TOKEN = "valid-token"
# Longer than the contract tests' client timeout (2.5 s), so the answer arrives too late.
SLOW_SECONDS = 3.5

Work = Callable[[], Awaitable["Answer | Response"]]


class Fault(StrEnum):
    EXPIRED_TOKEN = "expired_token"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    # The platform does the work, then answers after the client gave up.
    SLOW_AFTER_ACCEPT = "slow_after_accept"
    # The platform does the work, then answers a body that is not JSON.
    MALFORMED = "malformed"


@dataclass
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    """One request as the fake received it."""

    operation: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    payload: Any = None


class FakePlatform(ABC):
    """A platform's API in memory. Handlers run their work through ``handle``, which checks the
    token and applies the fault planned for the operation (``publish``, ``read``, ...)."""

    def __init__(self) -> None:
        self.faults: dict[str, list[Fault | None]] = {}
        self.seen: list[Seen] = []
        self.media: dict[str, bytes] = {}
        self._ids = itertools.count(1001)
        self.app = FastAPI()
        self.app.add_api_route("/media/{name}", self._serve_media, methods=["GET"])
        self.routes(self.app)

    @abstractmethod
    def routes(self, app: FastAPI) -> None: ...

    @abstractmethod
    def expired_token(self) -> Response: ...

    @abstractmethod
    def rate_limited(self) -> Response: ...

    @abstractmethod
    def server_error(self) -> Response: ...

    @abstractmethod
    def live_posts(self) -> list[str]:
        """Ids of the posts that exist on the platform now."""

    def next_id(self) -> str:
        return str(next(self._ids))

    def fail_next(self, operation: str, fault: Fault, times: int = 1, *, skip: int = 0) -> None:
        """Answer the next ``times`` requests of ``operation`` with ``fault``, after letting
        ``skip`` of them through."""
        self.faults.setdefault(operation, []).extend([None] * skip + [fault] * times)

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {VALID_TOKEN}"

    def requests(self, operation: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.operation == operation]

    async def handle(
        self,
        request: Request,
        operation: str,
        work: Work,
        *,
        payload: Any = None,
        authenticated: bool = True,
    ) -> Response:
        self.seen.append(
            Seen(
                operation,
                request.method,
                request.url.path,
                dict(request.query_params),
                {key.lower(): value for key, value in request.headers.items()},
                payload,
            )
        )
        queued = self.faults.get(operation)
        fault = queued.pop(0) if queued else None
        if fault is Fault.EXPIRED_TOKEN or (authenticated and not self.authorized(request)):
            return self.expired_token()
        if fault is Fault.RATE_LIMITED:
            return self.rate_limited()
        if fault is Fault.SERVER_ERROR:
            return self.server_error()
        outcome = await work()
        if fault is Fault.SLOW_AFTER_ACCEPT:
            await asyncio.sleep(SLOW_SECONDS)
        if isinstance(outcome, Response):
            return outcome
        if fault is Fault.MALFORMED:
            return Response(b'{"id": "12', outcome.status, media_type="application/json")
        if outcome.body is None:
            return Response(status_code=outcome.status, headers=outcome.headers)
        return JSONResponse(outcome.body, outcome.status, headers=outcome.headers)

    async def _serve_media(self, name: str) -> Response:
        if name not in self.media:
            return Response(status_code=404)
        return Response(self.media[name], media_type="application/octet-stream")


@dataclass
class FormBody:
    fields: dict[str, str]
    # name -> (content type, bytes)
    files: dict[str, tuple[str, bytes]]


async def read_form(request: Request) -> FormBody:
    """A urlencoded or multipart form body, parsed with the standard library."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        pairs = parse_qs(body.decode(), keep_blank_values=True)
        return FormBody({key: values[-1] for key, values in pairs.items()}, {})
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    form = FormBody({}, {})
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        if part.get_filename() is None:
            form.fields[name] = data.decode()
        else:
            form.files[name] = (part.get_content_type(), data)
    return form


async def form_fields(request: Request) -> dict[str, str]:
    return (await read_form(request)).fields


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Run ``app`` over real HTTP on a free local port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
