import httpx
from fastapi import FastAPI

from services.gateway.api import router
from services.gateway.clients import Services
from services.gateway.engagements import EngagementControl
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    engagements = EngagementControl(settings)
    http = httpx.AsyncClient(timeout=settings.dependency_timeout_seconds * 2)

    async def on_startup(app: FastAPI) -> None:
        engagements.start_connecting()

    async def on_shutdown(app: FastAPI) -> None:
        await engagements.close()
        await http.aclose()

    app = create_service_app(
        ServiceRuntime("gateway", settings, database=False),
        [router],
        title="Atlantide Engage API",
        extra_checks={"temporal": engagements.check},
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
    app.state.engagements = engagements
    app.state.services = Services.connect(settings, http)
    return app
