"""Queries on reports and their documents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import Report, ReportDocument
from shared.paging import Keyset, PageQuery, paged

# The latest period first, then the latest requested; the id breaks ties.
REPORT_ORDER = Keyset((Report.period_end, Report.created_at, Report.id), descending=True)


async def get(session: AsyncSession, report_id: uuid.UUID, *, lock: bool = False) -> Report | None:
    query = select(Report).where(Report.id == report_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def of_engagement(
    session: AsyncSession, engagement_id: uuid.UUID, page: PageQuery, *, status: str | None
) -> Sequence[Report]:
    """A page of the engagement's reports (only those in ``status`` when given) from after the
    cursor: one more than the page when more follow."""
    query = select(Report).where(Report.engagement_id == engagement_id)
    if status is not None:
        query = query.where(Report.status == status)
    return (await session.execute(paged(query, REPORT_ORDER, page))).scalars().all()


async def periodic(
    session: AsyncSession, engagement_id: uuid.UUID, period_end: datetime
) -> Report | None:
    """The engagement's periodic report of the period ending at ``period_end``, if made."""
    query = select(Report).where(
        Report.engagement_id == engagement_id,
        Report.kind == "periodic",
        Report.period_end == period_end,
    )
    return (await session.execute(query)).scalars().first()


async def documents(
    session: AsyncSession, report_ids: Sequence[uuid.UUID]
) -> Sequence[tuple[uuid.UUID, str, int, str]]:
    """(report id, format, size, sha256) of the reports' documents, without their content."""
    if not report_ids:
        return []
    query = select(
        ReportDocument.report_id,
        ReportDocument.format,
        ReportDocument.size_bytes,
        ReportDocument.sha256,
    ).where(ReportDocument.report_id.in_(report_ids))
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def document(
    session: AsyncSession, report_id: uuid.UUID, format: str
) -> ReportDocument | None:
    query = select(ReportDocument).where(
        ReportDocument.report_id == report_id, ReportDocument.format == format
    )
    return (await session.execute(query)).scalar_one_or_none()
