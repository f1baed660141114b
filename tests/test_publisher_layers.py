"""Layers checked on the code: services never import workflows (the gateway, which starts and
queries them, excepted), and the publisher's queries are all in its repository."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_architecture import ROOT, imported_modules

# The gateway controls workflows through the Temporal client and reads their messages.
MAY_IMPORT_WORKFLOWS = ROOT / "services" / "gateway"
PUBLISHER = ROOT / "services" / "publisher"
# Tables, their migrations, and the one module that queries them; connectors speak HTTP.
MAY_BUILD_QUERIES = [
    PUBLISHER / "repository.py",
    PUBLISHER / "models.py",
    PUBLISHER / "migrations",
    PUBLISHER / "connectors",
]
# What the other modules may use of SQLAlchemy: the session's type and its errors.
SESSION_ONLY = {"sqlalchemy.ext.asyncio", "sqlalchemy.exc"}
QUERY_METHODS = {"execute", "scalar", "scalars", "get", "stream", "stream_scalars"}


def test_services_do_not_import_workflows() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "services").rglob("*.py")
        if not path.is_relative_to(MAY_IMPORT_WORKFLOWS)
        for module in imported_modules(path)
        if module == "workflows" or module.startswith("workflows.")
    }
    assert offenders == set()


def session_queries(path: Path) -> set[str]:
    """``session.<query>(...)`` calls in the module."""
    return {
        f"session.{node.func.attr}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in QUERY_METHODS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "session"
    }


def test_the_publishers_queries_are_in_its_repository() -> None:
    offenders = set()
    for path in PUBLISHER.rglob("*.py"):
        if any(path == allowed or path.is_relative_to(allowed) for allowed in MAY_BUILD_QUERIES):
            continue
        name = path.relative_to(ROOT)
        offenders |= {
            f"{name} imports {module}"
            for module in imported_modules(path)
            if module.startswith("sqlalchemy") and module not in SESSION_ONLY
        }
        offenders |= {f"{name} calls {call}" for call in session_queries(path)}
    assert offenders == set()
