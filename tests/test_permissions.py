"""The permission matrix (``shared/permissions.py``): every gateway route by every role, roles per
organisation, and the table's documentation."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from services.gateway.api import SERVICE_APIS
from services.gateway.app import build_app as build_gateway
from services.strategy.app import ROUTERS as STRATEGY_ROUTERS
from shared.app import create_service_app
from shared.auth import AGENCY_ROLES, ALL_ORGANIZATIONS, CurrentPrincipal, Role, issue_dev_token
from shared.permissions import (
    PERMISSIONS,
    UnknownOperationError,
    allowed_roles,
    operation_id,
    render_markdown,
)
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_strategy_deliverables import analysis_body, approve, brief_body, save
from tests.test_thin_thread import create_org
from workflows.engagement.phases import GATE_APPROVERS
from workflows.engagement.tasks import OWNER_ROLES

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = "application/problem+json"
FORBIDDEN = "urn:engage:problem:forbidden"
# Requests of the walk in flight at once.
WALKERS = 8


def gateway_operations(settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every gateway route that takes a bearer token."""
    document = build_gateway(settings).openapi()
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if operation.get("security")
    ]


def token_for(settings: Settings, role: Role, organization_id: str, subject: str) -> str:
    """Agency roles as agency staff hold them (every organisation); client roles in one."""
    where = ALL_ORGANIZATIONS if role in AGENCY_ROLES else organization_id
    return issue_dev_token(settings, subject, [], [], org_roles={where: [role]})


def made_up(parameter: dict[str, Any]) -> str:
    """A value of the parameter's type naming nothing that exists."""
    schema = parameter.get("schema", {})
    options = [schema, *schema.get("anyOf", [])]
    for option in options:
        if "enum" in option:
            return str(option["enum"][0])
        if option.get("format") == "uuid":
            return str(uuid.uuid4())
        if option.get("type") == "integer":
            return "1"
    return "made-up"


def request_of(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, str], bool]:
    """The path with made-up ids, required query parameters, and whether a JSON body goes."""
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        value = made_up(parameter)
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", value)
        elif parameter["in"] == "query" and parameter.get("required"):
            query[parameter["name"]] = value
    content = operation.get("requestBody", {}).get("content", {})
    return path, query, "application/json" in content


def test_every_route_has_its_row_and_every_row_a_route(settings: Settings) -> None:
    gateway_names = {operation["operationId"] for _, _, operation in gateway_operations(settings)}
    assert len(gateway_names) > 100
    assert gateway_names <= PERMISSIONS.keys(), gateway_names - PERMISSIONS.keys()
    service_names = {
        operation_id(route)
        for api in SERVICE_APIS
        for router in api.routers
        for route in router.routes
        if isinstance(route, APIRoute)
    }
    # Rows name real operations (the content service's requestDraw is the gateway's drawContest).
    stale = PERMISSIONS.keys() - gateway_names - service_names - {"requestDraw"}
    assert not stale, stale


def test_a_service_with_a_route_missing_from_the_matrix_refuses_to_start(
    settings: Settings,
) -> None:
    unlisted = APIRouter()

    @unlisted.get("/unlisted")
    async def read_something_unlisted(principal: CurrentPrincipal) -> str:
        return principal.subject

    runtime = ServiceRuntime("strategy", settings, database=False)
    with pytest.raises(UnknownOperationError, match="readSomethingUnlisted"):
        create_service_app(runtime, [*STRATEGY_ROUTERS, unlisted], title="strategy")
    with pytest.raises(UnknownOperationError):
        allowed_roles("readSomethingUnlisted")


def test_the_committed_permissions_document_is_the_matrix(settings: Settings) -> None:
    """``docs/permissions.md``: regenerate it with
    ``.venv/bin/python -m engage permissions > docs/permissions.md``."""
    committed = (ROOT / "docs" / "permissions.md").read_text()
    assert committed == render_markdown(build_gateway(settings).openapi())


def test_the_workflows_finer_rules_stay_within_the_matrix() -> None:
    assert frozenset().union(*GATE_APPROVERS.values()) == allowed_roles("decideApproval")
    assert frozenset().union(*OWNER_ROLES.values()) == allowed_roles("completeTask")
    for control in ("pauseEngagement", "resumeEngagement", "cancelEngagement"):
        assert allowed_roles(control) == allowed_roles("pauseEngagement")


