"""Answering a comment or a mention on a connected channel exactly once (``publisher.send_reply``).

A reply is sent the way a post is published (``publishing.py``): claimed (a ``replies`` row
``sending``, committed *before* the platform is called), sent, recorded. A lost answer leaves the
row ``sending`` (a crash) or ``unconfirmed`` (a timeout), and the next attempt asks the platform
whether the reply exists (``find_reply``: by idempotency key where the platform keeps one, else
the account's answer to the same comment saying the same text) before it sends anything. A reply
recorded ``sent`` is answered from the row, whatever the platform says later. The row is kept by
the publisher rather than trusting the platforms' idempotency alone: only the sandbox keeps a key
for good, Mastodon for an hour, and X, Meta and YouTube not at all.

Failures leave as problems (``shared/activity_errors.py`` makes 4xx final, the rest retried):

* a connection unknown or of another organisation: 404 ``not-found``;
* a connection needing re-authorisation, or whose fresh token the platform refuses: 409
  ``needs-reauth``;
* a channel whose connector cannot reply: 422 ``replies-not-supported``;
* a reply the platform's rules refuse (checked here first where the platform documents a plain
  character limit, else by the platform's own refusal), or whose comment is gone: 422
  ``reply-rejected`` naming the reason;
* the same reply id with another reply: 409 ``conflict``;
* a throttled platform: 429 ``platform-rate-limited`` with its ``Retry-After``; a platform
  failure known not to have sent anything: 503 ``platform-unavailable``; an answer lost, or a
  check that could not be made: 503 ``reply-outcome-unknown`` (the next attempt checks first).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher import repository
from services.publisher.connectors.base import (
    AuthError,
    Connector,
    ConnectorError,
    ContentRejectedError,
    ConversationReplier,
    Credentials,
    ReplyRequest,
    ReplyResult,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.contracts import ReplySent, SendReply
from services.publisher.conversations import (
    ConnectionAccount,
    NeedsReauthError,
    connection_credentials,
    mark_connection_needs_reauth,
)
from services.publisher.crypto import TokenVault
from services.publisher.models import Reply
from services.publisher.publishing import ConnectorFor
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.errors import ConflictError, NotFoundError, ProblemError

THROTTLED = 429
GONE = 404
# The platforms' documented length of a comment reply, counted in characters. X and Mastodon
# count a link at a fixed weight whatever its length, so their own refusal is the judge there.
REPLY_TEXT_LIMITS: dict[str, int] = {
    Channel.FACEBOOK.value: 8000,
    Channel.INSTAGRAM.value: 2200,
    Channel.YOUTUBE.value: 10_000,
}
UNKNOWN_STATUSES = frozenset({"sending", "unconfirmed"})


class ReplyRejectedError(ProblemError):
    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(
            422,
            "reply-rejected",
            f"the {channel} platform refuses the reply: {reason}",
            channel=channel,
            reason=reason,
        )


@dataclass(frozen=True)
class _Claim:
    account: ConnectionAccount
    request: ReplyRequest
    outcome_unknown: bool


async def send_reply(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    connector_for: ConnectorFor,
    command: SendReply,
) -> ReplySent:
    """Send the reply once (see the module's failures)."""
    claim = await _claim(sessions, connector_for, command)
    if isinstance(claim, ReplySent):
        return claim
    replier = _replier(connector_for, claim.account.channel)
    credentials = await connection_credentials(sessions, vault, replier, claim.account)
    try:
        return await _attempt(sessions, replier, credentials, claim)
    except AuthError:
        # Refused although not due to expire: one refresh tells a token that can be renewed
        # from an authorisation that is gone. A refused write was not applied.
        credentials = await connection_credentials(
            sessions, vault, replier, claim.account, refused=credentials
        )
        claim = await _claim(sessions, connector_for, command)
        if isinstance(claim, ReplySent):
            return claim
        try:
            return await _attempt(sessions, replier, credentials, claim)
        except AuthError as error:
            reason = f"the {claim.account.channel} platform refused a fresh token: {error}"
            await mark_connection_needs_reauth(sessions, claim.account, reason)
            raise NeedsReauthError(claim.account.connection_id, reason) from error


async def _claim(
    sessions: async_sessionmaker[AsyncSession], connector_for: ConnectorFor, command: SendReply
) -> _Claim | ReplySent:
    async with session_scope(sessions, SYSTEM) as session:
        connection = await repository.get_connection(session, command.connection_id)
        if connection is None or connection.organization_id != command.organization_id:
            raise NotFoundError("connection", command.connection_id)
        _replier(connector_for, connection.channel)
        _check_rules(connection.channel, command.text)
        reply = await _reply_for_update(session, command, connection.channel)
        if reply.status == "sent":
            return _sent(reply)
        if connection.status != "active":
            raise NeedsReauthError(
                connection.id,
                f"the {connection.channel} connection must be re-authorised before it can reply",
            )
        outcome_unknown = reply.status in UNKNOWN_STATUSES
        if not outcome_unknown:
            reply.status = "sending"
            reply.attempts += 1
        return _Claim(
            account=ConnectionAccount(connection.id, connection.channel, connection.account_id),
            request=ReplyRequest(
                idempotency_key=str(reply.id),
                channel=Channel(connection.channel),
                account_id=connection.account_id,
                in_reply_to=reply.in_reply_to,
                post_external_id=reply.post_external_id,
                text=reply.text,
            ),
            outcome_unknown=outcome_unknown,
        )


async def _reply_for_update(session: AsyncSession, command: SendReply, channel: str) -> Reply:
    """The reply's row, created ``pending`` by its first attempt, locked for this one."""
    reply = await repository.reply_for_update(
        session,
        {
            "id": command.reply_id,
            "organization_id": command.organization_id,
            "connection_id": command.connection_id,
            "channel": channel,
            "in_reply_to": command.in_reply_to,
            "post_external_id": command.post_external_id,
            "text": command.text,
            "status": "pending",
            "attempts": 0,
        },
    )
    same = (reply.organization_id, reply.connection_id, reply.in_reply_to, reply.text) == (
        command.organization_id,
        command.connection_id,
        command.in_reply_to,
        command.text,
    )
    if not same:
        raise ConflictError(
            f"reply {command.reply_id} was already sent as another reply",
            reply_id=str(command.reply_id),
        )
    return reply


def _replier(connector_for: ConnectorFor, channel: str) -> ConversationReplier:
    try:
        connector: Connector | None = connector_for(channel)
    except ConnectorError:
        connector = None
    if not isinstance(connector, ConversationReplier):
        raise ProblemError(
            422,
            "replies-not-supported",
            f"replying to conversations is not supported for {channel}",
            channel=channel,
        )
    return connector


def _check_rules(channel: str, text: str) -> None:
    limit = REPLY_TEXT_LIMITS.get(channel)
    if limit is not None and len(text) > limit:
        raise ReplyRejectedError(
            channel, f"a reply has at most {limit} characters, not {len(text)}"
        )


async def _attempt(
    sessions: async_sessionmaker[AsyncSession],
    replier: ConversationReplier,
    credentials: Credentials,
    claim: _Claim,
) -> ReplySent:
    reply_id = uuid.UUID(claim.request.idempotency_key)
    channel = claim.account.channel
    if claim.outcome_unknown:
        found = await _find(replier, credentials, claim)
        if found is not None:
            return await _record_sent(sessions, reply_id, found)
        await _set_status(sessions, reply_id, "sending", attempt=True)
    try:
        result = await replier.reply(credentials, claim.request)
    except UnknownOutcomeError as error:
        await _set_status(sessions, reply_id, "unconfirmed", str(error))
        raise ProblemError(
            503,
            "reply-outcome-unknown",
            f"the {channel} platform's answer to the reply was lost; it is checked before "
            f"any new attempt: {error}",
            channel=channel,
        ) from error
    except AuthError as error:
        await _set_status(sessions, reply_id, "failed", str(error))
        raise
    except ContentRejectedError as error:
        await _set_status(sessions, reply_id, "failed", str(error))
        raise ReplyRejectedError(channel, str(error)) from error
    except ConnectorError as error:
        await _set_status(sessions, reply_id, "failed", str(error))
        if error.status == GONE:
            raise ReplyRejectedError(
                channel, f"the comment or mention answered is gone: {error}"
            ) from error
        raise _platform_problem(channel, error) from error
    return await _record_sent(sessions, reply_id, result)


async def _find(
    replier: ConversationReplier, credentials: Credentials, claim: _Claim
) -> ReplyResult | None:
    """Whether an earlier attempt's reply exists; never send while that is unknown."""
    channel = claim.account.channel
    try:
        return await replier.find_reply(credentials, claim.request)
    except AuthError:
        raise
    except ConnectorError as error:
        raise ProblemError(
            503,
            "reply-outcome-unknown",
            f"whether the {channel} reply was sent could not be checked: {error}",
            channel=channel,
        ) from error


def _platform_problem(channel: str, error: ConnectorError) -> ProblemError:
    """A failure known not to have sent anything: retried, after the platform's wait."""
    retry_after = error.retry_after if isinstance(error, RetryableError) else None
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after else None
    if error.status == THROTTLED:
        return ProblemError(
            429,
            "platform-rate-limited",
            f"the {channel} platform asked to wait before replying: {error}",
            headers=headers,
            channel=channel,
        )
    return ProblemError(
        503,
        "platform-unavailable",
        f"the {channel} platform could not take the reply: {error}",
        headers=headers,
        channel=channel,
    )


async def _set_status(
    sessions: async_sessionmaker[AsyncSession],
    reply_id: uuid.UUID,
    status: str,
    detail: str | None = None,
    *,
    attempt: bool = False,
) -> None:
    async with session_scope(sessions, SYSTEM) as session:
        reply = await repository.get_reply(session, reply_id, for_update=True)
        assert reply is not None
        if reply.status == "sent":
            return
        reply.status = status
        reply.attempts += int(attempt)
        if detail is not None:
            reply.failure_detail = detail[:2000]


async def _record_sent(
    sessions: async_sessionmaker[AsyncSession], reply_id: uuid.UUID, result: ReplyResult
) -> ReplySent:
    """The first record of the platform's reply stands."""
    async with session_scope(sessions, SYSTEM) as session:
        reply = await repository.get_reply(session, reply_id, for_update=True)
        assert reply is not None
        if reply.status != "sent":
            reply.status = "sent"
            reply.platform_reply_id = result.platform_reply_id
            reply.url = result.url
            reply.sent_at = datetime.now(UTC)
            reply.failure_detail = None
        return _sent(reply)


def _sent(reply: Reply) -> ReplySent:
    assert reply.platform_reply_id is not None
    assert reply.sent_at is not None
    return ReplySent(
        reply_id=reply.id,
        platform_reply_id=reply.platform_reply_id,
        url=reply.url,
        sent_at=reply.sent_at,
    )
