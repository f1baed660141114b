"""ASGI entry point: ``uvicorn services.content.main:app``."""

from services.content.app import build_app
from shared.settings import get_settings

app = build_app(get_settings())
