from fastapi import APIRouter, FastAPI

from services.content import api as items_api
from services.content import media_public, spotify_items
from services.content.contests import api as contests_api
from services.content.plan import api as plan_api
from services.content.website import api as website_api
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings

# One router per aggregate of the content service: what it offers the frontends (the gateway
# forwards them under /v1).
ROUTERS: list[APIRouter] = [
    items_api.router,
    contests_api.router,
    contests_api.engagement_router,
    plan_api.router,
    website_api.router,
    spotify_items.router,
]


def build_app(settings: Settings) -> FastAPI:
    # Public media links are for the platforms, not the frontends: served here, never forwarded.
    return create_service_app(
        ServiceRuntime("content", settings),
        [*ROUTERS, media_public.router],
        title="Atlantide Engage: content",
    )
