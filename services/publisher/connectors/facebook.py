"""Facebook Pages through the Graph API, and the Graph API conventions Instagram shares.

Implements:

- Page feed posts: https://developers.facebook.com/docs/pages-api/posts (``POST /{page-id}/feed``
  with ``message`` and ``link``; ``GET /{page-id}/published_posts``)
- Photos: https://developers.facebook.com/docs/graph-api/reference/page/photos/ (``url``,
  ``caption``; the answer carries the feed ``post_id``)
- Videos: https://developers.facebook.com/docs/graph-api/reference/page/videos/ (``file_url``,
  ``description``, ``title``)
- Insights: https://developers.facebook.com/docs/graph-api/reference/insights/ (post metrics
  ``post_impressions``, ``post_impressions_unique``, ``post_reactions_by_type_total``) and
  https://developers.facebook.com/docs/graph-api/reference/post/ (``shares``,
  ``comments.summary(true)``); Page ``followers_count``:
  https://developers.facebook.com/docs/graph-api/reference/page/
- Comment replies: https://developers.facebook.com/docs/graph-api/reference/object/comments/
  (``POST /{comment-id}/comments`` with ``message``; ``GET /{comment-id}/comments`` with
  ``fields=id,message,from`` to find a reply whose outcome was lost: the Graph API keeps no
  idempotency key, so it is the Page's reply to the comment saying the same text)
- Errors: https://developers.facebook.com/docs/graph-api/guides/error-handling (code 190 invalid
  or expired token, 4/17/32/613 and 80001-80014 throttling, 1/2 transient, 368 and 506 content
  refused)
- Rate-limit headers: https://developers.facebook.com/docs/graph-api/overview/rate-limiting
  (``x-app-usage``, ``x-page-usage``, ``x-business-use-case-usage``)
- Connecting a Page: the login's short-lived user token is exchanged for a long-lived one
  (``oauth/access_token`` with ``grant_type=fb_exchange_token``:
  https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived), which
  then asks for the Page's own token (``GET /{page-id}?fields=access_token``:
  https://developers.facebook.com/docs/pages/access-tokens/). A Page token got with a long-lived
  user token has no expiration date, so it is what the connection keeps, without an expiry: it is
  never refreshed, only replaced by a new login when Meta invalidates it (code 190 then marks the
  connection ``needs_reauth``). The user token itself is not kept.

One medium per post (a photo or a video); a post without media is a feed post.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from pydantic import BaseModel, Field

from services.publisher.connectors.base import (
    AccountMetrics,
    AuthError,
    ConnectedAccount,
    ConnectorError,
    ContentRejectedError,
    Credentials,
    PostMetrics,
    PublishRequest,
    PublishResult,
    PublishStatus,
    ReplyRequest,
    ReplyResult,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.connectors.http import (
    Model,
    PlatformApi,
    bearer,
    classify_by_status,
    error_body,
    error_detail,
    found_by_text,
    regain_access_seconds,
    same_text,
    usage_percent,
)
from services.publisher.connectors.oauth import (
    ENDPOINTS,
    GRAPH_VERSION,
    OAuthApp,
    refresh_access_token,
)
from shared.domain import Channel
from shared.rate_limits import retry_after_seconds

GRAPH_HOST = "https://graph.facebook.com"

_AUTH_CODES = frozenset({102, 190, 10, *range(200, 300)})
_THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
_TRANSIENT_CODES = frozenset({1, 2})
# Meta names no reset time for platform limits (a rolling hour); re-check after a tenth of it.
_THROTTLED_PROBE_SECONDS = 360.0
_USAGE_HEADERS = ("x-app-usage", "x-page-usage", "x-business-use-case-usage")
# ``Credentials.extra["token_kind"]`` of a Page access token (which does not expire).
PAGE_KIND = "page"


class GraphError(BaseModel):
    message: str = ""
    type: str = ""
    code: int = 0
    error_subcode: int | None = None


class GraphErrorBody(BaseModel):
    error: GraphError


def graph_error(response: httpx.Response) -> GraphError | None:
    body = error_body(response, GraphErrorBody)
    return None if body is None else body.error


def throttle_delay(headers: httpx.Headers) -> float | None:
    for delay in (regain_access_seconds(headers), retry_after_seconds(headers)):
        if delay is not None:
            return delay
    throttled = (usage_percent(headers, *_USAGE_HEADERS) or 0) >= 100
    return _THROTTLED_PROBE_SECONDS if throttled else None


def classify_graph(response: httpx.Response, write: bool) -> ConnectorError:
    error = graph_error(response)
    if error is None:
        return classify_by_status(response, write, error_detail(response))
    detail = f"{response.status_code} code {error.code}/{error.error_subcode}: {error.message}"
    status = response.status_code
    if error.code in _AUTH_CODES:
        return AuthError(detail, status=status)
    if error.code in _THROTTLE_CODES or status == 429:
        return RetryableError(detail, status=status, retry_after=throttle_delay(response.headers))
    if error.code in _TRANSIENT_CODES or status >= 500:
        if write:
            return UnknownOutcomeError(detail, status=status)
        return RetryableError(
            detail, status=status, retry_after=retry_after_seconds(response.headers)
        )
    return ContentRejectedError(detail, status=status)


class GraphClient:
    """The Graph API of one product (Facebook Pages or Instagram), versioned and token-bearing."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str | None, app: OAuthApp | None, *, name: str
    ) -> None:
        self.api = PlatformApi(http, base_url or GRAPH_HOST, classify_graph, name=name)
        self._app = app
        endpoints = ENDPOINTS[Channel.FACEBOOK]
        self._oauth = endpoints.rebased(base_url) if base_url else endpoints

    async def get(
        self, credentials: Credentials, path: str, model: type[Model], **params: str | int
    ) -> Model:
        return await self.api.get(
            f"/{GRAPH_VERSION}/{path}", model, credentials.access_token, params=params
        )

    async def post(
        self, credentials: Credentials, path: str, model: type[Model], form: dict[str, str]
    ) -> Model:
        return await self.api.fetch(
            "POST",
            f"/{GRAPH_VERSION}/{path}",
            model,
            write=True,
            data=form,
            headers=bearer(credentials.access_token),
        )

    async def refresh(self, credentials: Credentials) -> Credentials:
        """Exchange a user token for a fresh long-lived one (Meta has no refresh grant); a Page
        token does not expire, so it is only checked to still work."""
        if credentials.extra.get("token_kind") == PAGE_KIND:
            await self.get(credentials, credentials.extra["page_id"], GraphId, fields="id")
            return credentials
        if self._app is None:
            raise AuthError(f"no {self.api.name} app is configured to renew the token")
        return await refresh_access_token(self.api.http, self._oauth, self._app, credentials)

    async def long_lived(self, short_lived: Credentials) -> Credentials:
        """The login's short-lived user token exchanged for a long-lived one (about 60 days)."""
        try:
            return await self.refresh(short_lived)
        except (AuthError, ContentRejectedError) as error:
            raise MetaConnectError(
                "oauth-token-exchange-refused",
                f"Meta refused to exchange the login's token for a long-lived one "
                f"(expired or invalid: sign in again): {error}",
            ) from error

    async def page(self, user: Credentials, page_id: str, fields: str) -> PageAccess:
        """The Page as the user may act on it, with its own access token."""
        try:
            page: PageAccess = await self.get(user, page_id, PageAccess, fields=fields)
        except ContentRejectedError as error:
            raise _not_granted(page_id, str(error)) from error
        if page.access_token is None:
            raise _not_granted(page_id, "Meta gave no Page access token")
        return page


