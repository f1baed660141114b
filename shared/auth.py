"""Principals and bearer tokens.

Claims: ``sub`` (the principal) and its roles per organisation: ``org_roles`` maps organisation ids
to the roles held there, ``"*"`` to the roles held in every organisation (agency staff who see
every client); ``roles`` with ``orgs`` is the same grant written the older way (those roles in each
of those organisations). ``"*"`` grants agency roles only: a token granting a client role in every
organisation is refused. Development signs HS256 with the configured secret; production verifies
RS256 or ES256 against the identity provider's JWKS.

Every refused token gets the same 401: why the token was refused is logged, never answered.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError, model_validator

from shared.db.scoping import Scope
from shared.errors import NotFoundError, ProblemError
from shared.permissions import AGENCY_ROLES as AGENCY_ROLES
from shared.permissions import AGENCY_WIDE, allowed_roles, operation_id
from shared.permissions import CLIENT_ROLES as CLIENT_ROLES
from shared.permissions import Role as Role
from shared.settings import Settings

ALL_ORGANIZATIONS = "*"


class Principal(BaseModel):
    """Who calls, and the roles it holds in each organisation it may see.

    ``agency_roles`` are held in every organisation (a ``"*"`` grant); ``organization_roles`` in
    the organisations named. The older form, ``roles`` in ``organizations`` (or in every
    organisation with ``all_organizations``), is accepted as the same grant.
    """

    subject: str
    agency_roles: frozenset[Role] = frozenset()
    organization_roles: Mapping[uuid.UUID, frozenset[Role]] = {}

    @model_validator(mode="before")
    @classmethod
    def _uniform_grant(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "roles" not in data:
            return data
        data = dict(data)
        roles = frozenset(data.pop("roles"))
        organizations = data.pop("organizations", ())
        if data.pop("all_organizations", False):
            data["agency_roles"] = roles
        data["organization_roles"] = {organization: roles for organization in organizations}
        return data

    @property
    def organizations(self) -> frozenset[uuid.UUID]:
        return frozenset(org for org, roles in self.organization_roles.items() if roles)

    @property
    def all_organizations(self) -> bool:
        return bool(self.agency_roles)

    @property
    def scope(self) -> Scope:
        return Scope(organizations=self.organizations, all_organizations=self.all_organizations)

    def roles_in(self, organization_id: uuid.UUID) -> frozenset[Role]:
        """The roles held in one organisation: every role a check asks about."""
        return self.agency_roles | self.organization_roles.get(organization_id, frozenset())

    def holds_in(self, organization_id: uuid.UUID, roles: frozenset[Role]) -> bool:
        return bool(self.roles_in(organization_id) & roles)

    def acting_as(self, roles: frozenset[Role], *, agency_wide: bool = False) -> Principal:
        """The principal seeing only the organisations where it holds one of ``roles`` (and,
        when ``agency_wide``, only if it holds one in every organisation); 403 if none."""
        agency = self.agency_roles if self.agency_roles & roles else frozenset()
        granted = (
            {}
            if agency_wide
            else {org: held for org, held in self.organization_roles.items() if held & roles}
        )
        if not agency and not granted:
            wanted = ", ".join(sorted(roles))
            raise ProblemError(
                403,
                "forbidden",
                "This action needs one of the roles: "
                + wanted
                + (" (in every organisation)" if agency_wide else ""),
                required_roles=sorted(roles),
            )
        return self.model_copy(update={"agency_roles": agency, "organization_roles": granted})

    def require_organization(self, organization_id: uuid.UUID) -> None:
        """404, not 403: another client's organisation must not even be seen to exist."""
        if not self.scope.allows(organization_id):
            raise NotFoundError("organization", organization_id)


