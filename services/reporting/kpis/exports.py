"""The KPI tables as files: CSV (one file, a titled block per table) and XLSX (a sheet per
table): summary figures, by channel, objectives, places and the day-by-day volume.

Every table is bounded (a row per channel, objective, region, or day of a period of at most
``max_period_days``), so a file is built whole in memory. A text cell that a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@``...) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook

from services.reporting.kpis.schemas import EngagementKpis

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | date | datetime | None


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def _safe(value: Cell) -> Cell:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _summary(kpis: EngagementKpis) -> list[tuple[str, Cell]]:
    publishing, listening = kpis.publishing, kpis.listening
    conversations, contests = kpis.conversations, kpis.contests
    return [
        ("engagement_id", str(kpis.engagement_id)),
        ("period_start", kpis.period.starts_at.isoformat()),
        ("period_end", kpis.period.ends_at.isoformat()),
        ("channel", kpis.channel or "all"),
        ("posts_planned", publishing.planned),
        ("posts_published", publishing.published),
        ("posts_failed", publishing.failed),
        ("posts_on_time", publishing.on_time),
        ("on_time_share", publishing.on_time_share),
        ("reach", publishing.reach),
        ("impressions", publishing.impressions),
        ("engagements", publishing.engagements),
        ("engagement_rate", publishing.engagement_rate),
        ("followers", publishing.followers),
        ("follower_growth", publishing.follower_growth),
        ("mentions", listening.mentions),
        ("positive", listening.sentiment.positive),
        ("neutral", listening.sentiment.neutral),
        ("negative", listening.sentiment.negative),
        ("mixed", listening.sentiment.mixed),
        ("unlabelled", listening.sentiment.unlabelled),
        ("net_sentiment", listening.net_sentiment),
        ("own_share_of_voice", listening.own_share_of_voice),
        ("conversations_opened", conversations.opened),
        ("conversations_answered", conversations.answered),
        ("first_response_median_minutes", conversations.first_response_median_minutes),
        ("first_response_p90_minutes", conversations.first_response_p90_minutes),
        ("within_sla", conversations.within_sla),
        ("within_sla_share", conversations.within_sla_share),
        ("open_backlog", conversations.open_backlog),
        ("contests", contests.contests),
        ("contest_entries", contests.entries),
        ("valid_contest_entries", contests.valid_entries),
        ("contest_winners", contests.winners),
    ]


def _summary_table(kpis: EngagementKpis) -> Table:
    """The figures, and the previous period's beside them when it was asked for."""
    figures = _summary(kpis)
    if kpis.previous is None:
        return Table("summary", ("figure", "value"), figures)
    previous = _summary(kpis.previous)
    return Table(
        "summary",
        ("figure", "value", "previous"),
        [
            (name, value, before)
            for (name, value), (_, before) in zip(figures, previous, strict=True)
        ],
    )


def kpi_tables(kpis: EngagementKpis) -> list[Table]:
    publishing, listening = kpis.publishing, kpis.listening
    return [
        _summary_table(kpis),
        Table(
            "by_channel",
            (
                "channel",
                "planned",
                "published",
                "failed",
                "reach",
                "impressions",
                "engagements",
                "engagement_rate",
            ),
            [
                (
                    row.channel,
                    row.planned,
                    row.published,
                    row.failed,
                    row.reach,
                    row.impressions,
                    row.engagements,
                    row.engagement_rate,
                )
                for row in publishing.by_channel
            ],
        ),
        Table(
            "objectives",
            (
                "objective_id",
                "objective",
                "metric",
                "channel",
                "comparator",
                "target",
                "unit",
                "deadline",
                "actual",
                "previous",
                "trend",
                "status",
            ),
            [
                (
                    row.objective_id,
                    row.objective_title,
                    row.metric,
                    row.channel,
                    row.comparator,
                    row.target,
                    row.unit,
                    row.deadline,
                    row.actual,
                    row.previous,
                    row.trend.value if row.trend else None,
                    row.status.value,
                )
                for row in kpis.objectives
            ],
        ),
        Table(
            "places",
            ("region_code", "region_name", "mentions"),
            [(row.region_code, row.region_name, row.mentions) for row in listening.places],
        ),
        Table(
            "volume",
            ("day", "mentions", "positive", "neutral", "negative", "mixed", "unlabelled"),
            [
                (
                    row.day,
                    row.mentions,
                    row.positive,
                    row.neutral,
                    row.negative,
                    row.mixed,
                    row.unlabelled,
                )
                for row in listening.volume
            ],
        ),
    ]


def _csv_cell(value: Cell) -> Cell:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return "" if value is None else _safe(value)


def to_csv(kpis: EngagementKpis) -> str:
    """Each table as a line with its title, its header and its rows; a blank line between."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for index, table in enumerate(kpi_tables(kpis)):
        if index:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.columns)
        writer.writerows([_csv_cell(value) for value in row] for row in table.rows)
    return out.getvalue()


def to_xlsx(kpis: EngagementKpis) -> bytes:
    """A sheet per table (named as the CSV's titles), its header in the first row."""
    workbook = Workbook(write_only=True)
    for table in kpi_tables(kpis):
        sheet = workbook.create_sheet(table.title)
        sheet.append(list(table.columns))
        for row in table.rows:
            sheet.append([_xlsx_cell(value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(value: Cell) -> Cell:
    # A spreadsheet holds no time zones: instants are written as ISO 8601 text.
    if isinstance(value, datetime):
        return value.isoformat()
    return _safe(value)
