"""The gateway serves each data service's own routes under ``/v1``, declared once, in the service.

A service's ``APIRouter`` is its declaration: path, parameters, body, ``response_model``,
summary, status codes, documented errors and roles. The gateway builds one route from each of
them whose OpenAPI is the service route's (so the frontends' contract comes from the service)
and whose handler does not run the service's code: it authenticates the caller and streams the
request to the service and the answer back. The service validates, checks roles, ownership and
state itself, as it does for any caller. Adding an endpoint to a service adds it to the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from services.gateway.clients import Services
from shared.auth import current_principal, verify_request
from shared.settings import ServiceName

API_PREFIX = "/v1"


@dataclass(frozen=True)
class ServiceApi:
    """The routers a data service offers the frontends, and the service that answers them."""

    service: ServiceName
    routers: Sequence[APIRouter]
    # Routes for anyone on the internet (a touchpoint's tracked link): served at the gateway's
    # root as the service declares them, without a token.
    public_routers: Sequence[APIRouter] = ()


class ForwardedRoute(APIRoute):
    """Documented as the service's route; answered by forwarding to the service."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.service: ServiceName = options.pop("service")
        self.public: bool = options.pop("public", False)
        super().__init__(path, endpoint, **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        service = self.service
        public = self.public
        prefix = "" if public else API_PREFIX

        async def forward(request: Request) -> Response:
            # The gateway authenticates before anything reaches a service; the service verifies
            # the same token again and decides what the principal may do.
            if not public:
                await verify_request(request)
            services: Services = request.app.state.services
            # A public route's answer is never kept: a touchpoint's link counts each scan.
            return await services.client(service).forward(request, prefix, cached=not public)

        return forward


def declared_routes(routers: Iterable[APIRouter]) -> list[BaseRoute]:
    """The routes of ``routers``, for what looks a request's route up by itself (the body
    limit, the rate limiter's route classes)."""
    return [route for router in routers for route in router.routes]


class KeptComposedRoute(APIRoute):
    """A route answered by ``Services.composed_read``: its kept answer, while young, is given
    as soon as the caller's token is verified, before FastAPI solves the route's parameters and
    dependencies (a read polled by a dashboard then costs what a forwarded read costs); an
    older or missing one runs the route, which asks the read cache as usual."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        run_route = super().get_route_handler()

        async def answer(request: Request) -> Response:
            services: Services = request.app.state.services
            kept = services.young_composed_read(request)
            if kept is None:
                return await run_route(request)
            # Kept under the caller's token, given only once that token still verifies.
            await verify_request(request)
            return kept

        return answer


def forwarded_routes(
    apis: Iterable[ServiceApi], served_by_gateway: Iterable[APIRouter]
) -> APIRouter:
    """One gateway route per service route, except those the gateway composes itself."""
    composed = {
        (method, route.path)
        for gateway_router in served_by_gateway
        for route in gateway_router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    router = APIRouter()
    for api in apis:
        for service_router in api.routers:
            for route in service_router.routes:
                if not isinstance(route, APIRoute):
                    continue
                methods = {
                    method for method in route.methods or () if (method, route.path) not in composed
                }
                if methods:
                    router.routes.append(_forwarded(api.service, route, methods))
    return router


def public_routes(apis: Iterable[ServiceApi]) -> APIRouter:
    """The services' public routes, at the gateway's root, each forwarded without a token."""
    router = APIRouter()
    for api in apis:
        for service_router in api.public_routers:
            for route in service_router.routes:
                if isinstance(route, APIRoute):
                    router.routes.append(
                        _forwarded(api.service, route, set(route.methods or ()), public=True)
                    )
    return router


def _forwarded(
    service: ServiceName, route: APIRoute, methods: set[str], *, public: bool = False
) -> ForwardedRoute:
    return ForwardedRoute(
        ("" if public else API_PREFIX) + route.path,
        route.endpoint,
        service=service,
        public=public,
        methods=methods,
        name=route.name,
        response_model=route.response_model,
        status_code=route.status_code,
        tags=route.tags,
        # Documents the bearer scheme on every operation; the handler itself authenticates.
        dependencies=[*([] if public else [Depends(current_principal)]), *route.dependencies],
        summary=route.summary,
        description=route.description,
        response_description=route.response_description,
        responses=route.responses,
        deprecated=route.deprecated,
        response_class=route.response_class,
        openapi_extra=route.openapi_extra,
        include_in_schema=route.include_in_schema,
    )
