"""ASGI entry point: ``uvicorn services.listening.main:app``."""

from services.listening.app import build_app
from shared.settings import get_settings

app = build_app(get_settings())
