"""Principals and bearer tokens.

Claims: ``sub`` (the principal), ``roles`` and ``orgs`` (organisation ids the principal may see;
``"*"`` for agency staff who see every client). Development signs HS256 with the configured
secret; production verifies RS256 or ES256 against the identity provider's JWKS.

Every refused token gets the same 401: why the token was refused is logged, never answered.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from shared.db.scoping import Scope
from shared.errors import NotFoundError, ProblemError
from shared.settings import Settings

ALL_ORGANIZATIONS = "*"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    EDITOR = "editor"
    CLIENT_APPROVER = "client_approver"
    CLIENT_VIEWER = "client_viewer"


AGENCY_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.EDITOR})


class Principal(BaseModel):
    subject: str
    roles: frozenset[Role]
    organizations: frozenset[uuid.UUID] = frozenset()
    all_organizations: bool = False

    @property
    def scope(self) -> Scope:
        return Scope(organizations=self.organizations, all_organizations=self.all_organizations)

    def has_any_role(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)

    def require_organization(self, organization_id: uuid.UUID) -> None:
        """404, not 403: another client's organisation must not even be seen to exist."""
        if not self.scope.allows(organization_id):
            raise NotFoundError("organization", organization_id)


class _Claims(BaseModel):
    sub: str
    roles: list[Role]
    orgs: list[str]


UNAUTHORIZED_DETAIL = "The bearer token is missing, expired or invalid."

log = logging.getLogger(__name__)


def _unauthorized() -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        UNAUTHORIZED_DETAIL,
        headers={"WWW-Authenticate": 'Bearer realm="atlantide-engage"'},
    )


class RateLimitedJWKClient(jwt.PyJWKClient):
    """A ``PyJWKClient`` that asks the identity provider for its key set at most once per
    ``min_refetch_seconds``, whatever asks: a token with an unknown ``kid`` (which makes
    ``PyJWKClient`` refetch), the cached set expiring, or a failed fetch being retried.

    In between, the key set last fetched answers; if none was ever fetched, the fetch fails at
    once rather than reaching the provider.
    """

    def __init__(
        self,
        uri: str,
        *,
        min_refetch_seconds: float,
        cache_seconds: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # PyJWT's own cooldown is off: this class limits every fetch, not only the refreshes.
        super().__init__(uri, lifespan=cache_seconds, timeout=timeout, cooldown_duration=0)
        self._min_refetch_seconds = min_refetch_seconds
        self._clock = clock
        self._fetch_lock = threading.Lock()
        self._last_attempt: float | None = None
        # Kept parsed, so that tokens with made-up key ids do not each parse the key set again.
        self._last_key_set: jwt.PyJWKSet | None = None

    def fetch_data(self) -> Any:
        with self._fetch_lock:
            now = self._clock()
            if (
                self._last_attempt is not None
                and now - self._last_attempt < self._min_refetch_seconds
            ):
                if self._last_key_set is None:
                    raise jwt.PyJWKClientConnectionError(
                        "the JWKS endpoint failed less than "
                        f"{self._min_refetch_seconds:g} s ago; not asked again yet"
                    )
                return self._last_key_set
            self._last_attempt = now
            self._last_key_set = jwt.PyJWKSet.from_dict(super().fetch_data())
            return self._last_key_set


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._auth = settings.auth
        self._jwks = (
            RateLimitedJWKClient(
                self._auth.jwks_url,
                min_refetch_seconds=self._auth.jwks_min_refetch_seconds,
                cache_seconds=self._auth.jwks_cache_seconds,
                timeout=settings.dependency_timeout_seconds,
            )
            if self._auth.jwks_url
            else None
        )

    async def verify(self, token: str) -> Principal:
        try:
            raw = await self._decode(token)
            claims = _Claims.model_validate(raw)
            organizations = frozenset(
                uuid.UUID(org) for org in claims.orgs if org != ALL_ORGANIZATIONS
            )
        except (jwt.PyJWTError, ValidationError, ValueError) as error:
            # The reason helps whoever runs the platform, and would help whoever forges tokens.
            log.info("Bearer token refused: %s: %r", type(error).__name__, str(error))
            raise _unauthorized() from error
        return Principal(
            subject=claims.sub,
            roles=frozenset(claims.roles),
            organizations=organizations,
            all_organizations=ALL_ORGANIZATIONS in claims.orgs,
        )

    async def _decode(self, token: str) -> dict[str, Any]:
        key: Any
        algorithms: list[str]
        if self._jwks is not None:
            # PyJWKClient fetches (and caches) the key set synchronously.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            # The key decides the algorithm (its JWK's ``alg``, or its key type), never the
            # token's header: a token cannot choose HS256 with a public key as the secret.
            if signing_key.algorithm_name not in self._auth.jwks_algorithms:
                raise jwt.InvalidAlgorithmError(
                    f"key {signing_key.key_id!r} is for {signing_key.algorithm_name}"
                )
            key = signing_key.key
            algorithms = [signing_key.algorithm_name]
        else:
            key = self._auth.jwt_secret.get_secret_value()
            algorithms = ["HS256"]
        decoded: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=self._auth.audience,
            issuer=self._auth.issuer,
            options={"require": ["exp", "sub"]},
        )
        return decoded


def issue_dev_token(
    settings: Settings,
    subject: str,
    roles: list[Role],
    organizations: list[str],
    ttl: timedelta | None = None,
) -> str:
    """A development token signed with the HS256 secret (what ``engage token`` prints)."""
    now = datetime.now(UTC)
    lifetime = ttl if ttl is not None else timedelta(seconds=settings.auth.dev_token_ttl_seconds)
    claims = {
        "sub": subject,
        "roles": [role.value for role in roles],
        "orgs": organizations,
        "iss": settings.auth.issuer,
        "aud": settings.auth.audience,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, settings.auth.jwt_secret.get_secret_value(), algorithm="HS256")


_bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        log.debug("Bearer token refused: no 'Authorization: Bearer' header")
        raise _unauthorized()
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


async def verify_request(request: Request) -> Principal:
    """``current_principal`` outside dependency injection (the gateway's forwarded routes)."""
    return await current_principal(request, await _bearer(request))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Any:
    """A dependency that admits only principals holding one of ``roles``."""
    wanted = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any_role(wanted):
            raise ProblemError(
                403,
                "forbidden",
                "This action needs one of the roles: " + ", ".join(sorted(wanted)),
                required_roles=sorted(wanted),
            )
        return principal

    return Depends(check)
