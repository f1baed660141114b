"""Dependencies of the sandbox's routes: the platform itself, and the gate every API call passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.sandbox.limits import TrafficControl
from services.sandbox.state import PlatformState
from shared.errors import ProblemError

# Failed calls are retried by clients after this many seconds.
FAILURE_RETRY_AFTER_SECONDS = 1


@dataclass
class Sandbox:
    state: PlatformState
    traffic: TrafficControl


async def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(_sandbox)]

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")


async def platform_caller(
    sandbox: SandboxDep,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Every ``/v1`` call: a live token, within its account's rate limit, past injected failures.

    Returns the account the token belongs to.
    """
    state, stats = sandbox.state, sandbox.state.stats
    account_id = state.account_for_token(credentials.credentials) if credentials else None
    if account_id is None:
        stats.rejected_unauthorized += 1
        raise ProblemError(
            401,
            "unauthorized",
            "The access token is missing, expired or revoked.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    stats.requests += 1
    decision = sandbox.traffic.admit(account_id, state.now().timestamp())
    headers = decision.headers()
    if not decision.allowed:
        stats.rejected_rate_limited += 1
        raise ProblemError(
            429,
            "rate-limited",
            f"Over {decision.limit} requests; retry after {decision.retry_after_seconds}s.",
            headers=headers,
        )
    if sandbox.traffic.next_call_fails():
        stats.rejected_failures += 1
        raise ProblemError(
            503,
            "sandbox-unavailable",
            "Injected failure: the request was not processed.",
            headers={**headers, "Retry-After": str(FAILURE_RETRY_AFTER_SECONDS)},
        )
    response.headers.update(headers)
    return account_id


CallerDep = Annotated[str, Depends(platform_caller)]


def require_owner(account_id: str, caller: str) -> None:
    if account_id != caller:
        raise ProblemError(403, "forbidden", "The access token belongs to another account.")
