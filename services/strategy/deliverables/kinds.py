"""The kinds of deliverable an engagement produces, and the schema each kind's body must follow.

Plain pydantic, no database code: workflows and the gateway may import it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from services.strategy.bodies import Body
from services.strategy.channel_mix.schemas import ChannelMix
from services.strategy.deliverables.business_impact import BusinessImpact
from services.strategy.deliverables.positioning import Positioning
from services.strategy.vocabulary import Goal, LongText, Persona, Text
from shared.domain import Channel
from shared.editorial import EditorialRules, RuleId


class DeliverableKind(StrEnum):
    ANALYSIS = "analysis"
    CHANNEL_MIX = "channel_mix"
    BRIEF = "brief"
    OBJECTIVES = "objectives"
    EDITORIAL_RULES = "editorial_rules"
    GRAPHIC_LINE = "graphic_line"
    BUSINESS_IMPACT = "business_impact"
    POSITIONING = "positioning"


class DeliverableStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


# What the agency writes by hand; the channel mix is computed (POST .../channel-mix) instead.
AuthoredKind = Literal[
    "analysis",
    "brief",
    "objectives",
    "editorial_rules",
    "graphic_line",
    "business_impact",
    "positioning",
]

# What is shown to the client for sign-off. The analysis and the channel mix are the agency's
# own assessments and are approved by the agency only.
CLIENT_APPROVED_KINDS = frozenset(
    {
        DeliverableKind.BRIEF,
        DeliverableKind.OBJECTIVES,
        DeliverableKind.EDITORIAL_RULES,
        DeliverableKind.GRAPHIC_LINE,
        DeliverableKind.BUSINESS_IMPACT,
        DeliverableKind.POSITIONING,
    }
)


def _distinct(values: list[object], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must not repeat")


# --- analysis: the state of the art ----------------------------------------------------------


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Evidence(Body):
    kind: Literal["asset", "metric", "listening_baseline", "place"]
    ref: Text = Field(
        description="An asset id, a metric name, a listening baseline id, or a Foursquare "
        "place id (GET /v1/engagements/{id}/place-evidence/{fsq_id})"
    )
    note: LongText = ""


class Finding(Body):
    title: Text
    detail: LongText = ""
    severity: Severity
    evidence: list[Evidence] = Field(min_length=1)


class Analysis(Body):
    summary: LongText = ""
    strengths: list[Finding] = Field(default_factory=list)
    weaknesses: list[Finding] = Field(default_factory=list)
    improvement_areas: list[Finding] = Field(default_factory=list)

    @model_validator(mode="after")
    def _says_something(self) -> Analysis:
        if not (self.strengths or self.weaknesses or self.improvement_areas):
            raise ValueError("an analysis needs at least one strength, weakness or improvement")
        return self


# --- brief ------------------------------------------------------------------------------------

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Budget(Body):
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: Currency = Field("EUR", description="ISO 4217 code")
    notes: LongText = ""


class Milestone(Body):
    name: Text
    due_on: date


class Timing(Body):
    starts_on: date
    ends_on: date
    milestones: list[Milestone] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Timing:
        if self.ends_on <= self.starts_on:
            raise ValueError("ends_on must be after starts_on")
        outside = [
            m.name for m in self.milestones if not self.starts_on <= m.due_on <= self.ends_on
        ]
        if outside:
            raise ValueError(f"milestones outside the timing: {', '.join(outside)}")
        return self


class Brief(Body):
    context: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    objectives: list[Text] = Field(min_length=1)
    targets: list[Persona] = Field(min_length=1)
    tone: LongText = ""
    constraints: list[Text] = Field(default_factory=list)
    budget: Budget | None = None
    timing: Timing
    business_impact_version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The business_impact version the brief builds on"
    )


# --- objectives, actions and the channel-for-objective matrix ---------------------------------


class Comparator(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class Kpi(Body):
    """A measurable target: ``engagement_rate`` at least 4 % on Instagram by month 3."""

    metric: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    channel: Channel | None = None
    comparator: Comparator
    target: float
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    by_month: int | None = Field(None, ge=1, le=120, description="Months after the start")
    by_date: date | None = None

    @model_validator(mode="after")
    def _one_deadline(self) -> Kpi:
        if (self.by_month is None) == (self.by_date is None):
            raise ValueError("give exactly one of by_month and by_date")
        return self


class Objective(Body):
    id: RuleId
    title: Text
    goal: Goal
    kpis: list[Kpi] = Field(min_length=1)


class Action(Body):
    title: Text
    objective_ids: list[RuleId] = Field(min_length=1)
    channels: list[Channel] = Field(default_factory=list)
    owner: Literal["agency", "client", "shared"] = "agency"
    starts_on: date
    ends_on: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Action:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class ChannelAssignment(Body):
    """One cell of the channel-for-objective matrix ("quali mezzi per quali obiettivi")."""

    objective_id: RuleId
    channel: Channel
    role: Literal["primary", "supporting"] = "primary"


class Objectives(Body):
    objectives: list[Objective] = Field(min_length=1)
    actions: list[Action] = Field(default_factory=list)
    matrix: list[ChannelAssignment] = Field(min_length=1)
    business_impact_version: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="The business_impact version whose KPIs these objectives carry",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Objectives:
        ids = [objective.id for objective in self.objectives]
        _distinct(list(ids), "objective ids")
        referenced = {ref for action in self.actions for ref in action.objective_ids}
        referenced |= {cell.objective_id for cell in self.matrix}
        unknown = sorted(referenced - set(ids))
        if unknown:
            raise ValueError(f"unknown objective ids: {', '.join(unknown)}")
        _distinct([(cell.objective_id, cell.channel) for cell in self.matrix], "matrix cells")
        without_channel = sorted(set(ids) - {cell.objective_id for cell in self.matrix})
        if without_channel:
            raise ValueError(f"objectives with no channel: {', '.join(without_channel)}")
        return self


# --- graphic line ----------------------------------------------------------------------------

HexColour = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
AspectRatio = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$")]
Pixels = Annotated[int, Field(ge=1, le=20000)]
# Stated and actual ratios may differ by rounding (1080x1350 is 4:5; 1920x1080 is 16:9).
ASPECT_TOLERANCE = 0.01


class Colour(Body):
    name: Text
    hex: HexColour
    role: Text = Field("brand", description="primary, secondary, accent, text, background...")


class Font(Body):
    family: Text
    usage: Text = Field(description="headings, body, captions...")
    weights: list[Annotated[int, Field(ge=100, le=900, multiple_of=100)]] = Field(
        default_factory=lambda: [400]
    )


class LogoVariant(Body):
    name: Text
    usage: LongText = ""
    background: HexColour | None = None
    file: Text | None = Field(None, description="Where the file lives (a path or URL)")


class ImageFormat(Body):
    name: Text
    width: Pixels
    height: Pixels
    aspect_ratio: AspectRatio

    @model_validator(mode="after")
    def _ratio_matches_size(self) -> ImageFormat:
        across, down = (int(part) for part in self.aspect_ratio.split(":"))
        if abs(self.width / self.height - across / down) > ASPECT_TOLERANCE * across / down:
            raise ValueError(
                f"{self.width}x{self.height} is not {self.aspect_ratio} (tolerance 1 %)"
            )
        return self


class Template(Body):
    name: Text
    description: LongText = ""
    file: Text | None = None


class ChannelGraphicLine(Body):
    channel: Channel
    palette: list[Colour] = Field(min_length=1)
    fonts: list[Font] = Field(min_length=1)
    logo_variants: list[LogoVariant] = Field(default_factory=list)
    image_formats: list[ImageFormat] = Field(default_factory=list)
    templates: list[Template] = Field(default_factory=list)


class GraphicLine(Body):
    channels: list[ChannelGraphicLine] = Field(min_length=1)

    @field_validator("channels")
    @classmethod
    def _one_line_per_channel(cls, value: list[ChannelGraphicLine]) -> list[ChannelGraphicLine]:
        _distinct([line.channel for line in value], "channels")
        return value


BODY_SCHEMAS: dict[DeliverableKind, type[BaseModel]] = {
    DeliverableKind.ANALYSIS: Analysis,
    DeliverableKind.CHANNEL_MIX: ChannelMix,
    DeliverableKind.BRIEF: Brief,
    DeliverableKind.OBJECTIVES: Objectives,
    DeliverableKind.EDITORIAL_RULES: EditorialRules,
    DeliverableKind.GRAPHIC_LINE: GraphicLine,
    DeliverableKind.BUSINESS_IMPACT: BusinessImpact,
    DeliverableKind.POSITIONING: Positioning,
}
