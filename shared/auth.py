"""Principals and bearer tokens.

Claims: ``sub`` (the principal), ``roles`` and ``orgs`` (organisation ids the principal may see;
``"*"`` for agency staff who see every client). Development signs HS256 with the configured
secret; production verifies RS256 against the identity provider's JWKS.
"""

from __future__ import annotations

import asyncio
import uuid
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


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="atlantide-engage"'},
    )


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._auth = settings.auth
        self._jwks = jwt.PyJWKClient(self._auth.jwks_url) if self._auth.jwks_url else None

    async def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches (and caches) the key set synchronously.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: Any = signing_key.key
                algorithms = ["RS256"]
            else:
                key = self._auth.jwt_secret.get_secret_value()
                algorithms = ["HS256"]
            raw = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._auth.audience,
                issuer=self._auth.issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise _unauthorized("The token has expired.") from error
        except jwt.PyJWTError as error:
            raise _unauthorized(f"The token is not valid: {error}") from error
        try:
            claims = _Claims.model_validate(raw)
            organizations = frozenset(
                uuid.UUID(org) for org in claims.orgs if org != ALL_ORGANIZATIONS
            )
        except (ValidationError, ValueError) as error:
            raise _unauthorized("The token's claims are not valid.") from error
        return Principal(
            subject=claims.sub,
            roles=frozenset(claims.roles),
            organizations=organizations,
            all_organizations=ALL_ORGANIZATIONS in claims.orgs,
        )


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
        raise _unauthorized("An 'Authorization: Bearer <token>' header is required.")
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
