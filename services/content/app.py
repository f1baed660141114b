from fastapi import APIRouter, FastAPI

from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

# One router per aggregate of the content service.
ROUTERS: list[APIRouter] = []


def build_app(settings: Settings) -> FastAPI:
    return create_service_app(
        ServiceRuntime("content", settings), ROUTERS, title="Atlantide Engage: content"
    )
