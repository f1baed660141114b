"""Calls from the gateway to the data services, on behalf of the caller.

The caller's bearer token travels with each call, so every service checks it, enforces roles and
scopes its queries itself. A service's problem document is passed back to the caller unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, overload

import httpx
from fastapi import Request
from pydantic import BaseModel, TypeAdapter

from shared.errors import PROBLEM_TYPE_PREFIX, DependencyUnavailableError, ProblemError
from shared.settings import Settings
from shared.telemetry import current_trace_headers

Model = TypeVar("Model", bound=BaseModel)
Item = TypeVar("Item", bound=BaseModel)
PASSED_THROUGH_HEADERS = frozenset({"retry-after", "www-authenticate"})


def query_params(**values: object) -> dict[str, str]:
    """A call's query string: the filters the caller gave, as text."""
    return {name: str(value) for name, value in values.items() if value is not None}


class ServiceClient:
    def __init__(self, name: str, http: httpx.AsyncClient, base_url: str) -> None:
        self.name = name
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def raw(
        self,
        request: Request,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """Forward a call; a non-2xx answer is raised as the service's own problem."""
        headers = {
            "Authorization": request.headers.get("Authorization", ""),
            **current_trace_headers(),
        }
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = await self._http.request(
                method,
                self._base_url + path,
                headers=headers,
                params=params,
                # Only what the caller sent: a partial edit must not turn absent fields into nulls.
                json=body.model_dump(mode="json", exclude_unset=True) if body is not None else None,
                content=content,
            )
        except httpx.TransportError as error:
            raise DependencyUnavailableError(
                self.name, f"the {self.name} service is not reachable"
            ) from error
        if not response.is_success:
            raise _problem_from(self.name, response)
        return response

    @overload
    async def call(
        self,
        request: Request,
        method: str,
        path: str,
        returns: type[Model],
        *,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> Model: ...

    @overload
    async def call(
        self,
        request: Request,
        method: str,
        path: str,
        returns: TypeAdapter[list[Item]],
        *,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> list[Item]: ...

    async def call(
        self,
        request: Request,
        method: str,
        path: str,
        returns: type[Model] | TypeAdapter[list[Item]],
        *,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> Model | list[Item]:
        response = await self.raw(request, method, path, body=body, params=params)
        if isinstance(returns, TypeAdapter):
            return returns.validate_json(response.content)
        return returns.model_validate_json(response.content)


def _problem_from(service: str, response: httpx.Response) -> ProblemError:
    if response.status_code >= 500:
        return DependencyUnavailableError(
            service, f"the {service} service failed ({response.status_code})"
        )
    try:
        problem: dict[str, Any] = response.json()
        kind = str(problem.pop("type", "")).removeprefix(PROBLEM_TYPE_PREFIX) or "http-error"
        for echoed in ("status", "instance"):
            problem.pop(echoed, None)
        return ProblemError(
            response.status_code,
            kind,
            problem.pop("detail", None),
            title=problem.pop("title", None),
            headers={
                key: value
                for key, value in response.headers.items()
                if key.lower() in PASSED_THROUGH_HEADERS
            },
            **problem,
        )
    except (ValueError, AttributeError):
        return ProblemError(response.status_code, "http-error", response.text[:500])


@dataclass(frozen=True)
class Services:
    strategy: ServiceClient
    content: ServiceClient
    publisher: ServiceClient
    listening: ServiceClient
    reporting: ServiceClient

    @classmethod
    def connect(cls, settings: Settings, http: httpx.AsyncClient) -> Services:
        """Clients sharing one connection pool, each addressed at its service's URL."""
        return cls(
            strategy=ServiceClient("strategy", http, settings.service_url("strategy")),
            content=ServiceClient("content", http, settings.service_url("content")),
            publisher=ServiceClient("publisher", http, settings.service_url("publisher")),
            listening=ServiceClient("listening", http, settings.service_url("listening")),
            reporting=ServiceClient("reporting", http, settings.service_url("reporting")),
        )
