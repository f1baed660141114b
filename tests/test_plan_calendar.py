"""Editorial-plan calendar generation: properties over DST weeks, leap days, month ends and
cadence limits, plus worked examples in Rome and New York."""

from __future__ import annotations

import calendar as gregorian
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.content.plan.calendar import Calendar, generate
from shared.editorial import EditorialRule, EditorialRules

ZONES = ("Europe/Rome", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
YEARS = range(2024, 2031)


def last_sunday(year: int, month: int) -> date:
    last = date(year, month, gregorian.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - 6) % 7)


def nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


# Days where calendars go wrong: DST changes in Europe and the US, leap days, month ends.
EDGE_DAYS = sorted(
    {last_sunday(year, month) for year in YEARS for month in (3, 10)}
    | {nth_sunday(year, 3, 2) for year in YEARS}
    | {nth_sunday(year, 11, 1) for year in YEARS}
    | {date(year, 2, gregorian.monthrange(year, 2)[1]) for year in YEARS}
    | {
        date(year, month, gregorian.monthrange(year, month)[1])
        for year in (2027,)
        for month in range(1, 13)
    }
)


def key_of(day: date, per: str) -> str:
    if per == "day":
        return day.isoformat()
    if per == "week":
        return "{}-W{:02d}".format(*day.isocalendar()[:2])
    return day.strftime("%Y-%m")


@st.composite
def windows(draw: st.DrawFn) -> dict[str, str]:
    # Mostly the small hours, where daylight-saving gaps and overlaps are.
    hour = draw(st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(0, 22)))
    minute = draw(st.sampled_from([0, 15, 30, 45]))
    start = time(hour, minute)
    end = (datetime.combine(date.min, start) + timedelta(minutes=draw(st.integers(15, 60)))).time()
    return {"start": start.isoformat(), "end": end.isoformat()}


@st.composite
def rules(draw: st.DrawFn, rule_id: str) -> dict[str, object]:
    return {
        "id": rule_id,
        "pillar": "Territorio",
        "formats": ["image"],
        "channels": draw(
            st.lists(st.sampled_from(["instagram", "facebook", "x"]), min_size=1, unique=True)
        ),
        "days": draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)),
        "windows": draw(st.lists(windows(), min_size=1, max_size=3)),
        "cadence": {
            "per": draw(st.sampled_from(["day", "week", "month"])),
            "count": draw(st.integers(1, 12)),
        },
        "target": "famiglie",
    }


@st.composite
def plans(draw: st.DrawFn) -> tuple[EditorialRules, date, date]:
    anchor = draw(st.sampled_from(EDGE_DAYS))
    start = anchor - timedelta(days=draw(st.integers(0, 9)))
    end = anchor + timedelta(days=draw(st.integers(0, 40)))
    count = draw(st.integers(1, 3))
    editorial = EditorialRules.model_validate(
        {
            "timezone": draw(st.sampled_from(ZONES)),
            "rules": [draw(rules(f"rule-{index}")) for index in range(count)],
        }
    )
    return editorial, start, end


def rule_of(editorial: EditorialRules, rule_id: str) -> EditorialRule:
    return next(rule for rule in editorial.rules if rule.id == rule_id)


@settings(max_examples=300, deadline=None)
@given(plans())
def test_each_period_gets_its_cadence_or_reports_the_shortfall(
    plan: tuple[EditorialRules, date, date],
) -> None:
    editorial, start, end = plan
    generated = generate(editorial, start, end)
    per_period = Counter(
        (slot.rule_id, slot.channel, key_of(slot.local_start.date(), rule.cadence.per))
        for slot in generated.slots
        for rule in [rule_of(editorial, slot.rule_id)]
    )
    missing = {
        (short.rule_id, short.channel, short.period): short.wanted - short.available
        for short in generated.shortfalls
    }
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    for rule in editorial.rules:
        periods_with_posting_days = {
            key_of(day, rule.cadence.per) for day in days if day.weekday() in rule.days
        }
        for channel in rule.channels:
            for period in periods_with_posting_days:
                made = per_period.pop((rule.id, channel, period), 0)
                assert made <= rule.cadence.count
                assert made + missing.get((rule.id, channel, period), 0) == rule.cadence.count
    assert not per_period, f"slots outside every posting period: {per_period}"


