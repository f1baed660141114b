from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.gateway.api import SERVICE_APIS, v1_routers
from services.gateway.body_limit import BodyLimit, limit_by_route
from services.gateway.clients import Services
from services.gateway.console import routes as console
from services.gateway.engagements import EngagementControl
from services.gateway.forwarding import ServiceApi, declared_routes
from services.gateway.rate_limit import install_rate_limits
from services.gateway.read_cache import WritesClearReads
from services.gateway.route_table import RouteTable
from services.gateway.routes import relationships
from services.gateway.routes.places import router as place_evidence
from services.gateway.routes.streams import register_stream_schemas
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

GATEWAY_CONNECTIONS_PER_SERVICE = 64


def build_app(settings: Settings, apis: Sequence[ServiceApi] = SERVICE_APIS) -> FastAPI:
    """The gateway in front of ``apis``: the data services' routes it forwards."""
    engagements = EngagementControl(settings)
    # As many kept-alive connections as requests in flight: a new connection per request costs
    # more than the request itself.
    services = Services.connect(
        settings, GATEWAY_CONNECTIONS_PER_SERVICE, [api.service for api in apis]
    )

    async def on_startup(app: FastAPI) -> None:
        engagements.start_connecting()

    async def on_shutdown(app: FastAPI) -> None:
        await engagements.close()
        await services.aclose()

    # Outreach candidates and knowledge transfer: composed from two services' reads.
    routers = [*v1_routers(apis), relationships.router]
    # A place's Foursquare presence as analysis evidence: composed here, not forwarded.
    routers.append(place_evidence)
    app = create_service_app(
        ServiceRuntime("gateway", settings, database=False),
        routers,
        title="Atlantide Engage API",
        extra_checks={"temporal": engagements.check},
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
    routes = declared_routes(routers)
    app.add_middleware(BodyLimit, limit_of=limit_by_route(routes, settings.gateway))
    # Inside the rate limiter: a write it refuses does not empty the read cache.
    app.add_middleware(WritesClearReads, cache=services.reads)
    # Added last, so it runs first: a caller over its budget is refused before its body is read.
    install_rate_limits(app, settings.gateway.rate_limits, routes)
    app.state.engagements = engagements
    register_stream_schemas(app)
    # The console's pages are HTML for people, outside the JSON API's schema.
    app.include_router(console.router)
    app.mount(console.STATIC_PATH, StaticFiles(directory=console.STATIC_DIR), name="console-static")
    app.state.services = services
    # Last: the table holds the routes as included by now.
    RouteTable.first_in(app)
    return app
