"""The publisher answers a comment or a mention exactly once (``publisher.send_reply``), run as
an activity against a real sandbox: a reply asked twice goes out once, a lost answer is found on
the platform rather than sent again, and the refusals a reply workflow must not retry."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.publisher.contracts import PlatformConversation, ReplySent, SendReply
from services.publisher.models import Reply
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.settings import Settings
from tests.test_publisher_conversations import Listened, listened, store

MAX_TEXT_LENGTH = 300


async def a_comment(rig: Listened) -> PlatformConversation:
    await rig.publish("Vendemmia aperta a tutti")
    rig.clock.advance(minutes=20)
    read = await rig.read()
    return next(item for item in read.conversations if item.kind == "comment")


def command(rig: Listened, answered: PlatformConversation, **fields: Any) -> SendReply:
    values: dict[str, Any] = {
        "reply_id": uuid.uuid4(),
        "organization_id": rig.organization_id,
        "connection_id": rig.connection_id,
        "in_reply_to": answered.external_id,
        "post_external_id": answered.post_external_id,
        "text": "Grazie! Vi aspettiamo in cantina.",
    }
    return SendReply.model_validate(values | fields)


async def send(rig: Listened, reply: SendReply) -> ReplySent:
    sent: ReplySent = await ActivityEnvironment().run(rig.activities.send_reply, reply)
    return sent


async def refused(rig: Listened, reply: SendReply) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await send(rig, reply)
    return raised.value


async def replies_on_platform(rig: Listened, conversation_id: str) -> list[dict[str, Any]]:
    answer = await rig.admin.get(
        f"/v1/conversations/{conversation_id}/replies",
        headers={"Authorization": f"Bearer {rig.credentials.access_token}"},
    )
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def stats(rig: Listened) -> dict[str, Any]:
    answer: dict[str, Any] = (await rig.admin.get("/sandbox/stats")).json()
    return answer


async def test_the_same_reply_asked_twice_is_sent_once(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        reply = command(rig, answered)

        first = await send(rig, reply)
        again = await send(rig, reply)

        assert again == first
        assert first.platform_reply_id.startswith("reply-")
        assert first.url is not None
        [on_platform] = await replies_on_platform(rig, answered.external_id)
        assert on_platform["id"] == first.platform_reply_id
        assert on_platform["idempotency_key"] == str(reply.reply_id)
        assert on_platform["post_id"] == answered.post_external_id
        assert (await stats(rig))["accepted_replies"] == 1


async def test_a_mention_is_answered_too(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        rig.clock.advance(minutes=30)
        read = await rig.read()
        mention = next(item for item in read.conversations if item.kind == "mention")

        sent = await send(rig, command(rig, mention))

        [on_platform] = await replies_on_platform(rig, mention.external_id)
        assert on_platform["id"] == sent.platform_reply_id
        assert on_platform["post_id"] is None


@pytest.mark.parametrize("mode", ["malformed", "delay"])
async def test_a_lost_answer_is_found_on_the_platform_and_not_sent_again(
    mode: str, tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        rig.connector.timeout_seconds = 0.5
        answered = await a_comment(rig)
        reply = command(rig, answered)
        await rig.faults(accept_then_timeout={"count": 1, "mode": mode, "delay_seconds": 2})

        lost = await refused(rig, reply)

        assert lost.type == "reply-outcome-unknown"
        assert not lost.non_retryable
        async with session_scope(sessions, SYSTEM) as session:
            row = await session.get(Reply, reply.reply_id)
            assert row is not None
            assert row.status == "unconfirmed"
        found = await send(rig, reply)
        [on_platform] = await replies_on_platform(rig, answered.external_id)
        assert found.platform_reply_id == on_platform["id"]
        counted = await stats(rig)
        assert counted["accepted_replies"] == 1
        assert counted["duplicates_prevented"] == 0, "found by reading, not by sending again"


async def test_another_organisations_connection_is_not_found(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        for fields in ({"organization_id": uuid.uuid4()}, {"connection_id": uuid.uuid4()}):
            error = await refused(rig, command(rig, answered, **fields))
            assert error.type == "not-found"
            assert error.non_retryable
        assert await replies_on_platform(rig, answered.external_id) == []


async def test_a_reply_over_the_platforms_limit_is_refused_with_its_reason(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions, max_text_length=MAX_TEXT_LENGTH) as rig:
        answered = await a_comment(rig)

        error = await refused(rig, command(rig, answered, text="a" * (MAX_TEXT_LENGTH + 1)))

        assert error.type == "reply-rejected"
        assert error.non_retryable
        assert "max_text_length" in str(error)
        assert await replies_on_platform(rig, answered.external_id) == []


async def test_a_conversation_the_platform_does_not_have_is_refused(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        error = await refused(rig, command(rig, answered, in_reply_to="comment-post-999999-0"))
        assert error.type == "reply-rejected"
        assert error.non_retryable


async def test_a_revoked_authorisation_needs_reauthorisation(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        revoked = await rig.admin.post(f"/sandbox/accounts/{rig.account_id}/revoke-tokens")
        assert revoked.status_code == 204

        error = await refused(rig, command(rig, answered))

        assert error.type == "needs-reauth"
        assert error.non_retryable
        assert (await rig.connection()).status == "needs_reauth"


async def test_an_injected_failure_is_retried_and_then_sent_once(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        reply = command(rig, answered)
        await rig.faults(failure_rate=1.0)

        error = await refused(rig, reply)

        assert error.type == "platform-unavailable"
        assert not error.non_retryable
        await rig.faults(failure_rate=0.0)
        await send(rig, reply)
        assert len(await replies_on_platform(rig, answered.external_id)) == 1


async def test_a_channel_without_the_capability_is_refused_for_good(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        pinterest = await store(
            sessions, rig.vault, rig.organization_id, Channel.PINTEREST, "board", rig.credentials
        )
        error = await refused(rig, command(rig, answered, connection_id=pinterest))
        assert error.type == "replies-not-supported"
        assert error.non_retryable


async def test_the_sandbox_refuses_a_key_reused_for_another_reply(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        answered = await a_comment(rig)
        path = f"/v1/conversations/{answered.external_id}/replies"
        headers = {
            "Authorization": f"Bearer {rig.credentials.access_token}",
            "Idempotency-Key": "k-1",
        }
        created = await rig.admin.post(path, json={"text": "Grazie!"}, headers=headers)
        replayed = await rig.admin.post(path, json={"text": "Grazie!"}, headers=headers)
        other = await rig.admin.post(path, json={"text": "Altro"}, headers=headers)

        assert created.status_code == 201
        assert replayed.status_code == 200
        assert replayed.json() == created.json()
        assert other.status_code == 422
        assert other.json()["type"].endswith("idempotency-key-reused")
        read = await rig.admin.get(
            f"/v1/replies/{created.json()['id']}",
            headers={"Authorization": headers["Authorization"]},
        )
        assert read.json() == created.json()
        page = await rig.admin.get(created.json()["url"])
        assert page.status_code == 200
        assert "Grazie!" in page.text
