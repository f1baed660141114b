"""What ``engage up`` runs: each service and worker as a ``python -m engage`` child with the
environment it reads its settings from, the infrastructure components it uses or starts, and
how often a crashed one is restarted."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from engage import infra, nats_auth
from engage.infra import EmbeddedProcess
from shared.db.roles import service_database_url
from shared.settings import DATA_SERVICES, SERVICE_NAMES, ServiceName, Settings

SERVED_SERVICES: tuple[ServiceName, ...] = SERVICE_NAMES
# The built-in sandbox platform: served like a service (labelled in the table so nobody takes it
# for a real one).
SANDBOX = "sandbox"
# Each data service's worker (its activities and outbox relay), then the workflow worker.
WORKERS: tuple[str, ...] = (*DATA_SERVICES, "workflows")

MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 10.0


@dataclass(frozen=True)
class ChildSpec:
    """One ``python -m engage ...`` process; ``port`` is set for HTTP services."""

    name: str
    args: tuple[str, ...]
    port: int | None = None


@dataclass(frozen=True)
class _Component:
    title: str
    target: Callable[[Settings], tuple[str, int]]
    reachable: Callable[[Settings], Awaitable[bool]]
    start: Callable[[Settings], Awaitable[EmbeddedProcess | None]]


COMPONENTS = (
    _Component("PostgreSQL", infra.postgres_target, infra.postgres_reachable, infra.start_postgres),
    # The embedded NATS admits only the components' users (engage/nats_auth.py).
    _Component(
        "NATS", infra.nats_target, infra.nats_reachable, partial(infra.start_nats, users=True)
    ),
    _Component("Temporal", infra.temporal_target, infra.temporal_reachable, infra.start_temporal),
    # Notifications' e-mail: the embedded server keeps what is sent under <data_dir>/mail.
    _Component("SMTP", infra.smtp_target, infra.smtp_reachable, infra.start_smtp),
)


def child_specs(settings: Settings) -> list[ChildSpec]:
    services = [ChildSpec(s, ("serve", s), getattr(settings.ports, s)) for s in SERVED_SERVICES]
    services.append(ChildSpec(SANDBOX, ("serve", SANDBOX), settings.ports.sandbox))
    workers = [ChildSpec(f"worker {w}", ("worker", w)) for w in WORKERS]
    return services + workers


def child_component(spec: ChildSpec) -> str | None:
    """Whom a child acts for: the service it serves or works for, ``workflows``; the sandbox
    platform is no component of ours."""
    name = spec.args[-1]
    return None if name == SANDBOX else name


def child_environment(
    settings: Settings, component: str | None = None, *, nats_users: bool = False
) -> dict[str, str]:
    """The children read their settings from the environment: pin what was checked here.

    A data service's processes connect to PostgreSQL as its own role, and with ``nats_users``
    (the embedded NATS, configured here) each component's to NATS as its own user.
    """
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ENGAGE_DATABASE_URL": settings.database_url,
        "ENGAGE_NATS_URL": settings.nats_url,
        "ENGAGE_TEMPORAL__ADDRESS": settings.temporal.address,
        "ENGAGE_TEMPORAL__NAMESPACE": settings.temporal.namespace,
    }
    if component in DATA_SERVICES:
        environment["ENGAGE_DATABASE_URL"] = service_database_url(settings, component)
    if nats_users and component is not None:
        environment |= nats_auth.component_environment(settings, component)
    return environment


def restart_delay(recent_restarts: int) -> float:
    return min(2.0 ** max(recent_restarts - 1, 0), MAX_BACKOFF_SECONDS)
