"""What the console draws: the sentiment chart's geometry (inline SVG, drawn by the template)
and the editorial calendar's grid. Pure functions of the API's answers."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHART_WIDTH = 640
CHART_HEIGHT = 200
CHART_PADDING = 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class SentimentChart:
    """Mentions per bucket as bars and net sentiment (-1..1) as a line, in SVG user units."""

    width: int
    height: int
    bars: list[Bar]
    line: str
    points: list[tuple[float, float, str]]
    zero_y: float
    top_y: float
    bottom_y: float
    first_label: str
    last_label: str
    max_count: int
    total: int


# The fewest buckets the chart shows, however recent the first mention.
MIN_CHART_BUCKETS = 7


def sentiment_chart(buckets: list[dict[str, Any]]) -> SentimentChart | None:
    """The chart of ``/volume``'s buckets from the first with a mention (a week at least, so a
    new engagement's few days are not squeezed into the corner of a month); None when no
    mention was counted."""
    first = next(
        (n for n, bucket in enumerate(buckets) if int(bucket.get("count", 0))), len(buckets)
    )
    buckets = buckets[max(0, min(first, len(buckets) - MIN_CHART_BUCKETS)) :]
    total = sum(int(bucket.get("count", 0)) for bucket in buckets)
    if not buckets or total == 0:
        return None
    inner_width = CHART_WIDTH - 2 * CHART_PADDING
    inner_height = CHART_HEIGHT - 2 * CHART_PADDING
    step = inner_width / len(buckets)
    max_count = max(int(bucket.get("count", 0)) for bucket in buckets)
    bars: list[Bar] = []
    points: list[tuple[float, float, str]] = []
    for n, bucket in enumerate(buckets):
        count = int(bucket.get("count", 0))
        day = str(bucket.get("start", ""))[:10]
        x = CHART_PADDING + n * step
        height = inner_height * count / max_count if max_count else 0
        bars.append(
            Bar(
                x=round(x + step * 0.15, 1),
                y=round(CHART_HEIGHT - CHART_PADDING - height, 1),
                width=round(step * 0.7, 1),
                height=round(height, 1),
                label=f"{day}: {count}",
            )
        )
        net = bucket.get("net_sentiment")
        if net is not None:
            y = CHART_PADDING + inner_height * (1 - float(net)) / 2
            points.append((round(x + step / 2, 1), round(y, 1), f"{day}: {float(net):+.2f}"))
    return SentimentChart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        bars=bars,
        line=" ".join(f"{x},{y}" for x, y, _ in points),
        points=points,
        zero_y=CHART_PADDING + inner_height / 2,
        top_y=CHART_PADDING,
        bottom_y=CHART_HEIGHT - CHART_PADDING,
        first_label=str(buckets[0].get("start", ""))[:10],
        last_label=str(buckets[-1].get("start", ""))[:10],
        max_count=max_count,
        total=total,
    )


@dataclass
class CalendarDay:
    day: date | None
    slots: list[dict[str, Any]] = field(default_factory=list)


def calendar_weeks(period: str, slots: list[dict[str, Any]]) -> list[list[CalendarDay]]:
    """The period (``2027-03`` or ``2027-W13``) as weeks of seven days, Monday first, each day
    with its slots in time order; days outside the period are blank."""
    first, last = _period_bounds(period, slots)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for slot in sorted(slots, key=lambda slot: str(slot.get("local_start", ""))):
        by_day.setdefault(date.fromisoformat(str(slot["day"])), []).append(slot)
    start = first - timedelta(days=first.weekday())
    weeks: list[list[CalendarDay]] = []
    day = start
    while day <= last:
        week = []
        for _ in range(7):
            inside = first <= day <= last
            week.append(CalendarDay(day if inside else None, by_day.get(day, []) if inside else []))
            day += timedelta(days=1)
        weeks.append(week)
    return weeks


def _period_bounds(period: str, slots: list[dict[str, Any]]) -> tuple[date, date]:
    if "-W" in period:
        iso_year, iso_week = period.split("-W")
        monday = date.fromisocalendar(int(iso_year), int(iso_week), 1)
        return monday, monday + timedelta(days=6)
    if len(period) == 7:
        year, month = (int(part) for part in period.split("-"))
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    days = [date.fromisoformat(str(slot["day"])) for slot in slots]
    only = date.fromisoformat(period) if not days else min(days)
    return only, max(days, default=only)


def local_time(value: str | None) -> str:
    """``HH:MM`` of an ISO date-time ("" when absent)."""
    if not value:
        return ""
    return datetime.fromisoformat(value).strftime("%H:%M")


def instant_in(value: str | None, zone: str) -> str:
    """``YYYY-MM-DD HH:MM`` and the zone's abbreviation of an ISO instant in the client's time
    zone ("" when absent): the calendar shows slots in that zone, so every time on a page is."""
    if not value:
        return ""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
