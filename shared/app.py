"""The one way a service builds its FastAPI app: telemetry, problem errors, auth, health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import CurrentPrincipal, TokenVerifier, current_principal
from shared.db.session import read_scope, session_scope
from shared.errors import PROBLEM_RESPONSES, Problem, install_problem_handlers
from shared.health import ReadinessCheck, health_router
from shared.logging_json import CONTEXT_FIELDS, bind_for_this_task
from shared.permissions import operation_id, require_entries
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.telemetry import app_telemetry, instrument_app, setup_telemetry

LifespanHook = Callable[[FastAPI], Awaitable[None]]
# httpx writes a line per request at INFO: one per forwarded read in the gateway (a JSON line, its
# secrets redacted, then printed again by ``engage up``), which cost more than the forwarding.
# The request metrics and traces already say it; a failure is logged where it is handled.
QUIET_LOGGERS = ("httpx",)


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
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

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
        dependencies=[Depends(bind_request_log_ids)],
        telemetry=app_telemetry(),
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
    require_entries(_authenticated_operations(app))
    _register_problem_schema(app)
    instrument_app(app, runtime.name)
    return app


async def bind_request_log_ids(request: Request) -> None:
    """The organisation and engagement a request's path names go into its log lines."""
    bind_for_this_task(
        **{field: request.path_params.get(field) for field in CONTEXT_FIELDS},
    )


def _authenticated_operations(app: FastAPI) -> list[str]:
    """The operations whose callers present a token: each needs its row in the permission
    matrix, or the service refuses to start."""
    # Each route as included, with the dependencies its routers add (the gateway's own routes
    # authenticate through their router's).
    return [
        operation_id(context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and _depends_on(context.dependant, current_principal)
    ]


def _depends_on(dependant: Dependant, call: object) -> bool:
    return any(
        dependency.call is call or _depends_on(dependency, call)
        for dependency in dependant.dependencies
    )


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


# Dependencies are coroutines, however trivial: FastAPI runs a plain function in its thread pool,
# a hand-off per dependency per request (tests/test_architecture.py checks every route).
async def get_runtime(request: Request) -> ServiceRuntime:
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


async def scoped_read_session(
    runtime: Runtime, principal: CurrentPrincipal
) -> AsyncIterator[AsyncSession]:
    """A read scoped to the caller's organisations, outside any transaction: for a route whose
    answer is one statement (``read_scope``); it cannot write."""
    async with read_scope(runtime.sessions, principal.scope) as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(scoped_read_session, scope="function")]


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]
