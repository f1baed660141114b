"""Each data service's own PostgreSQL role, with rights on its own schema's rows only.

Migrations run as the owner (``ENGAGE_DATABASE_URL``): it creates the schemas and their tables.
A service's processes connect as its role, which may read and write the rows of its own schema's
tables and use their sequences, and nothing more: no other schema, no DDL, not the Alembic
version table. The owner's default privileges in each schema give the role the tables a later
migration adds; the grants are also made again after every migration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.tls import plain_tls_default
from shared.settings import DATA_SERVICES, Credential, ServiceName, Settings

ROW_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Beyond rows: the reporting read model is emptied with TRUNCATE before a rebuild replays the
# stream into it (services/reporting/readmodel/rebuild.py).
EXTRA_TABLE_PRIVILEGES: dict[ServiceName, tuple[str, ...]] = {"reporting": ("TRUNCATE",)}
# Roles belong to the server, not to one database: processes setting them up at once (for two
# databases of one server, say) take turns on this advisory lock, in the maintenance database
# for the roles and in the service's database for the grants.
ROLES_LOCK_KEY = 0x656E_6761_6765  # "engage"
MAINTENANCE_DATABASE = "postgres"


@dataclass(frozen=True)
class ServiceRole:
    service: ServiceName
    user: str
    password: str


def service_role(settings: Settings, service: ServiceName) -> ServiceRole | None:
    """The service's role, or None when it connects with ``ENGAGE_DATABASE_URL`` as it is."""
    roles = settings.database_roles
    if not roles.enabled:
        return None
    credential: Credential = getattr(roles, service)
    resolved = credential.resolve(service, f"engage_{service}", settings.environment)
    if resolved is None:
        return None
    return ServiceRole(service, *resolved)


def service_roles(settings: Settings) -> list[ServiceRole]:
    return [role for s in DATA_SERVICES if (role := service_role(settings, s)) is not None]


def service_database_url(settings: Settings, service: ServiceName) -> str:
    """Where the service's processes connect: the owner's database as the service's role."""
    role = service_role(settings, service)
    if role is None:
        return settings.database_url
    url = make_url(settings.database_url).set(username=role.user, password=role.password)
    return url.render_as_string(hide_password=False)


async def _connect(settings: Settings, database: str) -> asyncpg.Connection:
    url = make_url(settings.database_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=database,
        timeout=settings.dependency_timeout_seconds,
        **plain_tls_default(settings.database_url),
    )


async def _quoted(connection: asyncpg.Connection, template: str, *values: str) -> str:
    """``template`` with ``%I`` identifiers and ``%L`` literals quoted by PostgreSQL itself."""
    placeholders = ", ".join(f"${i}::text" for i in range(1, len(values) + 1))
    statement: str = await connection.fetchval(
        f"SELECT format('{template}', {placeholders})", *values
    )
    return statement


async def ensure_roles(settings: Settings) -> list[ServiceRole]:
    """Create or update every service's role and grant it its schema (idempotent; run as the
    owner after the migrations, by ``engage migrate`` and ``engage up``)."""
    roles = service_roles(settings)
    if not roles:
        return roles
    server = await _connect(settings, MAINTENANCE_DATABASE)
    try:
        async with server.transaction():
            await server.execute("SELECT pg_advisory_xact_lock($1)", ROLES_LOCK_KEY)
            for role in roles:
                await _ensure_login(server, role)
    finally:
        await server.close()
    database = make_url(settings.database_url).database
    assert database, "ENGAGE_DATABASE_URL must name a database"
    connection = await _connect(settings, database)
    try:
        async with connection.transaction():
            # Concurrent grants on one object fail ("tuple concurrently updated").
            await connection.execute("SELECT pg_advisory_xact_lock($1)", ROLES_LOCK_KEY)
            # PostgreSQL before 15 lets every role create tables in ``public``.
            await connection.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            for role in roles:
                for statement in await _grants(connection, role):
                    await connection.execute(statement)
    finally:
        await connection.close()
    return roles


async def _ensure_login(server: asyncpg.Connection, role: ServiceRole) -> None:
    exists = await server.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role.user)
    template = (
        "ALTER ROLE %I WITH LOGIN PASSWORD %L"
        if exists
        else "CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS PASSWORD %L"
    )
    await server.execute(await _quoted(server, template, role.user, role.password))


async def _grants(connection: asyncpg.Connection, role: ServiceRole) -> Sequence[str]:
    owner: str = await connection.fetchval("SELECT current_user")
    database: str = await connection.fetchval("SELECT current_database()")
    schema = role.service
    tables = ", ".join((*ROW_PRIVILEGES, *EXTRA_TABLE_PRIVILEGES.get(role.service, ())))
    templates = [
        ("GRANT CONNECT ON DATABASE %I TO %I", database, role.user),
        ("GRANT USAGE ON SCHEMA %I TO %I", schema, role.user),
        (f"GRANT {tables} ON ALL TABLES IN SCHEMA %I TO %I", schema, role.user),
        ("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I", schema, role.user),
        (
            f"ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT {tables} ON TABLES TO %I",
            owner,
            schema,
            role.user,
        ),
        (
            "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I "
            "GRANT USAGE, SELECT ON SEQUENCES TO %I",
            owner,
            schema,
            role.user,
        ),
        # Alembic's bookkeeping is the owner's: a service never moves its schema's version.
        ("REVOKE ALL ON TABLE %I.alembic_version FROM %I", schema, role.user),
    ]
    return [await _quoted(connection, template, *values) for template, *values in templates]


async def drop_roles(settings: Settings) -> None:
    """Drop the services' roles (a scratch server's end; their databases must be gone first, or
    hold nothing granted to them)."""
    roles = service_roles(settings)
    if not roles:
        return
    server = await _connect(settings, MAINTENANCE_DATABASE)
    try:
        async with server.transaction():
            await server.execute("SELECT pg_advisory_xact_lock($1)", ROLES_LOCK_KEY)
            for role in roles:
                await server.execute(await _quoted(server, "DROP ROLE IF EXISTS %I", role.user))
    finally:
        await server.close()
