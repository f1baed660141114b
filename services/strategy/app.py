from fastapi import FastAPI

from services.strategy import api
from services.strategy.assets import api as assets
from services.strategy.channel_mix import api as channel_mix
from services.strategy.deliverables import api as deliverables
from services.strategy.lifecycle import api as lifecycle
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    return create_service_app(
        ServiceRuntime("strategy", settings),
        [api.router, assets.router, deliverables.router, channel_mix.router, lifecycle.router],
        title="Atlantide Engage: strategy",
    )
