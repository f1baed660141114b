"""Fake Vimeo API 3.4: video creation with a tus upload link, tus ``PATCH``/``HEAD``, videos,
the user, token verification."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tests.fakes.common import Answer, FakePlatform

FOLLOWERS = 77
# The rate-limited answer's X-RateLimit-Reset (epoch seconds) is this far ahead.
RESET_IN_SECONDS = 60


def vimeo_error(status: int, code: int, message: str, **headers: str) -> Response:
    body = {"error": message, "link": None, "developer_message": message, "error_code": code}
    return JSONResponse(body, status, headers=headers)


class FakeVimeo(FakePlatform):
    def __init__(self) -> None:
        self.videos: dict[str, dict[str, Any]] = {}
        super().__init__()

    def live_posts(self) -> list[str]:
        return list(self.videos)

    def expired_token(self) -> Response:
        return vimeo_error(401, 8003, "You must provide a valid authenticated access token.")

    def rate_limited(self) -> Response:
        return vimeo_error(
            429,
            9000,
            "Too many API requests. Please wait a moment before trying again.",
            **{
                "X-RateLimit-Limit": "250",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + RESET_IN_SECONDS),
            },
        )

    def server_error(self) -> Response:
        return vimeo_error(503, 8500, "Vimeo is temporarily unavailable.")

    def routes(self, app: FastAPI) -> None:
        app.add_api_route("/me/videos", self.create_video, methods=["POST"])
        app.add_api_route("/me/videos", self.list_videos, methods=["GET"])
        app.add_api_route("/me", self.read_me, methods=["GET"])
        app.add_api_route("/videos/{video_id}", self.read_video, methods=["GET"])
        app.add_api_route("/videos/{video_id}", self.delete_video, methods=["DELETE"])
        app.add_api_route("/oauth/verify", self.verify, methods=["GET"])
        app.add_api_route("/tus/{video_id}", self.tus_patch, methods=["PATCH"])
        app.add_api_route("/tus/{video_id}", self.tus_head, methods=["HEAD"])

    async def create_video(self, request: Request) -> Response:
        body = await request.json()

        async def work() -> Answer | Response:
            upload = body.get("upload", {})
            if upload.get("approach") != "tus" or not isinstance(upload.get("size"), int):
                return vimeo_error(400, 2204, "The upload approach and size are required.")
            video_id = self.next_id()
            self.videos[video_id] = {
                "uri": f"/videos/{video_id}",
                "name": body.get("name", "Untitled"),
                "description": body.get("description"),
                "privacy": body.get("privacy", {}),
                "size": upload["size"],
                "data": b"",
            }
            return Answer(
                {
                    "uri": f"/videos/{video_id}",
                    "name": body.get("name"),
                    "link": f"https://vimeo.com/{video_id}",
                    "upload": {
                        "status": "in_progress",
                        "approach": "tus",
                        "size": upload["size"],
                        "upload_link": f"{request.base_url}tus/{video_id}",
                    },
                },
                201,
            )

        return await self.handle(request, "publish", work, payload=body)

    def _summary(self, video: dict[str, Any]) -> dict[str, Any]:
        complete = len(video["data"]) == video["size"]
        return {
            "uri": video["uri"],
            "name": video["name"],
            "description": video["description"],
            "upload": {"status": "complete" if complete else "in_progress"},
            "transcode": {"status": "complete" if complete else "in_progress"},
        }

    async def list_videos(self, request: Request) -> Response:
        async def work() -> Answer:
            data = [self._summary(video) for video in reversed(self.videos.values())]
            return Answer({"total": len(data), "page": 1, "per_page": 25, "data": data})

        return await self.handle(request, "read", work)

    async def read_me(self, request: Request) -> Response:
        async def work() -> Answer:
            followers = {"uri": "/users/1/followers", "total": FOLLOWERS}
            return Answer(
                {"uri": "/users/1", "metadata": {"connections": {"followers": followers}}}
            )

        return await self.handle(request, "read", work)

    async def read_video(self, video_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if video_id not in self.videos:
                return vimeo_error(404, 5000, "The requested video couldn't be found.")
            connections = {"likes": {"total": 3}, "comments": {"total": 1}}
            return Answer({"stats": {"plays": 42}, "metadata": {"connections": connections}})

        return await self.handle(request, "read", work)

    async def delete_video(self, video_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if self.videos.pop(video_id, None) is None:
                return vimeo_error(404, 5000, "The requested video couldn't be found.")
            return Answer(None, 204)

        return await self.handle(request, "delete", work)

    async def verify(self, request: Request) -> Response:
        async def work() -> Answer:
            return Answer(
                {"scope": "public private upload edit delete stats", "token_type": "bearer"}
            )

        return await self.handle(request, "token", work)

    async def tus_patch(self, video_id: str, request: Request) -> Response:
        data = await request.body()

        async def work() -> Answer | Response:
            video = self.videos.get(video_id)
            if video is None:
                return Response(status_code=404)
            if (
                request.headers.get("tus-resumable") != "1.0.0"
                or request.headers.get("content-type") != "application/offset+octet-stream"
            ):
                return Response(status_code=415)
            if request.headers.get("upload-offset") != str(len(video["data"])):
                return Response(status_code=409)
            video["data"] += data
            return Answer(
                None, 204, {"Upload-Offset": str(len(video["data"])), "Tus-Resumable": "1.0.0"}
            )

        return await self.handle(
            request,
            "upload",
            work,
            payload={"offset": request.headers.get("upload-offset")},
            authenticated=False,
        )

    async def tus_head(self, video_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            video = self.videos.get(video_id)
            if video is None:
                return Response(status_code=404)
            headers = {
                "Upload-Offset": str(len(video["data"])),
                "Upload-Length": str(video["size"]),
                "Tus-Resumable": "1.0.0",
                "Cache-Control": "no-store",
            }
            return Answer(None, 200, headers)

        return await self.handle(request, "upload", work, authenticated=False)
