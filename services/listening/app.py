from fastapi import APIRouter, FastAPI

from services.listening import sentiment_api
from services.listening.alerts.api import alerts_router
from services.listening.alerts.escalations import AlertEscalations
from services.listening.analytics_api import analytics_router
from services.listening.api import mentions_router, router
from services.listening.conversations.api import conversations_router
from services.listening.conversations.replies import ReplyRuns
from services.listening.notifications.api import notifications_router
from services.listening.sources.api import sources_router
from services.listening.sources.push_api import push_router, webhook_router
from services.listening.training_runs import TrainingRuns
from shared.app import create_service_app
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.temporal import TemporalConnection

# The routes it offers the frontends (the gateway forwards them under /v1).
ROUTERS: list[APIRouter] = [
    router,
    mentions_router,
    sentiment_api.router,
    sources_router,
    push_router,
    analytics_router,
    notifications_router,
    alerts_router,
    conversations_router,
]


def build_app(settings: Settings) -> FastAPI:
    # One Temporal client for the routes that start or signal workflows: without Temporal,
    # training a model and replying answer 503, acknowledging and resolving an alert still
    # store it (its escalation reads the alert), and the rest work.
    temporal = TemporalConnection(settings)

    async def on_startup(app: FastAPI) -> None:
        temporal.start_connecting()

    async def on_shutdown(app: FastAPI) -> None:
        await temporal.close()

    app = create_service_app(
        ServiceRuntime("listening", settings),
        # Webhooks are called by Meta and third parties with no bearer token: served here,
        # never forwarded by the gateway (their signature is their authentication).
        [*ROUTERS, webhook_router],
        title="Atlantide Engage: listening",
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
    app.state.training_runs = TrainingRuns(temporal, settings)
    app.state.alert_escalations = AlertEscalations(temporal)
    app.state.reply_runs = ReplyRuns(temporal, settings)
    return app
