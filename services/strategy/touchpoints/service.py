"""Rules of touchpoints: they belong to an engagement, name its channels and objectives, keep
their tracked link's code for life, and count each hit on it (the day's count, nothing else)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events as strategy_events
from services.strategy.deliverables import repository as deliverables
from services.strategy.deliverables.kinds import DeliverableKind
from services.strategy.models import Engagement, outbox
from services.strategy.service import locked_engagement, require_engagement
from services.strategy.touchpoints import events, links, repository
from services.strategy.touchpoints.models import Touchpoint
from services.strategy.touchpoints.schemas import (
    EngagementScanSummary,
    Medium,
    ScanDay,
    TaggedDestinations,
    TouchpointChange,
    TouchpointCreate,
    TouchpointKind,
    TouchpointOut,
    TouchpointScans,
    TouchpointScanTotals,
)
from shared.auth import Principal
from shared.errors import ConflictError, FieldError, NotFoundError, validation_problem
from shared.events.envelope import new_event

# The longest period one scan report covers: a bound on the rows one request reads.
MAX_REPORT_DAYS = 400
DEFAULT_REPORT_DAYS = 90
ID_NAMESPACE = uuid.NAMESPACE_URL


def answer(touchpoint: Touchpoint, base_url: str) -> TouchpointOut:
    def tagged(medium: Medium) -> str:
        return links.tagged(
            touchpoint.destination_url,
            kind=touchpoint.kind,
            name=touchpoint.name,
            campaign=touchpoint.campaign,
            medium=medium,
        )

    return TouchpointOut(
        id=touchpoint.id,
        organization_id=touchpoint.organization_id,
        engagement_id=touchpoint.engagement_id,
        kind=TouchpointKind(touchpoint.kind),
        name=touchpoint.name,
        place=touchpoint.place,
        destination_url=touchpoint.destination_url,
        campaign=touchpoint.campaign,
        channels=touchpoint.channels,
        objective_ids=touchpoint.objective_ids,
        tracked_link=links.tracked_link(base_url, touchpoint.code),
        qr_link=links.qr_link(base_url, touchpoint.code),
        tagged_destinations=TaggedDestinations(qr=tagged(Medium.QR), link=tagged(Medium.LINK)),
        archived=touchpoint.archived_at is not None,
        created_by=touchpoint.created_by,
        created_at=touchpoint.created_at,
        updated_at=touchpoint.updated_at,
        archived_at=touchpoint.archived_at,
    )


async def require_touchpoint(
    session: AsyncSession, engagement_id: uuid.UUID, touchpoint_id: uuid.UUID
) -> Touchpoint:
    await require_engagement(session, engagement_id)
    return await _engagement_touchpoint(session, engagement_id, touchpoint_id)


async def _engagement_touchpoint(
    session: AsyncSession, engagement_id: uuid.UUID, touchpoint_id: uuid.UUID
) -> Touchpoint:
    """The engagement's touchpoint; 404 when the engagement has none of that id."""
    touchpoint = await repository.get(session, engagement_id, touchpoint_id)
    if touchpoint is None:
        raise NotFoundError("touchpoint", touchpoint_id)
    return touchpoint


async def _objective_ids(session: AsyncSession, engagement_id: uuid.UUID) -> set[str]:
    """The ids of the objectives in the engagement's latest objectives deliverable."""
    latest = await deliverables.latest(session, engagement_id, DeliverableKind.OBJECTIVES)
    if latest is None:
        return set()
    objectives: list[dict[str, Any]] = latest.body.get("objectives", [])
    return {str(objective["id"]) for objective in objectives}


async def _check_references(
    session: AsyncSession,
    engagement: Engagement,
    channels: list[str] | None,
    objective_ids: list[str] | None,
) -> None:
    """Channels must be the engagement's, objectives its objectives deliverable's."""
    errors = [
        FieldError(
            field=f"body.channels.{i}",
            message=f"{channel!r} is not a channel of this engagement",
            type="unknown_channel",
        )
        for i, channel in enumerate(channels or [])
        if channel not in engagement.channels
    ]
    if objective_ids:
        known = await _objective_ids(session, engagement.id)
        errors += [
            FieldError(
                field=f"body.objective_ids.{i}",
                message=f"{objective!r} is not an objective of this engagement's objectives "
                "deliverable",
                type="unknown_objective",
            )
            for i, objective in enumerate(objective_ids)
            if objective not in known
        ]
    if errors:
        raise validation_problem(errors)


