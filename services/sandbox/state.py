"""The sandbox platform's memory: accounts, posts, replies, OAuth grants, and its JSON file.

Everything lives in one process's memory (handlers never await while changing it, so no lock is
needed) and is written to ``<data_dir>/sandbox/state.json`` on shutdown and read back on start,
so restarting ``make up`` keeps what was posted. Tokens are stored as SHA-256 digests: the file
never holds a usable token.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from services.sandbox.engagement import followers
from services.sandbox.schemas import MediaIn, PostCreate, ReplyCreate
from shared.errors import ConflictError, NotFoundError, ProblemError
from shared.settings import SandboxSettings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
AUTHORIZATION_CODE_TTL = timedelta(minutes=10)


def utc_now() -> datetime:
    return datetime.now(UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvalidGrantError(ProblemError):
    """RFC 6749 ``invalid_grant``: the code or refresh token is unknown, used, or revoked."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, "invalid-grant", detail, error="invalid_grant")


class AccountRecord(BaseModel):
    id: str
    name: str
    handle: str
    created_at: datetime


class PostRecord(BaseModel):
    seq: int
    id: str
    account_id: str
    text: str
    title: str | None
    link: str | None
    media: list[MediaIn]
    tags: list[str]
    idempotency_key: str | None
    # Digest of the request body, so a reused key with a different post is refused.
    fingerprint: str
    # The account's followers when it was published: the post's engagement scales with it.
    audience: int
    created_at: datetime
    deleted_at: datetime | None = None

    @property
    def has_video(self) -> bool:
        return any(media.mime_type.startswith("video/") for media in self.media)


class ReplyRecord(BaseModel):
    """An account's answer to a comment or a mention (``in_reply_to``)."""

    seq: int
    id: str
    account_id: str
    in_reply_to: str
    post_id: str | None
    text: str
    idempotency_key: str | None
    # Digest of the request body, so a reused key with a different reply is refused.
    fingerprint: str
    created_at: datetime


class GrantRecord(BaseModel):
    account_id: str
    expires_at: datetime | None = None
    redirect_uri: str | None = None


class PlatformData(BaseModel):
    """What the state file holds."""

    accounts: dict[str, AccountRecord] = Field(default_factory=dict)
    posts: dict[str, PostRecord] = Field(default_factory=dict)
    replies: dict[str, ReplyRecord] = Field(default_factory=dict)
    access_tokens: dict[str, GrantRecord] = Field(default_factory=dict)
    refresh_tokens: dict[str, GrantRecord] = Field(default_factory=dict)
    authorization_codes: dict[str, GrantRecord] = Field(default_factory=dict)
    next_account: int = 1
    next_post: int = 1
    next_reply: int = 1


@dataclass
class Stats:
    requests: int = 0
    accepted_posts: int = 0
    accepted_replies: int = 0
    duplicates_prevented: int = 0
    rejected_rate_limited: int = 0
    rejected_failures: int = 0
    rejected_invalid: int = 0
    rejected_unauthorized: int = 0
    accept_then_timeout_applied: int = 0


@dataclass(frozen=True)
class IssuedTokens:
    account_id: str
    access_token: str
    refresh_token: str
    expires_in: int


def _handle_from(name: str) -> str:
    handle = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:24]
    return handle if len(handle) >= 2 else "account"


