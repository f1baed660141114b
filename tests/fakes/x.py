"""Fake X API v2: posts and replies, the v2 chunked media upload, metrics, a user's posts (with
``referenced_tweets``), OAuth 2.0 refresh.

Like X, it refuses a post whose text duplicates a live one (403), shortens links to t.co in the
text it returns, and appends the media's t.co link to a post with media.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import Answer, FakePlatform, form_fields, read_form

USER_ID = "2244994945"
FOLLOWERS = 1500
CLIENT_ID = "x-client"
CLIENT_SECRET = "x-secret"
REFRESH_TOKEN = "x-refresh-1"
# The rate-limited answer's reset is this many seconds ahead.
RESET_IN_SECONDS = 120
_LINK = re.compile(r"https?://\S+")


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank", **headers: str
) -> Response:
    body = {"title": title, "detail": detail, "type": type_, "status": status}
    return JSONResponse(body, status, headers=headers)


class FakeX(FakePlatform):
    def __init__(self) -> None:
        self.tweets: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.refresh_token = REFRESH_TOKEN
        # Authorization codes the user "approved", with the PKCE challenge they came with.
        self.codes: dict[str, str] = {}
        super().__init__()

    def live_posts(self) -> list[str]:
        return list(self.tweets)

    def expired_token(self) -> Response:
        return problem(401, "Unauthorized", "Unauthorized")

    def rate_limited(self) -> Response:
        return problem(
            429,
            "Too Many Requests",
            "Too Many Requests",
            **{
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time()) + RESET_IN_SECONDS),
            },
        )

    def server_error(self) -> Response:
        return problem(503, "Service Unavailable", "Service Unavailable")

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/2/oauth2/token", self.token, methods=["POST"])
        app.add_api_route("/2/tweets", self.create_tweet, methods=["POST"])
        app.add_api_route("/2/tweets/{tweet_id}", self.read_tweet, methods=["GET"])
        app.add_api_route("/2/users/{user_id}/tweets", self.user_tweets, methods=["GET"])
        app.add_api_route("/2/users/{user_id}", self.read_user, methods=["GET"])
        app.add_api_route("/2/media/upload/initialize", self.initialize, methods=["POST"])
        app.add_api_route("/2/media/upload/{media_id}/append", self.append, methods=["POST"])
        app.add_api_route("/2/media/upload/{media_id}/finalize", self.finalize, methods=["POST"])
        app.add_api_route("/2/media/upload", self.upload_status, methods=["GET"])

    async def token(self, request: Request) -> Response:
        """``POST /2/oauth2/token``: the authorization-code grant (PKCE S256 checked) and the
        refresh grant, for a confidential client authenticated with HTTP Basic."""
        form = await form_fields(request)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

        async def work() -> Answer | Response:
            if request.headers.get("authorization") != f"Basic {expected}":
                return JSONResponse({"error": "unauthorized_client"}, 401)
            if not self._grant_is_valid(form):
                body = {
                    "error": "invalid_request",
                    "error_description": "Value passed for the token was invalid.",
                }
                return JSONResponse(body, 400)
            # X rotates the refresh token on every use.
            self.refresh_token = f"x-refresh-{self.next_id()}"
            return Answer(
                {
                    "token_type": "bearer",
                    "expires_in": 7200,
                    "access_token": f"x-access-{self.next_id()}",
                    "scope": "tweet.read tweet.write users.read offline.access",
                    "refresh_token": self.refresh_token,
                }
            )

        return await self.handle(request, "token", work, payload=form, authenticated=False)

    def _grant_is_valid(self, form: dict[str, str]) -> bool:
        if form.get("grant_type") == "refresh_token":
            return form.get("refresh_token") == self.refresh_token
        if form.get("grant_type") != "authorization_code":
            return False
        challenge = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return challenge is not None and computed == challenge and "redirect_uri" in form

    async def create_tweet(self, request: Request) -> Response:
        body = await request.json()

        async def work() -> Answer | Response:
            text = body.get("text", "")
            media_ids = body.get("media", {}).get("media_ids", [])
            replying_to = body.get("reply", {}).get("in_reply_to_tweet_id")
            if not text and not media_ids:
                return problem(
                    400,
                    "Invalid Request",
                    "One or more parameters to your request was invalid.",
                    "https://api.twitter.com/2/problems/invalid-request",
                )
            if any(tweet["source"] == text for tweet in self.tweets.values()):
                return problem(
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                )
            if any(self.uploads.get(m, {}).get("state") != "succeeded" for m in media_ids):
                return problem(
                    400,
                    "Invalid Request",
                    "Your media IDs are invalid.",
                    "https://api.twitter.com/2/problems/invalid-request",
                )
            tweet_id = self.next_id()
            shown = _LINK.sub(lambda _: f"https://t.co/{self.next_id()}", text)
            if media_ids:
                shown = f"{shown} https://t.co/{self.next_id()}"
            self.tweets[tweet_id] = {
                "id": tweet_id,
                "source": text,
                "text": shown,
                "media_ids": media_ids,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
            if replying_to is not None:
                self.tweets[tweet_id]["referenced_tweets"] = [
                    {"type": "replied_to", "id": replying_to}
                ]
            return Answer(
                {"data": {"id": tweet_id, "text": shown, "edit_history_tweet_ids": [tweet_id]}}, 201
            )

        return await self.handle(request, "publish", work, payload=body)

    async def read_tweet(self, tweet_id: str, request: Request) -> Response:
        async def work() -> Answer:
            tweet = self.tweets.get(tweet_id)
            if tweet is None:
                error = {
                    "value": tweet_id,
                    "detail": f"Could not find tweet with id: [{tweet_id}].",
                    "title": "Not Found Error",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
                return Answer({"errors": [error]})
            metrics = {
                "retweet_count": 2,
                "reply_count": 3,
                "like_count": 14,
                "quote_count": 1,
                "bookmark_count": 5,
                "impression_count": 730,
            }
            return Answer(
                {"data": {"id": tweet_id, "text": tweet["text"], "public_metrics": metrics}}
            )

        return await self.handle(request, "read", work)

    async def user_tweets(self, user_id: str, request: Request) -> Response:
        async def work() -> Answer:
            start = request.query_params.get("start_time", "1970-01-01T00:00:00Z")
            fields = request.query_params.get("tweet.fields", "").split(",")
            shown = ["id", "text", "created_at"]
            if "referenced_tweets" in fields:
                shown.append("referenced_tweets")
            recent = [
                {key: t[key] for key in shown if key in t}
                for t in reversed(self.tweets.values())
                if t["created_at"] >= start
            ]
            if not recent:
                return Answer({"meta": {"result_count": 0}})
            meta = {
                "result_count": len(recent),
                "newest_id": recent[0]["id"],
                "oldest_id": recent[-1]["id"],
            }
            return Answer({"data": recent, "meta": meta})

        return await self.handle(request, "read", work)

    async def read_user(self, user_id: str, request: Request) -> Response:
        async def work() -> Answer:
            metrics = {
                "followers_count": FOLLOWERS,
                "following_count": 12,
                "tweet_count": 40,
                "listed_count": 1,
            }
            return Answer(
                {
                    "data": {
                        "id": user_id,
                        "name": "Agriturismo",
                        "username": "quercia",
                        "public_metrics": metrics,
                    }
                }
            )

        return await self.handle(request, "read", work)

    async def initialize(self, request: Request) -> Response:
        body = await request.json()

        async def work() -> Answer | Response:
            if not {"media_type", "total_bytes"} <= body.keys():
                return problem(400, "Invalid Request", "media_type and total_bytes are required.")
            media_id = self.next_id()
            self.uploads[media_id] = {**body, "chunks": {}, "state": "initialized"}
            return Answer(
                {
                    "data": {
                        "id": media_id,
                        "media_key": f"13_{media_id}",
                        "expires_after_secs": 86400,
                    }
                }
            )

        return await self.handle(request, "upload", work, payload=body)

    async def append(self, media_id: str, request: Request) -> Response:
        form = await read_form(request)

        async def work() -> Answer | Response:
            upload = self.uploads.get(media_id)
            if upload is None or "media" not in form.files or "segment_index" not in form.fields:
                return problem(400, "Invalid Request", "media and a known media id are required.")
            upload["chunks"][int(form.fields["segment_index"])] = form.files["media"][1]
            return Answer({"data": {"expires_at": int(time.time()) + 86400}})

        return await self.handle(request, "upload", work, payload=form.fields)

    async def finalize(self, media_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            upload = self.uploads.get(media_id)
            if upload is None:
                return problem(400, "Invalid Request", "Unknown media id.")
            size = sum(len(chunk) for chunk in upload["chunks"].values())
            if size != upload["total_bytes"]:
                return problem(400, "Invalid Request", "File size does not match total_bytes.")
            data: dict[str, Any] = {"id": media_id, "media_key": f"13_{media_id}", "size": size}
            if upload["media_type"].startswith("video/"):
                upload["state"] = "pending"
                data["processing_info"] = {"state": "pending", "check_after_secs": 1}
            else:
                upload["state"] = "succeeded"
            return Answer({"data": data})

        return await self.handle(request, "upload", work)

    async def upload_status(self, request: Request) -> Response:
        async def work() -> Answer | Response:
            upload = self.uploads.get(request.query_params.get("media_id", ""))
            if request.query_params.get("command") != "STATUS" or upload is None:
                return problem(
                    400, "Invalid Request", "command=STATUS and a known media_id are required."
                )
            upload["state"] = "succeeded"
            info = {"state": "succeeded", "progress_percent": 100}
            return Answer(
                {"data": {"id": request.query_params["media_id"], "processing_info": info}}
            )

        return await self.handle(request, "read", work)
