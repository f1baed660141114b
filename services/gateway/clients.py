"""Calls from the gateway to the data services, on behalf of the caller.

The caller's bearer token travels with each call, so every service checks it and scopes its
queries itself. A service's problem document is passed back to the caller unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import httpx
from fastapi import Request
from pydantic import BaseModel, TypeAdapter

from services.strategy.schemas import (
    EngagementCreate,
    EngagementOut,
    OrganizationCreate,
    OrganizationOut,
)
from shared.errors import PROBLEM_TYPE_PREFIX, DependencyUnavailableError, ProblemError
from shared.telemetry import current_trace_headers

Model = TypeVar("Model", bound=BaseModel)


class ServiceClient:
    def __init__(self, name: str, http: httpx.AsyncClient) -> None:
        self.name = name
        self._http = http

    async def call(
        self,
        request: Request,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = {
            "Authorization": request.headers.get("Authorization", ""),
            **current_trace_headers(),
        }
        try:
            response = await self._http.request(
                method,
                path,
                headers=headers,
                params=params,
                json=body.model_dump(mode="json") if body is not None else None,
            )
        except httpx.TransportError as error:
            raise DependencyUnavailableError(
                self.name, f"the {self.name} service is not reachable"
            ) from error
        if response.is_success:
            return response.json()
        raise _problem_from(self.name, response)


def _problem_from(service: str, response: httpx.Response) -> ProblemError:
    if response.status_code >= 500:
        return DependencyUnavailableError(
            service, f"the {service} service failed ({response.status_code})"
        )
    try:
        problem = response.json()
        kind = str(problem.pop("type", "")).removeprefix(PROBLEM_TYPE_PREFIX) or "http-error"
        problem.pop("status", None)
        problem.pop("instance", None)
        return ProblemError(
            response.status_code,
            kind,
            problem.pop("detail", None),
            title=problem.pop("title", None),
            headers={
                k: v
                for k, v in response.headers.items()
                if k.lower() in {"retry-after", "www-authenticate"}
            },
            **problem,
        )
    except (ValueError, AttributeError):
        return ProblemError(response.status_code, "http-error", response.text[:500])


class StrategyClient:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def create_organization(
        self, request: Request, body: OrganizationCreate
    ) -> OrganizationOut:
        return OrganizationOut.model_validate(
            await self._client.call(request, "POST", "/organizations", body=body)
        )

    async def list_organizations(self, request: Request) -> list[OrganizationOut]:
        return _ORGANIZATIONS.validate_python(
            await self._client.call(request, "GET", "/organizations")
        )

    async def get_organization(
        self, request: Request, organization_id: uuid.UUID
    ) -> OrganizationOut:
        return OrganizationOut.model_validate(
            await self._client.call(request, "GET", f"/organizations/{organization_id}")
        )

    async def create_engagement(self, request: Request, body: EngagementCreate) -> EngagementOut:
        return EngagementOut.model_validate(
            await self._client.call(request, "POST", "/engagements", body=body)
        )

    async def list_engagements(
        self, request: Request, organization_id: uuid.UUID | None
    ) -> list[EngagementOut]:
        params = {"organization_id": str(organization_id)} if organization_id else None
        return _ENGAGEMENTS.validate_python(
            await self._client.call(request, "GET", "/engagements", params=params)
        )

    async def get_engagement(self, request: Request, engagement_id: uuid.UUID) -> EngagementOut:
        return EngagementOut.model_validate(
            await self._client.call(request, "GET", f"/engagements/{engagement_id}")
        )


_ORGANIZATIONS = TypeAdapter(list[OrganizationOut])
_ENGAGEMENTS = TypeAdapter(list[EngagementOut])
