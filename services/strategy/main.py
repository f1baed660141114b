"""ASGI entry point: ``uvicorn services.strategy.main:app``."""

from services.strategy.app import build_app
from shared.settings import get_settings

app = build_app(get_settings())
