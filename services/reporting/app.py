from fastapi import APIRouter, FastAPI

from services.reporting.audit.api import audit_router
from services.reporting.kpis.api import kpis_router
from services.reporting.reports.api import reports_router
from services.reporting.reports.runs import ReportRuns
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.temporal import TemporalConnection

# The routes it offers the frontends (the gateway forwards them under /v1).
ROUTERS: list[APIRouter] = [kpis_router, reports_router, audit_router]


def build_app(settings: Settings) -> FastAPI:
    # Requesting, approving and rejecting a report start or signal its workflow: without
    # Temporal a request answers 503 and the KPIs, reports and downloads still work.
    temporal = TemporalConnection(settings)

    async def on_startup(app: FastAPI) -> None:
        temporal.start_connecting()

    async def on_shutdown(app: FastAPI) -> None:
        await temporal.close()

    app = create_service_app(
        ServiceRuntime("reporting", settings),
        ROUTERS,
        title="Atlantide Engage: reporting",
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
    app.state.report_runs = ReportRuns(temporal, settings)
    return app