def since(lookback: timedelta) -> int:
    return int((datetime.now(UTC) - lookback).timestamp())


class GraphId(BaseModel):
    id: str


class LinkedInstagramAccount(BaseModel):
    id: str
    username: str | None = None


class PageAccess(BaseModel):
    id: str
    name: str | None = None
    # Absent when the user did not grant the Page to the app or cannot act on it.
    access_token: str | None = None
    instagram_business_account: LinkedInstagramAccount | None = None


class MetaConnectError(ConnectorError):
    """A Meta login that cannot become a connection; ``kind`` names the problem."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _not_granted(page_id: str, detail: str) -> MetaConnectError:
    return MetaConnectError(
        "oauth-page-not-granted",
        f"Page {page_id} was not granted to the app in the login, or the user cannot act on it: "
        f"{detail}",
    )


def page_credentials(page: PageAccess) -> Credentials:
    """The Page token, without an expiry: got with a long-lived user token, it has none."""
    assert page.access_token is not None
    return Credentials(
        access_token=page.access_token,
        extra={"token_kind": PAGE_KIND, "page_id": page.id},
    )


async def connect_page(graph: GraphClient, login: Credentials, page_id: str) -> ConnectedAccount:
    """A Facebook Page connection from the login's short-lived user token."""
    user = await graph.long_lived(login)
    page = await graph.page(user, page_id, "id,name,access_token")
    return ConnectedAccount(
        account_id=page.id, display_name=page.name, credentials=page_credentials(page)
    )


class PhotoCreated(BaseModel):
    id: str
    post_id: str


class FeedPost(BaseModel):
    id: str
    message: str | None = None


class FeedPage(BaseModel):
    data: list[FeedPost]


class VideoStatus(BaseModel):
    video_status: str = "processing"


class PageVideo(BaseModel):
    id: str
    description: str | None = None
    status: VideoStatus = VideoStatus()


class VideoPage(BaseModel):
    data: list[PageVideo]


class InsightValue(BaseModel):
    value: int | dict[str, int]


class Insight(BaseModel):
    name: str
    values: list[InsightValue]

    def total(self) -> int | None:
        if not self.values:
            return None
        value = self.values[-1].value
        return sum(value.values()) if isinstance(value, dict) else value


class Insights(BaseModel):
    data: list[Insight]

    def figure(self, name: str) -> int | None:
        return next((insight.total() for insight in self.data if insight.name == name), None)