async def test_every_route_refuses_every_role_the_matrix_does_not_allow(
    platform: Platform,
) -> None:
    """Every gateway route by every role: a role the matrix does not allow is 403 problem+json
    before anything else of the request is looked at; an allowed one never is (made-up ids
    make it 404 or 422)."""
    settings = platform.settings
    organization_id = await create_org(platform)
    operations = gateway_operations(settings)
    at_once = asyncio.Semaphore(WALKERS)

    async def verdict(method: str, template: str, operation: dict[str, Any], role: Role) -> str:
        """Empty when the route answered the role as the matrix says; else what went wrong."""
        name = operation["operationId"]
        path, query, json_body = request_of(template, operation)
        token = token_for(settings, role, organization_id, f"walk-{name}-{role}")
        request = platform.gateway.build_request(
            method,
            path,
            params=query,
            json={} if json_body else None,
            headers={"Authorization": f"Bearer {token}"},
        )
        async with at_once:
            # The live streams answer for as long as they are open: read a refusal only.
            response = await platform.gateway.send(request, stream=True)
            try:
                if response.status_code == 403:
                    await response.aread()
            finally:
                await response.aclose()
        status = response.status_code
        if role in PERMISSIONS[name]:
            refused = status in (401, 403) or status >= 500
        else:
            refused = not (
                status == 403
                and response.headers["content-type"].startswith(PROBLEM)
                and response.json()["type"] == FORBIDDEN
            )
        return f"{role} {method} {template}: {status}" if refused else ""

    verdicts = await asyncio.gather(
        *(
            verdict(method, template, operation, role)
            for method, template, operation in operations
            for role in Role
        )
    )
    assert len(verdicts) == len(operations) * len(Role)
    assert not [wrong for wrong in verdicts if wrong], "\n".join(filter(None, verdicts))
    allowed = sum(len(PERMISSIONS[operation["operationId"]]) for _, _, operation in operations)
    assert allowed > 400
    assert len(verdicts) - allowed > 100


async def test_a_principal_acts_in_each_organisation_with_the_roles_it_holds_there(
    platform: Platform,
) -> None:
    """An editor of one client and a viewer of another: it writes the first's assets; the
    second's it reads, and to write them they are not found."""
    edited, viewed = await create_org(platform), await create_org(platform)
    token = issue_dev_token(
        platform.settings,
        "two-hats",
        [],
        [],
        org_roles={edited: [Role.EDITOR], viewed: [Role.CLIENT_VIEWER]},
    )
    headers = {"Authorization": f"Bearer {token}"}
    asset = {"kind": "touchpoint", "name": "Printed menu", "place": "The restaurant"}

    recorded = await platform.gateway.post(
        f"/v1/organizations/{edited}/assets", json=asset, headers=headers
    )
    assert recorded.status_code == 201, recorded.text
    not_theirs = await platform.gateway.post(
        f"/v1/organizations/{viewed}/assets", json=asset, headers=headers
    )
    assert not_theirs.status_code == 404, not_theirs.text
    read = await platform.gateway.get(f"/v1/organizations/{viewed}/assets", headers=headers)
    assert read.status_code == 200, read.text
    # Only the agency's staff hold a role everywhere: a client role in "*" is no token.
    everywhere = issue_dev_token(
        platform.settings, "x", [], [], org_roles={ALL_ORGANIZATIONS: [Role.CLIENT_VIEWER]}
    )
    refused = await platform.gateway.get(
        f"/v1/organizations/{viewed}/assets", headers={"Authorization": f"Bearer {everywhere}"}
    )
    assert refused.status_code == 401


async def test_only_an_admin_of_every_organisation_registers_organisations(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    body = {"name": "Trattoria"}

    def as_(grants: dict[str, list[Role]]) -> dict[str, str]:
        token = issue_dev_token(platform.settings, "org-maker", [], [], org_roles=grants)
        return {"Authorization": f"Bearer {token}"}

    for grants in (
        {ALL_ORGANIZATIONS: [Role.MANAGER]},
        {organization_id: [Role.ADMIN]},
        {organization_id: [Role.CLIENT_APPROVER]},
    ):
        response = await platform.gateway.post("/v1/organizations", json=body, headers=as_(grants))
        assert response.status_code == 403, (grants, response.text)
        assert response.json()["required_roles"] == ["admin"]
    created = await platform.gateway.post(
        "/v1/organizations", json=body, headers=as_({ALL_ORGANIZATIONS: [Role.ADMIN]})
    )
    assert created.status_code == 201, created.text


async def test_approving_counts_the_roles_held_in_the_engagements_organisation(
    platform: Platform,
) -> None:
    """A manager of one client who approves for another client approves each as what it is
    there: the agency for the first, the client for the second."""
    managed, approved = await create_org(platform), await create_org(platform)
    token = issue_dev_token(
        platform.settings,
        "approver",
        [],
        [],
        org_roles={managed: [Role.MANAGER], approved: [Role.CLIENT_APPROVER]},
    )
    headers = {"Authorization": f"Bearer {token}"}
    sides = {}
    for organization_id in (managed, approved):
        engagement = {"id": await stored_engagement(platform, organization_id)}
        saved = await save(platform, engagement, "brief", brief_body())
        assert saved.status_code == 201, saved.text
        response = await approve(platform, engagement, "brief", 1, headers)
        assert response.status_code == 200, response.text
        sides[organization_id] = response.json()["approved_as"]
    assert sides == {managed: "agency", approved: "client"}
    # The analysis is the agency's to approve: where it approves as the client, it may not.
    engagement = {"id": await stored_engagement(platform, approved)}
    await save(platform, engagement, "analysis", analysis_body())
    refused = await approve(platform, engagement, "analysis", 1, headers)
    assert refused.status_code == 403, refused.text


async def test_a_token_in_the_older_form_keeps_working(platform: Platform) -> None:
    organization_id = await create_org(platform)
    token = issue_dev_token(platform.settings, "old", [Role.CLIENT_VIEWER], [organization_id])
    response = await platform.gateway.get(
        f"/v1/organizations/{organization_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    elsewhere = await platform.gateway.get(
        f"/v1/organizations/{await create_org(platform)}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert elsewhere.status_code == 404
