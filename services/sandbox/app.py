"""The sandbox platform's app: labelled as a simulation on every answer, state kept across runs.

It is not a data service: no database, no NATS, no events. It stands in for a social network so
that the product can publish, collect metrics and listen with no network at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.sandbox import admin, api, oauth
from services.sandbox.deps import Sandbox
from services.sandbox.limits import TrafficControl
from services.sandbox.state import Clock, PlatformState, utc_now
from shared.errors import install_problem_handlers
from shared.health import health_router
from shared.settings import Settings
from shared.telemetry import app_telemetry, instrument_app, setup_telemetry

TITLE = "Atlantide Engage SANDBOX platform (a local simulation, not a real social network)"


class SandboxLabel:
    """Adds ``X-Sandbox: true`` to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Sandbox", "true")
            await send(message)

        await self.app(scope, receive, labelled)


def state_file(settings: Settings) -> Path:
    return Path(settings.data_dir).expanduser() / "sandbox" / "state.json"


def build_app(settings: Settings, clock: Clock = utc_now) -> FastAPI:
    setup_telemetry("sandbox", settings)
    state = PlatformState(settings.sandbox, state_file(settings), clock)
    sandbox = Sandbox(state=state, traffic=TrafficControl(settings.sandbox))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.load()
        try:
            yield
        finally:
            state.save()

    app = FastAPI(title=TITLE, version="1", lifespan=lifespan, telemetry=app_telemetry())
    app.state.sandbox = sandbox
    install_problem_handlers(app)
    app.add_middleware(SandboxLabel)
    app.include_router(health_router("sandbox", {}, settings.dependency_timeout_seconds))
    for router in (api.router, oauth.router, admin.router):
        app.include_router(router)
    instrument_app(app, "sandbox")
    return app
