"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.errors import RETRY_AFTER_SECONDS, problem_response

ReadinessCheck = Callable[[], Awaitable[None]]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    service: str


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    service: str
    checks: dict[str, str]


def health_router(
    service: str, checks: Mapping[str, ReadinessCheck], timeout_seconds: float
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        return Health(service=service)

    @router.get("/readyz", response_model=Readiness)
    async def readyz(request: Request) -> Readiness | JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout_seconds)
                results[name] = "ok"
            except Exception as error:  # any failure means "not ready", reported per check
                results[name] = f"unavailable: {type(error).__name__}"
        if all(result == "ok" for result in results.values()):
            return Readiness(service=service, checks=results)
        return problem_response(
            request,
            503,
            "not-ready",
            "Some dependencies are not reachable.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            checks=results,
        )

    return router
