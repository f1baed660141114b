"""ASGI entry point: ``uvicorn services.reporting.main:app``."""

from services.reporting.app import build_app
from shared.settings import get_settings

app = build_app(get_settings())
