from fastapi import APIRouter, FastAPI

from services.strategy import api
from services.strategy.assets import api as assets
from services.strategy.channel_mix import api as channel_mix
from services.strategy.deliverables import api as deliverables
from services.strategy.handbook import api as handbook
from services.strategy.lifecycle import api as lifecycle
from services.strategy.outreach import api as outreach
from services.strategy.touchpoints import api as touchpoints
from services.strategy.training import api as training
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

# The routes it offers the frontends (the gateway forwards them under /v1).
ROUTERS: list[APIRouter] = [
    api.router,
    assets.router,
    deliverables.router,
    handbook.router,
    channel_mix.router,
    lifecycle.router,
    touchpoints.router,
    outreach.router,
    training.router,
]
# Routes for anyone on the internet, without a token (a touchpoint's tracked link): the gateway
# serves them at its root, not under /v1.
PUBLIC_ROUTERS: list[APIRouter] = [touchpoints.public_router]


def build_app(settings: Settings) -> FastAPI:
    return create_service_app(
        ServiceRuntime("strategy", settings),
        [*ROUTERS, *PUBLIC_ROUTERS],
        title="Atlantide Engage: strategy",
    )
