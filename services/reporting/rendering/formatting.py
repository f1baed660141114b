"""Every figure and date as the report prints it, in one place: the HTML, the PDF, the charts'
labels and the written summary all call these, so the PDF's text holds exactly the figures the
HTML shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from services.reporting.rendering.context import Language

LOCALES: dict[Language, str] = {"it": "it_IT", "en": "en_GB"}
EN_DASH = "\u2013"
# Shown where a figure is None (no data, a zero denominator): never a made-up 0.
NO_FIGURE = EN_DASH


@dataclass(frozen=True)
class Formats:
    language: Language

    @property
    def locale(self) -> str:
        return LOCALES[self.language]

    def count(self, value: int | None) -> str:
        if value is None:
            return NO_FIGURE
        return format_decimal(value, format="#,##0", locale=self.locale)

    def decimal(self, value: float | None) -> str:
        """Up to two decimals, for targets and actuals whose unit is the client's own."""
        if value is None:
            return NO_FIGURE
        return format_decimal(value, format="#,##0.##", locale=self.locale)

    def signed(self, value: float | None) -> str:
        """Net sentiment, a score from -100 to +100, as whole points with their sign."""
        if value is None:
            return NO_FIGURE
        if round(value) == 0:
            return "0"
        return format_decimal(value, format="+#,##0;-#,##0", locale=self.locale)

    def share(self, value: float | None) -> str:
        """A share from 0 to 1 as a percentage with at most one decimal (4.5%, 52%)."""
        if value is None:
            return NO_FIGURE
        return format_percent(value, format="#,##0.#%", locale=self.locale)

    def change(self, ratio: float) -> str:
        """The size of a relative change (0.23 for +23%), without sign: whole percent, one
        decimal when a whole percent would read as no change."""
        pattern = "#,##0%" if abs(ratio) >= 0.005 else "#,##0.#%"
        return format_percent(abs(ratio), format=pattern, locale=self.locale)

    def minutes(self, value: float | None) -> str:
        if value is None:
            return NO_FIGURE
        return f"{format_decimal(value, format='#,##0.#', locale=self.locale)} min"

    def measure(self, value: float | None, unit: str) -> str:
        """An objective's figure in the objective's own unit."""
        if value is None:
            return NO_FIGURE
        number = self.decimal(value)
        return f"{number}%" if unit.strip() == "%" else f"{number} {unit}"

    def day(self, value: date) -> str:
        return format_date(value, "long", locale=self.locale)

    def short_day(self, value: date) -> str:
        return format_date(value, "d MMM", locale=self.locale)

    def medium_day(self, value: date) -> str:
        return format_date(value, "medium", locale=self.locale)

    def period(self, first: date, last: date) -> str:
        return f"{self.day(first)} {EN_DASH} {self.day(last)}"

    def moment(self, value: datetime, zone: ZoneInfo) -> str:
        return format_datetime(value, "d MMMM y, HH:mm zzz", tzinfo=zone, locale=self.locale)
