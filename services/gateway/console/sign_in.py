"""Signing in to the console: the sign-in page, development tokens (never where tokens come from
an identity provider, nor in production), and the identity provider's authorization-code flow
with PKCE (``oidc``), whose access token the page keeps as it keeps a development token."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.console import oidc
from services.gateway.console.rendering import CONSOLE_PREFIX, render
from shared.app import SettingsDep
from shared.auth import AGENCY_ROLES, ALL_ORGANIZATIONS, Role, issue_dev_token
from shared.errors import FieldError, ProblemError, validation_problem

# Included by ``routes.router``, under ``/console``.
router = APIRouter(include_in_schema=False)


def _dev_tokens_offered(request: Request) -> bool:
    settings = request.app.state.settings
    return bool(settings.environment != "prod" and not settings.auth.jwks_url)


def _next_page(value: str | None) -> str:
    """Where to go once signed in: a console page, never another site."""
    return (
        value
        if value and value.startswith(f"{CONSOLE_PREFIX}/")
        else f"{CONSOLE_PREFIX}/engagements"
    )


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    return render(
        request,
        "sign_in.html",
        public=True,
        dev_tokens=_dev_tokens_offered(request),
        oidc=oidc.offered(request.app.state.settings.auth),
        next_page=_next_page(next),
        roles=list(Role),
        agency_roles=sorted(AGENCY_ROLES),
    )


def _oidc_problem(request: Request, problem: oidc.OidcError) -> Response:
    response = render(
        request, "oidc_problem.html", status_code=problem.status, public=True, problem=problem
    )
    response.delete_cookie(oidc.FLOW_COOKIE, path=oidc.FLOW_PATH)
    return response


def _redirect_uri(request: Request) -> str:
    configured: str | None = request.app.state.settings.auth.console_redirect_url
    return configured or str(request.url_for("console_oidc_callback"))


@router.get("/oidc/start", response_class=RedirectResponse)
async def console_oidc_start(
    request: Request,
    settings: SettingsDep,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Start the identity provider's sign-in: to its authorization endpoint, with PKCE."""
    if not oidc.offered(settings.auth):
        return _oidc_problem(
            request,
            oidc.OidcError(
                404,
                "This gateway has no identity provider for the console "
                "(ENGAGE_AUTH__JWKS_URL and ENGAGE_AUTH__CONSOLE_CLIENT_ID).",
            ),
        )
    try:
        endpoints = await oidc.provider(settings.auth, settings.dependency_timeout_seconds)
    except oidc.OidcError as problem:
        return _oidc_problem(request, problem)
    flow = oidc.new_flow(_next_page(next))
    response = RedirectResponse(
        oidc.authorization_url(endpoints, settings.auth, flow, _redirect_uri(request)),
        status_code=303,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
    # Lax: the provider sends the browser back with a top-level GET, which carries it.
    response.set_cookie(
        oidc.FLOW_COOKIE,
        oidc.flow_cookie(flow),
        max_age=oidc.FLOW_SECONDS,
        path=oidc.FLOW_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/oidc/callback", response_class=HTMLResponse, name="console_oidc_callback")
async def console_oidc_callback(
    request: Request,
    settings: SettingsDep,
    state: Annotated[str | None, Query(max_length=500)] = None,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """The provider's answer: the state checked, the code exchanged with the verifier, and the
    access token handed to the page, which keeps it as the development sign-in does."""
    flow = oidc.flow_of(request.cookies.get(oidc.FLOW_COOKIE))
    try:
        if flow is None:
            raise oidc.OidcError(
                400,
                "This browser has no sign-in under way (it expired after "
                f"{oidc.FLOW_SECONDS // 60} minutes, or cookies are blocked): sign in again.",
            )
        if not state or not secrets.compare_digest(state.encode(), flow.state.encode()):
            raise oidc.OidcError(
                400,
                "The identity provider's answer does not carry the state this browser's "
                "sign-in started with, so it is refused: sign in again.",
            )
        if error:
            raise oidc.OidcError(
                400, f"The identity provider refused the sign-in: {error_description or error}"
            )
        if not code:
            raise oidc.OidcError(400, "The identity provider's answer carries no code.")
        endpoints = await oidc.provider(settings.auth, settings.dependency_timeout_seconds)
        token = await oidc.exchange(
            endpoints,
            settings.auth,
            flow,
            code,
            _redirect_uri(request),
            settings.dependency_timeout_seconds,
        )
    except oidc.OidcError as problem:
        return _oidc_problem(request, problem)
    response = render(request, "signed_in.html", public=True, token=token, next_page=flow.next)
    response.delete_cookie(oidc.FLOW_COOKIE, path=oidc.FLOW_PATH)
    return response


class DevSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200, pattern=r"^[\w.@+-]+( [\w.@+-]+)*$")
    role: Role
    organization_id: uuid.UUID | None = None


class IssuedToken(BaseModel):
    token: str
    expires_in: int


@router.post("/sign-in", response_model=IssuedToken)
async def issue_console_token(
    body: DevSignIn, request: Request, settings: SettingsDep
) -> IssuedToken:
    """A development token, as ``engage token`` issues it; never where tokens come from an
    identity provider or in production."""
    if not _dev_tokens_offered(request):
        raise ProblemError(
            403,
            "forbidden",
            "This gateway does not issue development tokens: sign in with the identity "
            "provider's token.",
        )
    if body.role in AGENCY_ROLES:
        where = ALL_ORGANIZATIONS
    elif body.organization_id is not None:
        where = str(body.organization_id)
    else:
        raise validation_problem(
            [
                FieldError(
                    field="body.organization_id",
                    message="a client role needs its organisation",
                    type="missing",
                )
            ]
        )
    token = issue_dev_token(settings, body.subject, [], [], org_roles={where: [body.role]})
    return IssuedToken(token=token, expires_in=settings.auth.dev_token_ttl_seconds)
