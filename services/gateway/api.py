"""The ``/v1`` API that the internal web frontends call: every route needs a bearer token.

Most routes are the data services' own, forwarded (``services.gateway.forwarding``); the gateway
writes by hand only what does more than forward: starting engagements and reading their live
state, the lifecycle's updates and queries, plan publishing and contest draws (workflows it
starts or signals), and the live event streams.
"""

from collections.abc import Sequence

from fastapi import APIRouter, Depends

from services.content.app import ROUTERS as CONTENT_ROUTERS
from services.gateway.forwarding import API_PREFIX, ServiceApi, forwarded_routes, public_routes
from services.gateway.routes import contests, engagements, lifecycle, plan_publishing, streams
from services.listening.app import ROUTERS as LISTENING_ROUTERS
from services.publisher.app import ROUTERS as PUBLISHER_ROUTERS
from services.reporting.app import ROUTERS as REPORTING_ROUTERS
from services.strategy.app import PUBLIC_ROUTERS as STRATEGY_PUBLIC_ROUTERS
from services.strategy.app import ROUTERS as STRATEGY_ROUTERS
from shared.auth import current_principal

SERVICE_APIS = (
    ServiceApi("strategy", STRATEGY_ROUTERS, STRATEGY_PUBLIC_ROUTERS),
    ServiceApi("content", CONTENT_ROUTERS),
    ServiceApi("publisher", PUBLISHER_ROUTERS),
    ServiceApi("listening", LISTENING_ROUTERS),
    ServiceApi("reporting", REPORTING_ROUTERS),
)
COMPOSED = (
    engagements.router,
    lifecycle.router,
    plan_publishing.router,
    contests.router,
    streams.router,
)


def v1_routers(apis: Sequence[ServiceApi]) -> list[APIRouter]:
    """The gateway's own routes, then the services' (a path both serve is the gateway's), then
    the services' public routes (outside /v1, without a token)."""
    composed = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    for gateway_router in COMPOSED:
        composed.include_router(gateway_router)
    return [composed, forwarded_routes(apis, COMPOSED), public_routes(apis)]