@settings(max_examples=300, deadline=None)
@given(plans())
def test_slots_sit_on_allowed_days_at_window_starts_and_round_trip_to_utc(
    plan: tuple[EditorialRules, date, date],
) -> None:
    editorial, start, end = plan
    zone = ZoneInfo(editorial.timezone)
    for slot in generate(editorial, start, end).slots:
        rule = rule_of(editorial, slot.rule_id)
        day = slot.local_start.date()
        assert start <= day <= end
        assert day.weekday() in rule.days
        assert slot.starts_at.tzinfo is not None
        assert slot.starts_at.utcoffset() == timedelta(0)
        assert slot.starts_at.astimezone(zone).replace(tzinfo=None) == slot.local_start
        # The slot is a window start read with fold=0: unchanged when that wall time exists,
        # moved forward by the spring-forward gap when it does not.
        nominal = next(
            datetime.combine(day, window.start, tzinfo=zone)
            for window in rule.windows
            if datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC) == slot.starts_at
        )
        wall_time = nominal.replace(tzinfo=None)
        exists = nominal.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall_time
        actual_offset, nominal_offset = (
            slot.starts_at.astimezone(zone).utcoffset(),
            nominal.utcoffset(),
        )
        assert actual_offset is not None
        assert nominal_offset is not None
        gap = actual_offset - nominal_offset
        assert slot.local_start - wall_time == (timedelta(0) if exists else gap)
        assert exists or gap > timedelta(0)


@settings(max_examples=100, deadline=None)
@given(plans())
def test_generation_is_deterministic_and_never_doubles_a_slot(
    plan: tuple[EditorialRules, date, date],
) -> None:
    editorial, start, end = plan
    first, again = generate(editorial, start, end), generate(editorial, start, end)
    assert first == again
    identities = [slot.identity for slot in first.slots]
    assert len(identities) == len(set(identities))
    instants = [(slot.rule_id, slot.channel, slot.starts_at) for slot in first.slots]
    assert len(instants) == len(set(instants))
    assert [slot.starts_at for slot in first.slots] == sorted(
        slot.starts_at for slot in first.slots
    )


def single_rule(
    zone: str, per: str, count: int, starts: list[str], days: list[int] | None = None
) -> EditorialRules:
    return EditorialRules.model_validate(
        {
            "timezone": zone,
            "rules": [
                {
                    "id": "stories",
                    "pillar": "Storie",
                    "formats": ["image", "video"],
                    "channels": ["instagram"],
                    "days": days if days is not None else list(range(7)),
                    "windows": [{"start": at, "end": "23:59"} for at in starts],
                    "cadence": {"per": per, "count": count},
                    "target": "famiglie",
                }
            ],
        }
    )


def starts(generated: Calendar) -> list[tuple[str, str]]:
    return [
        (slot.local_start.isoformat(timespec="minutes"), slot.starts_at.isoformat())
        for slot in generated.slots
    ]


def test_rome_spring_forward_moves_a_missing_time_forward_by_the_gap() -> None:
    # 2027-03-28: at 02:00 CET Rome's clocks jump to 03:00 CEST.
    generated = generate(
        single_rule("Europe/Rome", "day", 1, ["02:30"]), date(2027, 3, 27), date(2027, 3, 29)
    )
    assert starts(generated) == [
        ("2027-03-27T02:30", "2027-03-27T01:30:00+00:00"),
        ("2027-03-28T03:30", "2027-03-28T01:30:00+00:00"),
        ("2027-03-29T02:30", "2027-03-29T00:30:00+00:00"),
    ]


