"""The gateway finds its ``/v1`` routes in a table by section (``RouteTable``): the same routes
as FastAPI's included routers, each with its routers' dependencies, and the same answers for a
path no route takes or a method a route does not answer."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Match

from services.gateway.app import build_app as build_gateway
from services.gateway.route_table import RouteTable, section_of
from shared.errors import PROBLEM_MEDIA_TYPE
from shared.settings import Settings

ENGAGEMENT = "0b7c6d2e-5f4a-4e3b-9c8d-7e6f5a4b3c2d"


@pytest.fixture
def gateway(settings: Settings) -> FastAPI:
    return build_gateway(settings)


def _table(app: FastAPI) -> RouteTable:
    table = app.router.routes[0]
    assert isinstance(table, RouteTable)
    return table


def test_the_table_holds_every_v1_route_as_included(gateway: FastAPI) -> None:
    table = _table(gateway)
    included = [
        (context.path or "", frozenset(context.methods or ()))
        for context in iter_route_contexts(gateway.router.routes[1:])
        if isinstance(context.original_route, APIRoute) and (context.path or "").startswith("/v1/")
    ]
    held = [(context.path or "", frozenset(context.methods or ())) for context in table.routes]

    assert len(included) > 150
    assert sorted(held, key=str) == sorted(included, key=str)

    # Routes that may take the same path (same section, as many segments) are tried in the
    # app's order: the first that takes a path is the one FastAPI would have chosen.
    def shelf(path: str) -> tuple[str, int]:
        return section_of(path), path.count("/")

    for place in {shelf(path) for path, _ in included}:
        assert [entry for entry in held if shelf(entry[0]) == place] == [
            entry for entry in included if shelf(entry[0]) == place
        ]


def test_a_request_matches_its_route_with_its_parameters(gateway: FastAPI) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/v1/listening/engagements/{ENGAGEMENT}/mentions",
        "root_path": "",
        "headers": [],
    }

    match, child_scope = _table(gateway).matches(scope)

    assert match is Match.FULL
    assert child_scope["route"].path == "/v1/listening/engagements/{engagement_id}/mentions"
    assert str(child_scope["path_params"]["engagement_id"]) == ENGAGEMENT
    assert _table(gateway).matches({**scope, "path": "/v1/nothing-here"})[0] is Match.NONE
    assert _table(gateway).matches({**scope, "path": "/healthz"})[0] is Match.NONE


def test_a_route_is_still_found_by_its_name(gateway: FastAPI) -> None:
    # The console builds its OIDC callback's address from the route's name.
    assert gateway.url_path_for("console_oidc_callback") == "/console/oidc/callback"
    assert gateway.url_path_for("get_engagement", engagement_id=ENGAGEMENT) == (
        f"/v1/engagements/{ENGAGEMENT}"
    )


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        ("/v1/{anything}", "first segment must be a constant"),
        ("/v1/files/{anything:path}", "parameter must be one segment"),
    ],
)
def test_a_route_the_table_cannot_shelve_is_refused(template: str, refusal: str) -> None:
    app = FastAPI()

    @app.get(template)
    async def anything_at_all(anything: str) -> str:
        return anything

    with pytest.raises(ValueError, match=refusal):
        RouteTable(iter_route_contexts(app.routes))


async def _ask(app: FastAPI, method: str, path: str, **options: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.request(method, path, **options)  # type: ignore[arg-type]


async def test_a_composed_route_runs_its_routers_dependencies(gateway: FastAPI) -> None:
    # ``GET /v1/engagements`` is the gateway's own: its router requires a bearer token.
    answer = await _ask(gateway, "GET", "/v1/engagements")

    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_a_method_no_route_answers_is_405_with_allow(gateway: FastAPI) -> None:
    answer = await _ask(gateway, "DELETE", "/v1/engagements")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_a_path_no_route_takes_is_404(gateway: FastAPI) -> None:
    for path in ("/v1/nothing-here", f"/v1/engagements/{ENGAGEMENT}/nothing-here"):
        answer = await _ask(gateway, "GET", path)

        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
