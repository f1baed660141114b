"""How a database refusal reaches the caller: a server that cannot serve now (too many
connections, shutting down, starting) is 503 with Retry-After; a bug stays a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from shared.errors import install_problem_handlers


class _Refusal(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def _app(sqlstate: str) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/")
    async def refused() -> None:
        raise DBAPIError("SELECT 1", None, _Refusal(sqlstate))

    return app


async def _answer(sqlstate: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(sqlstate), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/")


@pytest.mark.parametrize(
    "sqlstate",
    [
        "53300",  # too many connections
        "57P01",  # an administrator's shutdown
        "57P03",  # cannot connect now: starting up
        "08006",  # connection failure
    ],
)
async def test_a_server_that_cannot_serve_now_is_503(sqlstate: str) -> None:
    answer = await _answer(sqlstate)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.json()["dependency"] == "database"


async def test_a_query_the_server_refuses_as_wrong_is_still_a_500() -> None:
    answer = await _answer("42P01")  # undefined table: our bug, not the server's state
    assert answer.status_code == 500
