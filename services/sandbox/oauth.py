"""An OAuth 2.0 authorization-code flow that runs offline (RFC 6749 sections 4.1 and 6).

``/oauth/authorize`` approves at once (there is no user to ask) and redirects back with the code
and the client's ``state``; ``/oauth/token`` exchanges codes and single-use refresh tokens for
short-lived access tokens. Client ids are recorded nowhere and no client secret is checked.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from services.sandbox.deps import SandboxDep
from services.sandbox.schemas import TokenRequest, TokenResponse

router = APIRouter(prefix="/oauth", tags=["sandbox oauth"])

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


@router.get("/authorize", status_code=302, response_class=RedirectResponse)
async def authorize(
    sandbox: SandboxDep,
    client_id: Annotated[str, Query(min_length=1)],
    redirect_uri: Annotated[str, Query(pattern=r"^https?://[^\s]+$")],
    response_type: Annotated[str, Query(pattern="^code$")] = "code",
    oauth_state: Annotated[str | None, Query(alias="state")] = None,
    account_id: Annotated[
        str | None, Query(description="Account to connect; a new one is signed up when absent")
    ] = None,
) -> RedirectResponse:
    state = sandbox.state
    if account_id is None:
        account = state.create_account(f"Sandbox account {state.data.next_account}", None)
    else:
        account = state.account(account_id)
    query = {"code": state.issue_code(account.id, redirect_uri)}
    if oauth_state is not None:
        query["state"] = oauth_state
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)


_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {FORM_MEDIA_TYPE: {"schema": TokenRequest.model_json_schema()}},
    }
}


@router.post("/token", response_model=TokenResponse, openapi_extra=_FORM_BODY)
async def token(request: Request, response: Response, sandbox: SandboxDep) -> TokenResponse:
    form = await _token_request(request)
    state = sandbox.state
    if form.grant_type == "authorization_code":
        assert form.code is not None  # TokenRequest requires it for this grant
        issued = state.redeem_code(form.code, form.redirect_uri)
    else:
        assert form.refresh_token is not None
        issued = state.rotate_refresh_token(form.refresh_token)
    response.headers["Cache-Control"] = "no-store"
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        account_id=issued.account_id,
    )


async def _token_request(request: Request) -> TokenRequest:
    """The token endpoint takes a form, as RFC 6749 says; errors answer 422 like any body."""
    fields = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
    try:
        return TokenRequest.model_validate(fields)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]
        ) from None