async def _refuse_repeated_name(
    session: AsyncSession, engagement_id: uuid.UUID, name: str, changing: uuid.UUID | None = None
) -> None:
    same = await repository.named(session, engagement_id, name)
    if same is not None and same.id != changing:
        raise ConflictError(
            f"the engagement already has a touchpoint named {name!r}",
            touchpoint_id=str(same.id),
        )


async def _emit_recorded(
    session: AsyncSession, touchpoint: Touchpoint, change: Literal["created", "updated"]
) -> None:
    await outbox.add(
        session,
        new_event(
            events.TOUCHPOINT_RECORDED,
            events.TouchpointRecorded(
                touchpoint_id=touchpoint.id,
                engagement_id=touchpoint.engagement_id,
                organization_id=touchpoint.organization_id,
                kind=TouchpointKind(touchpoint.kind),
                change=change,
                name=touchpoint.name,
                channels=touchpoint.channels,
                objective_ids=touchpoint.objective_ids,
            ),
            source=strategy_events.SOURCE,
            subject=str(touchpoint.id),
        ),
    )


async def create_touchpoint(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: TouchpointCreate
) -> Touchpoint:
    engagement = await locked_engagement(session, engagement_id)
    channels = [channel.value for channel in data.channels]
    await _check_references(session, engagement, channels, data.objective_ids)
    await _refuse_repeated_name(session, engagement.id, data.name)
    organization = await repository.organization(session, engagement.organization_id)
    campaign = data.campaign or links.default_campaign(
        organization.name if organization is not None else "", engagement.starts_on
    )
    touchpoint = Touchpoint(
        id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.id,
        kind=data.kind.value,
        name=data.name,
        place=data.place,
        destination_url=str(data.destination_url),
        campaign=campaign,
        channels=channels,
        objective_ids=list(data.objective_ids),
        code=links.new_code(),
        created_by=principal.subject,
    )
    session.add(touchpoint)
    await session.flush()
    await session.refresh(touchpoint, ["created_at", "updated_at"])
    await _emit_recorded(session, touchpoint, "created")
    return touchpoint


def _refuse_archived(touchpoint: Touchpoint) -> None:
    if touchpoint.archived_at is not None:
        raise ConflictError(
            f"touchpoint {touchpoint.id} is archived; its link still counts, it no longer changes"
        )


async def change_touchpoint(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    touchpoint_id: uuid.UUID,
    change: TouchpointChange,
) -> Touchpoint:
    engagement = await locked_engagement(session, engagement_id)
    touchpoint = await _engagement_touchpoint(session, engagement.id, touchpoint_id)
    _refuse_archived(touchpoint)
    given = change.model_dump(exclude_unset=True, mode="json")
    await _check_references(session, engagement, given.get("channels"), given.get("objective_ids"))
    if "name" in given:
        await _refuse_repeated_name(session, engagement.id, given["name"], changing=touchpoint.id)
    for field, value in given.items():
        setattr(touchpoint, field, value)
    await session.flush()
    await session.refresh(touchpoint, ["updated_at"])
    await _emit_recorded(session, touchpoint, "updated")
    return touchpoint


async def archive_touchpoint(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, touchpoint_id: uuid.UUID
) -> None:
    """Archived, not deleted: its codes are printed and stay out in the world, so its link
    keeps leading to the destination and counting, and its counts stay reported."""
    touchpoint = await require_touchpoint(session, engagement_id, touchpoint_id)
    if touchpoint.archived_at is not None:
        return
    touchpoint.archived_at = datetime.now(UTC)
    await session.flush()
    await outbox.add(
        session,
        new_event(
            events.TOUCHPOINT_ARCHIVED,
            events.TouchpointArchived(
                touchpoint_id=touchpoint.id,
                engagement_id=touchpoint.engagement_id,
                organization_id=touchpoint.organization_id,
                kind=TouchpointKind(touchpoint.kind),
                archived_by=principal.subject,
            ),
            source=strategy_events.SOURCE,
            subject=str(touchpoint.id),
        ),
    )


# --- the public redirect ---------------------------------------------------------------------