class Count(BaseModel):
    count: int = 0


class CommentSummary(BaseModel):
    total_count: int = 0


class Comments(BaseModel):
    summary: CommentSummary = CommentSummary()


class PostEngagement(BaseModel):
    shares: Count = Count()
    comments: Comments = Comments()


class Followers(BaseModel):
    followers_count: int | None = None


class GraphAuthor(BaseModel):
    id: str


class GraphComment(BaseModel):
    """A comment as the Graph API lists it: Facebook's text is ``message``, Instagram's
    ``text``."""

    id: str
    message: str | None = None
    text: str | None = None
    author: GraphAuthor | None = Field(None, alias="from")


class GraphComments(BaseModel):
    data: list[GraphComment] = []


def own_reply(comments: GraphComments, request: ReplyRequest) -> GraphComment | None:
    """The account's comment among ``comments`` that says the request's text."""
    for comment in comments.data:
        said = comment.message if comment.message is not None else comment.text
        if (
            comment.author is not None
            and comment.author.id == request.account_id
            and same_text(said, request.text)
        ):
            return comment
    return None


class FacebookConnector:
    channel = Channel.FACEBOOK

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        app: OAuthApp | None = None,
        lookback: timedelta = timedelta(days=2),
    ) -> None:
        self._graph = GraphClient(http, base_url, app, name="facebook")
        # How far back check_status looks for a post whose outcome was unknown.
        self._lookback = lookback

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        page = request.account_id
        if not request.media:
            form = {"message": request.text} | ({"link": request.link} if request.link else {})
            post: GraphId = await self._graph.post(credentials, f"{page}/feed", GraphId, form)
            return PublishResult(platform_post_id=post.id, url=_post_url(post.id))
        media = request.media[0]
        if media.mime_type.startswith("video/"):
            form = {"file_url": media.url, "description": request.text}
            if request.title:
                form["title"] = request.title
            video: GraphId = await self._graph.post(credentials, f"{page}/videos", GraphId, form)
            return PublishResult(platform_post_id=video.id, state="processing")
        form = {"url": media.url, "caption": request.text}
        photo: PhotoCreated = await self._graph.post(
            credentials, f"{page}/photos", PhotoCreated, form
        )
        return PublishResult(platform_post_id=photo.post_id, url=_post_url(photo.post_id))

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        page = request.account_id
        if request.media and request.media[0].mime_type.startswith("video/"):
            videos: VideoPage = await self._graph.get(
                credentials,
                f"{page}/videos",
                VideoPage,
                fields="id,description,status",
                since=since(self._lookback),
            )
            for video in videos.data:
                if same_text(video.description, request.text):
                    return _video_status(video)
            return PublishStatus(state="not_found")
        posts: FeedPage = await self._graph.get(
            credentials,
            f"{page}/published_posts",
            FeedPage,
            fields="id,message,created_time",
            since=since(self._lookback),
        )
        return found_by_text(((post.id, post.message) for post in posts.data), request.text)

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        insights: Insights = await self._graph.get(
            credentials,
            f"{platform_post_id}/insights",
            Insights,
            metric="post_impressions,post_impressions_unique,post_reactions_by_type_total",
        )
        engagement: PostEngagement = await self._graph.get(
            credentials, platform_post_id, PostEngagement, fields="shares,comments.summary(true)"
        )
        return PostMetrics(
            impressions=insights.figure("post_impressions"),
            reach=insights.figure("post_impressions_unique"),
            likes=insights.figure("post_reactions_by_type_total"),
            comments=engagement.comments.summary.total_count,
            shares=engagement.shares.count,
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        page: Followers = await self._graph.get(
            credentials, account_id, Followers, fields="followers_count"
        )
        return AccountMetrics(followers=page.followers_count)

    async def reply(self, credentials: Credentials, request: ReplyRequest) -> ReplyResult:
        created: GraphId = await self._graph.post(
            credentials, f"{request.in_reply_to}/comments", GraphId, {"message": request.text}
        )
        return ReplyResult(platform_reply_id=created.id)

    async def find_reply(
        self, credentials: Credentials, request: ReplyRequest
    ) -> ReplyResult | None:
        replies: GraphComments = await self._graph.get(
            credentials,
            f"{request.in_reply_to}/comments",
            GraphComments,
            fields="id,message,from",
            limit=100,
        )
        found = own_reply(replies, request)
        return None if found is None else ReplyResult(platform_reply_id=found.id)

    async def refresh(self, credentials: Credentials) -> Credentials:
        return await self._graph.refresh(credentials)


def _post_url(post_id: str) -> str:
    return f"https://www.facebook.com/{post_id}"


def _video_status(video: PageVideo) -> PublishStatus:
    if video.status.video_status == "ready":
        return PublishStatus(state="published", platform_post_id=video.id)
    if video.status.video_status == "error":
        return PublishStatus(state="failed", platform_post_id=video.id, detail="processing failed")
    return PublishStatus(state="processing", platform_post_id=video.id)
