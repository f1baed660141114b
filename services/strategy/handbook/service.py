"""Rules of client handbooks: each generation is made from the engagement's approved
deliverables and stored as a new version, unless it says what the latest version says.

Versions are numbered under the lock on the engagement row that deliverables take, so two
generations at once get consecutive numbers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events as strategy_events
from services.strategy import repository as strategy
from services.strategy.channel_mix.schemas import ChannelMix
from services.strategy.deliverables import repository as deliverables
from services.strategy.deliverables.kinds import DeliverableKind, DeliverableStatus, GraphicLine
from services.strategy.deliverables.positioning import Positioning
from services.strategy.handbook import compose, document, events, repository
from services.strategy.handbook.content import HandbookContent
from services.strategy.models import Engagement, Handbook, outbox
from services.strategy.service import locked_engagement, require_engagement
from shared.editorial import EditorialRules
from shared.errors import ConflictError, ProblemError
from shared.events.envelope import new_event
from shared.paging import PageQuery

ID_NAMESPACE = uuid.NAMESPACE_URL
# The deliverables a handbook is made from, in the order its sources are listed.
SOURCES: dict[DeliverableKind, type[BaseModel]] = {
    DeliverableKind.CHANNEL_MIX: ChannelMix,
    DeliverableKind.EDITORIAL_RULES: EditorialRules,
    DeliverableKind.GRAPHIC_LINE: GraphicLine,
    DeliverableKind.POSITIONING: Positioning,
}


class HandbookFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


@dataclass(frozen=True)
class Generated:
    handbook: Handbook
    created: bool


async def _approved(
    session: AsyncSession, engagement: Engagement
) -> tuple[dict[DeliverableKind, BaseModel], dict[str, int]]:
    bodies: dict[DeliverableKind, BaseModel] = {}
    sources: dict[str, int] = {}
    for kind, schema in SOURCES.items():
        found = await deliverables.latest(session, engagement.id, kind, DeliverableStatus.APPROVED)
        if found is not None:
            bodies[kind] = schema.model_validate(found.body)
            sources[kind.value] = found.version
    return bodies, sources


async def generate(session: AsyncSession, engagement_id: uuid.UUID, author: str) -> Generated:
    """A new version from the approved deliverables; 409 without an approved channel mix that
    recommends a channel (the handbook is about the chosen channels)."""
    engagement = await locked_engagement(session, engagement_id)
    bodies, sources = await _approved(session, engagement)
    mix = bodies.get(DeliverableKind.CHANNEL_MIX)
    if not isinstance(mix, ChannelMix):
        raise ConflictError(
            "the engagement has no approved channel mix: the handbook covers the channels it "
            "chooses"
        )
    if not mix.recommended:
        raise ConflictError(
            f"the approved channel mix (version {sources['channel_mix']}) recommends no channel",
            channel_mix_version=sources["channel_mix"],
        )
    organization = await strategy.get_organization(session, engagement.organization_id)
    rules = bodies.get(DeliverableKind.EDITORIAL_RULES)
    graphic_line = bodies.get(DeliverableKind.GRAPHIC_LINE)
    positioning = bodies.get(DeliverableKind.POSITIONING)
    content = compose.compose(
        organization.name if organization is not None else "The client",
        mix,
        rules if isinstance(rules, EditorialRules) else None,
        graphic_line if isinstance(graphic_line, GraphicLine) else None,
        positioning if isinstance(positioning, Positioning) else None,
    ).model_dump(mode="json")
    latest = await repository.latest(session, engagement.id)
    if latest is not None and latest.content == content and latest.sources == sources:
        return Generated(latest, created=False)
    handbook = Handbook(
        id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.id,
        version=latest.version + 1 if latest is not None else 1,
        channels=[channel.value for channel in mix.recommended],
        sources=sources,
        content=content,
        created_by=author,
    )
    session.add(handbook)
    await session.flush()
    await session.refresh(handbook, ["created_at"])
    data = events.HandbookGenerated(
        handbook_id=handbook.id,
        engagement_id=handbook.engagement_id,
        organization_id=handbook.organization_id,
        version=handbook.version,
        channels=handbook.channels,
        sources=sources,
        created_by=author,
    )
    event_id = uuid.uuid5(ID_NAMESPACE, f"urn:engage:strategy:handbook:{handbook.id}:generated")
    await outbox.add(
        session,
        new_event(
            events.HANDBOOK_GENERATED,
            data,
            source=strategy_events.SOURCE,
            subject=str(handbook.id),
            event_id=event_id,
        ),
    )
    return Generated(handbook, created=True)


async def list_versions(
    session: AsyncSession, engagement_id: uuid.UUID, page: PageQuery
) -> Sequence[Handbook]:
    engagement = await require_engagement(session, engagement_id)
    return await repository.list_versions(session, engagement.id, page)


async def find_version(session: AsyncSession, engagement_id: uuid.UUID, version: int) -> Handbook:
    engagement = await require_engagement(session, engagement_id)
    found = await repository.get_version(session, engagement.id, version)
    if found is None:
        raise ProblemError(
            404,
            "not-found",
            f"the engagement has no version {version} of the handbook",
            resource="handbook",
        )
    return found


async def render(
    session: AsyncSession, engagement_id: uuid.UUID, version: int, output: HandbookFormat
) -> bytes:
    handbook = await find_version(session, engagement_id, version)
    drawn = document.handbook_document(
        HandbookContent.model_validate(handbook.content),
        handbook.version,
        handbook.created_at,
        dict(handbook.sources),
    )
    draw = document.to_html if output == HandbookFormat.HTML else document.to_pdf
    # Drawing a PDF takes a CPU for a moment: off the event loop.
    return await asyncio.to_thread(draw, drawn)
