"""Alert rules: each kind's default figures, and the checks a schema cannot make."""

from __future__ import annotations

from dataclasses import dataclass

from services.listening.alerts.contracts import AlertKind
from services.listening.alerts.schemas import Thresholds
from shared.errors import FieldError, ProblemError, validation_problem

# A spike needs at least this many mentions in its hour, whatever a rule says: a handful of
# mentions is never a crisis.
SPIKE_MIN_COUNT_FLOOR = 5


@dataclass(frozen=True)
class Defaults:
    min_count: int
    factor: float = 3.0
    share_increase: float = 0.25
    alpha: float = 0.1
    baseline_hours: int = 168


# Why these figures: docs/alerts.md.
DEFAULTS: dict[AlertKind, Defaults] = {
    "volume_spike": Defaults(min_count=20),
    "negative_spike": Defaults(min_count=10),
    "keyword": Defaults(min_count=1),
}


def with_defaults(kind: AlertKind, given: Thresholds) -> dict[str, float | int]:
    """The rule's figures: those given, the kind's defaults for the rest."""
    defaults = DEFAULTS[kind]
    return {
        name: getattr(given, name) if getattr(given, name) is not None else getattr(defaults, name)
        for name in ("min_count", "factor", "share_increase", "alpha", "baseline_hours")
    }


def problems(kind: AlertKind, min_count: int, keywords: list[str]) -> ProblemError | None:
    """A 422 naming each field a rule of ``kind`` cannot have, or None."""
    errors: list[FieldError] = []
    if kind == "keyword" and not keywords:
        errors.append(
            FieldError(
                field="body.keywords",
                message="a keyword rule needs at least one keyword",
                type="missing",
            )
        )
    if kind != "keyword" and keywords:
        errors.append(
            FieldError(
                field="body.keywords",
                message=f"a {kind} rule takes no keywords",
                type="extra_forbidden",
            )
        )
    if kind != "keyword" and min_count < SPIKE_MIN_COUNT_FLOOR:
        errors.append(
            FieldError(
                field="body.min_count",
                message=f"a spike needs at least {SPIKE_MIN_COUNT_FLOOR} mentions in its hour",
                type="greater_than_equal",
            )
        )
    return validation_problem(errors) if errors else None
