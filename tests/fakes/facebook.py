"""Fake Facebook Pages Graph API: page feed, photos, videos, posts, insights, comments with
their replies (``/{comment-id}/comments``), and the login's tokens (``graph.py``): a code, the
long-lived exchange, the Page's own token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response

from tests.fakes import graph
from tests.fakes.common import Answer, FakePlatform, form_fields

PAGE_ID = "1001"
PAGE_NAME = "Agriturismo La Quercia"
# A Page the user manages but did not grant to the app in the login dialog.
UNGRANTED_PAGE_ID = "1002"
FOLLOWERS = 4321
# A visitor's comment on one of the Page's posts, which the Page may answer.
COMMENT_ID = "1001_5001_7001"


class FakeFacebook(FakePlatform):
    def __init__(self) -> None:
        self.posts: dict[str, dict[str, Any]] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        # Comments by id; a reply names the comment it answers as ``parent``.
        self.comments: dict[str, dict[str, Any]] = {
            COMMENT_ID: {
                "id": COMMENT_ID,
                "parent": "1001_5001",
                "message": "Siete aperti a Pasquetta?",
                "from": {"id": "39001", "name": "Giulia Bianchi"},
            }
        }
        # Login codes the user approved, with the user token each gives.
        self.codes: dict[str, str] = {}
        self.pages = {
            PAGE_ID: {"id": PAGE_ID, "name": PAGE_NAME},
            UNGRANTED_PAGE_ID: {"id": UNGRANTED_PAGE_ID, "name": "Cantina Vicina"},
        }
        super().__init__()

    def live_posts(self) -> list[str]:
        return [*self.posts, *self.videos]

    def expired_token(self) -> Response:
        return graph.expired_token()

    def rate_limited(self) -> Response:
        return graph.throttled(PAGE_ID)

    def server_error(self) -> Response:
        return graph.server_error()

    def routes(self, app: FastAPI) -> None:
        prefix = f"/{graph.VERSION}"
        app.add_api_route(f"{prefix}/oauth/access_token", self.exchange, methods=["POST"])
        app.add_api_route(f"{prefix}/{{page}}/feed", self.create_post, methods=["POST"])
        app.add_api_route(f"{prefix}/{{page}}/photos", self.create_photo, methods=["POST"])
        app.add_api_route(f"{prefix}/{{page}}/videos", self.create_video, methods=["POST"])
        app.add_api_route(f"{prefix}/{{page}}/published_posts", self.list_posts, methods=["GET"])
        app.add_api_route(f"{prefix}/{{page}}/videos", self.list_videos, methods=["GET"])
        app.add_api_route(f"{prefix}/{{object_id}}/insights", self.insights, methods=["GET"])
        app.add_api_route(f"{prefix}/{{object_id}}/comments", self.reply, methods=["POST"])
        app.add_api_route(f"{prefix}/{{object_id}}/comments", self.list_comments, methods=["GET"])
        app.add_api_route(f"{prefix}/{{object_id}}", self.read_object, methods=["GET"])

    async def exchange(self, request: Request) -> Response:
        return await graph.exchange_token(self, request, self.codes)

    def _new_post(self, page: str, message: str, **fields: Any) -> str:
        post_id = f"{page}_{self.next_id()}"
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        self.posts[post_id] = {"id": post_id, "message": message, "created_time": created, **fields}
        return post_id

    async def create_post(self, page: str, request: Request) -> Response:
        form = await form_fields(request)

        async def work() -> Answer | Response:
            if not (form.get("message") or form.get("link")):
                return graph.graph_error(400, "(#100) Missing message or link", 100)
            return Answer(
                {"id": self._new_post(page, form.get("message", ""), link=form.get("link"))}
            )

        return await self.handle(request, "publish", work, payload=form)

    async def create_photo(self, page: str, request: Request) -> Response:
        form = await form_fields(request)

        async def work() -> Answer | Response:
            if "url" not in form:
                return graph.graph_error(400, "(#324) Requires upload file", 324)
            post_id = self._new_post(page, form.get("caption", ""), photo_url=form["url"])
            return Answer({"id": self.next_id(), "post_id": post_id})

        return await self.handle(request, "publish", work, payload=form)

    async def create_video(self, page: str, request: Request) -> Response:
        form = await form_fields(request)

        async def work() -> Answer | Response:
            if "file_url" not in form:
                return graph.graph_error(400, "(#100) file_url or source is required", 100)
            video_id = self.next_id()
            self.videos[video_id] = {
                "id": video_id,
                "description": form.get("description", ""),
                "title": form.get("title"),
                "status": {"video_status": "ready"},
            }
            return Answer({"id": video_id})

        return await self.handle(request, "publish", work, payload=form)

    async def list_posts(self, page: str, request: Request) -> Response:
        async def work() -> Answer:
            mine = [post for post in self.posts.values() if post["id"].startswith(f"{page}_")]
            data = [{k: post[k] for k in ("id", "message", "created_time")} for post in mine]
            return Answer({"data": data[::-1], "paging": {}})

        return await self.handle(request, "read", work)

    async def list_videos(self, page: str, request: Request) -> Response:
        async def work() -> Answer:
            return Answer({"data": list(self.videos.values())[::-1], "paging": {}})

        return await self.handle(request, "read", work)

    async def insights(self, object_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if object_id not in self.posts:
                return graph.graph_error(400, "(#100) Unknown object", 100, 33)
            figures: dict[str, Any] = {
                "post_impressions": 120,
                "post_impressions_unique": 80,
                "post_reactions_by_type_total": {"like": 5, "love": 2},
            }
            requested = request.query_params.get("metric", "").split(",")
            data = [
                {"name": name, "period": "lifetime", "values": [{"value": figures[name]}]}
                for name in requested
                if name in figures
            ]
            return Answer({"data": data, "paging": {}})

        return await self.handle(request, "read", work)

    async def read_object(self, object_id: str, request: Request) -> Response:
        if graph.asks_page_token(request):

            async def page_token() -> Answer | Response:
                page = self.pages.get(object_id)
                return graph.page_with_token(request, object_id, page, granted=object_id == PAGE_ID)

            return await self.handle(request, "page", page_token, authenticated=False)

        async def work() -> Answer | Response:
            if object_id == PAGE_ID:
                return Answer({"id": PAGE_ID, "followers_count": FOLLOWERS})
            if object_id in self.posts:
                comments = {"data": [], "summary": {"total_count": 4, "can_comment": True}}
                return Answer({"id": object_id, "shares": {"count": 3}, "comments": comments})
            return graph.graph_error(400, "(#100) Unknown object", 100, 33)

        return await self.handle(request, "read", work)

    async def reply(self, object_id: str, request: Request) -> Response:
        """``POST /{comment-id}/comments``: the Page answers a comment."""
        form = await form_fields(request)

        async def work() -> Answer | Response:
            if object_id not in self.comments:
                return graph.graph_error(
                    400,
                    f"Unsupported post request. Object with ID '{object_id}' does not exist",
                    100,
                    33,
                )
            if not form.get("message"):
                return graph.graph_error(400, "(#100) Missing message or attachment", 100)
            comment_id = f"{object_id.rpartition('_')[0]}_{self.next_id()}"
            self.comments[comment_id] = {
                "id": comment_id,
                "parent": object_id,
                "message": form["message"],
                "from": {"id": PAGE_ID, "name": PAGE_NAME},
            }
            return Answer({"id": comment_id})

        return await self.handle(request, "publish", work, payload=form)

    async def list_comments(self, object_id: str, request: Request) -> Response:
        async def work() -> Answer:
            fields = request.query_params.get("fields", "id,message").split(",")
            data = [
                {key: comment[key] for key in fields if key in comment}
                for comment in self.comments.values()
                if comment["parent"] == object_id
            ]
            return Answer({"data": data, "paging": {}})

        return await self.handle(request, "read", work)
