"""ASGI entry point: ``uvicorn services.gateway.main:app``."""

from services.gateway.app import build_app
from shared.settings import get_settings

app = build_app(get_settings())
