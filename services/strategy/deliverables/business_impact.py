"""The business-model impact ("impatti sul modello di business"): which parts of the client's
business social media touches, with the effects expected, what they cost, what may go wrong and
the KPIs that will show them. Written in the analysis, beside the brief.

Plain pydantic, no database code: the references it makes to the objectives are checked by the
deliverables service (``links.py``), which can read them.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from services.strategy.bodies import Body
from services.strategy.vocabulary import LongText, Text
from shared.domain import Channel
from shared.editorial import RuleId

# The same metric names as the objectives' KPIs (``engagement_rate``, ``bookings_from_social``).
MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class BusinessArea(StrEnum):
    """The parts of a business the seed's clients find social media touching."""

    CUSTOMER_CARE = "customer_care"  # assistenza clienti
    SALES = "sales"  # vendite
    BOOKINGS = "bookings"  # prenotazioni
    RECRUITMENT = "recruitment"  # selezione del personale
    REPUTATION = "reputation"  # reputazione
    INTERNAL_PROCESSES = "internal_processes"  # processi interni


MAX_AREAS = len(BusinessArea)


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Cost(Body):
    """Money, staff time, or both, that the change asks of the client."""

    item: Text
    amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    currency: CurrencyCode = Field("EUR", description="ISO 4217 code")
    recurrence: Literal["one_off", "monthly", "yearly"] = "one_off"
    staff_hours_per_week: float | None = Field(None, ge=0, le=168)


class Risk(Body):
    title: Text
    likelihood: Level
    impact: Level
    mitigation: LongText = ""


class Indicator(Body):
    """A KPI that will show the effect: when it names an objective, it is one of that
    objective's KPIs (same metric, and same channel when given)."""

    metric: MetricName
    channel: Channel | None = None
    objective_id: RuleId | None = Field(
        None, description="The objective, in the objectives deliverable, whose KPI this is"
    )


class AreaImpact(Body):
    area: BusinessArea
    how_social_touches_it: LongText = Field(
        "", description="What changes in this part of the business once it is on social media"
    )
    expected_effects: list[Text] = Field(min_length=1, max_length=20)
    costs: list[Cost] = Field(default_factory=list, max_length=20)
    risks: list[Risk] = Field(default_factory=list, max_length=20)
    kpis: list[Indicator] = Field(min_length=1, max_length=20)


class BusinessImpact(Body):
    summary: LongText = ""
    areas: list[AreaImpact] = Field(min_length=1, max_length=MAX_AREAS)

    @field_validator("areas")
    @classmethod
    def _one_entry_per_area(cls, value: list[AreaImpact]) -> list[AreaImpact]:
        areas = [entry.area for entry in value]
        if len(set(areas)) != len(areas):
            raise ValueError("areas must not repeat")
        return value
