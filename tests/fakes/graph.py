"""The Graph API's error bodies and token exchange, shared by the Facebook and Instagram fakes.

Errors follow https://developers.facebook.com/docs/graph-api/guides/error-handling: an
``OAuthException`` with ``code``/``error_subcode``, and ``x-business-use-case-usage`` when a
Page or Instagram account is throttled.
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


def missing_object(object_id: str) -> Response:
    return graph_error(
        400,
        f"Unsupported delete request. Object with ID '{object_id}' does not exist",
        100,
        33,
    )


async def exchange_token(fake: FakePlatform, request: Request) -> Response:
    """``POST /oauth/access_token`` with ``grant_type=fb_exchange_token``: a fresh long-lived
    token for a valid one."""
    form = await form_fields(request)

    async def work() -> Answer | Response:
        valid_app = form.get("client_id") == APP_ID and form.get("client_secret") == APP_SECRET
        if form.get("grant_type") != "fb_exchange_token" or not valid_app:
            return graph_error(400, "Invalid client_id or grant", 101)
        if form.get("fb_exchange_token") != VALID_TOKEN:
            return expired_token()
        body = {"access_token": "long-lived-token", "token_type": "bearer", "expires_in": 5184000}
        return Answer(body)

    return await fake.handle(request, "token", work, payload=form, authenticated=False)
