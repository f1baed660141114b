"""The one way a service builds its FastAPI app: telemetry, problem errors, auth, health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import CurrentPrincipal, TokenVerifier
from shared.db.session import session_scope
from shared.errors import PROBLEM_RESPONSES, Problem, install_problem_handlers
from shared.health import ReadinessCheck, health_router
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.telemetry import instrument_app, setup_telemetry

LifespanHook = Callable[[FastAPI], Awaitable[None]]


def create_service_app(
    runtime: ServiceRuntime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    version: str = "1",
    extra_checks: Mapping[str, ReadinessCheck] | None = None,
    on_startup: LifespanHook | None = None,
    on_shutdown: LifespanHook | None = None,
) -> FastAPI:
    settings = runtime.settings
    setup_telemetry(runtime.name, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup is not None:
            await on_startup(app)
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown(app)
            await runtime.stop()

    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        # ``/openapi.json`` stays whatever this says: frontends generate their clients from it.
        docs_url="/docs" if settings.serves_docs else None,
        redoc_url="/redoc" if settings.serves_docs else None,
        responses=PROBLEM_RESPONSES,
        generate_unique_id_function=operation_id,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)

    checks: dict[str, ReadinessCheck] = {}
    if runtime.has_database:
        checks["database"] = runtime.check_database
    checks["nats"] = runtime.check_nats
    checks.update(extra_checks or {})
    app.include_router(health_router(runtime.name, checks, settings.dependency_timeout_seconds))
    for router in routers:
        app.include_router(router)
    _register_problem_schema(app)
    instrument_app(app)
    return app


def operation_id(route: APIRoute) -> str:
    """The endpoint's name in camel case (``list_engagements``: ``listEngagements``): the name a
    frontend's generated client gives the method, the same whatever the path or service."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _register_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, object]:
        schema = original()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


async def scoped_session(
    runtime: Runtime, principal: CurrentPrincipal
) -> AsyncIterator[AsyncSession]:
    """A unit of work scoped to the caller's organisations: committed if the route succeeds."""
    async with session_scope(runtime.sessions, principal.scope) as session:
        yield session


# "function" scope: the commit happens before the response is sent, so a 2xx means committed.
SessionDep = Annotated[AsyncSession, Depends(scoped_session, scope="function")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]
