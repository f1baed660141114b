"""What the console draws from the API's answers: the sentiment chart and the calendar grid."""

from __future__ import annotations

from datetime import date

from services.gateway.console.charts import (
    CHART_HEIGHT,
    CHART_PADDING,
    MIN_CHART_BUCKETS,
    calendar_weeks,
    instant_in,
    sentiment_chart,
)
from services.gateway.console.i18n import MESSAGES


def bucket(day: str, count: int, net: float | None) -> dict[str, object]:
    return {"start": f"{day}T00:00:00+01:00", "count": count, "net_sentiment": net}


def test_the_sentiment_chart_scales_mentions_and_net_sentiment() -> None:
    chart = sentiment_chart(
        [bucket("2027-03-01", 4, 1.0), bucket("2027-03-02", 0, None), bucket("2027-03-03", 2, -1.0)]
    )
    assert chart is not None
    assert (chart.total, chart.max_count) == (6, 4)
    assert (chart.first_label, chart.last_label) == ("2027-03-01", "2027-03-03")
    tallest, empty, half = chart.bars
    assert tallest.height == CHART_HEIGHT - 2 * CHART_PADDING
    assert empty.height == 0
    assert half.height == tallest.height / 2
    # +1 at the top, -1 at the bottom; a day without labelled mentions has no point.
    assert [y for _, y, _ in chart.points] == [chart.top_y, chart.bottom_y]
    assert len(chart.line.split()) == 2


def test_no_mention_draws_no_chart() -> None:
    assert sentiment_chart([]) is None
    assert sentiment_chart([bucket("2027-03-01", 0, None)]) is None


def test_a_month_is_laid_out_in_weeks_from_monday() -> None:
    slots = [
        {"day": "2027-03-31", "local_start": "2027-03-31T18:00:00", "channel": "instagram"},
        {"day": "2027-03-01", "local_start": "2027-03-01T12:00:00", "channel": "facebook"},
        {"day": "2027-03-01", "local_start": "2027-03-01T09:00:00", "channel": "instagram"},
    ]
    weeks = calendar_weeks("2027-03", slots)
    assert all(len(week) == 7 for week in weeks)
    days = [cell.day for week in weeks for cell in week if cell.day is not None]
    assert (days[0], days[-1], len(days)) == (date(2027, 3, 1), date(2027, 3, 31), 31)
    first = weeks[0][0]  # 1 March 2027 is a Monday
    assert [slot["channel"] for slot in first.slots] == ["instagram", "facebook"]
    assert (weeks[-1][2].day, weeks[-1][3].day) == (date(2027, 3, 31), None)


def test_an_iso_week_is_its_seven_days() -> None:
    weeks = calendar_weeks("2027-W13", [])
    assert [cell.day for cell in weeks[0]] == [date(2027, 3, 29 + n) for n in range(3)] + [
        date(2027, 4, n) for n in range(1, 5)
    ]


def test_every_word_is_in_both_languages() -> None:
    assert all(italian and english for italian, english in MESSAGES.values())


def test_the_chart_starts_at_the_first_mention_showing_a_week_at_least() -> None:
    month = [bucket(f"2027-03-{day:02d}", 0, None) for day in range(1, 31)]
    month[25] = bucket("2027-03-26", 3, 0.5)
    month[27] = bucket("2027-03-28", 1, -1.0)
    chart = sentiment_chart(month)
    assert chart is not None
    # The first mention is in the last week: the last seven days are shown.
    assert len(chart.bars) == MIN_CHART_BUCKETS
    assert (chart.first_label, chart.last_label) == ("2027-03-24", "2027-03-30")
    month[2] = bucket("2027-03-03", 2, 1.0)
    earlier = sentiment_chart(month)
    assert earlier is not None
    assert earlier.first_label == "2027-03-03"
    assert len(earlier.bars) == 28
    assert sentiment_chart([bucket("2027-03-01", 0, None)]) is None


def test_an_instant_is_shown_in_the_clients_zone_with_its_abbreviation() -> None:
    # The calendar shows slots in the client's zone; tasks and messages must agree with it.
    assert instant_in("2026-12-04T08:30:00+00:00", "Europe/Rome") == "2026-12-04 09:30 CET"
    assert instant_in("2026-07-04T08:30:00Z", "Europe/Rome") == "2026-07-04 10:30 CEST"
    assert instant_in("2026-12-04T08:30:00", "Europe/Rome") == "2026-12-04 09:30 CET"
    assert instant_in("2026-12-04T08:30:00+00:00", "Not/AZone") == "2026-12-04 08:30 UTC"
    assert instant_in(None, "Europe/Rome") == ""