class PlatformState:
    def __init__(self, settings: SandboxSettings, path: Path, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.path = path
        self.clock = clock
        self.data = PlatformData()
        self.stats = Stats()
        self._post_by_key: dict[tuple[str, str], str] = {}
        self._reply_by_key: dict[tuple[str, str], str] = {}

    # --- persistence ------------------------------------------------------------------------

    def load(self) -> None:
        if not self.path.exists():
            return
        try:
            self.data = PlatformData.model_validate_json(self.path.read_bytes())
        except ValidationError as error:
            aside = self.path.with_suffix(".corrupt")
            log.warning("sandbox state %s unreadable (%s); moved to %s", self.path, error, aside)
            os.replace(self.path, aside)
            return
        self._post_by_key = {
            (post.account_id, post.idempotency_key): post.id
            for post in self.data.posts.values()
            if post.idempotency_key is not None
        }
        self._reply_by_key = {
            (reply.account_id, reply.idempotency_key): reply.id
            for reply in self.data.replies.values()
            if reply.idempotency_key is not None
        }

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(self.data.model_dump_json())
        os.replace(partial, self.path)  # atomic: a crash mid-write keeps the previous file

    # --- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def simulated_between(self, start: datetime, end: datetime) -> float:
        return (end - start).total_seconds() * self.settings.engagement_speed

    def simulated_seconds_since(self, moment: datetime) -> float:
        return self.simulated_between(moment, self.now())

    def at_simulated(self, start: datetime, simulated_seconds: float) -> datetime:
        real = timedelta(seconds=simulated_seconds / self.settings.engagement_speed)
        return start + timedelta(microseconds=round(real / timedelta(microseconds=1)))

    # --- accounts ---------------------------------------------------------------------------

    def create_account(self, name: str, handle: str | None) -> AccountRecord:
        taken = {account.handle for account in self.data.accounts.values()}
        if handle is not None and handle in taken:
            raise ConflictError(f"handle {handle!r} is taken", handle=handle)
        base = handle or _handle_from(name)
        chosen, suffix = base, 1
        while chosen in taken:  # a derived handle takes the next free number
            suffix += 1
            chosen = f"{base}{suffix}"
        account = AccountRecord(
            id=f"acct-{self.data.next_account:04d}", name=name, handle=chosen, created_at=self.now()
        )
        self.data.next_account += 1
        self.data.accounts[account.id] = account
        return account

    def account(self, account_id: str) -> AccountRecord:
        account = self.data.accounts.get(account_id)
        if account is None:
            raise NotFoundError("account", account_id)
        return account

    def followers(self, account: AccountRecord) -> int:
        elapsed = self.simulated_seconds_since(account.created_at)
        return followers(self.settings.seed, account.id, elapsed)

    # --- OAuth grants -----------------------------------------------------------------------

    def issue_code(self, account_id: str, redirect_uri: str) -> str:
        code = secrets.token_urlsafe(24)
        self.data.authorization_codes[token_digest(code)] = GrantRecord(
            account_id=account_id,
            redirect_uri=redirect_uri,
            expires_at=self.now() + AUTHORIZATION_CODE_TTL,
        )
        return code

    def redeem_code(self, code: str, redirect_uri: str | None) -> IssuedTokens:
        grant = self.data.authorization_codes.pop(token_digest(code), None)  # single use
        if grant is None or self._expired(grant):
            raise InvalidGrantError("the authorization code is unknown, used or expired")
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise InvalidGrantError("redirect_uri differs from the one authorised")
        return self._issue_tokens(grant.account_id)

    def rotate_refresh_token(self, refresh_token: str) -> IssuedTokens:
        """Refresh tokens are single use: each refresh returns the next one."""
        grant = self.data.refresh_tokens.pop(token_digest(refresh_token), None)
        if grant is None:
            raise InvalidGrantError("the refresh token is unknown, used or revoked")
        return self._issue_tokens(grant.account_id)

    def _issue_tokens(self, account_id: str) -> IssuedTokens:
        ttl = self.settings.access_token_ttl_seconds
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.data.access_tokens[token_digest(access)] = GrantRecord(
            account_id=account_id, expires_at=self.now() + timedelta(seconds=ttl)
        )
        self.data.refresh_tokens[token_digest(refresh)] = GrantRecord(account_id=account_id)
        return IssuedTokens(account_id, access, refresh, ttl)

    def account_for_token(self, access_token: str) -> str | None:
        grant = self.data.access_tokens.get(token_digest(access_token))
        if grant is None or self._expired(grant):
            return None
        return grant.account_id

    def revoke_tokens(self, account_id: str) -> None:
        self.account(account_id)
        for grants in (self.data.access_tokens, self.data.refresh_tokens):
            for digest in [d for d, grant in grants.items() if grant.account_id == account_id]:
                del grants[digest]

    def expire_access_tokens(self, account_id: str) -> None:
        self.account(account_id)
        for grant in self.data.access_tokens.values():
            if grant.account_id == account_id:
                grant.expires_at = self.now()

    def _expired(self, grant: GrantRecord) -> bool:
        return grant.expires_at is not None and grant.expires_at <= self.now()

    # --- posts ------------------------------------------------------------------------------

    def post_for_key(self, account_id: str, idempotency_key: str) -> PostRecord | None:
        post_id = self._post_by_key.get((account_id, idempotency_key))
        return None if post_id is None else self.data.posts[post_id]

    def add_post(
        self, account: AccountRecord, body: PostCreate, idempotency_key: str | None
    ) -> PostRecord:
        seq = self.data.next_post
        post = PostRecord(
            seq=seq,
            id=f"post-{seq:06d}",
            account_id=account.id,
            **body.model_dump(),
            idempotency_key=idempotency_key,
            fingerprint=fingerprint(body),
            audience=self.followers(account),
            created_at=self.now(),
        )
        self.data.next_post += 1
        self.data.posts[post.id] = post
        if idempotency_key is not None:
            self._post_by_key[(account.id, idempotency_key)] = post.id
        return post

    def post(self, post_id: str) -> PostRecord:
        post = self.data.posts.get(post_id)
        if post is None or post.deleted_at is not None:
            raise NotFoundError("post", post_id)
        return post

    def delete_post(self, post: PostRecord) -> None:
        post.deleted_at = self.now()

    def posts_of(
        self, account_id: str, since: datetime | None, cursor: int | None, limit: int
    ) -> tuple[list[PostRecord], int | None]:
        """Live posts newest first, after ``since``, older than the ``cursor`` post."""
        matching = sorted(
            (
                post
                for post in self.data.posts.values()
                if post.account_id == account_id
                and post.deleted_at is None
                and (since is None or post.created_at > since)
                and (cursor is None or post.seq < cursor)
            ),
            key=lambda post: post.seq,
            reverse=True,
        )
        page = matching[:limit]
        return page, page[-1].seq if len(matching) > limit else None

    # --- replies ----------------------------------------------------------------------------

    def reply_for_key(self, account_id: str, idempotency_key: str) -> ReplyRecord | None:
        reply_id = self._reply_by_key.get((account_id, idempotency_key))
        return None if reply_id is None else self.data.replies[reply_id]

    def add_reply(
        self,
        account: AccountRecord,
        in_reply_to: str,
        post_id: str | None,
        body: ReplyCreate,
        idempotency_key: str | None,
    ) -> ReplyRecord:
        seq = self.data.next_reply
        reply = ReplyRecord(
            seq=seq,
            id=f"reply-{seq:06d}",
            account_id=account.id,
            in_reply_to=in_reply_to,
            post_id=post_id,
            text=body.text,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint(body),
            created_at=self.now(),
        )
        self.data.next_reply += 1
        self.data.replies[reply.id] = reply
        if idempotency_key is not None:
            self._reply_by_key[(account.id, idempotency_key)] = reply.id
        return reply

    def reply(self, reply_id: str) -> ReplyRecord:
        reply = self.data.replies.get(reply_id)
        if reply is None:
            raise NotFoundError("reply", reply_id)
        return reply

    def replies_to(
        self, in_reply_to: str, cursor: int | None, limit: int
    ) -> tuple[list[ReplyRecord], int | None]:
        """Replies to one comment or mention, oldest first, newer than the ``cursor`` reply."""
        matching = sorted(
            (
                reply
                for reply in self.data.replies.values()
                if reply.in_reply_to == in_reply_to and (cursor is None or reply.seq > cursor)
            ),
            key=lambda reply: reply.seq,
        )
        page = matching[:limit]
        return page, page[-1].seq if len(matching) > limit else None


def fingerprint(body: PostCreate | ReplyCreate) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()
