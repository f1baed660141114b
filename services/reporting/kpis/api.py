"""HTTP routes of an engagement's KPIs and their CSV and XLSX exports, for any member of its
organisation (as its reports are)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.kpis import exports, service
from services.reporting.kpis.schemas import EngagementKpis, KpiFilters
from shared.app import SessionDep, SettingsDep
from shared.settings import Settings

kpis_router = APIRouter(prefix="/engagements/{engagement_id}", tags=["reporting"])

FiltersDep = Annotated[KpiFilters, Query()]


def _file_responses(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": what,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


async def _kpis(
    session: AsyncSession, settings: Settings, engagement_id: uuid.UUID, filters: KpiFilters
) -> EngagementKpis:
    period = service.requested_period(
        filters.since, filters.until, settings.reporting.max_period_days, datetime.now(UTC)
    )
    return await service.engagement_kpis(
        session, engagement_id, period, filters.channel, filters.compare
    )


def _attachment(
    body: str | bytes, media_type: str, kpis: EngagementKpis, extension: str
) -> Response:
    name = (
        f"kpis-{kpis.engagement_id}-{kpis.period.starts_at:%Y%m%d}-"
        f"{kpis.period.ends_at:%Y%m%d}.{extension}"
    )
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@kpis_router.get(
    "/kpis",
    response_model=EngagementKpis,
    summary="An engagement's KPIs over a period (from included, to excluded; at most the "
    "configured maximum of days), for one channel or all, with the previous period's when "
    "compare is true, and its objectives' targets with actual, trend and status",
)
async def get_engagement_kpis(
    engagement_id: uuid.UUID, filters: FiltersDep, session: SessionDep, settings: SettingsDep
) -> EngagementKpis:
    return await _kpis(session, settings, engagement_id, filters)


@kpis_router.get(
    "/kpis.csv",
    response_class=Response,
    responses=_file_responses(
        exports.CSV_MEDIA_TYPE,
        "The KPI tables (summary, by_channel, objectives, places, volume), each as a titled "
        "block with its header, a blank line between",
    ),
    summary="An engagement's KPI tables over a period as CSV",
)
async def export_engagement_kpis_csv(
    engagement_id: uuid.UUID, filters: FiltersDep, session: SessionDep, settings: SettingsDep
) -> Response:
    kpis = await _kpis(session, settings, engagement_id, filters)
    return _attachment(exports.to_csv(kpis), exports.CSV_MEDIA_TYPE, kpis, "csv")


@kpis_router.get(
    "/kpis.xlsx",
    response_class=Response,
    responses=_file_responses(
        exports.XLSX_MEDIA_TYPE,
        "The KPI tables as a workbook: a sheet per table (summary, by_channel, objectives, "
        "places, volume)",
    ),
    summary="An engagement's KPI tables over a period as an Excel workbook",
)
async def export_engagement_kpis_xlsx(
    engagement_id: uuid.UUID, filters: FiltersDep, session: SessionDep, settings: SettingsDep
) -> Response:
    kpis = await _kpis(session, settings, engagement_id, filters)
    return _attachment(exports.to_xlsx(kpis), exports.XLSX_MEDIA_TYPE, kpis, "xlsx")
