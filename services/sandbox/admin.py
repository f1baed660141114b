"""Controls of the simulation, for tests, demos and benchmarks (not part of any real platform)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from services.sandbox.deps import SandboxDep
from services.sandbox.schemas import FaultsOut, FaultsUpdate, StatsOut
from services.sandbox.state import Stats

router = APIRouter(prefix="/sandbox", tags=["sandbox controls"])


@router.get("/faults", response_model=FaultsOut)
async def read_faults(sandbox: SandboxDep) -> FaultsOut:
    return sandbox.traffic.describe()


@router.post("/faults", response_model=FaultsOut)
async def set_faults(body: FaultsUpdate, sandbox: SandboxDep) -> FaultsOut:
    """Change the failure rate, the rate limits, or arm ``accept_then_timeout``."""
    sandbox.traffic.configure(body)
    return sandbox.traffic.describe()


@router.get("/stats", response_model=StatsOut)
async def read_stats(sandbox: SandboxDep) -> StatsOut:
    return StatsOut(**asdict(sandbox.state.stats))


@router.delete("/stats", status_code=204)
async def reset_stats(sandbox: SandboxDep) -> Response:
    sandbox.state.stats = Stats()
    return Response(status_code=204)


@router.post("/accounts/{account_id}/revoke-tokens", status_code=204)
async def revoke_tokens(account_id: str, sandbox: SandboxDep) -> Response:
    """As if the user removed the app: access and refresh tokens stop working."""
    sandbox.state.revoke_tokens(account_id)
    return Response(status_code=204)


@router.post("/accounts/{account_id}/expire-tokens", status_code=204)
async def expire_tokens(account_id: str, sandbox: SandboxDep) -> Response:
    """Access tokens expire now; refresh tokens still work (exercises the refresh flow)."""
    sandbox.state.expire_access_tokens(account_id)
    return Response(status_code=204)
