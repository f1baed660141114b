"""A token that no HTTP header can carry is refused when it is given, and one already stored
(from before the check) makes its connection ask for reconnection instead of failing every
collection it is part of (found when the gateway fuzzer stored a non-ASCII token)."""

from __future__ import annotations

import httpx
import pytest

from services.publisher.connectors.base import AuthError, Credentials
from shared.auth import Role
from tests.conftest import Platform
from tests.fakes.cases import open_case
from tests.test_thin_thread import create_org


async def _connect(platform: Platform, *, account_id: str, access_token: str) -> httpx.Response:
    """A manager of a new organisation connects its sandbox account."""
    organization_id = await create_org(platform)
    return await platform.gateway.post(
        "/v1/connections",
        json={
            "organization_id": organization_id,
            "channel": "sandbox",
            "account_id": account_id,
            "access_token": access_token,
        },
        headers=platform.auth(Role.MANAGER, orgs=[organization_id]),
    )


@pytest.mark.parametrize("token", ["tok€n", "two words", "tab\there", "ключ"])
async def test_a_token_that_cannot_be_sent_is_refused_with_422(
    platform: Platform, token: str
) -> None:
    answer = await _connect(platform, account_id="acct-1", access_token=token)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert any(error["field"].endswith("access_token") for error in answer.json()["errors"])


async def test_a_stored_non_ascii_token_is_an_auth_error_not_a_crash() -> None:
    async with open_case("pinterest") as case:
        with pytest.raises(AuthError, match="not ASCII"):
            await case.connector.account_metrics(
                Credentials(access_token="ключ"), case.request.account_id
            )


@pytest.mark.parametrize("account_id", ["\x03abc", "../users", "a b", "pagina/1"])
async def test_an_account_id_that_would_change_the_apis_path_is_refused_with_422(
    platform: Platform, account_id: str
) -> None:
    answer = await _connect(platform, account_id=account_id, access_token="token-1")
    assert answer.status_code == 422, answer.text
    assert any(error["field"].endswith("account_id") for error in answer.json()["errors"])


async def test_a_stored_account_id_no_url_can_carry_is_an_auth_error() -> None:
    # Instagram's account metrics are read at /{account id}.
    async with open_case("instagram") as case:
        with pytest.raises(AuthError, match="not ASCII"):
            await case.connector.account_metrics(case.credentials, "\x03\u7f51")
