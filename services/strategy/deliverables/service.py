"""Rules of deliverables: append-only versions, one approval per version, who may approve what.

Versions of one engagement are numbered under a lock on the engagement row, so concurrent saves
get consecutive numbers instead of a unique-constraint failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events
from services.strategy import repository as strategy
from services.strategy.assets import repository as assets
from services.strategy.deliverables import links, render, repository
from services.strategy.deliverables.kinds import (
    BODY_SCHEMAS,
    CLIENT_APPROVED_KINDS,
    Analysis,
    Brief,
    DeliverableKind,
    DeliverableStatus,
)
from services.strategy.deliverables.schemas import BriefFormat, DeliverableSummary
from services.strategy.models import Deliverable, Engagement, outbox
from services.strategy.service import locked_engagement, require_engagement
from services.strategy.validation import validate_body
from shared.auth import Principal, Role
from shared.errors import (
    ConflictError,
    FieldError,
    ProblemError,
    field_path,
    validation_problem,
)
from shared.events.envelope import new_event
from shared.paging import PageQuery

AGENCY_APPROVERS = frozenset({Role.ADMIN, Role.MANAGER})
ID_NAMESPACE = uuid.NAMESPACE_URL


def approver_roles(kind: DeliverableKind) -> frozenset[Role]:
    if kind in CLIENT_APPROVED_KINDS:
        return AGENCY_APPROVERS | {Role.CLIENT_APPROVER}
    return AGENCY_APPROVERS


@dataclass(frozen=True)
class Saved:
    deliverable: Deliverable
    created: bool


def parse_body(kind: DeliverableKind, raw: Any) -> BaseModel:
    return validate_body(BODY_SCHEMAS[kind], raw)


def _asset_evidence(analysis: Analysis) -> Iterator[tuple[tuple[str | int, ...], str]]:
    for section in ("strengths", "weaknesses", "improvement_areas"):
        for i, finding in enumerate(getattr(analysis, section)):
            for j, evidence in enumerate(finding.evidence):
                if evidence.kind == "asset":
                    yield ("body", section, i, "evidence", j, "ref"), evidence.ref


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _check_asset_evidence(
    session: AsyncSession, engagement: Engagement, analysis: Analysis
) -> None:
    """Evidence of kind ``asset`` must name an asset of the engagement's organisation."""
    known = await assets.asset_ids(session, engagement.organization_id)
    errors = [
        FieldError(
            field=field_path(path),
            message=f"{ref!r} is not an asset of this organisation",
            type="unknown_asset",
        )
        for path, ref in _asset_evidence(analysis)
        if _as_uuid(ref) not in known
    ]
    if errors:
        raise validation_problem(errors)


def _fact_id(deliverable: Deliverable, fact: str) -> uuid.UUID:
    return uuid.uuid5(ID_NAMESPACE, f"urn:engage:strategy:deliverable:{deliverable.id}:{fact}")


async def save_version(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    body: BaseModel,
    author: str,
) -> Saved:
    """A new draft version, unless the body equals the latest version's."""
    engagement = await locked_engagement(session, engagement_id)
    if isinstance(body, Analysis):
        await _check_asset_evidence(session, engagement, body)
    await links.check(session, engagement, body)
    content = body.model_dump(mode="json")
    latest = await repository.latest(session, engagement.id, kind)
    if latest is not None and latest.body == content:
        return Saved(latest, created=False)
    deliverable = Deliverable(
        id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.id,
        kind=kind.value,
        version=latest.version + 1 if latest is not None else 1,
        status=DeliverableStatus.DRAFT.value,
        body=content,
        created_by=author,
    )
    session.add(deliverable)
    await session.flush()
    await session.refresh(deliverable, ["created_at"])
    await _emit(
        session,
        events.DELIVERABLE_VERSIONED,
        events.DeliverableVersioned(**_fact(deliverable), created_by=author),
        _fact_id(deliverable, "versioned"),
    )
    return Saved(deliverable, created=True)


def _fact(deliverable: Deliverable) -> dict[str, Any]:
    return {
        "deliverable_id": deliverable.id,
        "engagement_id": deliverable.engagement_id,
        "organization_id": deliverable.organization_id,
        "kind": deliverable.kind,
        "version": deliverable.version,
    }


async def _emit(
    session: AsyncSession, name: str, data: events.DeliverableFact, event_id: uuid.UUID
) -> None:
    await outbox.add(
        session,
        new_event(
            name, data, source=events.SOURCE, subject=str(data.deliverable_id), event_id=event_id
        ),
    )


