"""Business time: a due time counted only within an engagement's business hours and days, in its
organisation's time zone, skipping Italian public holidays. Pure: no clock, no database.

Hours are wall-clock hours of the zone, so a 09:00 opening is 09:00 on both sides of a daylight
saving change; durations are measured in absolute time (UTC), never by subtracting wall clocks.
Holidays are computed here (no third-party calendar): the fixed national days, Easter Monday by
the Gregorian computus, and 4 October (San Francesco, a national holiday again from 2026)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

DEFAULT_TIME_ZONE = "Europe/Rome"
# ISO weekdays: 1 is Monday.
WEEKDAYS = frozenset({1, 2, 3, 4, 5})
# Far enough for any target; a calendar with no business day at all is refused before this.
_HORIZON_DAYS = 3 * 366

_FIXED_HOLIDAYS = (
    (1, 1),  # Capodanno
    (1, 6),  # Epifania
    (4, 25),  # Festa della Liberazione
    (5, 1),  # Festa del Lavoro
    (6, 2),  # Festa della Repubblica
    (8, 15),  # Ferragosto
    (11, 1),  # Ognissanti
    (12, 8),  # Immacolata Concezione
    (12, 25),  # Natale
    (12, 26),  # Santo Stefano
)
SAN_FRANCESCO_FROM = 2026


def easter_sunday(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the anonymous, Meeus/Jones/Butcher, computus)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def italian_public_holidays(year: int) -> frozenset[date]:
    days = {date(year, month, day) for month, day in _FIXED_HOLIDAYS}
    easter = easter_sunday(year)
    days |= {easter, easter + timedelta(days=1)}
    if year >= SAN_FRANCESCO_FROM:
        days.add(date(year, 10, 4))
    return frozenset(days)


@dataclass(frozen=True)
class BusinessCalendar:
    """When an engagement's inbox is staffed: ``opens`` to ``closes`` on ``weekdays`` (ISO), in
    ``time_zone``, except Italian public holidays."""

    time_zone: str = DEFAULT_TIME_ZONE
    weekdays: frozenset[int] = field(default=WEEKDAYS)
    opens: time = time(9, 0)
    closes: time = time(18, 0)

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= set(range(1, 8)):
            raise ValueError("business days must be ISO weekdays 1-7, at least one")
        if self.opens >= self.closes:
            raise ValueError("business hours must open before they close")
        ZoneInfo(self.time_zone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_business_day(self, day: date) -> bool:
        return day.isoweekday() in self.weekdays and day not in italian_public_holidays(day.year)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's business hours in UTC, or None on a day off."""
        if not self.is_business_day(day):
            return None
        zone = self.zone
        return (
            datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC),
            datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC),
        )

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` of business time after ``start`` (UTC); a start outside
        business hours counts from the next opening."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        start = start.astimezone(UTC)
        remaining = timedelta(minutes=minutes)
        first = start.astimezone(self.zone).date()
        for offset in range(_HORIZON_DAYS):
            window = self.window(first + timedelta(days=offset))
            if window is None or window[1] <= start:
                continue
            begins = max(window[0], start)
            if remaining <= window[1] - begins:
                return begins + remaining
            remaining -= window[1] - begins
        raise ValueError("no business time within the horizon")

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Business minutes from ``start`` to ``end`` (0 when ``end`` is not after it)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        total = timedelta()
        first = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        for offset in range((last - first).days + 1):
            window = self.window(first + timedelta(days=offset))
            if window is None:
                continue
            overlap = min(window[1], end) - max(window[0], start)
            if overlap > timedelta():
                total += overlap
        return total.total_seconds() / 60


@dataclass(frozen=True)
class SlaTimes:
    """When a conversation opened at ``opened_at`` is due soon, due, and escalated if unanswered."""

    due_soon_at: datetime
    due_at: datetime
    escalate_at: datetime


# The warning comes when this share of the target's business time has passed.
DUE_SOON_SHARE = 0.75


def sla_times(
    calendar: BusinessCalendar, opened_at: datetime, target_minutes: int, escalate_after: int
) -> SlaTimes:
    due_at = calendar.add_business_minutes(opened_at, target_minutes)
    return SlaTimes(
        due_soon_at=calendar.add_business_minutes(opened_at, target_minutes * DUE_SOON_SHARE),
        due_at=due_at,
        escalate_at=calendar.add_business_minutes(due_at, escalate_after),
    )
