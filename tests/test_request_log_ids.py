"""A request's log lines name the organisation and engagement its path names, and the next
request on the same connection does not inherit them."""

from __future__ import annotations

import io
import json
import logging
import uuid

import httpx
from fastapi import Depends, FastAPI

from shared.app import bind_request_log_ids
from shared.logging_json import JsonFormatter

log = logging.getLogger("tests.request_log_ids")


def _app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(bind_request_log_ids)])

    @app.get("/organizations/{organization_id}/engagements/{engagement_id}")
    async def engagement(organization_id: uuid.UUID, engagement_id: uuid.UUID) -> None:
        log.warning("reading the engagement")

    @app.get("/elsewhere")
    async def elsewhere() -> None:
        log.warning("somewhere else")

    return app


async def test_log_lines_carry_the_ids_the_path_names_and_only_for_that_request() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test", set()))
    log.addHandler(handler)
    organization_id, engagement_id = uuid.uuid4(), uuid.uuid4()
    try:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            path = f"/organizations/{organization_id}/engagements/{engagement_id}"
            assert (await client.get(path)).status_code == 200
            assert (await client.get("/elsewhere")).status_code == 200
    finally:
        log.removeHandler(handler)

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "reading the engagement"
    assert first["organization_id"] == str(organization_id)
    assert first["engagement_id"] == str(engagement_id)
    assert second["message"] == "somewhere else"
    assert "organization_id" not in second
    assert "engagement_id" not in second
