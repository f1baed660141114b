"""The approved ``objectives`` deliverable's KPI targets, and how each is judged against the
figures: its deadline, its actual, its trend and its status (``docs/reporting.md``).

Reporting keeps the deliverable's body as strategy approved it; the models here read only the
part of it that reporting uses, so strategy may add fields without breaking the reports.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from services.reporting.kpis.schemas import ObjectiveState, Trend

log = logging.getLogger(__name__)

Section = Literal["publishing", "listening", "conversations", "contests"]
PERCENT = "%"
# Two figures closer than this (relative to the previous one) are "flat", not a trend.
FLAT_TOLERANCE = 1e-9


class KpiTarget(BaseModel):
    """One ``Kpi`` of strategy's ``Objectives`` (``engagement_rate`` at least 4 % by month 3)."""

    model_config = ConfigDict(extra="ignore")

    metric: str
    channel: str | None = None
    comparator: Literal["at_least", "at_most"]
    target: float
    unit: str
    by_month: int | None = None
    by_date: date | None = None


class ObjectiveTargets(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    title: str
    kpis: list[KpiTarget]


class ObjectivesBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    objectives: list[ObjectiveTargets]


def objective_targets(body: dict[str, Any] | None) -> list[ObjectiveTargets]:
    """The objectives of an approved body; none when there is no body or it cannot be read
    (strategy validated it when approving, so that is a contract change, logged)."""
    if body is None:
        return []
    try:
        return ObjectivesBody.model_validate(body).objectives
    except ValidationError as error:
        log.warning("objectives deliverable not readable by reporting: %s", error)
        return []


@dataclass(frozen=True)
class Metric:
    """Where a KPI's metric is among the figures: a field of one section; ``ratio`` figures
    are shares from 0 to 1, shown as a percentage when the target's unit is ``%``."""

    section: Section
    field: str
    ratio: bool = False


METRICS: dict[str, Metric] = {
    "posts_planned": Metric("publishing", "planned"),
    "posts_published": Metric("publishing", "published"),
    "posts_failed": Metric("publishing", "failed"),
    "on_time_share": Metric("publishing", "on_time_share", ratio=True),
    "reach": Metric("publishing", "reach"),
    "impressions": Metric("publishing", "impressions"),
    "engagements": Metric("publishing", "engagements"),
    "engagement_rate": Metric("publishing", "engagement_rate", ratio=True),
    "followers": Metric("publishing", "followers"),
    "follower_growth": Metric("publishing", "follower_growth"),
    "mentions": Metric("listening", "mentions"),
    "net_sentiment": Metric("listening", "net_sentiment"),
    "own_share_of_voice": Metric("listening", "own_share_of_voice", ratio=True),
    "share_of_voice": Metric("listening", "own_share_of_voice", ratio=True),
    "conversations_opened": Metric("conversations", "opened"),
    "first_response_median_minutes": Metric("conversations", "first_response_median_minutes"),
    "first_response_p90_minutes": Metric("conversations", "first_response_p90_minutes"),
    "within_sla_share": Metric("conversations", "within_sla_share", ratio=True),
    "open_backlog": Metric("conversations", "open_backlog"),
    "contest_entries": Metric("contests", "entries"),
    "valid_contest_entries": Metric("contests", "valid_entries"),
    "contest_winners": Metric("contests", "winners"),
}


def in_unit(metric: Metric, value: float | int | None, unit: str) -> float | None:
    if value is None:
        return None
    return float(value) * 100 if metric.ratio and unit.strip() == PERCENT else float(value)


def deadline(kpi: KpiTarget, starts_on: date) -> date:
    """``by_date``, or ``by_month`` months after the engagement's first day."""
    if kpi.by_date is not None:
        return kpi.by_date
    return add_months(starts_on, kpi.by_month or 0)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day (31 January + 1: 28 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def deadline_reached(ends_at: datetime, deadline_day: date, timezone: str) -> bool:
    """Whether a period ending (excluded) at ``ends_at`` covers the whole deadline day."""
    day_after = datetime.combine(deadline_day + timedelta(days=1), time(), ZoneInfo(timezone))
    return ends_at >= day_after


def holds(kpi: KpiTarget, actual: float) -> bool:
    return actual >= kpi.target if kpi.comparator == "at_least" else actual <= kpi.target


def status(kpi: KpiTarget, actual: float | None, reached: bool) -> ObjectiveState:
    if actual is None:
        return ObjectiveState.NO_DATA
    if holds(kpi, actual):
        return ObjectiveState.ACHIEVED if reached else ObjectiveState.ON_TRACK
    return ObjectiveState.MISSED if reached else ObjectiveState.AT_RISK


def trend(actual: float | None, previous: float | None) -> Trend | None:
    if actual is None or previous is None:
        return None
    if abs(actual - previous) <= FLAT_TOLERANCE * max(1.0, abs(previous)):
        return Trend.FLAT
    return Trend.UP if actual > previous else Trend.DOWN
