from fastapi import APIRouter, FastAPI

from services.content import api as items_api
from services.content import media_public
from services.content.contests import api as contests_api
from services.content.plan import api as plan_api
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

# One router per aggregate of the content service.
ROUTERS: list[APIRouter] = [
    items_api.router,
    contests_api.router,
    plan_api.router,
    media_public.router,
]


def build_app(settings: Settings) -> FastAPI:
    return create_service_app(
        ServiceRuntime("content", settings), ROUTERS, title="Atlantide Engage: content"
    )