async def follow(session: AsyncSession, code: str, medium: Medium) -> str:
    """Count one hit on the link and answer where it leads. Unknown and malformed codes are
    the same 404, so the answer says nothing about which codes exist."""
    followed = await repository.by_code(session, code) if links.is_code(code) else None
    if followed is None:
        raise NotFoundError("tracked link", code)
    touchpoint = followed.touchpoint
    day = datetime.now(ZoneInfo(followed.timezone)).date()
    count = await repository.count_hit(session, touchpoint, day, medium.value)
    if events.is_milestone(count):
        await _emit_scanned(session, touchpoint, day, medium, count)
    return links.tagged(
        touchpoint.destination_url,
        kind=touchpoint.kind,
        name=touchpoint.name,
        campaign=touchpoint.campaign,
        medium=medium,
    )


async def _emit_scanned(
    session: AsyncSession, touchpoint: Touchpoint, day: date, medium: Medium, count: int
) -> None:
    # One id per touchpoint, day, medium and count: the same milestone is one event.
    fact = f"urn:engage:strategy:touchpoint:{touchpoint.id}:scanned:{day}:{medium}:{count}"
    await outbox.add(
        session,
        new_event(
            events.TOUCHPOINT_SCANNED,
            events.TouchpointScanned(
                touchpoint_id=touchpoint.id,
                engagement_id=touchpoint.engagement_id,
                organization_id=touchpoint.organization_id,
                kind=TouchpointKind(touchpoint.kind),
                day=day,
                medium=medium,
                count=count,
            ),
            source=strategy_events.SOURCE,
            subject=str(touchpoint.id),
            event_id=uuid.uuid5(ID_NAMESPACE, fact),
        ),
    )


# --- reports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    since: date
    until: date


def period(since: date | None, until: date | None, today: date) -> Period:
    """``from``..``to`` inclusive; by default the last ``DEFAULT_REPORT_DAYS`` days to today."""
    end = until or today
    start = since or end - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    if start > end:
        problem = FieldError(field="query.from", message="must not be after to", type="value_error")
        raise validation_problem([problem])
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        problem = FieldError(
            field="query.from",
            message=f"a report covers at most {MAX_REPORT_DAYS} days",
            type="value_error",
        )
        raise validation_problem([problem])
    return Period(start, end)


async def _today(session: AsyncSession, organization_id: uuid.UUID) -> date:
    """Today in the organisation's time zone: the days its scans are counted in."""
    organization = await repository.organization(session, organization_id)
    zone = organization.timezone if organization is not None else "UTC"
    return datetime.now(ZoneInfo(zone)).date()


async def scans_of(
    session: AsyncSession, touchpoint: Touchpoint, since: date | None, until: date | None
) -> TouchpointScans:
    wanted = period(since, until, await _today(session, touchpoint.organization_id))
    days: dict[date, dict[str, int]] = {}
    for day, medium, count in await repository.scans_by_day(
        session, touchpoint.id, wanted.since, wanted.until
    ):
        days.setdefault(day, {})[medium] = count
    listed = [
        ScanDay(
            day=day,
            qr=counts.get(Medium.QR, 0),
            link=counts.get(Medium.LINK, 0),
            total=sum(counts.values()),
        )
        for day, counts in days.items()
    ]
    qr = sum(day.qr for day in listed)
    link = sum(day.link for day in listed)
    return TouchpointScans(
        touchpoint_id=touchpoint.id,
        since=wanted.since,
        until=wanted.until,
        days=listed,
        qr=qr,
        link=link,
        total=qr + link,
    )


async def engagement_summary(
    session: AsyncSession, engagement_id: uuid.UUID, since: date | None, until: date | None
) -> EngagementScanSummary:
    engagement = await require_engagement(session, engagement_id)
    wanted = period(since, until, await _today(session, engagement.organization_id))
    found = await repository.totals(session, engagement_id, wanted.since, wanted.until)
    touchpoints = sorted(
        (
            TouchpointScanTotals(
                touchpoint_id=row.touchpoint.id,
                name=row.touchpoint.name,
                kind=TouchpointKind(row.touchpoint.kind),
                archived=row.touchpoint.archived_at is not None,
                qr=row.qr,
                link=row.link,
                total=row.qr + row.link,
                last_day=row.last_day,
            )
            for row in found
        ),
        key=lambda totals: -totals.total,
    )
    qr = sum(row.qr for row in touchpoints)
    link = sum(row.link for row in touchpoints)
    return EngagementScanSummary(
        engagement_id=engagement_id,
        since=wanted.since,
        until=wanted.until,
        touchpoints=touchpoints,
        qr=qr,
        link=link,
        total=qr + link,
    )
