"""Fake YouTube Data API v3 ``commentThreads.list``, for the listening source.

Threads are kept per video and channel and answered newest first (``order=time``), in pages of
``maxResults`` with an opaque ``nextPageToken``; the API key is read from ``X-Goog-Api-Key``
or ``key``, as Google does. Faults answer as the API documents: ``rate_limited`` is the spent
daily quota (403 ``quotaExceeded``), unless ``quota_reason`` names another reason.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response

from tests.fakes.common import Answer, FakePlatform
from tests.fakes.youtube import CHANNEL_ID, google_error

API_KEY = "AIzaSy-fake-listening-key"
DISABLED_VIDEO = "noComments1"


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str) -> int | None:
    try:
        kind, _, number = base64.urlsafe_b64decode(token).decode().partition(":")
        return int(number) if kind == "offset" else None
    except (ValueError, UnicodeDecodeError):
        return None


class FakeYouTubeComments(FakePlatform):
    def __init__(self) -> None:
        # Top-level comments, in the order they were posted.
        self.comments: list[dict[str, Any]] = []
        self.videos: dict[str, str] = {"vid1": CHANNEL_ID, "vid2": CHANNEL_ID}
        self.quota_reason = "quotaExceeded"
        super().__init__()

    def authorized(self, request: Request) -> bool:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        return key == API_KEY

    def live_posts(self) -> list[str]:
        return [comment["id"] for comment in self.comments]

    def expired_token(self) -> Response:
        return google_error(
            400, "badRequest", "API key not valid. Please pass a valid API key.", "usageLimits"
        )

    def rate_limited(self) -> Response:
        return google_error(
            403,
            self.quota_reason,
            "The request cannot be completed because you have exceeded your quota.",
            "youtube.quota",
        )

    def server_error(self) -> Response:
        return google_error(503, "backendError", "Backend Error")

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/youtube/v3/commentThreads", self.list_threads, methods=["GET"])

    def comment(
        self,
        published_at: datetime,
        text: str = "Bellissimo posto!",
        *,
        video_id: str = "vid1",
        author: str = "@giulia",
        author_channel: str = "UCgiulia0000000000000000",
    ) -> str:
        """Post a top-level comment; its id."""
        comment_id = f"Ugx{self.next_id()}"
        self.comments.append(
            {
                "id": comment_id,
                "video_id": video_id,
                "text": text,
                "author": author,
                "author_channel": author_channel,
                "published_at": published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        return comment_id

    async def list_threads(self, request: Request) -> Response:
        async def work() -> Answer | Response:
            query = request.query_params
            if "snippet" not in query.get("part", "").split(","):
                return google_error(400, "missingRequiredParameter", "No filter selected.")
            max_results = int(query.get("maxResults", "20"))
            if not 1 <= max_results <= 100:
                return google_error(400, "invalidParameter", "Invalid value for maxResults.")
            channel, video = query.get("allThreadsRelatedToChannelId"), query.get("videoId")
            if (channel is None) == (video is None):
                return google_error(400, "invalidParameter", "Give exactly one filter.")
            if channel is not None and channel not in self.videos.values():
                return google_error(404, "channelNotFound", "Channel not found.", "youtube.v3")
            if video == DISABLED_VIDEO:
                return google_error(
                    403,
                    "commentsDisabled",
                    "The video has disabled comments.",
                    "youtube.commentThread",
                )
            if video is not None and video not in self.videos:
                return google_error(404, "videoNotFound", "Video not found.", "youtube.v3")
            start = _offset(query["pageToken"]) if "pageToken" in query else 0
            if start is None:
                return google_error(400, "invalidPageToken", "Invalid page token.")
            matching = [
                comment
                for comment in self.comments
                if comment["video_id"] == video or self.videos.get(comment["video_id"]) == channel
            ]
            # Newest first; the later posted first within one second.
            newest_first = sorted(
                reversed(matching), key=lambda comment: comment["published_at"], reverse=True
            )
            chunk = newest_first[start : start + max_results]
            body: dict[str, Any] = {
                "kind": "youtube#commentThreadListResponse",
                "pageInfo": {"totalResults": len(chunk), "resultsPerPage": max_results},
                "items": [self._thread(comment, query.get("textFormat")) for comment in chunk],
            }
            if start + max_results < len(newest_first):
                body["nextPageToken"] = _token(start + max_results)
            return Answer(body)

        return await self.handle(request, "read", work)

    def _thread(self, comment: dict[str, Any], text_format: str | None) -> dict[str, Any]:
        text = comment["text"]
        shown = text if text_format == "plainText" else text.replace("\n", "<br>")
        snippet = {
            "channelId": self.videos[comment["video_id"]],
            "videoId": comment["video_id"],
            "textDisplay": shown,
            "textOriginal": text,
            "authorDisplayName": comment["author"],
            "authorProfileImageUrl": "https://yt3.ggpht.com/a/default",
            "authorChannelUrl": f"http://www.youtube.com/{comment['author']}",
            "authorChannelId": {"value": comment["author_channel"]},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": 0,
            "publishedAt": comment["published_at"],
            "updatedAt": comment["published_at"],
        }
        return {
            "kind": "youtube#commentThread",
            "id": comment["id"],
            "snippet": {
                "channelId": self.videos[comment["video_id"]],
                "videoId": comment["video_id"],
                "topLevelComment": {
                    "kind": "youtube#comment",
                    "id": comment["id"],
                    "snippet": snippet,
                },
                "canReply": True,
                "totalReplyCount": 0,
                "isPublic": True,
            },
        }
