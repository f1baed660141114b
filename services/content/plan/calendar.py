"""Editorial-plan slots generated from editorial rules: pure date arithmetic, no database.

For each rule, each cadence period (a day, an ISO week or a calendar month, clipped to the plan's
period) and each of the rule's channels, ``count`` slots are chosen among the period's posting
moments (an allowed weekday at a window's start), spread evenly and deterministically.

Times are local to the rules' time zone and converted to UTC with zoneinfo, ``fold=0``
(PEP 495), which gives exactly what an editor expects across daylight-saving changes:

- a local time that does not exist (the spring-forward gap) moves forward by the gap: 02:30 in
  Rome on the last Sunday of March is 03:30 CEST;
- an ambiguous local time (the fall-back hour) is its first occurrence: 02:30 in Rome on the last
  Sunday of October is 02:30 CEST, not CET.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from shared.domain import Channel, ContentKind
from shared.editorial import EditorialRule, EditorialRules

CadencePer = Literal["day", "week", "month"]
SlotIdentity = tuple[str, str, datetime]


@dataclass(frozen=True)
class Slot:
    rule_id: str
    channel: Channel
    pillar: str
    target: str
    formats: tuple[ContentKind, ...]
    local_start: datetime  # naive wall-clock time in the rules' time zone
    starts_at: datetime  # aware, UTC

    @property
    def identity(self) -> SlotIdentity:
        """What regeneration matches slots by: the rule, the channel and the local start."""
        return (self.rule_id, self.channel.value, self.local_start)


class Moment(NamedTuple):
    """A posting moment: a wall-clock time in the rules' zone and the instant it names."""

    local: datetime
    instant: datetime


@dataclass(frozen=True)
class CadenceShortfall:
    """A period with fewer posting moments than the cadence asks for."""

    rule_id: str
    channel: Channel
    period: str
    wanted: int
    available: int


@dataclass(frozen=True)
class Calendar:
    slots: tuple[Slot, ...]
    shortfalls: tuple[CadenceShortfall, ...]


def period_key(day: date, per: CadencePer) -> str:
    """``2027-03-29`` for a day, ``2027-W13`` for an ISO week, ``2027-03`` for a month."""
    if per == "day":
        return day.isoformat()
    if per == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def days_between(start: date, end: date) -> Iterator[date]:
    """Every day from ``start`` to ``end``, both included."""
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def periods(start: date, end: date, per: CadencePer) -> dict[str, list[date]]:
    """The plan's days grouped by period, in calendar order (edge periods are clipped)."""
    grouped: dict[str, list[date]] = {}
    for day in days_between(start, end):
        grouped.setdefault(period_key(day, per), []).append(day)
    return grouped


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a local wall-clock time names, gaps moved forward and overlaps taken first."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def posting_moments(rule: EditorialRule, days: list[date], zone: ZoneInfo) -> list[Moment]:
    """Every posting moment of ``rule`` in ``days``, in time order.

    Two window starts that land on one instant (a start inside the spring-forward gap meets the
    start an hour later) count once, and a day the zone skipped entirely offers no moment.
    """
    allowed = set(rule.days)
    starts = sorted({window.start.replace(tzinfo=None) for window in rule.windows})
    moments: dict[datetime, datetime] = {}
    for day in days:
        if day.weekday() not in allowed:
            continue
        for at in starts:
            instant = local_to_utc(day, at, zone)
            local = instant.astimezone(zone).replace(tzinfo=None)
            if local.date() == day:
                moments.setdefault(instant, local)
    return [Moment(local, instant) for instant, local in sorted(moments.items())]


def spread(count: int, available: int) -> list[int]:
    """Indices of ``count`` picks among ``available`` ordered moments, evenly spaced from the
    first (3 a week on every weekday: Monday, Wednesday, Friday); all of them when too few."""
    if available <= count:
        return list(range(available))
    return [index * available // count for index in range(count)]


def _slot(rule: EditorialRule, channel: Channel, moment: Moment) -> Slot:
    return Slot(
        rule_id=rule.id,
        channel=channel,
        pillar=rule.pillar,
        target=rule.target,
        formats=tuple(rule.formats),
        local_start=moment.local,
        starts_at=moment.instant,
    )


def _rule_calendar(
    rule: EditorialRule, start: date, end: date, zone: ZoneInfo
) -> tuple[list[Slot], list[CadenceShortfall]]:
    slots: list[Slot] = []
    shortfalls: list[CadenceShortfall] = []
    count = rule.cadence.count
    allowed = set(rule.days)
    for key, days in periods(start, end, rule.cadence.per).items():
        # A period without any allowed weekday (a weekend for a weekday rule) asks for nothing.
        if not any(day.weekday() in allowed for day in days):
            continue
        moments = posting_moments(rule, days, zone)
        chosen = [moments[index] for index in spread(count, len(moments))]
        for channel in rule.channels:
            slots.extend(_slot(rule, channel, moment) for moment in chosen)
            if len(moments) < count:
                shortfalls.append(CadenceShortfall(rule.id, channel, key, count, len(moments)))
    return slots, shortfalls


def generate(rules: EditorialRules, start: date, end: date) -> Calendar:
    """The slots of the period ``start``..``end`` (both included) and the cadence shortfalls."""
    zone = ZoneInfo(rules.timezone)
    slots: list[Slot] = []
    shortfalls: list[CadenceShortfall] = []
    for rule in rules.rules:
        rule_slots, rule_shortfalls = _rule_calendar(rule, start, end, zone)
        slots.extend(rule_slots)
        shortfalls.extend(rule_shortfalls)
    slots.sort(key=lambda slot: (slot.starts_at, slot.rule_id, slot.channel.value))
    return Calendar(slots=tuple(slots), shortfalls=tuple(shortfalls))
