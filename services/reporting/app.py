from fastapi import APIRouter, FastAPI

from services.reporting.kpis.api import kpis_router
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

# The routes it offers the frontends (the gateway forwards them under /v1).
ROUTERS: list[APIRouter] = [kpis_router]


def build_app(settings: Settings) -> FastAPI:
    return create_service_app(
        ServiceRuntime("reporting", settings), ROUTERS, title="Atlantide Engage: reporting"
    )
