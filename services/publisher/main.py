"""ASGI entry point: ``uvicorn services.publisher.main:app``."""

from services.publisher.app import build_app
from shared.settings import get_settings

app = build_app(get_settings())
