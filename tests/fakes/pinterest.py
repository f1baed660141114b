"""Fake Pinterest API v5: pins, a board's pins, pin metrics, the user account, OAuth refresh."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import Answer, FakePlatform, form_fields

BOARD_ID = "549755885175"
FOLLOWERS = 880
CLIENT_ID = "pinterest-app"
CLIENT_SECRET = "pinterest-secret"
REFRESH_TOKEN = "pinterest-refresh"
# The rate-limited answer's Retry-After (an HTTP date) is this many seconds ahead.
RETRY_IN_SECONDS = 90


def pinterest_error(status: int, code: int, message: str, **headers: str) -> Response:
    return JSONResponse({"code": code, "message": message}, status, headers=headers)


class FakePinterest(FakePlatform):
    def __init__(self) -> None:
        self.pins: dict[str, dict[str, Any]] = {}
        super().__init__()

    def live_posts(self) -> list[str]:
        return list(self.pins)

    def expired_token(self) -> Response:
        return pinterest_error(401, 2, "Authentication failed.")

    def rate_limited(self) -> Response:
        retry_at = datetime.now(UTC) + timedelta(seconds=RETRY_IN_SECONDS)
        return pinterest_error(
            429,
            8,
            "You have exceeded your rate limit. Try again later.",
            **{"Retry-After": format_datetime(retry_at, usegmt=True)},
        )

    def server_error(self) -> Response:
        return pinterest_error(500, 3, "Something went wrong on our end. Sorry about that.")

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/v5/oauth/token", self.token, methods=["POST"])
        app.add_api_route("/v5/pins", self.create_pin, methods=["POST"])
        app.add_api_route("/v5/pins/{pin_id}", self.read_pin, methods=["GET"])
        app.add_api_route("/v5/boards/{board_id}/pins", self.board_pins, methods=["GET"])
        app.add_api_route("/v5/user_account", self.user_account, methods=["GET"])

    async def token(self, request: Request) -> Response:
        form = await form_fields(request)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

        async def work() -> Answer | Response:
            if request.headers.get("authorization") != f"Basic {expected}":
                return pinterest_error(401, 2, "Authentication failed.")
            if (
                form.get("grant_type") != "refresh_token"
                or form.get("refresh_token") != REFRESH_TOKEN
            ):
                return pinterest_error(400, 1, "Invalid refresh token.")
            return Answer(
                {
                    "access_token": "pinterest-access-renewed",
                    "response_type": "refresh_token",
                    "token_type": "bearer",
                    "expires_in": 2592000,
                    "scope": "boards:read,pins:read,pins:write,user_accounts:read",
                }
            )

        return await self.handle(request, "token", work, payload=form, authenticated=False)

    async def create_pin(self, request: Request) -> Response:
        body = await request.json()

        async def work() -> Answer | Response:
            source = body.get("media_source", {})
            if body.get("board_id") != BOARD_ID:
                return pinterest_error(404, 2, "Board not found.")
            if source.get("source_type") not in ("image_url", "multiple_image_urls"):
                return pinterest_error(400, 1, "Invalid request parameters: media_source")
            pin_id = self.next_id()
            self.pins[pin_id] = {
                "id": pin_id,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "board_id": body["board_id"],
                "title": body.get("title"),
                "description": body.get("description"),
                "link": body.get("link"),
                "media": {"media_type": "image"},
                "media_source": source,
            }
            return Answer({k: v for k, v in self.pins[pin_id].items() if k != "media_source"}, 201)

        return await self.handle(request, "publish", work, payload=body)

    async def read_pin(self, pin_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            pin = self.pins.get(pin_id)
            if pin is None:
                return pinterest_error(404, 50, "Pin not found.")
            lifetime = {
                "impression": 310,
                "save": 12,
                "pin_click": 7,
                "outbound_click": 2,
                "reaction": 9,
                "comment": 1,
            }
            metrics = {
                "90d": {"impression": 300, "save": 11, "pin_click": 7},
                "lifetime_metrics": lifetime,
            }
            shown = {k: v for k, v in pin.items() if k != "media_source"}
            if request.query_params.get("pin_metrics") == "true":
                shown["pin_metrics"] = metrics
            return Answer(shown)

        return await self.handle(request, "read", work)

    async def board_pins(self, board_id: str, request: Request) -> Response:
        async def work() -> Answer:
            items = [
                {k: v for k, v in pin.items() if k != "media_source"}
                for pin in reversed(self.pins.values())
                if pin["board_id"] == board_id
            ]
            return Answer({"items": items, "bookmark": None})

        return await self.handle(request, "read", work)

    async def user_account(self, request: Request) -> Response:
        async def work() -> Answer:
            return Answer(
                {
                    "account_type": "BUSINESS",
                    "username": "laquercia",
                    "follower_count": FOLLOWERS,
                    "following_count": 20,
                    "pin_count": len(self.pins),
                }
            )

        return await self.handle(request, "read", work)
