from fastapi import APIRouter, FastAPI

from services.strategy import api
from services.strategy.assets import api as assets
from services.strategy.channel_mix import api as channel_mix
from services.strategy.deliverables import api as deliverables
from services.strategy.lifecycle import api as lifecycle
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

# The routes it offers the frontends (the gateway forwards them under /v1).
ROUTERS: list[APIRouter] = [
    api.router,
    assets.router,
    deliverables.router,
    channel_mix.router,
    lifecycle.router,
]


def build_app(settings: Settings) -> FastAPI:
    return create_service_app(
        ServiceRuntime("strategy", settings),
        ROUTERS,
        title="Atlantide Engage: strategy",
    )
