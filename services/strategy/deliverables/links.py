"""References between an engagement's deliverables, checked when a version is saved.

The business-model impact names the objectives and KPIs that will show its effects; the brief and
the objectives name the business-impact version they build on. A name that does not resolve is a
422 at the field that holds it, so a deliverable never points at nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.deliverables import repository
from services.strategy.deliverables.business_impact import BusinessImpact, Indicator
from services.strategy.deliverables.kinds import Brief, DeliverableKind, Objectives
from services.strategy.models import Engagement
from shared.errors import FieldError, field_path, validation_problem

Path = tuple[str | int, ...]


def _named_indicators(impact: BusinessImpact) -> Iterator[tuple[Path, Indicator]]:
    for i, area in enumerate(impact.areas):
        for j, indicator in enumerate(area.kpis):
            if indicator.objective_id is not None:
                yield ("areas", i, "kpis", j), indicator


def unresolved(impact: BusinessImpact, objectives: Objectives) -> list[tuple[Path, str, str]]:
    """(path in the impact, message, error type) of each indicator naming an objective that
    ``objectives`` does not have, or a KPI that objective does not carry."""
    by_id = {objective.id: objective for objective in objectives.objectives}
    found: list[tuple[Path, str, str]] = []
    for path, indicator in _named_indicators(impact):
        objective = by_id.get(str(indicator.objective_id))
        if objective is None:
            found.append(
                (
                    (*path, "objective_id"),
                    f"{indicator.objective_id!r} is not an objective of the objectives",
                    "unknown_objective",
                )
            )
            continue
        if not any(
            kpi.metric == indicator.metric
            and (indicator.channel is None or kpi.channel == indicator.channel)
            for kpi in objective.kpis
        ):
            on = f" on {indicator.channel}" if indicator.channel else ""
            found.append(
                (
                    (*path, "metric"),
                    f"objective {objective.id!r} has no KPI {indicator.metric!r}{on}",
                    "unknown_kpi",
                )
            )
    return found


async def _latest_objectives(session: AsyncSession, engagement: Engagement) -> Objectives | None:
    latest = await repository.latest(session, engagement.id, DeliverableKind.OBJECTIVES)
    return None if latest is None else Objectives.model_validate(latest.body)


async def _impact_version(
    session: AsyncSession, engagement: Engagement, version: int
) -> BusinessImpact | None:
    found = await repository.get_version(
        session, engagement.id, DeliverableKind.BUSINESS_IMPACT, version
    )
    return None if found is None else BusinessImpact.model_validate(found.body)


def _missing_impact(version: int) -> FieldError:
    return FieldError(
        field=field_path(("body", "business_impact_version")),
        message=f"the engagement has no version {version} of the business_impact",
        type="unknown_business_impact",
    )


async def check(session: AsyncSession, engagement: Engagement, body: BaseModel) -> None:
    """422 unless every reference ``body`` makes to another deliverable resolves."""
    errors: list[FieldError] = []
    if isinstance(body, BusinessImpact) and any(_named_indicators(body)):
        objectives = await _latest_objectives(session, engagement)
        if objectives is None:
            errors = [
                FieldError(
                    field=field_path(("body", *path, "objective_id")),
                    message="the engagement has no objectives deliverable yet: name the metric "
                    "alone, or save the objectives first",
                    type="unknown_objective",
                )
                for path, _ in _named_indicators(body)
            ]
        else:
            errors = [
                FieldError(field=field_path(("body", *path)), message=message, type=kind)
                for path, message, kind in unresolved(body, objectives)
            ]
    elif isinstance(body, Brief | Objectives) and body.business_impact_version is not None:
        impact = await _impact_version(session, engagement, body.business_impact_version)
        if impact is None:
            errors = [_missing_impact(body.business_impact_version)]
        elif isinstance(body, Objectives):
            # The objectives that adopt an impact carry the KPIs it counts on.
            errors = [
                FieldError(
                    field=field_path(("body", "business_impact_version")),
                    message=f"business_impact version {body.business_impact_version}, "
                    f"{field_path(path)}: {message}",
                    type=kind,
                )
                for path, message, kind in unresolved(impact, body)
            ]
    if errors:
        raise validation_problem(errors)
