"""What a real platform does to its clients: content limits, rate limits, and failures.

Rate limits are a token bucket per account. Injected failures are a deterministic sequence:
call ``n`` fails when ``unit(seed, "fault", n)`` is below the failure rate, so a run with the same
seed fails the same calls. ``accept_then_timeout`` arms the next new posts (or replies) to be
created and then answered too late (or garbled), which is what exactly-once publishing has to
survive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.sandbox.engagement import unit
from services.sandbox.schemas import (
    AcceptThenTimeout,
    FaultsOut,
    FaultsUpdate,
    PostCreate,
    ReplyCreate,
    Violation,
)
from shared.settings import SandboxSettings

ALLOWED_MEDIA_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/quicktime"}
)


def content_violations(post: PostCreate, max_text_length: int, max_media: int) -> list[Violation]:
    violations: list[Violation] = []
    if not (post.text.strip() or post.link or post.media):
        violations.append(Violation(rule="not_empty", field="text", limit="1", actual="0"))
    if len(post.text) > max_text_length:
        violations.append(
            Violation(
                rule="max_text_length",
                field="text",
                limit=str(max_text_length),
                actual=str(len(post.text)),
            )
        )
    if len(post.media) > max_media:
        violations.append(
            Violation(
                rule="max_media", field="media", limit=str(max_media), actual=str(len(post.media))
            )
        )
    violations.extend(
        Violation(
            rule="media_type",
            field=f"media.{index}.mime_type",
            limit=", ".join(sorted(ALLOWED_MEDIA_TYPES)),
            actual=media.mime_type,
        )
        for index, media in enumerate(post.media)
        if media.mime_type not in ALLOWED_MEDIA_TYPES
    )
    return violations


def reply_violations(reply: ReplyCreate, max_text_length: int) -> list[Violation]:
    """A reply is text only, under the same length limit as a post."""
    violations: list[Violation] = []
    if not reply.text.strip():
        violations.append(Violation(rule="not_empty", field="text", limit="1", actual="0"))
    if len(reply.text) > max_text_length:
        violations.append(
            Violation(
                rule="max_text_length",
                field="text",
                limit=str(max_text_length),
                actual=str(len(reply.text)),
            )
        )
    return violations


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int
    reset_at: int  # Unix time when the bucket is full again

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


class TokenBucket:
    def __init__(self, rate_per_second: float, burst: int, now: float) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> RateDecision:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        allowed = self.tokens >= 1.0
        if allowed:
            self.tokens -= 1.0
        return RateDecision(
            allowed=allowed,
            limit=self.burst,
            remaining=math.floor(self.tokens),
            retry_after_seconds=max(1, math.ceil((1.0 - self.tokens) / self.rate)),
            reset_at=math.ceil(now + (self.burst - self.tokens) / self.rate),
        )


class TrafficControl:
    """The adjustable part of the platform: rate limits, failure rate, armed timeouts."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.seed = settings.seed
        self.failure_rate = settings.failure_rate
        self.rate_per_second = settings.rate_limit_per_second
        self.burst = settings.rate_limit_burst
        self.calls = 0
        self.accept_then_timeout = AcceptThenTimeout(count=0)
        self._buckets: dict[str, TokenBucket] = {}

    def configure(self, update: FaultsUpdate) -> None:
        if update.failure_rate is not None:
            self.failure_rate = update.failure_rate
        if update.rate_limit_per_second is not None or update.rate_limit_burst is not None:
            self.rate_per_second = update.rate_limit_per_second or self.rate_per_second
            self.burst = update.rate_limit_burst or self.burst
            self._buckets.clear()  # new limits start with full buckets
        if update.accept_then_timeout is not None:
            self.accept_then_timeout = update.accept_then_timeout

    def describe(self) -> FaultsOut:
        return FaultsOut(
            seed=self.seed,
            failure_rate=self.failure_rate,
            rate_limit_per_second=self.rate_per_second,
            rate_limit_burst=self.burst,
            accept_then_timeout=self.accept_then_timeout,
        )

    def admit(self, account_id: str, now: float) -> RateDecision:
        bucket = self._buckets.get(account_id)
        if bucket is None:
            bucket = self._buckets[account_id] = TokenBucket(self.rate_per_second, self.burst, now)
        return bucket.take(now)

    def next_call_fails(self) -> bool:
        call = self.calls
        self.calls += 1
        return unit(self.seed, "fault", call) < self.failure_rate

    def take_accept_then_timeout(self) -> AcceptThenTimeout | None:
        armed = self.accept_then_timeout
        if armed.count <= 0:
            return None
        self.accept_then_timeout = armed.model_copy(update={"count": armed.count - 1})
        return armed
