"""Fake Mastodon instance: statuses with ``Idempotency-Key`` (replies with ``in_reply_to_id``,
found again through a status's context), media v2 with asynchronous processing, accounts, and
the instance's error and rate-limit conventions.

Statuses come back as HTML with links split over spans, as Mastodon renders them."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from tests.fakes.common import Answer, FakePlatform, read_form

ACCOUNT_ID = "109302"
FOLLOWERS = 310
# The rate-limited answer's X-RateLimit-Reset (ISO 8601) is this far ahead.
RESET_IN_SECONDS = 30
_LINK = re.compile(r"https?://\S+")


def render(text: str) -> str:
    def link(match: re.Match[str]) -> str:
        url = match[0]
        scheme, _, rest = url.partition("://")
        return (
            f'<a href="{url}" rel="nofollow noopener" target="_blank">'
            f'<span class="invisible">{scheme}://</span><span class="">{rest}</span>'
            '<span class="invisible"></span></a>'
        )

    paragraphs = [_LINK.sub(link, html.escape(p, quote=False)) for p in text.split("\n\n")]
    return "".join(f"<p>{p.replace(chr(10), '<br />')}</p>" for p in paragraphs)


class FakeMastodon(FakePlatform):
    def __init__(self) -> None:
        self.statuses: dict[str, dict[str, Any]] = {}
        self.by_idempotency_key: dict[str, str] = {}
        self.attachments: dict[str, dict[str, Any]] = {}
        super().__init__()

    def live_posts(self) -> list[str]:
        return list(self.statuses)

    def expired_token(self) -> Response:
        return JSONResponse({"error": "The access token is invalid"}, 401)

    def rate_limited(self) -> Response:
        reset = (
            (datetime.now(UTC) + timedelta(seconds=RESET_IN_SECONDS))
            .isoformat()
            .replace("+00:00", "Z")
        )
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        }
        return JSONResponse({"error": "Too many requests"}, 429, headers=headers)

    def server_error(self) -> Response:
        # The proxy in front of the instance answers, not Mastodon: an HTML page.
        return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", 502)

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/api/v1/statuses", self.create_status, methods=["POST"])
        app.add_api_route("/api/v1/statuses/{status_id}", self.read_status, methods=["GET"])
        app.add_api_route(
            "/api/v1/statuses/{status_id}/context", self.status_context, methods=["GET"]
        )
        app.add_api_route("/api/v2/media", self.upload_media, methods=["POST"])
        app.add_api_route("/api/v1/media/{media_id}", self.read_media, methods=["GET"])
        app.add_api_route("/api/v1/accounts/verify_credentials", self.verify, methods=["GET"])
        app.add_api_route(
            "/api/v1/accounts/{account_id}/statuses", self.account_statuses, methods=["GET"]
        )
        app.add_api_route("/api/v1/accounts/{account_id}", self.read_account, methods=["GET"])

    def _status(self, status_id: str) -> dict[str, Any]:
        status = self.statuses[status_id]
        return {k: v for k, v in status.items() if k != "source"}

    async def create_status(self, request: Request) -> Response:
        body = await request.json()
        key = request.headers.get("idempotency-key")

        async def work() -> Answer | Response:
            if key is not None and key in self.by_idempotency_key:
                return Answer(self._status(self.by_idempotency_key[key]))
            text = body.get("status", "")
            media_ids = body.get("media_ids", [])
            in_reply_to_id = body.get("in_reply_to_id")
            if in_reply_to_id is not None and in_reply_to_id not in self.statuses:
                return JSONResponse({"error": "Record not found"}, 404)
            if not text and not media_ids:
                return JSONResponse({"error": "Validation failed: Text can't be blank"}, 422)
            if len(text) > 500:
                return JSONResponse(
                    {"error": "Validation failed: Text character limit of 500 exceeded"}, 422
                )
            status_id = self.next_id()
            self.statuses[status_id] = {
                "id": status_id,
                "created_at": datetime.now(UTC).isoformat(),
                "visibility": body.get("visibility", "public"),
                "content": render(text),
                "source": text,
                "in_reply_to_id": in_reply_to_id,
                "account": {"id": ACCOUNT_ID, "username": "quercia", "acct": "quercia"},
                "url": f"https://mastodon.example/@quercia/{status_id}",
                "media_attachments": [
                    self.attachments[m] for m in media_ids if m in self.attachments
                ],
                "favourites_count": 8,
                "reblogs_count": 2,
                "replies_count": 1,
            }
            if key is not None:
                self.by_idempotency_key[key] = status_id
            return Answer(self._status(status_id))

        return await self.handle(request, "publish", work, payload=body)

    async def read_status(self, status_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if status_id not in self.statuses:
                return JSONResponse({"error": "Record not found"}, 404)
            return Answer(self._status(status_id))

        return await self.handle(request, "read", work)

    async def status_context(self, status_id: str, request: Request) -> Response:
        """The thread below a status: its replies, and theirs, oldest first."""

        async def work() -> Answer | Response:
            if status_id not in self.statuses:
                return JSONResponse({"error": "Record not found"}, 404)
            below, parents = [], {status_id}
            for status in self.statuses.values():
                if status["in_reply_to_id"] in parents:
                    below.append(self._status(status["id"]))
                    parents.add(status["id"])
            return Answer({"ancestors": [], "descendants": below})

        return await self.handle(request, "read", work)

    async def upload_media(self, request: Request) -> Response:
        form = await read_form(request)

        async def work() -> Answer | Response:
            if "file" not in form.files:
                return JSONResponse({"error": "Validation failed: File can't be blank"}, 422)
            content_type, content = form.files["file"]
            media_id = self.next_id()
            video = content_type.startswith("video/")
            self.attachments[media_id] = {
                "id": media_id,
                "type": "video" if video else "image",
                "url": None if video else f"https://files.mastodon.example/{media_id}",
                "size": len(content),
                "checks": 0,
            }
            shown = {
                k: v for k, v in self.attachments[media_id].items() if k not in ("size", "checks")
            }
            return Answer(shown, 202 if video else 200)

        return await self.handle(request, "upload", work)

    async def read_media(self, media_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            attachment = self.attachments.get(media_id)
            if attachment is None:
                return JSONResponse({"error": "Record not found"}, 404)
            attachment["checks"] += 1
            if attachment["url"] is None and attachment["checks"] < 2:
                return Answer({"id": media_id, "type": attachment["type"], "url": None}, 206)
            attachment["url"] = f"https://files.mastodon.example/{media_id}"
            return Answer({"id": media_id, "type": attachment["type"], "url": attachment["url"]})

        return await self.handle(request, "read", work)

    async def verify(self, request: Request) -> Response:
        async def work() -> Answer:
            return Answer(self._account())

        return await self.handle(request, "token", work)

    async def account_statuses(self, account_id: str, request: Request) -> Response:
        async def work() -> Answer:
            return Answer([self._status(s) for s in reversed(self.statuses)])

        return await self.handle(request, "read", work)

    async def read_account(self, account_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if account_id != ACCOUNT_ID:
                return JSONResponse({"error": "Record not found"}, 404)
            return Answer(self._account())

        return await self.handle(request, "read", work)

    def _account(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT_ID,
            "username": "quercia",
            "acct": "quercia",
            "followers_count": FOLLOWERS,
            "following_count": 18,
            "statuses_count": len(self.statuses),
        }
