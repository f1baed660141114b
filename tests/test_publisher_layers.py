"""Layers checked on the code: services never import workflows (the gateway, which starts and
queries them, excepted); a workflow's messages a service needs are that service's contracts."""

from __future__ import annotations

from tests.test_architecture import ROOT, imported_modules

# The gateway controls workflows through the Temporal client and reads their messages.
MAY_IMPORT_WORKFLOWS = ROOT / "services" / "gateway"


def test_services_do_not_import_workflows() -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "services").rglob("*.py")
        if not path.is_relative_to(MAY_IMPORT_WORKFLOWS)
        for module in imported_modules(path)
        if module == "workflows" or module.startswith("workflows.")
    }
    assert offenders == set()
