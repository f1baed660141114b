"""Fake YouTube Data API v3: the resumable upload protocol, videos, channels, playlist items,
and Google's token endpoint.

A session accepts ``PUT`` chunks at the offset it holds and answers ``308`` with ``Range`` until
the last byte, then ``201`` with the video resource; ``Content-Range: bytes */total`` asks what it
holds. The video exists only once every byte arrived.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import Answer, FakePlatform, form_fields

CHANNEL_ID = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
UPLOADS_PLAYLIST = "UU_x5XG1OV2P6uZZ5FSM9Ttw"
SUBSCRIBERS = 980
CLIENT_ID = "google-client"
CLIENT_SECRET = "google-secret"
REFRESH_TOKEN = "google-refresh"
# A viewer's top-level comment on one of the channel's videos, which the channel may answer.
COMMENT_ID = "UgzDE2tasfmrYLyNkGt4AaABAg"
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def google_error(status: int, reason: str, message: str, domain: str = "global") -> Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return JSONResponse(body, status)


class FakeYouTube(FakePlatform):
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        # Comments by id; a reply's snippet names the comment it answers as ``parentId``.
        self.comments: dict[str, dict[str, Any]] = {
            COMMENT_ID: {
                "kind": "youtube#comment",
                "id": COMMENT_ID,
                "snippet": {
                    "textDisplay": "Bellissimo video, dove si trova?",
                    "authorChannelId": {"value": "UCviewer000000000000000"},
                },
            }
        }
        super().__init__()

    def live_posts(self) -> list[str]:
        return list(self.videos)

    def expired_token(self) -> Response:
        return google_error(401, "authError", "Invalid Credentials")

    def rate_limited(self) -> Response:
        return google_error(
            403,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your quota.",
            "youtube.quota",
        )

    def server_error(self) -> Response:
        return google_error(503, "backendError", "Backend Error")

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/token", self.token, methods=["POST"])
        app.add_api_route("/upload/youtube/v3/videos", self.start_upload, methods=["POST"])
        app.add_api_route("/upload/youtube/v3/videos", self.put_bytes, methods=["PUT"])
        app.add_api_route("/youtube/v3/videos", self.list_videos, methods=["GET"])
        app.add_api_route("/youtube/v3/channels", self.list_channels, methods=["GET"])
        app.add_api_route("/youtube/v3/playlistItems", self.list_playlist, methods=["GET"])
        app.add_api_route("/youtube/v3/comments", self.insert_comment, methods=["POST"])
        app.add_api_route("/youtube/v3/comments", self.list_comments, methods=["GET"])

    async def token(self, request: Request) -> Response:
        form = await form_fields(request)

        async def work() -> Answer | Response:
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "Unauthorized"}, 401
                )
            if (
                form.get("grant_type") != "refresh_token"
                or form.get("refresh_token") != REFRESH_TOKEN
            ):
                return JSONResponse(
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                    400,
                )
            return Answer(
                {
                    "access_token": "google-access-renewed",
                    "expires_in": 3599,
                    "scope": "https://www.googleapis.com/auth/youtube.upload",
                    "token_type": "Bearer",
                }
            )

        return await self.handle(request, "token", work, payload=form, authenticated=False)

    async def start_upload(self, request: Request) -> Response:
        resource = await request.json()

        async def work() -> Answer | Response:
            query = request.query_params
            if query.get("uploadType") != "resumable" or query.get("part") != "snippet,status":
                return google_error(
                    400, "invalidParameter", "uploadType=resumable and part are required"
                )
            if not resource.get("snippet", {}).get("title"):
                return google_error(
                    400, "invalidTitle", "The video title is empty.", "youtube.video"
                )
            session_id = self.next_id()
            self.sessions[session_id] = {
                "resource": resource,
                "length": int(request.headers["x-upload-content-length"]),
                "type": request.headers["x-upload-content-type"],
                "data": b"",
                "video_id": None,
            }
            session_query = urlencode({"uploadType": "resumable", "upload_id": session_id})
            location = f"{request.base_url}upload/youtube/v3/videos?{session_query}"
            return Answer({}, headers={"Location": location})

        return await self.handle(request, "start", work, payload=resource)

    async def put_bytes(self, request: Request) -> Response:
        data = await request.body()

        async def work() -> Answer | Response:
            session = self.sessions.get(request.query_params.get("upload_id", ""))
            if session is None:
                return google_error(404, "notFound", "Upload session not found")
            content_range = request.headers.get("content-range", "")
            if content_range == f"bytes */{session['length']}":
                return self._progress(session)
            match = _RANGE.fullmatch(content_range)
            if (
                match is None
                or int(match[1]) != len(session["data"])
                or int(match[2]) - int(match[1]) + 1 != len(data)
            ):
                return google_error(400, "badContent", "Content-Range does not match the session")
            session["data"] += data
            if len(session["data"]) == session["length"] and session["video_id"] is None:
                session["video_id"] = self._create_video(session)
            return self._progress(session)

        return await self.handle(
            request, "upload", work, payload={"range": request.headers.get("content-range")}
        )

    def _progress(self, session: dict[str, Any]) -> Answer | Response:
        if session["video_id"] is not None:
            return Answer(self._resource(session["video_id"]), 201)
        headers = {"Range": f"bytes=0-{len(session['data']) - 1}"} if session["data"] else {}
        return Response(status_code=308, headers=headers)

    def _create_video(self, session: dict[str, Any]) -> str:
        video_id = f"vid{self.next_id()}"
        resource = session["resource"]
        self.videos[video_id] = {
            "snippet": resource["snippet"],
            "status": {**resource.get("status", {}), "uploadStatus": "uploaded"},
            "size": len(session["data"]),
        }
        return video_id

    def _resource(self, video_id: str) -> dict[str, Any]:
        video = self.videos[video_id]
        return {
            "kind": "youtube#video",
            "id": video_id,
            "snippet": video["snippet"],
            "status": video["status"],
        }

    async def list_videos(self, request: Request) -> Response:
        async def work() -> Answer:
            ids = request.query_params.get("id", "").split(",")
            items = []
            for video_id in ids:
                if video_id in self.videos:
                    items.append(
                        {
                            "kind": "youtube#video",
                            "id": video_id,
                            "status": self.videos[video_id]["status"],
                            "statistics": {
                                "viewCount": "345",
                                "likeCount": "21",
                                "favoriteCount": "0",
                                "commentCount": "4",
                            },
                        }
                    )
            return Answer({"kind": "youtube#videoListResponse", "items": items})

        return await self.handle(request, "read", work)

    async def list_channels(self, request: Request) -> Response:
        async def work() -> Answer:
            if request.query_params.get("id") != CHANNEL_ID:
                return Answer({"kind": "youtube#channelListResponse", "items": []})
            item = {
                "id": CHANNEL_ID,
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": UPLOADS_PLAYLIST}},
                "statistics": {
                    "viewCount": "9000",
                    "subscriberCount": str(SUBSCRIBERS),
                    "hiddenSubscriberCount": False,
                    "videoCount": str(len(self.videos)),
                },
            }
            return Answer({"kind": "youtube#channelListResponse", "items": [item]})

        return await self.handle(request, "read", work)

    async def list_playlist(self, request: Request) -> Response:
        async def work() -> Answer:
            if request.query_params.get("playlistId") != UPLOADS_PLAYLIST:
                return Answer({"items": []})
            items = [
                {
                    "snippet": {
                        "title": video["snippet"]["title"],
                        "description": video["snippet"].get("description", ""),
                        "resourceId": {"kind": "youtube#video", "videoId": video_id},
                    }
                }
                for video_id, video in reversed(self.videos.items())
            ]
            return Answer({"kind": "youtube#playlistItemListResponse", "items": items})

        return await self.handle(request, "read", work)

    async def insert_comment(self, request: Request) -> Response:
        """``comments.insert``: a reply to a top-level comment (``snippet.parentId``)."""
        body = await request.json()

        async def work() -> Answer | Response:
            snippet = body.get("snippet", {})
            parent = snippet.get("parentId")
            if parent not in self.comments:
                return google_error(
                    404, "parentCommentNotFound", "The parent comment could not be found."
                )
            text = snippet.get("textOriginal", "")
            if not text:
                return google_error(400, "commentTextRequired", "The comment text is required.")
            comment_id = f"{parent}.{self.next_id()}"
            self.comments[comment_id] = {
                "kind": "youtube#comment",
                "id": comment_id,
                "snippet": {
                    "textDisplay": text,
                    "textOriginal": text,
                    "parentId": parent,
                    "authorChannelId": {"value": CHANNEL_ID},
                },
            }
            return Answer(self.comments[comment_id])

        return await self.handle(request, "publish", work, payload=body)

    async def list_comments(self, request: Request) -> Response:
        """``comments.list?parentId``: the replies to a comment (``textOriginal`` is only
        shown to its author, so a reader compares ``textDisplay``)."""

        async def work() -> Answer:
            parent = request.query_params.get("parentId")
            items = [
                {
                    "kind": comment["kind"],
                    "id": comment["id"],
                    "snippet": {k: v for k, v in comment["snippet"].items() if k != "textOriginal"},
                }
                for comment in self.comments.values()
                if comment["snippet"].get("parentId") == parent
            ]
            return Answer({"kind": "youtube#commentListResponse", "items": items})

        return await self.handle(request, "read", work)
