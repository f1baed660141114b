"""Facebook Pages connector against the fake Graph API (tests/fakes/facebook.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from services.publisher.connectors.base import AuthError, Credentials, MediaRef, RetryableError
from services.publisher.connectors.facebook import (
    GraphClient,
    MetaConnectError,
    classify_graph,
    connect_page,
)
from tests.fakes import facebook, graph
from tests.fakes.cases import TEXT, Case, app, open_case
from tests.fakes.common import VALID_TOKEN, Fault

LOGIN = Credentials(access_token=graph.SHORT_LIVED_TOKEN)


def graph_of(case: Case) -> GraphClient:
    return GraphClient(
        case.http, case.base_url, app(graph.APP_ID, graph.APP_SECRET), name="facebook"
    )


async def test_a_text_post_goes_to_the_page_feed_with_the_token_in_the_header() -> None:
    async with open_case("facebook") as case:
        request = case.request.model_copy(update={"link": "https://laquercia.example"})
        result = await case.connector.publish(case.credentials, request)

        [seen] = case.fake.requests("publish")
        assert (seen.method, seen.path) == ("POST", f"/v21.0/{facebook.PAGE_ID}/feed")
        assert seen.payload == {"message": TEXT, "link": "https://laquercia.example"}
        assert seen.headers["authorization"] == f"Bearer {VALID_TOKEN}"
        assert "access_token" not in seen.query
        assert result.platform_post_id.startswith(f"{facebook.PAGE_ID}_")
        assert result.url == f"https://www.facebook.com/{result.platform_post_id}"
        assert result.state == "published"


async def test_a_photo_post_sends_the_url_and_caption_and_answers_the_feed_post() -> None:
    async with open_case("facebook") as case:
        photo = MediaRef(url="https://cdn.example/p.jpg", mime_type="image/jpeg", size_bytes=10)
        request = case.request.model_copy(update={"media": [photo]})
        result = await case.connector.publish(case.credentials, request)

        [seen] = case.fake.requests("publish")
        assert seen.path == f"/v21.0/{facebook.PAGE_ID}/photos"
        assert seen.payload == {"url": photo.url, "caption": TEXT}
        assert result.platform_post_id in case.fake.live_posts()


async def test_a_video_post_sends_the_file_url_and_is_processing_until_ready() -> None:
    async with open_case("facebook") as case:
        clip = MediaRef(url="https://cdn.example/v.mp4", mime_type="video/mp4", size_bytes=10)
        request = case.request.model_copy(update={"media": [clip], "title": "Vendemmia"})
        result = await case.connector.publish(case.credentials, request)

        [seen] = case.fake.requests("publish")
        assert seen.path == f"/v21.0/{facebook.PAGE_ID}/videos"
        assert seen.payload == {"file_url": clip.url, "description": TEXT, "title": "Vendemmia"}
        assert result.state == "processing"
        status = await case.connector.check_status(case.credentials, request)
        assert (status.state, status.platform_post_id) == ("published", result.platform_post_id)


async def test_post_metrics_combine_insights_and_engagement_fields() -> None:
    async with open_case("facebook") as case:
        result = await case.connector.publish(case.credentials, case.request)
        metrics = await case.connector.post_metrics(case.credentials, result.platform_post_id)

        assert (metrics.impressions, metrics.reach, metrics.likes) == (120, 80, 7)
        assert (metrics.comments, metrics.shares) == (4, 3)
        insights, engagement = case.fake.requests("read")
        assert insights.query["metric"] == (
            "post_impressions,post_impressions_unique,post_reactions_by_type_total"
        )
        assert engagement.query["fields"] == "shares,comments.summary(true)"


async def test_refresh_exchanges_the_token_for_a_long_lived_one_without_secrets_in_the_url() -> (
    None
):
    async with open_case("facebook") as case:
        renewed = await case.connector.refresh(case.credentials)

        assert renewed.access_token == "long-lived-token"
        assert renewed.expires_at is not None
        [seen] = case.fake.requests("token")
        assert seen.payload == {
            "grant_type": "fb_exchange_token",
            "fb_exchange_token": VALID_TOKEN,
            "client_id": graph.APP_ID,
            "client_secret": graph.APP_SECRET,
        }
        assert seen.query == {}


def test_full_app_usage_without_a_regain_time_waits_a_tenth_of_the_rolling_hour() -> None:
    response = httpx.Response(
        400,
        json={"error": {"message": "(#4) Application request limit reached", "code": 4}},
        headers={"x-app-usage": json.dumps({"call_count": 100, "total_time": 20})},
    )
    error = classify_graph(response, True)

    assert isinstance(error, RetryableError)
    assert error.retry_after == 360


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (190, "AuthError"),
        (200, "AuthError"),
        (613, "RetryableError"),
        (368, "ContentRejectedError"),
        (506, "ContentRejectedError"),
        (1, "UnknownOutcomeError"),
    ],
)
def test_graph_error_codes_decide_the_class_of_a_failed_write(code: int, expected: str) -> None:
    response = httpx.Response(
        400, json={"error": {"message": "m", "type": "OAuthException", "code": code}}
    )
    assert type(classify_graph(response, True)).__name__ == expected


async def test_a_login_connects_the_page_with_its_page_token_which_does_not_expire() -> None:
    async with open_case("facebook") as case:
        connected = await connect_page(graph_of(case), LOGIN, facebook.PAGE_ID)

        assert (connected.account_id, connected.display_name) == (
            facebook.PAGE_ID,
            facebook.PAGE_NAME,
        )
        # The Page token asked with the long-lived user token, not the one-hour one.
        assert connected.credentials.access_token == VALID_TOKEN
        assert connected.credentials.expires_at is None
        assert connected.credentials.refresh_token is None
        assert connected.credentials.extra == {"token_kind": "page", "page_id": facebook.PAGE_ID}
        [exchange] = case.fake.requests("token")
        assert exchange.payload["grant_type"] == "fb_exchange_token"
        assert exchange.payload["fb_exchange_token"] == graph.SHORT_LIVED_TOKEN
        [page] = case.fake.requests("page")
        assert (page.method, page.path) == ("GET", f"/v21.0/{facebook.PAGE_ID}")
        assert page.query == {"fields": "id,name,access_token"}
        assert page.headers["authorization"] == f"Bearer {graph.LONG_LIVED_TOKEN}"

        published = await case.connector.publish(connected.credentials, case.request)
        assert published.platform_post_id in case.fake.live_posts()


async def test_an_expired_login_token_is_refused_before_any_page_is_asked() -> None:
    async with open_case("facebook") as case:
        expired = Credentials(access_token="expired-short-lived-token")
        with pytest.raises(MetaConnectError) as refused:
            await connect_page(graph_of(case), expired, facebook.PAGE_ID)

        assert refused.value.kind == "oauth-token-exchange-refused"
        assert "Session has expired" in str(refused.value)
        assert case.fake.requests("page") == []


@pytest.mark.parametrize("page_id", [facebook.UNGRANTED_PAGE_ID, "999999"])
async def test_a_page_not_granted_in_the_login_is_refused(page_id: str) -> None:
    async with open_case("facebook") as case:
        with pytest.raises(MetaConnectError) as refused:
            await connect_page(graph_of(case), LOGIN, page_id)

        assert refused.value.kind == "oauth-page-not-granted"
        assert page_id in str(refused.value)


async def test_a_page_token_is_never_exchanged_only_checked() -> None:
    async with open_case("facebook") as case:
        connected = await connect_page(graph_of(case), LOGIN, facebook.PAGE_ID)
        kept = await case.connector.refresh(connected.credentials)

        assert kept == connected.credentials
        assert len(case.fake.requests("token")) == 1, "only the login's exchange"
        case.fake.fail_next("read", Fault.EXPIRED_TOKEN)
        with pytest.raises(AuthError):
            await case.connector.refresh(connected.credentials)