async def find_version(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    version: int | None = None,
    status: DeliverableStatus | None = None,
) -> Deliverable:
    """A given version, or the newest one (with ``status`` when given); 404 when there is none."""
    engagement = await require_engagement(session, engagement_id)
    if version is not None:
        found = await repository.get_version(session, engagement.id, kind, version)
        if found is not None and status is not None and found.status != status:
            found = None
    else:
        found = await repository.latest(session, engagement.id, kind, status)
    if found is None:
        wanted = f"version {version}" if version is not None else f"{status or 'any'} version"
        raise ProblemError(
            404,
            "not-found",
            f"the engagement has no {wanted} of the {kind.value}",
            resource="deliverable",
        )
    return found


async def latest_approved(
    session: AsyncSession, engagement_id: uuid.UUID, kind: DeliverableKind
) -> Deliverable | None:
    engagement = await require_engagement(session, engagement_id)
    return await repository.latest(session, engagement.id, kind, DeliverableStatus.APPROVED)


async def list_versions(
    session: AsyncSession, engagement_id: uuid.UUID, kind: DeliverableKind, page: PageQuery
) -> Sequence[Deliverable]:
    engagement = await require_engagement(session, engagement_id)
    return await repository.list_versions(session, engagement.id, kind, page)


async def summaries(session: AsyncSession, engagement_id: uuid.UUID) -> list[DeliverableSummary]:
    engagement = await require_engagement(session, engagement_id)
    by_kind: dict[str, DeliverableSummary] = {}
    for kind, version, status in await repository.version_states(session, engagement.id):
        previous = by_kind.get(kind)
        approved = previous.approved_version if previous else None
        by_kind[kind] = DeliverableSummary(
            kind=DeliverableKind(kind),
            latest_version=version,
            latest_status=DeliverableStatus(status),
            approved_version=version if status == DeliverableStatus.APPROVED else approved,
        )
    return list(by_kind.values())


def _require_approver(roles: frozenset[Role], kind: DeliverableKind) -> None:
    """403 unless ``roles`` (the caller's, in the engagement's organisation) approve ``kind``."""
    allowed = approver_roles(kind)
    if not roles & allowed:
        raise ProblemError(
            403,
            "forbidden",
            f"Approving the {kind.value} needs one of the roles: " + ", ".join(sorted(allowed)),
            required_roles=sorted(allowed),
        )


async def approve(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    version: int,
    comment: str,
) -> Deliverable:
    engagement = await locked_engagement(session, engagement_id)
    roles = principal.roles_in(engagement.organization_id)
    _require_approver(roles, kind)
    deliverable = await find_version(session, engagement.id, kind, version)
    if deliverable.status == DeliverableStatus.APPROVED:
        raise ConflictError(
            f"version {version} of the {kind.value} is approved and immutable; "
            "save a new version to change it",
            version=version,
        )
    latest = await repository.latest(session, engagement.id, kind)
    if latest is not None and latest.version != version:
        raise ConflictError(
            f"version {version} of the {kind.value} is superseded by version {latest.version}",
            version=version,
            latest_version=latest.version,
        )
    approved_as: Literal["agency", "client"] = "agency" if roles & AGENCY_APPROVERS else "client"
    deliverable.status = DeliverableStatus.APPROVED.value
    deliverable.approved_by = principal.subject
    deliverable.approved_as = approved_as
    deliverable.approved_at = datetime.now(UTC)
    deliverable.approval_comment = comment or None
    await session.flush()
    await _emit(
        session,
        events.DELIVERABLE_APPROVED,
        events.DeliverableApproved(
            **_fact(deliverable),
            approved_by=principal.subject,
            approved_as=approved_as,
            comment=deliverable.approval_comment,
            body=deliverable.body,
        ),
        _fact_id(deliverable, "approved"),
    )
    return deliverable


async def render_brief(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    output: BriefFormat,
    version: int | None = None,
    status: DeliverableStatus | None = None,
) -> str:
    deliverable = await find_version(session, engagement_id, DeliverableKind.BRIEF, version, status)
    brief = Brief.model_validate(deliverable.body)
    organization = await strategy.get_organization(session, deliverable.organization_id)
    client = organization.name if organization is not None else "the client"
    document = render.brief_document(
        brief,
        title=f"Brief: {client}",
        subtitle=f"Version {deliverable.version} ({deliverable.status}), "
        f"{deliverable.created_at.date().isoformat()}",
    )
    return render.to_html(document) if output == BriefFormat.HTML else render.to_markdown(document)
