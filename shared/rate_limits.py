"""How long a platform asked us to wait: ``Retry-After`` and the rate-limit reset headers.

Every client of a platform's API reads them the same way, the publisher's connectors and the
listening service's sources alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

# Rate-limit reset headers, in the order they are trusted. Their value is epoch seconds (X,
# Vimeo), a delay in seconds, or a timestamp (Mastodon sends ISO 8601).
RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")
# A plain non-negative number (ASCII digits only: ``"²".isdigit()`` is true).
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
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


# Google's daily API quotas (YouTube's 10,000 units) reset at midnight Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")


def seconds_until_quota_reset(now: datetime | None = None) -> float:
    """Until Google's next quota reset, midnight Pacific, in real seconds (a day when the clocks
    change is 23 or 25 hours)."""
    local = (now or datetime.now(UTC)).astimezone(QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), QUOTA_ZONE)
    # Aware datetimes sharing a tzinfo subtract as wall-clock times: compare in UTC instead.
    return (midnight.astimezone(UTC) - local.astimezone(UTC)).total_seconds()
