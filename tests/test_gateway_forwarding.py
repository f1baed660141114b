"""The gateway forwards each service's routes from the service's own declaration: an endpoint
added to a service is on the gateway, documented and answered, without a line of gateway code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from services.gateway.api import COMPOSED, SERVICE_APIS
from services.gateway.app import build_app as build_gateway
from services.gateway.clients import ServiceClient
from services.gateway.forwarding import API_PREFIX, ServiceApi
from services.listening.app import ROUTERS as LISTENING_ROUTERS
from shared.app import create_service_app
from shared.auth import CurrentPrincipal, Role, issue_dev_token
from shared.permissions import EVERYONE, PERMISSIONS
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.conftest import _serve, free_port

ROOT = Path(__file__).resolve().parents[1]


class Doubled(BaseModel):
    doubled: int
    asked_by: str


probes = APIRouter(prefix="/listening/probes", tags=["listening"])


@probes.get("/{number}", response_model=Doubled, summary="Double a number (any role)")
async def double_number(number: int, principal: CurrentPrincipal) -> Doubled:
    return Doubled(doubled=number * 2, asked_by=principal.subject)


async def test_an_endpoint_added_to_a_service_is_served_by_the_gateway(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its one line besides the route: who may call it, in the permission matrix.
    monkeypatch.setitem(PERMISSIONS, "doubleNumber", EVERYONE)
    listening_routers = [*LISTENING_ROUTERS, probes]
    port, gateway_port = free_port(), free_port()
    urls = settings.service_urls.model_copy(update={"listening": f"http://127.0.0.1:{port}"})
    scoped = settings.model_copy(update={"service_urls": urls})
    listening = create_service_app(
        ServiceRuntime("listening", scoped, database=False), listening_routers, title="listening"
    )
    gateway = build_gateway(scoped, [ServiceApi("listening", listening_routers)])
    token = issue_dev_token(scoped, "pm", [Role.MANAGER], ["*"])
    servers = [await _serve(listening, port), await _serve(gateway, gateway_port)]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway_port}") as client:
            answered = await client.get(
                "/v1/listening/probes/21", headers={"Authorization": f"Bearer {token}"}
            )
            refused = await client.get(
                "/v1/listening/probes/many", headers={"Authorization": f"Bearer {token}"}
            )
            anonymous = await client.get("/v1/listening/probes/21")
            document = (await client.get("/openapi.json")).json()
            docs_page = await client.get("/docs")
    finally:
        for server, task in servers:
            server.should_exit = True
            await task

    assert answered.status_code == 200, answered.text
    assert answered.json() == {"doubled": 42, "asked_by": "pm"}
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "path.number"
    assert anonymous.status_code == 401
    operation = document["paths"]["/v1/listening/probes/{number}"]["get"]
    assert operation["operationId"] == "doubleNumber"
    assert operation["summary"] == "Double a number (any role)"
    assert {"401", "403", "404", "422"} <= operation["responses"].keys()
    assert operation["security"]
    assert docs_page.status_code == 200
    assert "swagger-ui" in docs_page.text


def test_the_committed_openapi_document_is_the_gateways(settings: Settings) -> None:
    """``docs/openapi.json`` is the frontends' contract: regenerate it with
    ``.venv/bin/python -m engage openapi > docs/openapi.json`` when the API changes."""
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == build_gateway(settings).openapi()


def test_every_operation_has_a_unique_method_name_and_a_summary(settings: Settings) -> None:
    operations = [
        operation
        for methods in build_gateway(settings).openapi()["paths"].values()
        for operation in methods.values()
    ]
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", name) for name in ids), ids
    assert all(operation.get("summary") for operation in operations)


async def test_every_forwarded_route_still_answers_its_own_paths(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway finds its routes by section (``RouteTable``): a request
    to each route's path, parameters filled, still reaches that route and no other."""

    async def forward(
        self: ServiceClient, request: Request, prefix: str, *, cached: bool = False
    ) -> Response:
        return JSONResponse({"service": self.name, "route": request.scope["route"].path})

    monkeypatch.setattr(ServiceClient, "forward", forward)
    limits = settings.gateway.rate_limits.model_copy(update={"enabled": False})
    scoped = settings.model_copy(
        update={"gateway": settings.gateway.model_copy(update={"rate_limits": limits})}
    )
    composed = {
        (method, API_PREFIX + route.path)
        for router in COMPOSED
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    expected = [
        (api.service, method, API_PREFIX + route.path)
        for api in SERVICE_APIS
        for router in api.routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods or ())
        if (method, API_PREFIX + route.path) not in composed
    ]
    assert len(expected) > 150
    # Every agency role: the gateway checks the permission matrix before it forwards.
    token = issue_dev_token(scoped, "staff", [Role.ADMIN, Role.MANAGER, Role.EDITOR], ["*"])
    port = free_port()
    server, serving = await _serve(build_gateway(scoped), port)
    reached: list[tuple[str, str, str]] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _service, method, template in expected:
                path = re.sub(r"\{[^}]+\}", "0b7c6d2e-5f4a-4e3b-9c8d-7e6f5a4b3c2d", template)
                answer = await client.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 200, (method, template, answer.text)
                reached.append((answer.json()["service"], method, answer.json()["route"]))
    finally:
        server.should_exit = True
        await serving

    assert reached == expected
