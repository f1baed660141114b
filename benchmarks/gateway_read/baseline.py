"""The baseline: a bare uvicorn process serving one trivial JSON route of a one-route app."""

from __future__ import annotations

from fastapi import FastAPI

baseline_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@baseline_app.get("/v1/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
