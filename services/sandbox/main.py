"""ASGI entry point: ``uvicorn services.sandbox.main:app`` (or ``engage serve sandbox``)."""

from services.sandbox.app import build_app
from shared.settings import get_settings

app = build_app(get_settings())