class _Claims(BaseModel):
    sub: str
    roles: list[Role] = []
    orgs: list[str] = []
    org_roles: dict[str, list[Role]] = {}

    def grants(self) -> tuple[frozenset[Role], dict[uuid.UUID, frozenset[Role]]]:
        """The roles held in every organisation, and those held per organisation."""
        by_org: dict[str, set[Role]] = {}
        for org in self.orgs:
            by_org.setdefault(org, set()).update(self.roles)
        for org, roles in self.org_roles.items():
            by_org.setdefault(org, set()).update(roles)
        agency = frozenset(by_org.pop(ALL_ORGANIZATIONS, ()))
        if agency - AGENCY_ROLES:
            raise ValueError(
                f"client roles {sorted(agency - AGENCY_ROLES)} granted in every organisation"
            )
        return agency, {uuid.UUID(org): frozenset(roles) for org, roles in by_org.items()}


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


# Tokens verified lately, remembered so that a caller's next requests skip the signature check
# and the claims' validation: at most this many, each until its ``exp`` and at most this long
# (a key withdrawn from the identity provider's set stops admitting its tokens within it).
VERIFIED_TOKENS = 4096
VERIFIED_TOKEN_SECONDS = 60.0


class TokenVerifier:
    """Verifies bearer tokens: the signature, ``exp``, ``aud``, ``iss`` and the claims' grants.

    A token verified once is answered from memory until it expires (``VERIFIED_TOKENS``,
    ``VERIFIED_TOKEN_SECONDS``): the same bytes verified the same way give the same principal.
    A refused token is not remembered: each presentation is checked (and logged) again."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._auth = settings.auth
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
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
        now = self._clock()
        known = self._verified.get(token)
        if known is not None:
            principal, valid_until = known
            if now < valid_until:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        try:
            raw = await self._decode(token)
            claims = _Claims.model_validate(raw)
            agency_roles, organization_roles = claims.grants()
        except (jwt.PyJWTError, ValidationError, ValueError) as error:
            # The reason helps whoever runs the platform, and would help whoever forges tokens.
            log.info("Bearer token refused: %s: %r", type(error).__name__, str(error))
            raise _unauthorized() from error
        principal = Principal(
            subject=claims.sub, agency_roles=agency_roles, organization_roles=organization_roles
        )
        self._remember(token, principal, float(raw["exp"]), now)
        return principal

    def _remember(self, token: str, principal: Principal, expires: float, now: float) -> None:
        self._verified[token] = (principal, min(expires, now + VERIFIED_TOKEN_SECONDS))
        while len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)

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
    org_roles: Mapping[str, Sequence[Role]] | None = None,
) -> str:
    """A development token signed with the HS256 secret (what ``engage token`` prints):
    ``roles`` in each of ``organizations``, plus ``org_roles`` (roles per organisation)."""
    now = datetime.now(UTC)
    lifetime = ttl if ttl is not None else timedelta(seconds=settings.auth.dev_token_ttl_seconds)
    claims = {
        "sub": subject,
        "roles": [role.value for role in roles],
        "orgs": organizations,
        "org_roles": {
            org: [role.value for role in held] for org, held in (org_roles or {}).items()
        },
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
    principal = await verifier.verify(credentials.credentials)
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return principal
    # The permission matrix, applied once per request: the principal the route (and its
    # session's scope) sees holds one of the operation's roles in every organisation it sees.
    operation = operation_id(route)
    return principal.acting_as(allowed_roles(operation), agency_wide=operation in AGENCY_WIDE)


async def verify_request(request: Request) -> Principal:
    """``current_principal`` outside dependency injection (the gateway's forwarded routes)."""
    return await current_principal(request, await _bearer(request))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

# A route's first dependency when it writes or reads a body: the token and the permission matrix
# are checked before anything else of the request is.
AUTHORIZED = Depends(current_principal)


def require_roles(*roles: Role) -> Any:
    """A dependency that admits only principals holding one of ``roles`` in some organisation
    they see for this route. The matrix (``shared.permissions``) already decides every route;
    this narrows nothing and is kept only for routers written before it."""
    wanted = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        return principal.acting_as(wanted)

    return Depends(check)
