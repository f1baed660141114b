"""The guard against regressions: today's figures against the committed reference
(``benchmarks/reference.json``), as the table ``make bench`` ends with.

A throughput (a figure whose unit is per second or per minute) that fell by more than
``DROP_WARNING`` of its reference is a warning naming the figure. The reference is updated
deliberately, in a commit of its own, with the machine it was measured on (``machine``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parent / "reference.json"
DROP_WARNING = 0.25
THROUGHPUT_UNITS = ("/s", "/min")


@dataclass(frozen=True)
class Comparison:
    figure: str
    unit: str
    today: float
    reference: float | None

    @property
    def change(self) -> float | None:
        """Relative change from the reference (-0.3: 30 % lower); None without one."""
        if self.reference is None or self.reference == 0:
            return None
        return (self.today - self.reference) / self.reference

    @property
    def is_throughput(self) -> bool:
        # Rates per minute too: the lifecycle counts engagements and activities per minute.
        return self.unit.endswith(THROUGHPUT_UNITS)

    @property
    def dropped(self) -> bool:
        change = self.change
        return self.is_throughput and change is not None and change < -DROP_WARNING


def figure_name(line: Mapping[str, Any]) -> str:
    return f"{line['benchmark']}.{line['metric']}"


def compare(lines: Sequence[Mapping[str, Any]], reference: Mapping[str, float]) -> list[Comparison]:
    """Each figure of today's numeric lines with its reference value, in today's order."""
    return [
        Comparison(
            figure_name(line),
            str(line["unit"]),
            float(line["value"]),
            reference.get(figure_name(line)),
        )
        for line in lines
        if isinstance(line.get("value"), int | float) and not isinstance(line["value"], bool)
    ]


def warnings(comparisons: Sequence[Comparison]) -> list[str]:
    return [
        f"WARNING: {c.figure} fell {-c.change:.0%} below its reference "
        f"({c.today:g} against {c.reference:g} {c.unit})"
        for c in comparisons
        if c.dropped and c.change is not None and c.reference is not None
    ]


def table(comparisons: Sequence[Comparison]) -> str:
    """The summary: figure, today, reference, change."""
    rows = [("figure", "today", "reference", "change")]
    for c in comparisons:
        change = "" if c.change is None else f"{c.change:+.1%}"
        reference = "" if c.reference is None else f"{c.reference:g}"
        rows.append((c.figure, f"{c.today:g} {c.unit}", reference, change))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def load_reference(path: Path = REFERENCE) -> dict[str, float]:
    """The reference figures by name; empty when there is no reference yet."""
    if not path.exists():
        return {}
    return {name: float(value) for name, value in json.loads(path.read_text())["figures"].items()}


def summary(lines: Sequence[Mapping[str, Any]], reference: Mapping[str, float]) -> str:
    """The table, then a warning per throughput that dropped."""
    comparisons = compare(lines, reference)
    return "\n".join([table(comparisons), *warnings(comparisons)])
