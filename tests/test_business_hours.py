"""Business time: due times counted only within business hours and days, in the organisation's
time zone, across daylight saving changes, weekends and Italian public holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.listening.conversations.business_hours import (
    BusinessCalendar,
    easter_sunday,
    italian_public_holidays,
    sla_times,
)

ROME = ZoneInfo("Europe/Rome")
CALENDAR = BusinessCalendar()


def rome(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, date(2024, 3, 31)), (2026, date(2026, 4, 5)), (2027, date(2027, 3, 28))],
)
def test_easter_by_the_computus(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_italian_public_holidays() -> None:
    holidays_2027 = italian_public_holidays(2027)
    assert date(2027, 3, 29) in holidays_2027  # Easter Monday
    assert date(2027, 4, 25) in holidays_2027
    assert date(2027, 6, 2) in holidays_2027
    assert date(2027, 12, 26) in holidays_2027
    assert date(2027, 3, 30) not in holidays_2027
    # San Francesco is a national holiday again from 2026.
    assert date(2026, 10, 4) in italian_public_holidays(2026)
    assert date(2025, 10, 4) not in italian_public_holidays(2025)


def test_a_target_within_one_business_day() -> None:
    due = CALENDAR.add_business_minutes(rome(2027, 3, 2, 10), 240)
    assert due == rome(2027, 3, 2, 14)
    assert due.tzinfo == UTC


def test_a_target_spanning_days_counts_only_business_hours() -> None:
    # Tuesday 16:00: two hours on Tuesday, two on Wednesday from 09:00.
    assert CALENDAR.add_business_minutes(rome(2027, 3, 2, 16), 240) == rome(2027, 3, 3, 11)
    # Three days' worth of business time (9 hours a day).
    assert CALENDAR.add_business_minutes(rome(2027, 3, 2, 9), 27 * 60) == rome(2027, 3, 4, 18)


def test_weekends_are_skipped_and_a_start_outside_hours_waits_for_the_opening() -> None:
    assert CALENDAR.add_business_minutes(rome(2027, 3, 5, 17), 120) == rome(2027, 3, 8, 10)
    assert CALENDAR.add_business_minutes(rome(2027, 3, 6, 11), 30) == rome(2027, 3, 8, 9, 30)
    assert CALENDAR.add_business_minutes(rome(2027, 3, 2, 20), 60) == rome(2027, 3, 3, 10)
    assert CALENDAR.add_business_minutes(rome(2027, 3, 2, 7), 60) == rome(2027, 3, 2, 10)


def test_daylight_saving_starts_on_the_last_sunday_of_march() -> None:
    # Friday 27 March 2026 17:00 CET is 16:00 UTC; Monday 30 March 10:00 CEST is 08:00 UTC.
    due = CALENDAR.add_business_minutes(rome(2026, 3, 27, 17), 120)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert due.astimezone(ROME).hour == 10


def test_daylight_saving_ends_on_the_last_sunday_of_october() -> None:
    # Friday 23 October 2026 17:00 CEST is 15:00 UTC; Monday 26 October 10:00 CET is 09:00 UTC.
    due = CALENDAR.add_business_minutes(rome(2026, 10, 23, 17), 120)
    assert due == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert due.astimezone(ROME).hour == 10


def test_easter_monday_2027_and_the_dst_weekend_together() -> None:
    # Friday 26 March 2027: one hour; the clocks change on Sunday 28 (Easter), Monday 29 is
    # Easter Monday; the other three hours are on Tuesday 30 from 09:00 CEST.
    due = CALENDAR.add_business_minutes(rome(2027, 3, 26, 17), 240)
    assert due == rome(2027, 3, 30, 12)
    assert due == datetime(2027, 3, 30, 10, 0, tzinfo=UTC)


def test_liberation_day_is_skipped() -> None:
    # 25 April 2029 is a Wednesday.
    assert CALENDAR.add_business_minutes(rome(2029, 4, 24, 17), 120) == rome(2029, 4, 26, 10)


def test_business_minutes_between_is_the_inverse() -> None:
    for start, minutes in [
        (rome(2026, 3, 27, 17), 120),
        (rome(2026, 10, 23, 17), 600),
        (rome(2027, 3, 26, 17), 240),
        (rome(2027, 12, 23, 15), 1000),
    ]:
        due = CALENDAR.add_business_minutes(start, minutes)
        assert CALENDAR.business_minutes_between(start, due) == pytest.approx(minutes)
    assert CALENDAR.business_minutes_between(rome(2027, 3, 6, 10), rome(2027, 3, 7, 12)) == 0


def test_another_zone_and_other_days() -> None:
    saturdays = BusinessCalendar(
        time_zone="America/New_York",
        weekdays=frozenset({6}),
        opens=time(10, 0),
        closes=time(14, 0),
    )
    start = datetime(2027, 3, 2, 12, 0, tzinfo=UTC)
    assert saturdays.add_business_minutes(start, 300) == datetime(
        2027, 3, 13, 11, 0, tzinfo=ZoneInfo("America/New_York")
    )


def test_a_calendar_without_business_days_is_refused() -> None:
    with pytest.raises(ValueError, match="business days"):
        BusinessCalendar(weekdays=frozenset())
    with pytest.raises(ValueError, match="open before"):
        BusinessCalendar(opens=time(18, 0), closes=time(9, 0))


def test_sla_times_warn_before_the_due_time_and_escalate_after() -> None:
    times = sla_times(CALENDAR, rome(2027, 3, 2, 10), 240, 60)
    assert times.due_soon_at == rome(2027, 3, 2, 13)
    assert times.due_at == rome(2027, 3, 2, 14)
    assert times.escalate_at == rome(2027, 3, 2, 15)
    assert times.escalate_at - times.due_at == timedelta(hours=1)
