"""NATS users and their subject permissions, on a private server started as ``engage up`` starts
its embedded one (``infra.start_nats(..., users=True)``)."""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import SecretStr

from engage import infra
from engage.nats_auth import (
    CONFIG_NAME,
    PUBLISHED_DOMAINS,
    as_component,
    component_environment,
    nats_user,
    nats_users,
)
from shared.events.jetstream import connect_nats, ensure_stream, nats_credentials
from shared.settings import DATA_SERVICES, EventSettings, NatsUsersSettings, Settings

SERVICES_DIR = Path(__file__).resolve().parents[1] / "services"
# A JetStream request the server drops (a permissions violation) is never answered.
REFUSED_WITHIN_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    settings = Settings(
        environment="test",
        nats_url=f"nats://127.0.0.1:{free_port()}",
        data_dir=str(tmp_path_factory.mktemp("nats-users")),
        events=EventSettings(stream="PERMS", subject_prefix="tperm"),
    )
    handle = await infra.start_nats(settings, users=True)
    assert handle is not None
    admin = await connect_nats(as_component(settings, "admin"), "test-admin")
    await ensure_stream(admin.jetstream(), settings.events)
    await admin.drain()
    yield settings
    await infra.stop_process(handle)


class Connection:
    """A client that keeps the asynchronous errors the server sends it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.client = NatsClient()

    async def on_error(self, error: Exception) -> None:
        self.errors.append(str(error))

    async def open(self, settings: Settings, component: str | None) -> Connection:
        credentials = nats_credentials(as_component(settings, component)) if component else {}
        await self.client.connect(
            settings.nats_url,
            allow_reconnect=False,
            connect_timeout=2,
            error_cb=self.on_error,
            **credentials,
        )
        return self

    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]


async def stream_subjects(settings: Settings) -> list[str]:
    admin = await connect_nats(as_component(settings, "admin"), "test-admin")
    try:
        js = admin.jetstream()
        state = (await js.stream_info(settings.events.stream)).state
        if not state.messages:
            return []
        return [
            (await js.get_msg(settings.events.stream, seq)).subject or ""
            for seq in range(state.first_seq, state.last_seq + 1)
        ]
    finally:
        await admin.drain()


async def test_a_connection_without_credentials_or_with_a_wrong_password_is_refused(
    secured: Settings,
) -> None:
    with pytest.raises(NatsError, match="Authorization Violation"):
        await Connection().open(secured, None)

    content = nats_user(secured, "content")
    assert content is not None
    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(
            secured.nats_url, user=content.user, password="wrong", allow_reconnect=False
        )


async def test_content_publishes_its_own_subjects_and_not_strategys(secured: Settings) -> None:
    prefix = secured.events.subject_prefix
    before = await stream_subjects(secured)
    content = await Connection().open(secured, "content")
    try:
        js = content.client.jetstream()
        ack = await js.publish(f"{prefix}.content.item_created.org-1", b"{}")
        assert ack.stream == secured.events.stream
        with pytest.raises(NatsTimeoutError):
            await js.publish(
                f"{prefix}.strategy.brief_approved.org-1", b"{}", timeout=REFUSED_WITHIN_SECONDS
            )
    finally:
        await content.client.close()

    assert content.violations() == [
        f'nats: permissions violation for publish to "{prefix}.strategy.brief_approved.org-1"'
    ]
    assert await stream_subjects(secured) == [*before, f"{prefix}.content.item_created.org-1"]


async def test_a_service_cannot_purge_or_delete_the_stream(secured: Settings) -> None:
    publisher = await Connection().open(secured, "publisher")
    try:
        js = publisher.client.jetstream()
        with pytest.raises(NatsTimeoutError):
            await js.purge_stream(secured.events.stream)
        with pytest.raises(NatsTimeoutError):
            await js.delete_stream(secured.events.stream)
    finally:
        await publisher.client.close()

    assert len(publisher.violations()) == 2
    await stream_subjects(secured)  # the stream is still there


async def test_services_consume_any_domain_and_the_gateway_only_reads(secured: Settings) -> None:
    prefix = secured.events.subject_prefix
    strategy = await connect_nats(as_component(secured, "strategy"), "test-strategy")
    try:
        await strategy.jetstream().publish(f"{prefix}.lifecycle.phase_started.org-2", b"{}")
    finally:
        await strategy.drain()

    # A durable pull consumer of another domain, as the services' consumers are.
    content = await connect_nats(as_component(secured, "content"), "test-content")
    try:
        pull = await content.jetstream().pull_subscribe(
            f"{prefix}.lifecycle.>", durable="content-lifecycle", stream=secured.events.stream
        )
        [message] = await pull.fetch(1, timeout=5)
        await message.ack_sync()
        assert message.subject == f"{prefix}.lifecycle.phase_started.org-2"
    finally:
        await content.drain()

    gateway = await Connection().open(secured, "gateway")
    try:
        js = gateway.client.jetstream()
        ordered = await js.subscribe(
            f"{prefix}.lifecycle.>", stream=secured.events.stream, ordered_consumer=True
        )
        message = await ordered.next_msg(timeout=5)
        assert message.subject == f"{prefix}.lifecycle.phase_started.org-2"
        with pytest.raises(NatsTimeoutError):
            await js.publish(f"{prefix}.content.item_created.org-2", b"{}", timeout=1)
    finally:
        await gateway.client.close()
    assert len(gateway.violations()) == 1


def test_the_users_file_is_readable_by_its_owner_only(secured: Settings) -> None:
    path = Path(secured.data_dir) / CONFIG_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert all(user.password in text for user in nats_users(secured))


def test_every_domain_a_service_emits_is_one_it_may_publish() -> None:
    """The permissions follow the code: each ``"<domain>.<event>"`` constant a service declares
    (or its ``*_DOMAIN``) is under a domain its user may publish."""
    all_domains = {d for domains in PUBLISHED_DOMAINS.values() for d in domains}
    event_name = re.compile(r'^[A-Z][A-Z_]* = "([a-z_]+)\.[a-z_]+"', re.MULTILINE)
    domain_name = re.compile(r'^[A-Z_]*DOMAIN = "([a-z_]+)"', re.MULTILINE)
    for service in DATA_SERVICES:
        emitted: set[str] = set()
        for path in (SERVICES_DIR / service).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            emitted |= {d for d in event_name.findall(text) if d in all_domains}
            emitted |= set(domain_name.findall(text))
        assert emitted, service
        assert emitted <= set(PUBLISHED_DOMAINS[service]), (service, emitted)


def test_a_process_keeps_its_own_credentials_and_prod_has_no_default_users() -> None:
    own = Settings(nats_user="mine", nats_password=SecretStr("pw"))
    assert as_component(own, "content") is own

    dev = Settings(environment="dev")
    assert component_environment(dev, "gateway")["ENGAGE_NATS_USER"] == "engage-gateway"
    disabled = dev.model_copy(update={"nats_users": NatsUsersSettings(enabled=False)})
    assert nats_user(disabled, "admin") is None
    assert nats_user(dev.model_copy(update={"environment": "prod"}), "content") is None
