"""NATS users with subject permissions, one per component (docs/least-privilege.md).

A data service publishes the events of its own domains (``<prefix>.<domain>.>``) and dead letters
of its consumers, and uses JetStream as a client: publish acknowledgements and pull requests
come back on ``_INBOX.>``, acks go to ``$JS.ACK.>``, and the JetStream API minus the stream's
administration (creating, changing, purging or deleting it is ``admin``'s, the set-up's). The
gateway publishes no event: it only reads the stream. ``engage up`` configures the NATS server it
starts with these users (``server_config``), and ``engage nats-config`` prints the same for a
server of one's own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from shared.settings import DATA_SERVICES, Credential, Settings

ADMIN: Final = "admin"
COMPONENTS: tuple[str, ...] = (ADMIN, "gateway", *DATA_SERVICES, "workflows")
# The event domains each component publishes (the ``<domain>`` of ``<domain>.<event>``): the
# strategy service records the lifecycle's facts, the listening service its conversations'.
PUBLISHED_DOMAINS: dict[str, tuple[str, ...]] = {
    "gateway": (),
    "strategy": ("strategy", "lifecycle"),
    "content": ("content",),
    "publisher": ("publisher",),
    "listening": ("listening", "conversations"),
    "reporting": ("reporting",),
    "workflows": (),
}
# Components whose consumers may dead-letter a message (shared/events/consumer.py).
CONSUMERS = (*DATA_SERVICES, "workflows")
DEAD_LETTER_DOMAIN = "deadletter"
# A JetStream client: the API (consumers, stream info, pulls), acks, push flow control.
JETSTREAM_CLIENT = ("$JS.API.>", "$JS.ACK.>", "$JS.FC.>")
STREAM_ADMINISTRATION = (
    "$JS.API.STREAM.CREATE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.STREAM.SNAPSHOT.>",
    "$JS.API.STREAM.RESTORE.>",
)
INBOXES = "_INBOX.>"
CONFIG_NAME = "nats-users.conf"


@dataclass(frozen=True)
class NatsUser:
    component: str
    user: str
    password: str
    # None: every subject.
    publish: tuple[str, ...] | None
    publish_deny: tuple[str, ...]
    subscribe: tuple[str, ...] | None


def nats_user(settings: Settings, component: str) -> NatsUser | None:
    """The component's user, or None when it is not provisioned."""
    users = settings.nats_users
    if not users.enabled:
        return None
    credential: Credential = getattr(users, component)
    resolved = credential.resolve(component, f"engage-{component}", settings.environment)
    if resolved is None:
        return None
    user, password = resolved
    if component == ADMIN:
        return NatsUser(component, user, password, None, (), None)
    prefix = settings.events.subject_prefix
    domains = PUBLISHED_DOMAINS[component]
    if component in CONSUMERS:
        domains = (*domains, DEAD_LETTER_DOMAIN)
    publish = (*(f"{prefix}.{domain}.>" for domain in domains), *JETSTREAM_CLIENT)
    return NatsUser(component, user, password, publish, STREAM_ADMINISTRATION, (INBOXES,))


def nats_users(settings: Settings) -> list[NatsUser]:
    return [user for c in COMPONENTS if (user := nats_user(settings, c)) is not None]


def _permissions(user: NatsUser) -> dict[str, Any]:
    publish: dict[str, Any] = {"allow": list(user.publish or ())}
    if user.publish_deny:
        publish["deny"] = list(user.publish_deny)
    return {"publish": publish, "subscribe": {"allow": list(user.subscribe or ())}}


def server_config(settings: Settings) -> dict[str, Any]:
    """The ``authorization`` block of a NATS server configuration (JSON is valid NATS config)."""
    users = []
    for user in nats_users(settings):
        entry: dict[str, Any] = {"user": user.user, "password": user.password}
        if user.publish is not None:
            entry["permissions"] = _permissions(user)
        users.append(entry)
    return {"authorization": {"users": users}}


def write_server_config(settings: Settings, path: Path) -> Path | None:
    """Write the users' configuration (readable by its owner only); None when there are none."""
    config = server_config(settings)
    if not config["authorization"]["users"]:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(config, file, indent=2)
    path.chmod(0o600)
    return path


def as_component(settings: Settings, component: str) -> Settings:
    """``settings`` connecting to NATS as the component's user; unchanged when the process has
    credentials of its own or the component has no user."""
    if settings.nats_user or settings.nats_credentials_file:
        return settings
    user = nats_user(settings, component)
    if user is None:
        return settings
    return settings.model_copy(
        update={"nats_user": user.user, "nats_password": SecretStr(user.password)}
    )


def component_environment(settings: Settings, component: str) -> dict[str, str]:
    """The environment variables that make a child process connect as the component's user."""
    user = nats_user(settings, component)
    if user is None:
        return {}
    return {
        "ENGAGE_NATS_USER": user.user,
        "ENGAGE_NATS_PASSWORD": user.password,
        "ENGAGE_NATS_CREDENTIALS_FILE": "",
    }
