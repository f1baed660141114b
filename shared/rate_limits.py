"""How long a platform asked us to wait: ``Retry-After`` and the rate-limit reset headers.

Every client of a platform's API reads them the same way, the publisher's connectors and the
listening service's sources alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

# Rate-limit reset headers, in the order they are trusted. Their value is epoch seconds (X,
# Vimeo), a delay in seconds, or a timestamp (Mastodon sends ISO 8601).
RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")
# A plain non-negative number (ASCII digits only: ``"²".isdigit()`` is true).
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_COUNT = re.compile(r"[0-9]+")
# Any number above this is an epoch timestamp rather than a delay (2001-09-09).
_EPOCH_THRESHOLD = 1_000_000_000


def _delay_until(moment: datetime, now: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def parse_retry_after(value: str, now: datetime) -> float | None:
    """``Retry-After``: a number of seconds or an HTTP date; None when it is neither."""
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        return _delay_until(parsedate_to_datetime(value), now)
    except (TypeError, ValueError, IndexError):
        return None


def parse_reset(value: str, now: datetime) -> float | None:
    """A reset header: epoch seconds, a delay in seconds, an ISO 8601 or an HTTP date."""
    value = value.strip()
    if _SECONDS.fullmatch(value):
        number = float(value)
        if number <= _EPOCH_THRESHOLD:
            return number
        try:
            return _delay_until(datetime.fromtimestamp(number, UTC), now)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return _delay_until(datetime.fromisoformat(value), now)
    except ValueError:
        return parse_retry_after(value, now)


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long the platform asked us to wait, from the first header that says so."""
    now = now or datetime.now(UTC)
    if (value := headers.get("retry-after")) is not None and (
        delay := parse_retry_after(value, now)
    ) is not None:
        return delay
    for name in RESET_HEADERS:
        if (value := headers.get(name)) is not None and (
            delay := parse_reset(value, now)
        ) is not None:
            return delay
    return None


# An account's budget as the platform tells it with every answer: the requests its window (or
# bucket) holds, those left, and when it is whole again. X spells them ``x-rate-limit-*``;
# Mastodon, Vimeo and the sandbox ``X-RateLimit-*``; the IETF draft ``RateLimit-*``.
BUDGET_HEADERS = (
    ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"),
    ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),
    ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"),
)


@dataclass(frozen=True)
class RateBudget:
    limit: int
    remaining: int
    # Seconds until the budget is whole again.
    reset_seconds: float


def rate_budget(headers: Mapping[str, str], now: datetime | None = None) -> RateBudget | None:
    """The budget an answer's headers tell, or None when they tell none (or not all of it)."""
    for limit_name, remaining_name, reset_name in BUDGET_HEADERS:
        remaining = headers.get(remaining_name)
        if remaining is None:
            continue
        limit, reset = headers.get(limit_name), headers.get(reset_name)
        if limit is None or reset is None:
            return None
        limit, remaining = limit.strip(), remaining.strip()
        if not (_COUNT.fullmatch(limit) and _COUNT.fullmatch(remaining)):
            return None
        reset_seconds = parse_reset(reset, now or datetime.now(UTC))
        if reset_seconds is None:
            return None
        return RateBudget(int(limit), int(remaining), reset_seconds)
    return None


# Google's daily API quotas (YouTube's 10,000 units) reset at midnight Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")


def seconds_until_quota_reset(now: datetime | None = None) -> float:
    """Until Google's next quota reset, midnight Pacific, in real seconds (a day when the clocks
    change is 23 or 25 hours)."""
    local = (now or datetime.now(UTC)).astimezone(QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), QUOTA_ZONE)
    # Aware datetimes sharing a tzinfo subtract as wall-clock times: compare in UTC instead.
    return (midnight.astimezone(UTC) - local.astimezone(UTC)).total_seconds()
