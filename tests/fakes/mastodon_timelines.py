"""Fake Mastodon instance for reading: hashtag timelines and mention notifications, paged as
the API documents (https://docs.joinmastodon.org/api/guidelines/#pagination): newest first,
``max_id`` for the page before an id, ``min_id`` for the page just after it, ``since_id`` for
the newest after it, ``limit`` up to 40 (default 20), and a ``Link`` header naming the next and
previous pages. Every answer carries ``X-RateLimit-*`` headers; once ``rate_limit_remaining``
is spent, requests are answered 429 until the reset."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import VALID_TOKEN
from tests.fakes.mastodon import render

DOMAIN = "mastodon.example"
DEFAULT_LIMIT = 20
MAX_LIMIT = 40
# X-RateLimit-Reset (ISO 8601) is this far ahead of each answer.
RESET_IN_SECONDS = 240


@dataclass
class TimelineRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakeTimelines:
    statuses: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    seen: list[TimelineRequest] = field(default_factory=list)
    # Requests left before 429; None: unlimited (the headers still say 300).
    rate_limit_remaining: int | None = None
    # Requests answered before a 429 that the headers did not announce (another client of the
    # same account spent the budget); None: never.
    throttled_after: int | None = None
    started: datetime = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def __post_init__(self) -> None:
        self._ids = itertools.count(110_000_000_000_000_001)
        self.app = FastAPI()
        self.app.add_api_route("/api/v1/timelines/tag/{hashtag}", self.tag, methods=["GET"])
        self.app.add_api_route("/api/v1/notifications", self.mentions, methods=["GET"])

    def post(
        self,
        text: str,
        *,
        tags: tuple[str, ...] = (),
        mentions: tuple[str, ...] = (),
        acct: str = "giulia",
        at: datetime | None = None,
        language: str | None = "it",
    ) -> dict[str, Any]:
        """A new status; ``#tag`` and ``@acct`` are rendered as Mastodon renders them."""
        status_id = str(next(self._ids))
        created = at or self.started + timedelta(minutes=len(self.statuses))
        tagged = " ".join(f"#{tag}" for tag in tags)
        status = {
            "id": status_id,
            "uri": f"https://{DOMAIN}/users/{acct.split('@')[0]}/statuses/{status_id}",
            "url": f"https://{DOMAIN}/@{acct}/{status_id}",
            "created_at": created.isoformat().replace("+00:00", ".000Z"),
            "content": render(f"{text} {tagged}".strip()),
            "spoiler_text": "",
            "language": language,
            "visibility": "public",
            "account": {"id": "7", "acct": acct, "display_name": acct.title(), "url": ""},
            "tags": [{"name": tag, "url": f"https://{DOMAIN}/tags/{tag}"} for tag in tags],
            "mentions": [{"id": "8", "acct": name, "username": name} for name in mentions],
        }
        self.statuses.append(status)
        return status

    def mention(self, text: str, **fields: Any) -> dict[str, Any]:
        """A status mentioning the token's account, and its notification."""
        status = self.post(f"@quercia {text}", mentions=("quercia",), **fields)
        notification = {
            "id": str(len(self.notifications) + 1),
            "type": "mention",
            "created_at": status["created_at"],
            "account": status["account"],
            "status": status,
        }
        self.notifications.append(notification)
        return status

    def requests(self, path_start: str) -> list[TimelineRequest]:
        return [seen for seen in self.seen if seen.path.startswith(path_start)]

    def _admit(self, request: Request) -> Response | dict[str, str]:
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.seen.append(TimelineRequest(request.url.path, query, headers))
        reset = (datetime.now(UTC) + timedelta(seconds=RESET_IN_SECONDS)).isoformat()
        limits = {"X-RateLimit-Limit": "300", "X-RateLimit-Reset": reset.replace("+00:00", "Z")}
        if headers.get("authorization") != f"Bearer {VALID_TOKEN}":
            return JSONResponse({"error": "The access token is invalid"}, 401)
        throttled = self.throttled_after is not None and self.throttled_after <= 0
        if self.throttled_after is not None:
            self.throttled_after -= 1
        if self.rate_limit_remaining is not None or throttled:
            if throttled or (self.rate_limit_remaining or 0) <= 0:
                return JSONResponse(
                    {"error": "Too many requests"},
                    429,
                    headers={**limits, "X-RateLimit-Remaining": "0"},
                )
            assert self.rate_limit_remaining is not None
            self.rate_limit_remaining -= 1
        remaining = 300 if self.rate_limit_remaining is None else self.rate_limit_remaining
        return {**limits, "X-RateLimit-Remaining": str(remaining)}

    async def tag(self, hashtag: str, request: Request) -> Response:
        admitted = self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        tagged = [
            s for s in self.statuses if hashtag.lower() in {t["name"].lower() for t in s["tags"]}
        ]
        return _paged(request, tagged, admitted)

    async def mentions(self, request: Request) -> Response:
        admitted = self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        types = request.query_params.getlist("types[]")
        chosen = [n for n in self.notifications if not types or n["type"] in types]
        return _paged(request, chosen, admitted)


def _number(identifier: str | None) -> int | None:
    return int(identifier) if identifier else None


def _paged(request: Request, items: list[dict[str, Any]], headers: dict[str, str]) -> Response:
    """One page of ``items`` (oldest first in memory), newest first, as the API pages."""
    params = request.query_params
    limit = min(int(params.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
    max_id, since_id, min_id = (
        _number(params.get(name)) for name in ("max_id", "since_id", "min_id")
    )
    chosen = [
        item
        for item in items
        if (max_id is None or int(item["id"]) < max_id)
        and (since_id is None or int(item["id"]) > since_id)
        and (min_id is None or int(item["id"]) > min_id)
    ]
    # min_id: the page just after it (the oldest of the newer ones); otherwise the newest.
    page = chosen[:limit] if min_id is not None else chosen[-limit:]
    page = list(reversed(page))
    if page:
        base = request.url.remove_query_params(["max_id", "min_id", "since_id"])
        older = base.include_query_params(max_id=page[-1]["id"])
        newer = base.include_query_params(min_id=page[0]["id"])
        headers["Link"] = f'<{older}>; rel="next", <{newer}>; rel="prev"'

    return JSONResponse(page, headers=headers)
