"""Instagram professional accounts through the Instagram Graph API (Facebook Login for Business).

Implements https://developers.facebook.com/docs/instagram-platform/content-publishing:

- a media container per post: ``POST /{ig-user-id}/media`` with ``image_url`` or
  ``media_type=REELS`` + ``video_url``, and ``caption``; carousels as ``is_carousel_item``
  children of a ``media_type=CAROUSEL`` container
  (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media)
- the container's ``status_code`` (``IN_PROGRESS``, ``FINISHED``, ``ERROR``, ``EXPIRED``,
  ``PUBLISHED``), polled until it is ready
  (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container)
- ``POST /{ig-user-id}/media_publish`` with ``creation_id``
- the publishing quota ``GET /{ig-user-id}/content_publishing_limit`` (a moving 24 hours)
- ``GET /{ig-user-id}/media`` (``caption``, ``permalink``) to find a post whose outcome was lost
- media insights (``reach``, ``likes``, ``comments``, ``shares``, ``saved``, ``views``):
  https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/insights
- ``followers_count`` of the IG user.
- connecting: the Facebook Page linked to the Instagram professional account is found with the
  login's (long-lived) user token, and the Page's ``instagram_business_account`` is the IG user
  posts go to (``GET /{page-id}?fields=instagram_business_account``:
  https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/page).
  The connection keeps that Page's access token, which does not expire (see ``facebook.py``);
  the IG user's endpoints take the linked Page's token.

Replies to comments: ``POST /{ig-comment-id}/replies`` with ``message``
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-comment/replies);
a reply whose outcome was lost is the account's reply to the comment saying the same text among
``GET /{ig-comment-id}/replies?fields=id,text,from`` (the Graph API keeps no idempotency key).

Errors and rate-limit headers are the Graph API's (see ``facebook.py``).
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from pydantic import BaseModel

from services.publisher.connectors.base import (
    AccountMetrics,
    ConnectedAccount,
    ContentRejectedError,
    Credentials,
    MediaRef,
    PostMetrics,
    PublishRequest,
    PublishResult,
    PublishStatus,
    ReplyRequest,
    ReplyResult,
    RetryableError,
)
from services.publisher.connectors.facebook import (
    Followers,
    GraphClient,
    GraphComments,
    GraphId,
    Insights,
    MetaConnectError,
    own_reply,
    page_credentials,
    since,
)
from services.publisher.connectors.http import found_by_text, nothing_published_yet, poll
from services.publisher.connectors.oauth import OAuthApp
from shared.domain import Channel

VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
# The quota is a moving 24 hours that names no reset time: an hour is a cheap re-check.
_QUOTA_RETRY_SECONDS = 3600.0


class ContainerStatus(BaseModel):
    status_code: str
    status: str | None = None


class QuotaConfig(BaseModel):
    quota_total: int


class Quota(BaseModel):
    quota_usage: int
    config: QuotaConfig


class Quotas(BaseModel):
    data: list[Quota]


class IgMedia(BaseModel):
    id: str
    caption: str | None = None
    permalink: str | None = None


class IgMediaPage(BaseModel):
    data: list[IgMedia]


class InstagramConnector:
    channel = Channel.INSTAGRAM

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        app: OAuthApp | None = None,
        lookback: timedelta = timedelta(days=2),
        poll_attempts: int = 10,
        poll_interval: float = 30.0,
    ) -> None:
        self._graph = GraphClient(http, base_url, app, name="instagram")
        self._lookback = lookback
        # Meta suggests checking a container about once a minute for at most five minutes.
        self._poll_attempts = poll_attempts
        self._poll_interval = poll_interval

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        await self._ensure_quota(credentials, request.account_id)
        with nothing_published_yet("media container"):
            container = await self._container(credentials, request)
            await self._wait_until_ready(credentials, container)
        published: GraphId = await self._graph.post(
            credentials, f"{request.account_id}/media_publish", GraphId, {"creation_id": container}
        )
        return PublishResult(platform_post_id=published.id)

    async def _ensure_quota(self, credentials: Credentials, account_id: str) -> None:
        quotas: Quotas = await self._graph.get(
            credentials,
            f"{account_id}/content_publishing_limit",
            Quotas,
            fields="quota_usage,config",
        )
        if any(quota.quota_usage >= quota.config.quota_total for quota in quotas.data):
            raise RetryableError(
                "Instagram's 24-hour publishing limit is reached", retry_after=_QUOTA_RETRY_SECONDS
            )

    async def _container(self, credentials: Credentials, request: PublishRequest) -> str:
        account = request.account_id
        if len(request.media) == 1:
            form = _media_fields(request.media[0], carousel_item=False)
        else:
            children = [
                await self._create(credentials, account, _media_fields(media, carousel_item=True))
                for media in request.media
            ]
            form = {"media_type": "CAROUSEL", "children": ",".join(children)}
        return await self._create(credentials, account, form | {"caption": request.text})

    async def _create(self, credentials: Credentials, account: str, form: dict[str, str]) -> str:
        container: GraphId = await self._graph.post(credentials, f"{account}/media", GraphId, form)
        return container.id

    async def _wait_until_ready(self, credentials: Credentials, container: str) -> None:
        async def finished() -> ContainerStatus | None:
            status: ContainerStatus = await self._graph.get(
                credentials, container, ContainerStatus, fields="status_code,status"
            )
            return None if status.status_code == "IN_PROGRESS" else status

        status = await poll(finished, attempts=self._poll_attempts, interval=self._poll_interval)
        if status is None:
            # Nothing is published yet: a retry makes a new container, the old one expires.
            raise RetryableError(f"container {container} is still processing")
        if status.status_code == "ERROR":
            raise ContentRejectedError(f"Instagram refused the media: {status.status}")
        if status.status_code == "EXPIRED":
            raise RetryableError(f"container {container} expired before publishing")

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        media: IgMediaPage = await self._graph.get(
            credentials,
            f"{request.account_id}/media",
            IgMediaPage,
            fields="id,caption,permalink,timestamp",
            since=since(self._lookback),
        )
        return found_by_text(((item.id, item.caption) for item in media.data), request.text)

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        insights: Insights = await self._graph.get(
            credentials,
            f"{platform_post_id}/insights",
            Insights,
            metric="reach,likes,comments,shares,saved,views",
        )
        return PostMetrics(
            impressions=insights.figure("views"),
            reach=insights.figure("reach"),
            likes=insights.figure("likes"),
            comments=insights.figure("comments"),
            shares=insights.figure("shares"),
            saves=insights.figure("saved"),
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        user: Followers = await self._graph.get(
            credentials, account_id, Followers, fields="followers_count"
        )
        return AccountMetrics(followers=user.followers_count)

    async def reply(self, credentials: Credentials, request: ReplyRequest) -> ReplyResult:
        created: GraphId = await self._graph.post(
            credentials, f"{request.in_reply_to}/replies", GraphId, {"message": request.text}
        )
        return ReplyResult(platform_reply_id=created.id)

    async def find_reply(
        self, credentials: Credentials, request: ReplyRequest
    ) -> ReplyResult | None:
        replies: GraphComments = await self._graph.get(
            credentials, f"{request.in_reply_to}/replies", GraphComments, fields="id,text,from"
        )
        found = own_reply(replies, request)
        return None if found is None else ReplyResult(platform_reply_id=found.id)

    async def refresh(self, credentials: Credentials) -> Credentials:
        return await self._graph.refresh(credentials)


def _media_fields(media: MediaRef, *, carousel_item: bool) -> dict[str, str]:
    if media.mime_type in VIDEO_TYPES:
        # A single feed video is published as a reel; a carousel item stays a video.
        fields = {"media_type": "VIDEO" if carousel_item else "REELS", "video_url": media.url}
    else:
        fields = {"image_url": media.url}
    return fields | ({"is_carousel_item": "true"} if carousel_item else {})


async def connect_account(graph: GraphClient, login: Credentials, page_id: str) -> ConnectedAccount:
    """The Instagram account linked to Page ``page_id``, from the login's short-lived user token."""
    user = await graph.long_lived(login)
    page = await graph.page(
        user, page_id, "id,name,access_token,instagram_business_account{id,username}"
    )
    linked = page.instagram_business_account
    if linked is None:
        raise MetaConnectError(
            "oauth-instagram-not-linked",
            f"Page {page_id} has no Instagram professional account linked to it",
        )
    return ConnectedAccount(
        account_id=linked.id,
        display_name=linked.username or page.name,
        credentials=page_credentials(page),
    )
