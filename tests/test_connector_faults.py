"""What every publishing connector does under the faults its platform documents: expired tokens,
rate limits, server errors, answers lost after the platform accepted, malformed answers.

Each case runs the connector against its platform's local fake over real HTTP (tests/fakes)."""

from __future__ import annotations

import pytest

from services.publisher.connectors.base import (
    AuthError,
    PublishResult,
    RetryableError,
    UnknownOutcomeError,
)
from shared.rate_limits import seconds_until_quota_reset
from tests.fakes.cases import PLATFORMS, Case, open_case
from tests.fakes.common import Fault

ALL = list(PLATFORMS)
# Platforms whose post is created by one request: a lost answer leaves the outcome unknown.
# (YouTube and Vimeo resume their uploads instead; see their own tests.)
ONE_REQUEST = ["facebook", "instagram", "x", "pinterest", "mastodon"]


async def published(case: Case) -> PublishResult:
    result = await case.connector.publish(case.credentials, case.request)
    assert result.platform_post_id in case.fake.live_posts()
    return result


@pytest.mark.parametrize("name", ALL)
async def test_an_expired_token_on_publish_is_an_auth_error_and_posts_nothing(name: str) -> None:
    async with open_case(name) as case:
        case.fake.fail_next(case.publishing_operation, Fault.EXPIRED_TOKEN)
        with pytest.raises(AuthError):
            await case.connector.publish(case.credentials, case.request)
        assert case.fake.live_posts() == []


@pytest.mark.parametrize("name", ALL)
async def test_an_expired_token_on_a_read_is_an_auth_error(name: str) -> None:
    async with open_case(name) as case:
        case.fake.fail_next("read", Fault.EXPIRED_TOKEN)
        with pytest.raises(AuthError):
            await case.connector.account_metrics(case.credentials, case.request.account_id)


@pytest.mark.parametrize("name", ALL)
async def test_a_rate_limited_publish_is_retryable_after_the_platforms_delay(name: str) -> None:
    async with open_case(name) as case:
        operation = "start" if name == "youtube" else case.publishing_operation
        case.fake.fail_next(operation, Fault.RATE_LIMITED)
        with pytest.raises(RetryableError) as raised:
            await case.connector.publish(case.credentials, case.request)
        expected = seconds_until_quota_reset() if name == "youtube" else case.rate_limit_delay
        assert raised.value.retry_after == pytest.approx(expected, abs=3)
        assert case.fake.live_posts() == []


@pytest.mark.parametrize("name", ALL)
async def test_a_server_error_on_a_read_is_retryable(name: str) -> None:
    async with open_case(name) as case:
        result = await published(case)
        case.fake.fail_next("read", Fault.SERVER_ERROR)
        with pytest.raises(RetryableError):
            await case.connector.post_metrics(case.credentials, result.platform_post_id)


@pytest.mark.parametrize("name", ALL)
async def test_a_malformed_answer_to_a_read_is_retryable(name: str) -> None:
    async with open_case(name) as case:
        case.fake.fail_next("read", Fault.MALFORMED)
        with pytest.raises(RetryableError):
            await case.connector.account_metrics(case.credentials, case.request.account_id)


@pytest.mark.parametrize("name", ALL)
async def test_account_metrics_report_the_followers(name: str) -> None:
    async with open_case(name) as case:
        metrics = await case.connector.account_metrics(case.credentials, case.request.account_id)
        assert metrics.followers == case.followers


@pytest.mark.parametrize("name", [*ONE_REQUEST, "vimeo"])
async def test_a_server_error_on_publish_is_unknown_and_the_check_finds_nothing(
    name: str,
) -> None:
    async with open_case(name) as case:
        case.fake.fail_next("publish", Fault.SERVER_ERROR)
        with pytest.raises(UnknownOutcomeError):
            await case.connector.publish(case.credentials, case.request)
        status = await case.connector.check_status(case.credentials, case.request)
        assert status.state == "not_found"
        assert case.fake.live_posts() == []


@pytest.mark.parametrize("name", ONE_REQUEST)
@pytest.mark.parametrize("fault", [Fault.SLOW_AFTER_ACCEPT, Fault.MALFORMED])
async def test_a_lost_answer_after_acceptance_is_unknown_and_the_check_finds_the_post_once(
    name: str, fault: Fault
) -> None:
    async with open_case(name) as case:
        case.fake.fail_next("publish", fault)
        with pytest.raises(UnknownOutcomeError):
            await case.connector.publish(case.credentials, case.request)
        status = await case.connector.check_status(case.credentials, case.request)
        assert status.state == "published"
        assert case.fake.live_posts() == [status.platform_post_id]


@pytest.mark.parametrize("name", ALL)
async def test_check_status_finds_a_published_post(name: str) -> None:
    async with open_case(name) as case:
        result = await published(case)
        status = await case.connector.check_status(case.credentials, case.request)
        assert status.state in ("published", "processing")
        assert status.platform_post_id == result.platform_post_id
