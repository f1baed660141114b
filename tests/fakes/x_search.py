"""Fake X API v2 recent search (``GET /2/tweets/search/recent``), for the listening source.

The posts it holds are the ones the query matches (the fake does not read the query, it checks
it as X does: present and at most 512 characters). Answers are newest first, bounded by
``since_id``/``until_id`` (exclusive) and ``start_time`` (no earlier than 7 days ago), paged by
``next_token``, with the authors in ``includes.users``. Every answer carries the rate-limit
headers; ``remaining`` counts down from ``limit`` and the last one allowed says 0.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response

from tests.fakes.common import Answer, FakePlatform
from tests.fakes.x import RESET_IN_SECONDS, problem

INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
SNOWFLAKE_EPOCH_MS = 1_288_834_974_657


class FakeXSearch(FakePlatform):
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.remaining = 450
        self.reset_at = int(time.time()) + RESET_IN_SECONDS
        self._last_id = 0
        super().__init__()

    def live_posts(self) -> list[str]:
        return [post["id"] for post in self.posts]

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset_at),
        }

    def expired_token(self) -> Response:
        return problem(401, "Unauthorized", "Unauthorized")

    def rate_limited(self) -> Response:
        return problem(
            429,
            "Too Many Requests",
            "Too Many Requests",
            **{**self._rate_headers(), "x-rate-limit-remaining": "0"},
        )

    def server_error(self) -> Response:
        return problem(503, "Service Unavailable", "Service Unavailable")

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/2/tweets/search/recent", self.search, methods=["GET"])

    def user(self, username: str, name: str, location: str | None = None) -> str:
        user_id = self.next_id()
        self.users[user_id] = {"id": user_id, "username": username, "name": name}
        if location is not None:
            self.users[user_id]["location"] = location
        return user_id

    def post(
        self,
        author_id: str,
        text: str,
        created_at: datetime,
        *,
        lang: str = "it",
        hashtags: tuple[str, ...] = (),
        mentions: tuple[str, ...] = (),
        point: tuple[float, float] | None = None,
    ) -> str:
        """Publish a post; its id, a Snowflake of ``created_at`` that grows with each post."""
        milliseconds = int(created_at.timestamp() * 1000) - SNOWFLAKE_EPOCH_MS
        self._last_id = max(self._last_id + 1, milliseconds << 22)
        post: dict[str, Any] = {
            "id": str(self._last_id),
            "text": text,
            "author_id": author_id,
            "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "lang": lang,
            "edit_history_tweet_ids": [str(self._last_id)],
        }
        entities: dict[str, Any] = {}
        if hashtags:
            entities["hashtags"] = [{"start": 0, "end": len(t) + 1, "tag": t} for t in hashtags]
        if mentions:
            entities["mentions"] = [
                {"start": 0, "end": len(m) + 1, "username": m, "id": "1"} for m in mentions
            ]
        if entities:
            post["entities"] = entities
        if point is not None:
            longitude, latitude = point
            post["geo"] = {"coordinates": {"type": "Point", "coordinates": [longitude, latitude]}}
        self.posts.append(post)
        return str(post["id"])

    async def search(self, request: Request) -> Response:
        async def work() -> Answer | Response:
            query = request.query_params
            invalid = self._invalid(query)
            if invalid is not None:
                return problem(400, "Invalid Request", invalid, INVALID_REQUEST)
            if self.remaining <= 0:
                return self.rate_limited()
            self.remaining -= 1
            found = [post for post in reversed(self.posts) if self._within(post, query)]
            after = self._by_id(query.get("next_token", ""))
            start = found.index(after) if after in found else 0
            size = int(query.get("max_results", "10"))
            chunk = found[start : start + size]
            meta: dict[str, Any] = {"result_count": len(chunk)}
            if not chunk:
                return Answer({"meta": meta}, headers=self._rate_headers())
            meta |= {"newest_id": chunk[0]["id"], "oldest_id": chunk[-1]["id"]}
            if start + size < len(found):
                meta["next_token"] = f"page-{found[start + size]['id']}"
            authors = dict.fromkeys(post["author_id"] for post in chunk)
            body = {
                "data": chunk,
                "includes": {"users": [self.users[a] for a in authors if a in self.users]},
                "meta": meta,
            }
            return Answer(body, headers=self._rate_headers())

        return await self.handle(request, "read", work)

    def _invalid(self, query: Any) -> str | None:
        if not 1 <= len(query.get("query", "")) <= 512:
            return "The `query` query parameter must be between 1 and 512 characters."
        if not 10 <= int(query.get("max_results", "10")) <= 100:
            return "The `max_results` query parameter value is not between 10 and 100"
        if "start_time" in query:
            start = datetime.fromisoformat(query["start_time"])
            if start < datetime.now(UTC) - timedelta(days=7):
                return "Invalid 'start_time': must be on or after the last 7 days."
        for bound in ("since_id", "until_id"):
            if bound in query and _created(int(query[bound])) < datetime.now(UTC) - timedelta(
                days=7
            ):
                return f"Invalid '{bound}': must be a post id created within the last 7 days."
        token = query.get("next_token")
        if token is not None and self._by_id(token) is None:
            return "The `next_token` query parameter value is not valid."
        return None

    def _by_id(self, token: str) -> dict[str, Any] | None:
        """The post a ``next_token`` starts at."""
        if not token.startswith("page-"):
            return None
        wanted = token.removeprefix("page-")
        return next((post for post in self.posts if post["id"] == wanted), None)

    @staticmethod
    def _within(post: dict[str, Any], query: Any) -> bool:
        number = int(post["id"])
        if "since_id" in query and number <= int(query["since_id"]):
            return False
        if "until_id" in query and number >= int(query["until_id"]):
            return False
        if "start_time" in query:
            return bool(post["created_at"] >= query["start_time"].replace("Z", ".000Z"))
        return True


def _created(post_id: int) -> datetime:
    return datetime.fromtimestamp(((post_id >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, UTC)
