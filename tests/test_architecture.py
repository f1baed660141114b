"""Boundaries the design card fixes, checked on the code and the running schema."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.content.tables import Base as ContentBase
from services.gateway.app import build_app as build_gateway
from services.listening.models import Base as ListeningBase
from services.publisher.models import Base as PublisherBase
from services.reporting.models import Base as ReportingBase
from services.strategy.models import Base as StrategyBase
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_workflows_reach_services_only_through_their_contracts() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "workflows").rglob("*.py")
        for module in imported_modules(path)
        if (module.startswith("services.") and not module.endswith(".contracts"))
        or module.startswith(("sqlalchemy", "shared.db"))
    }
    assert offenders == set()


def test_services_do_not_import_each_others_database_code() -> None:
    offenders = set()
    for service_dir in (ROOT / "services").iterdir():
        if not (service_dir / "__init__.py").exists():
            continue
        for path in service_dir.rglob("*.py"):
            for module in imported_modules(path):
                parts = module.split(".")
                foreign = parts[0] == "services" and len(parts) > 2 and parts[1] != service_dir.name
                if foreign and parts[2] in {"models", "repository", "service", "activities"}:
                    offenders.add(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == set()


@pytest.mark.parametrize(
    "metadata",
    [
        StrategyBase.metadata,
        ContentBase.metadata,
        PublisherBase.metadata,
        ListeningBase.metadata,
        ReportingBase.metadata,
    ],
    ids=lambda metadata: metadata.schema,
)
async def test_migrations_match_the_models(engine: AsyncEngine, metadata: MetaData) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parent: (
                    name == metadata.schema if type_ == "schema" else name != "alembic_version"
                ),
            },
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


def test_every_v1_route_documents_problem_responses(settings: Settings) -> None:
    app: FastAPI = build_gateway(settings)
    schema = app.openapi()
    assert "Problem" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, operation in operations.items():
            assert {"401", "422"} <= operation["responses"].keys(), f"{method} {path}"
            assert operation.get("security"), f"{method} {path} must declare bearer auth"
