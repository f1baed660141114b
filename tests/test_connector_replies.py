"""Replies to comments through each platform's connector (the optional ``ConversationReplier``
capability), against the platform fakes in tests/fakes/: the documented request, a lost answer
found again by ``find_reply`` instead of being sent twice, and the platform's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from services.publisher.connectors.base import (
    AuthError,
    ContentRejectedError,
    ConversationReplier,
    ReplyRequest,
    UnknownOutcomeError,
)
from tests.fakes import facebook, instagram, youtube
from tests.fakes.cases import Case, open_case
from tests.fakes.common import Fault

PLATFORMS = ["mastodon", "x", "facebook", "instagram", "youtube"]
# Platforms that refuse a reply to a comment they do not have (X's fake answers any id).
CHECKING_PARENTS = ["mastodon", "facebook", "instagram", "youtube"]
TEXT = "Grazie Giulia! Siamo aperti tutti i giorni, vi aspettiamo."
# The request each platform documents for a reply: method, path, and what the payload holds.
SENT_AS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mastodon": ("POST", "/api/v1/statuses", {"status": TEXT}),
    "x": ("POST", "/2/tweets", {"text": TEXT}),
    "facebook": ("POST", f"/v21.0/{facebook.COMMENT_ID}/comments", {"message": TEXT}),
    "instagram": ("POST", f"/v21.0/{instagram.COMMENT_ID}/replies", {"message": TEXT}),
    "youtube": (
        "POST",
        "/youtube/v3/comments",
        {"snippet": {"parentId": youtube.COMMENT_ID, "textOriginal": TEXT}},
    ),
}


def replier(case: Case) -> ConversationReplier:
    assert isinstance(case.connector, ConversationReplier)
    return case.connector


async def comment_of(case: Case) -> str:
    """A comment the connected account may answer."""
    if case.name == "mastodon":
        status = await case.connector.publish(case.credentials, case.request)
        return status.platform_post_id
    return {
        "x": "1790000000000000001",
        "facebook": facebook.COMMENT_ID,
        "instagram": instagram.COMMENT_ID,
        "youtube": youtube.COMMENT_ID,
    }[case.name]


async def reply_request(case: Case, **fields: Any) -> ReplyRequest:
    values: dict[str, Any] = {
        "idempotency_key": "3f1c9a52-reply",
        "channel": case.request.channel,
        "account_id": case.request.account_id,
        "in_reply_to": await comment_of(case),
        "text": TEXT,
    }
    return ReplyRequest.model_validate(values | fields)


def sent_replies(case: Case) -> int:
    return len(case.fake.requests("publish")) - (1 if case.name == "mastodon" else 0)


@pytest.mark.parametrize("name", PLATFORMS)
async def test_a_reply_is_sent_as_the_platform_documents(name: str) -> None:
    async with open_case(name) as case:
        request = await reply_request(case)

        result = await replier(case).reply(case.credentials, request)

        seen = case.fake.requests("publish")[-1]
        method, path, payload = SENT_AS[name]
        assert (seen.method, seen.path) == (method, path)
        assert payload.items() <= seen.payload.items()
        if name == "mastodon":
            assert seen.payload["in_reply_to_id"] == request.in_reply_to
            assert seen.headers["idempotency-key"] == request.idempotency_key
        if name == "x":
            assert seen.payload["reply"] == {"in_reply_to_tweet_id": request.in_reply_to}
        found = await replier(case).find_reply(case.credentials, request)
        assert found is not None
        assert found.platform_reply_id == result.platform_reply_id


@pytest.mark.parametrize("name", PLATFORMS)
async def test_a_lost_answer_is_found_on_the_platform_and_not_sent_twice(name: str) -> None:
    async with open_case(name) as case:
        request = await reply_request(case)
        case.fake.fail_next("publish", Fault.SLOW_AFTER_ACCEPT)

        with pytest.raises(UnknownOutcomeError):
            await replier(case).reply(case.credentials, request)
        found = await replier(case).find_reply(case.credentials, request)

        assert found is not None
        assert sent_replies(case) == 1


@pytest.mark.parametrize("name", PLATFORMS)
async def test_a_malformed_answer_is_an_unknown_outcome(name: str) -> None:
    async with open_case(name) as case:
        request = await reply_request(case)
        case.fake.fail_next("publish", Fault.MALFORMED)

        with pytest.raises(UnknownOutcomeError):
            await replier(case).reply(case.credentials, request)
        assert await replier(case).find_reply(case.credentials, request) is not None


@pytest.mark.parametrize("name", PLATFORMS)
async def test_a_reply_never_sent_is_not_found(name: str) -> None:
    async with open_case(name) as case:
        request = await reply_request(case)
        await replier(case).reply(case.credentials, request.model_copy(update={"text": "Altro"}))

        assert await replier(case).find_reply(case.credentials, request) is None


@pytest.mark.parametrize("name", CHECKING_PARENTS)
async def test_a_comment_the_platform_does_not_have_is_refused(name: str) -> None:
    async with open_case(name) as case:
        request = await reply_request(case, in_reply_to="999999999")

        with pytest.raises(ContentRejectedError):
            await replier(case).reply(case.credentials, request)


@pytest.mark.parametrize("name", PLATFORMS)
async def test_an_expired_token_needs_reauthorisation(name: str) -> None:
    async with open_case(name) as case:
        request = await reply_request(case)
        case.fake.fail_next("publish", Fault.EXPIRED_TOKEN)

        with pytest.raises(AuthError):
            await replier(case).reply(case.credentials, request)


async def test_mastodon_answers_a_repeated_key_with_the_same_reply() -> None:
    async with open_case("mastodon") as case:
        request = await reply_request(case)
        first = await replier(case).reply(case.credentials, request)
        again = await replier(case).reply(case.credentials, request)

        assert again.platform_reply_id == first.platform_reply_id
        assert len(case.fake.live_posts()) == 2, "the status answered and one reply"
