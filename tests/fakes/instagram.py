"""Fake Instagram Graph API: media containers, publishing, quota, media list, insights, comments
with their replies (``/{ig-comment-id}/replies``), and the login's tokens with the Facebook Page
the account is linked to (``graph.py``).

A video container is ``IN_PROGRESS`` at its first status check and ``FINISHED`` after, as the
content publishing guide describes; publishing an unfinished container fails with code 9007.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response

from tests.fakes import graph
from tests.fakes.common import Answer, FakePlatform, form_fields

IG_USER_ID = "17841400000000001"
IG_USERNAME = "laquercia.agriturismo"
# The Facebook Page the Instagram account is linked to, and a Page without one.
LINKED_PAGE_ID = "2001"
UNLINKED_PAGE_ID = "2002"
FOLLOWERS = 2750
QUOTA_TOTAL = 100
# A visitor's comment on one of the account's media, which the account may answer.
COMMENT_ID = "17858893269000001"


class FakeInstagram(FakePlatform):
    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Any]] = {}
        self.media_items: dict[str, dict[str, Any]] = {}
        self.quota_usage = 0
        # Comments by id; a reply names the comment it answers as ``parent``.
        self.comments: dict[str, dict[str, Any]] = {
            COMMENT_ID: {
                "id": COMMENT_ID,
                "parent": None,
                "text": "Che meraviglia! Quando riaprite?",
                "from": {"id": "17841400000000099", "username": "giulia.viaggia"},
            }
        }
        # What a video container becomes after its first status check.
        self.video_outcome = "FINISHED"
        # Login codes the user approved, with the user token each gives.
        self.codes: dict[str, str] = {}
        self.pages: dict[str, dict[str, Any]] = {
            LINKED_PAGE_ID: {
                "id": LINKED_PAGE_ID,
                "name": "Agriturismo La Quercia",
                "instagram_business_account": {"id": IG_USER_ID, "username": IG_USERNAME},
            },
            UNLINKED_PAGE_ID: {"id": UNLINKED_PAGE_ID, "name": "Cantina Vicina"},
        }
        super().__init__()

    def live_posts(self) -> list[str]:
        return list(self.media_items)

    def expired_token(self) -> Response:
        return graph.expired_token()

    def rate_limited(self) -> Response:
        return graph.throttled(IG_USER_ID)

    def server_error(self) -> Response:
        return graph.server_error()

    def routes(self, app: FastAPI) -> None:
        prefix = f"/{graph.VERSION}"
        app.add_api_route(f"{prefix}/oauth/access_token", self.exchange, methods=["POST"])
        app.add_api_route(
            f"{prefix}/{{user}}/content_publishing_limit", self.publishing_limit, methods=["GET"]
        )
        app.add_api_route(f"{prefix}/{{user}}/media", self.create_container, methods=["POST"])
        app.add_api_route(f"{prefix}/{{user}}/media", self.list_media, methods=["GET"])
        app.add_api_route(f"{prefix}/{{user}}/media_publish", self.publish, methods=["POST"])
        app.add_api_route(f"{prefix}/{{object_id}}/insights", self.insights, methods=["GET"])
        app.add_api_route(f"{prefix}/{{object_id}}/replies", self.reply, methods=["POST"])
        app.add_api_route(f"{prefix}/{{object_id}}/replies", self.list_replies, methods=["GET"])
        app.add_api_route(f"{prefix}/{{object_id}}", self.read_object, methods=["GET"])

    async def exchange(self, request: Request) -> Response:
        return await graph.exchange_token(self, request, self.codes)

    async def publishing_limit(self, user: str, request: Request) -> Response:
        async def work() -> Answer:
            config = {"quota_total": QUOTA_TOTAL, "quota_duration": 86400}
            return Answer({"data": [{"quota_usage": self.quota_usage, "config": config}]})

        return await self.handle(request, "read", work)

    async def create_container(self, user: str, request: Request) -> Response:
        form = await form_fields(request)

        async def work() -> Answer | Response:
            if form.get("media_type") == "CAROUSEL":
                children = form.get("children", "").split(",")
                if not all(child in self.containers for child in children):
                    return graph.graph_error(400, "(#100) Invalid children", 100)
            elif not (form.get("image_url") or form.get("video_url")):
                return graph.graph_error(400, "(#100) image_url or video_url is required", 100)
            container_id = self.next_id()
            video = "video_url" in form
            self.containers[container_id] = {
                "form": form,
                "status_code": "IN_PROGRESS" if video else "FINISHED",
            }
            return Answer({"id": container_id})

        return await self.handle(request, "container", work, payload=form)

    async def publish(self, user: str, request: Request) -> Response:
        form = await form_fields(request)

        async def work() -> Answer | Response:
            container = self.containers.get(form.get("creation_id", ""))
            if container is None or container["status_code"] != "FINISHED":
                return graph.graph_error(400, "Media ID is not available", 9007, 2207027)
            container["status_code"] = "PUBLISHED"
            media_id = self.next_id()
            self.media_items[media_id] = {
                "id": media_id,
                "caption": container["form"].get("caption", ""),
                "permalink": f"https://www.instagram.com/p/{media_id}/",
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            }
            self.quota_usage += 1
            return Answer({"id": media_id})

        return await self.handle(request, "publish", work, payload=form)

    async def list_media(self, user: str, request: Request) -> Response:
        async def work() -> Answer:
            return Answer({"data": list(self.media_items.values())[::-1], "paging": {}})

        return await self.handle(request, "read", work)

    async def insights(self, object_id: str, request: Request) -> Response:
        async def work() -> Answer | Response:
            if object_id not in self.media_items:
                return graph.graph_error(400, "(#100) Unknown media", 100, 33)
            figures = {
                "reach": 640,
                "likes": 51,
                "comments": 6,
                "shares": 4,
                "saved": 9,
                "views": 900,
            }
            requested = request.query_params.get("metric", "").split(",")
            data = [
                {"name": name, "period": "lifetime", "values": [{"value": figures[name]}]}
                for name in requested
                if name in figures
            ]
            return Answer({"data": data})

        return await self.handle(request, "read", work)

    async def read_object(self, object_id: str, request: Request) -> Response:
        if graph.asks_page_token(request):

            async def page_token() -> Answer | Response:
                page = self.pages.get(object_id)
                return graph.page_with_token(request, object_id, page, granted=True)

            return await self.handle(request, "page", page_token, authenticated=False)

        async def work() -> Answer | Response:
            if object_id == IG_USER_ID:
                return Answer({"id": IG_USER_ID, "followers_count": FOLLOWERS})
            if object_id in self.pages:
                return Answer({"id": object_id})
            container = self.containers.get(object_id)
            if container is None:
                return graph.graph_error(400, "(#100) Unknown object", 100, 33)
            answer = {"id": object_id, "status_code": container["status_code"]}
            if container["status_code"] == "ERROR":
                answer["status"] = "Error: Media upload has failed with error code 2207026"
            if container["status_code"] == "IN_PROGRESS":
                container["status_code"] = self.video_outcome
            return Answer(answer)

        return await self.handle(request, "read", work)

    async def reply(self, object_id: str, request: Request) -> Response:
        """``POST /{ig-comment-id}/replies``: the account answers a comment on its media."""
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
                return graph.graph_error(400, "(#100) The parameter message is required", 100)
            reply_id = self.next_id()
            self.comments[reply_id] = {
                "id": reply_id,
                "parent": object_id,
                "text": form["message"],
                "from": {"id": IG_USER_ID, "username": IG_USERNAME},
            }
            return Answer({"id": reply_id})

        return await self.handle(request, "publish", work, payload=form)

    async def list_replies(self, object_id: str, request: Request) -> Response:
        async def work() -> Answer:
            fields = request.query_params.get("fields", "id,text").split(",")
            data = [
                {key: comment[key] for key in fields if key in comment}
                for comment in self.comments.values()
                if comment["parent"] == object_id
            ]
            return Answer({"data": data})

        return await self.handle(request, "read", work)
