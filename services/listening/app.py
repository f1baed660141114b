from fastapi import FastAPI

from services.listening.api import router
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    return create_service_app(
        ServiceRuntime("listening", settings), [router], title="Atlantide Engage: listening"
    )
