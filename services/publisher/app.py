from fastapi import APIRouter, FastAPI

from services.publisher.api import router
from services.publisher.crypto import TokenVault
from services.publisher.scheduling import Scheduler
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

# The routes it offers the frontends (the gateway forwards them under /v1).
ROUTERS: list[APIRouter] = [router]


def build_app(settings: Settings) -> FastAPI:
    scheduler = Scheduler(settings)

    async def on_startup(app: FastAPI) -> None:
        scheduler.start_connecting()

    async def on_shutdown(app: FastAPI) -> None:
        await scheduler.close()

    app = create_service_app(
        ServiceRuntime("publisher", settings),
        ROUTERS,
        title="Atlantide Engage: publisher",
        extra_checks={"temporal": scheduler.check},
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
    app.state.scheduler = scheduler
    app.state.vault = TokenVault(settings.publisher)
    return app
