"""Each data service's PostgreSQL role reaches its own schema's rows and nothing else."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url

from engage.bootstrap import drop_database, ensure_database
from services.content.models import OutboxEvent as ContentOutboxEvent
from shared.db.migrations import upgrade_all
from shared.db.roles import drop_roles, ensure_roles, service_database_url, service_role
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.events.envelope import new_event
from shared.events.outbox import Outbox
from shared.settings import (
    DATA_SERVICES,
    AuthSettings,
    Credential,
    DatabaseRolesSettings,
    ListeningSettings,
    MediaSettings,
    PublisherSettings,
    ServiceName,
    Settings,
)


@pytest.fixture(scope="module")
async def roles_settings() -> AsyncIterator[Settings]:
    """A database of the module's own, migrated by the owner, with roles of the module's own
    (roles are the server's: unique names keep concurrent runs apart)."""
    tag = uuid.uuid4().hex[:8]
    configured = Settings()
    url = make_url(configured.database_url).set(database=f"engage_test_roles_{tag}")
    settings = configured.model_copy(
        update={
            "environment": "test",
            "database_url": url.render_as_string(hide_password=False),
            "database_roles": DatabaseRolesSettings(
                **{s: Credential(user=f"t{tag}_{s}") for s in DATA_SERVICES}
            ),
        }
    )
    await ensure_database(settings)
    await upgrade_all(DATA_SERVICES, settings.database_url)
    await ensure_roles(settings)
    yield settings
    await drop_database(settings)
    await drop_roles(settings)


def plain_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect_as(settings: Settings, service: ServiceName) -> asyncpg.Connection:
    return await asyncpg.connect(plain_dsn(service_database_url(settings, service)))


async def connect_as_owner(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(plain_dsn(settings.database_url))


async def tables_of(settings: Settings) -> dict[str, list[str]]:
    """Every table of every service's schema, as the owner sees them."""
    owner = await connect_as_owner(settings)
    try:
        rows = await owner.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'",
            list(DATA_SERVICES),
        )
    finally:
        await owner.close()
    tables: dict[str, list[str]] = {s: [] for s in DATA_SERVICES}
    for row in rows:
        tables[row["table_schema"]].append(row["table_name"])
    return tables


async def test_each_role_reads_its_own_tables_and_no_others(roles_settings: Settings) -> None:
    tables = await tables_of(roles_settings)
    assert all(tables[s] for s in DATA_SERVICES), tables

    for service in DATA_SERVICES:
        role = service_role(roles_settings, service)
        assert role is not None
        connection = await connect_as(roles_settings, service)
        try:
            assert await connection.fetchval("SELECT current_user") == role.user
            for schema, names in tables.items():
                for name in names:
                    query = f'SELECT count(*) FROM "{schema}"."{name}"'  # noqa: S608
                    if schema == service and name != "alembic_version":
                        await connection.fetchval(query)
                        continue
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await connection.fetchval(query)
        finally:
            await connection.close()


async def test_content_role_cannot_read_publisher_nor_create_anything(
    roles_settings: Settings,
) -> None:
    connection = await connect_as(roles_settings, "content")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.fetch("SELECT * FROM publisher.outbox")
        for statement in (
            "CREATE TABLE content.intruder (id int)",
            "CREATE TABLE publisher.intruder (id int)",
            "CREATE TABLE public.intruder (id int)",
            "CREATE SCHEMA intruder",
            "ALTER TABLE content.outbox ADD COLUMN intruder int",
            "DROP TABLE content.outbox",
            "UPDATE content.alembic_version SET version_num = 'x'",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement)
    finally:
        await connection.close()


async def test_content_role_writes_its_rows_through_the_services_engine(
    roles_settings: Settings,
) -> None:
    """The real path: the session factory on the role's URL, the outbox's insert (identity
    sequence, NOTIFY), the relay's update and a delete."""
    settings = roles_settings.model_copy(
        update={"database_url": service_database_url(roles_settings, "content")}
    )
    engine = create_engine(settings)
    try:
        sessions = create_session_factory(engine)
        event = new_event("content.item_created", {"n": 1}, source="urn:test")
        async with session_scope(sessions, SYSTEM) as session:
            assert await Outbox(ContentOutboxEvent).add(session, event)
        async with session_scope(sessions, SYSTEM) as session:
            await session.execute(
                update(ContentOutboxEvent)
                .where(ContentOutboxEvent.event_id == event.id)
                .values(published_at=datetime.now(UTC))
            )
            await session.execute(
                delete(ContentOutboxEvent).where(ContentOutboxEvent.event_id == event.id)
            )
            left = await session.scalar(
                select(func.count()).where(ContentOutboxEvent.event_id == event.id)
            )
        assert left == 0
    finally:
        await engine.dispose()


async def test_tables_of_later_migrations_are_granted(roles_settings: Settings) -> None:
    """Default privileges: a table the owner adds after the roles were set up is the service's
    at once (and still no one else's)."""
    owner = await connect_as_owner(roles_settings)
    try:
        await owner.execute(
            "CREATE TABLE content.later (id bigint GENERATED BY DEFAULT AS IDENTITY)"
        )
    finally:
        await owner.close()
    content = await connect_as(roles_settings, "content")
    publisher = await connect_as(roles_settings, "publisher")
    try:
        await content.execute("INSERT INTO content.later DEFAULT VALUES")
        assert await content.fetchval("SELECT count(*) FROM content.later") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await publisher.fetchval("SELECT count(*) FROM content.later")
    finally:
        await content.close()
        await publisher.close()


async def test_setting_up_the_roles_again_changes_nothing(roles_settings: Settings) -> None:
    await asyncio.gather(ensure_roles(roles_settings), ensure_roles(roles_settings))
    connection = await connect_as(roles_settings, "reporting")
    try:
        await connection.execute("TRUNCATE reporting.outbox")  # the read model's rebuild
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetchval("SELECT count(*) FROM strategy.outbox")
    finally:
        await connection.close()


def prod(roles: DatabaseRolesSettings) -> Settings:
    """Production settings that pass every other check."""
    return Settings(
        environment="prod",
        auth=AuthSettings(jwks_url="https://id.example.com/jwks.json"),
        publisher=PublisherSettings(token_keys=[SecretStr("a" * 44)]),
        listening=ListeningSettings(credential_keys=[SecretStr("a" * 44)]),
        media=MediaSettings(url_signing_keys=[SecretStr("a" * 44)]),
        database_roles=roles,
    )


def test_prod_uses_the_single_url_unless_a_role_has_a_password() -> None:
    settings = prod(DatabaseRolesSettings(content=Credential(password=SecretStr("s3cret"))))

    assert service_database_url(settings, "publisher") == settings.database_url
    content = make_url(service_database_url(settings, "content"))
    assert (content.username, content.password) == ("engage_content", "s3cret")


def test_prod_refuses_a_development_password() -> None:
    dev = Settings(environment="dev")
    role = service_role(dev, "content")
    assert role is not None
    assert role.password.startswith("engage-dev-")

    with pytest.raises(ValueError, match="ENGAGE_DATABASE_ROLES__CONTENT__PASSWORD"):
        prod(DatabaseRolesSettings(content=Credential(password=SecretStr(role.password))))
