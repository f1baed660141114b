"""Per-service Alembic histories: each service migrates only its own schema.

A service keeps its history in ``services/<name>/migrations`` and its ``env.py`` calls
``run_service_migrations`` with its metadata; ``upgrade`` is what ``engage migrate`` and the
Kubernetes migrations Job run. A service's history may branch (independent tables of one
service, e.g. content items and contests, migrate on branches of their own): ``heads`` takes all.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("version_locations", str(SERVICES_DIR / service / "migrations/versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(service: str, database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


async def upgrade_all(services: tuple[str, ...], database_url: str) -> None:
    # Alembic's commands are synchronous and start their own event loop in env.py.
    for service in services:
        await asyncio.to_thread(upgrade, service, database_url)


def run_service_migrations(metadata: MetaData) -> None:
    """Body of a service's ``env.py``: online migrations of the metadata's schema."""
    schema = metadata.schema
    assert schema, "service metadata must name its schema"
    database_url = context.config.attributes["database_url"]

    def migrate(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            # Autogenerate compares this service's schema only, never the others'.
            include_schemas=True,
            include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run())
