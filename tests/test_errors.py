"""Every error is RFC 9457 problem+json with the right status; bad input never yields a 500."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.gateway.app import build_app as build_gateway
from shared.auth import Role, issue_dev_token
from shared.settings import Settings
from tests.conftest import Platform, free_port
from tests.test_thin_thread import create_org, engagement_body

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["type"] == f"urn:engage:problem:{kind}"
    assert isinstance(body["title"], str)
    assert body["title"]
    return body


async def test_malformed_json_is_400(platform: Platform) -> None:
    response = await platform.gateway.post(
        "/v1/organizations",
        content=b'{"name": "Cantina",',
        headers={**platform.auth(Role.ADMIN), "Content-Type": "application/json"},
    )
    body = assert_problem(response, 400, "malformed-json")
    assert "JSON" in str(body["detail"])


async def test_wrong_types_are_422_with_field_paths(platform: Platform) -> None:
    organization_id = await create_org(platform)
    bad = {
        **engagement_body(organization_id),
        "mode": "outsourcing",
        "channels": ["instagram", "myspace"],
        "starts_on": "not a date",
    }
    response = await platform.gateway.post(
        "/v1/engagements", json=bad, headers=platform.auth(Role.MANAGER)
    )
    body = assert_problem(response, 422, "validation-error")
    fields = {error["field"] for error in body["errors"]}  # type: ignore[attr-defined]
    assert {"body.mode", "body.channels.1", "body.starts_on"} <= fields


async def test_dates_in_the_wrong_order_are_422(platform: Platform) -> None:
    organization_id = await create_org(platform)
    body = {**engagement_body(organization_id), "starts_on": "2027-01-01", "ends_on": "2026-01-01"}
    response = await platform.gateway.post(
        "/v1/engagements", json=body, headers=platform.auth(Role.MANAGER)
    )
    problem = assert_problem(response, 422, "validation-error")
    assert "ends_on must be after starts_on" in str(problem["errors"])


async def test_unknown_organization_is_404(platform: Platform) -> None:
    response = await platform.gateway.post(
        "/v1/engagements",
        json=engagement_body(str(uuid.uuid4())),
        headers=platform.auth(Role.MANAGER),
    )
    assert_problem(response, 404, "not-found")


async def test_unknown_engagement_and_bad_id_are_problems(platform: Platform) -> None:
    missing = await platform.gateway.get(
        f"/v1/engagements/{uuid.uuid4()}", headers=platform.auth(Role.MANAGER)
    )
    assert_problem(missing, 404, "not-found")
    malformed = await platform.gateway.get(
        "/v1/engagements/not-a-uuid", headers=platform.auth(Role.MANAGER)
    )
    assert_problem(malformed, 422, "validation-error")
    no_route = await platform.gateway.get("/v1/nothing-here", headers=platform.auth(Role.MANAGER))
    assert_problem(no_route, 404, "not-found")


async def test_missing_token_is_401(platform: Platform) -> None:
    response = await platform.gateway.get("/v1/engagements")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
async def test_invalid_token_is_401(platform: Platform, authorization: str) -> None:
    response = await platform.gateway.get(
        "/v1/engagements", headers={"Authorization": authorization}
    )
    assert_problem(response, 401, "unauthorized")


async def test_token_signed_with_another_secret_is_401(platform: Platform) -> None:
    forged_settings = platform.settings.model_copy(
        update={
            "auth": platform.settings.auth.model_copy(
                update={"jwt_secret": SecretStr("someone-else-has-this-secret-of-length")}
            )
        }
    )
    forged = issue_dev_token(forged_settings, "mallory", [Role.ADMIN], ["*"])
    response = await platform.gateway.get(
        "/v1/engagements", headers={"Authorization": f"Bearer {forged}"}
    )
    assert_problem(response, 401, "unauthorized")


async def test_expired_token_is_401(platform: Platform) -> None:
    expired = issue_dev_token(
        platform.settings, "late", [Role.MANAGER], ["*"], ttl=timedelta(seconds=-5)
    )
    response = await platform.gateway.get(
        "/v1/engagements", headers={"Authorization": f"Bearer {expired}"}
    )
    body = assert_problem(response, 401, "unauthorized")
    assert "expired" in str(body["detail"])


async def test_role_without_permission_is_403(platform: Platform) -> None:
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        "/v1/engagements",
        json=engagement_body(organization_id),
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["required_roles"] == ["admin", "manager"]


async def test_organization_a_cannot_read_organization_b(platform: Platform) -> None:
    org_a = await create_org(platform, "Org A")
    org_b = await create_org(platform, "Org B")
    created = await platform.gateway.post(
        "/v1/engagements", json=engagement_body(org_b), headers=platform.auth(Role.MANAGER)
    )
    engagement_b = created.json()["id"]
    as_a = platform.auth(Role.CLIENT_APPROVER, orgs=[org_a])

    assert_problem(
        await platform.gateway.get(f"/v1/engagements/{engagement_b}", headers=as_a),
        404,
        "not-found",
    )
    assert_problem(
        await platform.gateway.get(f"/v1/organizations/{org_b}", headers=as_a), 404, "not-found"
    )
    listed = await platform.gateway.get("/v1/organizations", headers=as_a)
    assert [org["id"] for org in listed.json()] == [org_a]
    as_b = platform.auth(Role.CLIENT_VIEWER, orgs=[org_b])
    own = await platform.gateway.get(f"/v1/engagements/{engagement_b}", headers=as_b)
    assert own.status_code == 200


async def test_manager_of_one_client_cannot_create_for_another(platform: Platform) -> None:
    org_a = await create_org(platform, "Org A")
    org_b = await create_org(platform, "Org B")
    response = await platform.gateway.post(
        "/v1/engagements",
        json=engagement_body(org_b),
        headers=platform.auth(Role.MANAGER, orgs=[org_a]),
    )
    assert_problem(response, 404, "not-found")


@pytest.fixture
async def gateway_without_services(settings: Settings) -> FastAPI:
    """A gateway whose strategy service and Temporal are unreachable."""
    dead = settings.model_copy(
        update={
            "service_urls": settings.service_urls.model_copy(
                update={"strategy": f"http://127.0.0.1:{free_port()}"}
            ),
            "temporal": settings.temporal.model_copy(
                update={"address": f"127.0.0.1:{free_port()}"}
            ),
        }
    )
    return build_gateway(dead)


async def test_dependency_down_is_503_with_retry_after(
    gateway_without_services: FastAPI, platform: Platform
) -> None:
    transport = httpx.ASGITransport(app=gateway_without_services)
    async with (
        gateway_without_services.router.lifespan_context(gateway_without_services),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        headers = platform.auth(Role.MANAGER)
        listed = await client.get("/v1/organizations", headers=headers)
        body = assert_problem(listed, 503, "dependency-unavailable")
        assert body["dependency"] == "strategy"
        assert int(listed.headers["retry-after"]) > 0

        started = await client.post(
            "/v1/engagements", json=engagement_body(str(uuid.uuid4())), headers=headers
        )
        body = assert_problem(started, 503, "dependency-unavailable")
        assert body["dependency"] == "temporal"

        ready = await client.get("/readyz")
        body = assert_problem(ready, 503, "not-ready")
        assert body["checks"]["temporal"].startswith("unavailable")  # type: ignore[index]