def test_rome_fall_back_takes_the_first_of_the_repeated_hour() -> None:
    # 2027-10-31: at 03:00 CEST Rome's clocks go back to 02:00 CET; 02:30 happens twice.
    generated = generate(
        single_rule("Europe/Rome", "day", 1, ["02:30"]), date(2027, 10, 30), date(2027, 11, 1)
    )
    assert starts(generated) == [
        ("2027-10-30T02:30", "2027-10-30T00:30:00+00:00"),
        ("2027-10-31T02:30", "2027-10-31T00:30:00+00:00"),
        ("2027-11-01T02:30", "2027-11-01T01:30:00+00:00"),
    ]


def test_new_york_dst_weeks() -> None:
    spring = generate(
        single_rule("America/New_York", "day", 1, ["02:15"]), date(2027, 3, 14), date(2027, 3, 14)
    )
    autumn = generate(
        single_rule("America/New_York", "day", 1, ["01:15"]), date(2027, 11, 7), date(2027, 11, 7)
    )
    assert starts(spring) == [("2027-03-14T03:15", "2027-03-14T07:15:00+00:00")]
    assert starts(autumn) == [("2027-11-07T01:15", "2027-11-07T05:15:00+00:00")]


def test_a_start_in_the_gap_and_the_start_it_lands_on_make_one_slot() -> None:
    generated = generate(
        single_rule("Europe/Rome", "day", 2, ["02:30", "03:30"]),
        date(2027, 3, 28),
        date(2027, 3, 28),
    )
    assert starts(generated) == [("2027-03-28T03:30", "2027-03-28T01:30:00+00:00")]
    [shortfall] = generated.shortfalls
    assert (shortfall.period, shortfall.wanted, shortfall.available) == ("2027-03-28", 2, 1)


def test_three_a_week_spread_monday_wednesday_friday() -> None:
    generated = generate(
        single_rule("Europe/Rome", "week", 3, ["09:00"]), date(2027, 6, 7), date(2027, 6, 20)
    )
    assert [slot.local_start.strftime("%a %d") for slot in generated.slots] == [
        "Mon 07",
        "Wed 09",
        "Fri 11",
        "Mon 14",
        "Wed 16",
        "Fri 18",
    ]
    assert generated.shortfalls == ()


def test_leap_day_and_month_ends_in_monthly_cadence() -> None:
    # Every day of February 2028 (29 days) and of a short period across a month end.
    february = generate(
        single_rule("Europe/Rome", "month", 29, ["12:00"]), date(2028, 2, 1), date(2028, 3, 1)
    )
    days = [slot.local_start.date() for slot in february.slots]
    assert days[28] == date(2028, 2, 29)
    assert {slot.local_start.strftime("%Y-%m") for slot in february.slots} == {"2028-02", "2028-03"}
    # March is clipped to one day: one slot made, 28 missing.
    assert [(s.period, s.available) for s in february.shortfalls] == [("2028-03", 1)]


def test_iso_weeks_cross_month_and_year_ends() -> None:
    # 2026-12-28 .. 2027-01-03 is ISO week 2026-W53; one post in it, on its Monday.
    generated = generate(
        single_rule("Europe/Rome", "week", 1, ["10:00"]), date(2026, 12, 28), date(2027, 1, 4)
    )
    assert [slot.local_start.date() for slot in generated.slots] == [
        date(2026, 12, 28),
        date(2027, 1, 4),
    ]


def test_a_period_without_posting_days_asks_for_nothing() -> None:
    weekdays_only = single_rule("Europe/Rome", "day", 1, ["09:00"], days=[0, 1, 2, 3, 4])
    generated = generate(weekdays_only, date(2027, 6, 5), date(2027, 6, 7))  # Sat, Sun, Mon
    assert [slot.local_start.date() for slot in generated.slots] == [date(2027, 6, 7)]
    assert generated.shortfalls == ()
