"""The Graph API's error bodies, token endpoint and Page tokens, shared by the Facebook and
Instagram fakes.

Errors follow https://developers.facebook.com/docs/graph-api/guides/error-handling: an
``OAuthException`` with ``code``/``error_subcode``, and ``x-business-use-case-usage`` when a
Page or Instagram account is throttled.

Tokens follow Facebook Login's documents: a code gives a short-lived user token
(https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow), which
``fb_exchange_token`` turns into a long-lived one
(https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived); a
Page's ``access_token`` field is the Page token, short-lived when asked with a short-lived user
token and without expiry when asked with a long-lived one
(https://developers.facebook.com/docs/pages/access-tokens/). The Page token without expiry is
the fakes' ``VALID_TOKEN``, the one their publishing endpoints accept.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import VALID_TOKEN, Answer, FakePlatform, form_fields

VERSION = "v21.0"
APP_ID = "app-123"
APP_SECRET = "app-secret"
# The code the user approved in the login dialog, and the user tokens of the login.
APPROVED_CODE = "approved-code"
SHORT_LIVED_TOKEN = "short-lived-user-token"
LONG_LIVED_TOKEN = "long-lived-token"
# What a Page token asked with a short-lived user token is: it would expire within the hour.
HOUR_PAGE_TOKEN = "page-token-for-one-hour"
# What the fakes' throttled answers promise: regain access in this many minutes.
REGAIN_MINUTES = 7


def graph_error(
    status: int,
    message: str,
    code: int,
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status, headers=headers)


def expired_token() -> Response:
    return graph_error(
        400,
        "Error validating access token: Session has expired on Friday, 27-Nov-26 10:00:00 PST.",
        190,
        463,
    )


def throttled(account_id: str) -> Response:
    usage = {
        account_id: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 12,
                "total_time": 15,
                "estimated_time_to_regain_access": REGAIN_MINUTES,
            }
        ]
    }
    return graph_error(
        400,
        "(#32) Page request limit reached",
        32,
        headers={"x-business-use-case-usage": json.dumps(usage)},
    )


def server_error() -> Response:
    return graph_error(500, "An unexpected error has occurred. Please retry your request later.", 2)


async def exchange_token(fake: FakePlatform, request: Request, codes: dict[str, str]) -> Response:
    """``POST /oauth/access_token``: ``grant_type=authorization_code`` gives the user token the
    code was approved for (``codes``: code -> token; a code is single use), and
    ``grant_type=fb_exchange_token`` a fresh long-lived token for a valid one."""
    form = await form_fields(request)

    async def work() -> Answer | Response:
        valid_app = form.get("client_id") == APP_ID and form.get("client_secret") == APP_SECRET
        if not valid_app:
            return graph_error(400, "Error validating client secret.", 1)
        if form.get("grant_type") == "authorization_code":
            token = codes.pop(form.get("code", ""), None)
            if token is None:
                return graph_error(400, "This authorization code has been used.", 100, 36009)
            return Answer({"access_token": token, "token_type": "bearer", "expires_in": 3600})
        if form.get("grant_type") != "fb_exchange_token":
            return graph_error(400, "Unsupported grant_type", 100)
        if form.get("fb_exchange_token") not in (VALID_TOKEN, SHORT_LIVED_TOKEN):
            return expired_token()
        body = {"access_token": LONG_LIVED_TOKEN, "token_type": "bearer", "expires_in": 5184000}
        return Answer(body)

    return await fake.handle(request, "token", work, payload=form, authenticated=False)


def user_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ")
    return token if token in (SHORT_LIVED_TOKEN, LONG_LIVED_TOKEN) else None


def asks_page_token(request: Request) -> bool:
    return "access_token" in request.query_params.get("fields", "").split(",")


def page_with_token(
    request: Request, page_id: str, page: dict[str, Any] | None, granted: bool
) -> Response | Answer:
    """``GET /{page-id}?fields=...access_token...`` asked with a user token: the Page's fields,
    with its token only when the user granted the Page to the app."""
    token = user_token(request)
    if token is None:
        return expired_token()
    if page is None:
        return graph_error(
            400,
            f"Unsupported get request. Object with ID '{page_id}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            100,
            33,
        )
    requested = request.query_params.get("fields", "")
    answer = {"id": page["id"]}
    for name in ("name", "instagram_business_account"):
        if name in requested and page.get(name) is not None:
            answer[name] = page[name]
    if granted:
        answer["access_token"] = VALID_TOKEN if token == LONG_LIVED_TOKEN else HOUR_PAGE_TOKEN
    return Answer(answer)
