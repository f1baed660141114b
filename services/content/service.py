"""Rules for content items: variants checked against the platform rules, review, and the events
each change emits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.content import events, platform_rules, repository, review
from services.content.contracts import (
    ApprovedVariant,
    ApprovedVariants,
    ApprovedVariantsQuery,
    MarkPublished,
    MarkScheduled,
    MediaRef,
    ReviewAction,
    ReviewState,
    ReviewStateChanged,
)
from services.content.models import ContentItem, Media, ReviewEvent, Variant, engagements, outbox
from services.content.platform_rules import MediaFacts, VariantCandidate, Violation
from services.content.schemas import (
    ContentItemCreate,
    ContentItemUpdate,
    ItemFields,
    Rejection,
    ReviewNote,
    VariantCheck,
    VariantFields,
)
from shared.auth import Principal
from shared.domain import Channel, ContentKind
from shared.errors import ConflictError, FieldError, NotFoundError, ProblemError, validation_problem
from shared.events.envelope import new_event
from shared.media_links import MediaLinks


class PlatformRuleViolationError(ProblemError):
    def __init__(self, violations: list[Violation]) -> None:
        channels = sorted({violation.channel.value for violation in violations})
        super().__init__(
            422,
            "platform-rule-violation",
            f"{len(violations)} platform rule(s) broken on {', '.join(channels)}",
            title="Platform rule violated",
            violations=[violation.model_dump(mode="json") for violation in violations],
        )


class UnknownMediaError(ProblemError):
    def __init__(self, missing: Iterable[uuid.UUID]) -> None:
        ids = sorted(str(media_id) for media_id in missing)
        super().__init__(
            422,
            "unknown-media",
            "media not found in the item's organisation: " + ", ".join(ids),
            media_ids=ids,
        )


def _now() -> datetime:
    return datetime.now(UTC)


def media_facts(media: Media) -> MediaFacts:
    return MediaFacts(
        mime_type=media.mime_type,
        size_bytes=media.size_bytes,
        width=media.width,
        height=media.height,
        duration_seconds=media.duration_seconds,
    )


def referenced_media(fields: ItemFields) -> set[uuid.UUID]:
    ids = set(fields.media_ids)
    for variant in fields.variants:
        ids.update(variant.media_ids or ())
    return ids


async def require_media(
    session: AsyncSession, organization_id: uuid.UUID, media_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Media]:
    wanted = set(media_ids)
    found = await repository.media_of_organization(session, organization_id, wanted)
    if missing := wanted - found.keys():
        raise UnknownMediaError(missing)
    return found


async def require_item(session: AsyncSession, item_id: uuid.UUID) -> ContentItem:
    item = await repository.get_item(session, item_id)
    if item is None:
        raise NotFoundError("content item", item_id)
    return item


def new_item(organization_id: uuid.UUID, fields: ItemFields, created_by: str) -> ContentItem:
    now = _now()
    return ContentItem(
        id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=fields.engagement_id,
        kind=fields.kind.value,
        title=fields.title,
        body=fields.body,
        link=fields.link,
        media_ids=list(fields.media_ids),
        client_approval_required=fields.client_approval_required,
        status=ReviewState.DRAFT.value,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        variants=[],
    )


def resolve_variant(
    item: ContentItem, channel: Channel, spec: VariantFields, media: dict[uuid.UUID, Media]
) -> tuple[Variant, list[Violation]]:
    """The variant with the item's values for what ``spec`` leaves out, and its violations."""
    title = spec.title
    if title is None and platform_rules.shows_title(channel):
        title = item.title
    variant = Variant(
        channel=channel.value,
        text=item.body if spec.text is None else spec.text,
        title=title,
        link=item.link if spec.link is None else spec.link,
        media_ids=list(item.media_ids if spec.media_ids is None else spec.media_ids),
    )
    return variant, check_variant(variant, media)


def check_variant(variant: Variant, media: dict[uuid.UUID, Media]) -> list[Violation]:
    candidate = VariantCandidate(
        channel=Channel(variant.channel),
        text=variant.text,
        title=variant.title,
        link=variant.link,
        media=tuple(media_facts(media[media_id]) for media_id in variant.media_ids),
    )
    return platform_rules.check(candidate)


def attach_variant(item: ContentItem, variant: Variant) -> Variant:
    """Put ``variant`` on the item, replacing the one for its channel if there is one."""
    existing = next((v for v in item.variants if v.channel == variant.channel), None)
    now = _now()
    if existing is None:
        variant.id = uuid.uuid4()
        variant.organization_id = item.organization_id
        variant.created_at = now
        variant.updated_at = now
        item.variants.append(variant)
        return variant
    for name in ("text", "title", "link", "media_ids"):
        setattr(existing, name, getattr(variant, name))
    existing.updated_at = now
    return existing


def build_item(
    organization_id: uuid.UUID,
    fields: ItemFields,
    media: dict[uuid.UUID, Media],
    created_by: str,
) -> tuple[ContentItem, list[Violation]]:
    item = new_item(organization_id, fields, created_by)
    violations: list[Violation] = []
    for spec in fields.variants:
        variant, broken = resolve_variant(item, spec.channel, spec, media)
        violations.extend(broken)
        attach_variant(item, variant)
    return item, violations


def item_fact(item: ContentItem) -> dict[str, object]:
    return {
        "item_id": item.id,
        "organization_id": item.organization_id,
        "engagement_id": item.engagement_id,
    }


async def emit(
    session: AsyncSession,
    name: str,
    payload: BaseModel,
    subject: uuid.UUID,
    event_id: uuid.UUID | None = None,
) -> None:
    await outbox.add(
        session,
        new_event(name, payload, source=events.SOURCE, subject=str(subject), event_id=event_id),
    )


async def create_item(
    session: AsyncSession, principal: Principal, data: ContentItemCreate
) -> ContentItem:
    principal.require_organization(data.organization_id)
    if data.engagement_id is not None:
        await engagements.require(session, data.engagement_id, data.organization_id)
    media = await require_media(session, data.organization_id, referenced_media(data))
    item, violations = build_item(data.organization_id, data, media, principal.subject)
    if violations:
        raise PlatformRuleViolationError(violations)
    session.add(item)
    await session.flush()
    await emit(
        session,
        events.ITEM_CREATED,
        events.ItemCreated(
            **item_fact(item),
            kind=data.kind,
            title=item.title,
            channels=[Channel(v.channel) for v in item.variants],
        ),
        item.id,
    )
    return item


async def check(session: AsyncSession, data: VariantCheck) -> list[Violation]:
    """Violations of a variant that is not saved; media are looked up among the caller's."""
    media_ids = data.media_ids or []
    media = await repository.visible_media(session, media_ids)
    if missing := set(media_ids) - media.keys():
        raise UnknownMediaError(missing)
    variant = Variant(
        channel=data.channel.value,
        text=data.text,
        title=data.title,
        link=data.link,
        media_ids=media_ids,
    )
    return check_variant(variant, media)


def _record(
    session: AsyncSession,
    item: ContentItem,
    action: ReviewAction,
    to_state: ReviewState,
    actor: str,
    roles: Iterable[str] = (),
    comment: str | None = None,
) -> None:
    session.add(
        ReviewEvent(
            item_id=item.id,
            organization_id=item.organization_id,
            action=action.value,
            from_state=item.status,
            to_state=to_state.value,
            actor=actor,
            actor_roles=sorted(roles),
            comment=comment,
        )
    )
    item.status = to_state.value


def _edited(session: AsyncSession, principal: Principal, item: ContentItem) -> None:
    """Mark an edit; editing a rejected item reopens it as a draft."""
    review.require_editable(item.status)
    if item.status == ReviewState.REJECTED:
        _record(session, item, ReviewAction.EDIT, ReviewState.DRAFT, *_who(principal, item))
    item.updated_at = _now()


def _who(principal: Principal, item: ContentItem) -> tuple[str, list[str]]:
    """Who acts on ``item``, and the roles it holds in the item's organisation."""
    return principal.subject, [
        role.value for role in sorted(principal.roles_in(item.organization_id))
    ]


async def update_item(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, data: ContentItemUpdate
) -> ContentItem:
    item = await require_item(session, item_id)
    _edited(session, principal, item)
    changes = data.changes()
    if data.engagement_id is not None:
        await engagements.require(session, data.engagement_id, item.organization_id)
    if "media_ids" in changes:
        await require_media(session, item.organization_id, data.media_ids or [])
    for name, value in changes.items():
        setattr(item, name, value)
    if item.kind == ContentKind.LINK and not item.link:
        link = FieldError(field="body.link", message="a link item needs a link", type="value_error")
        raise validation_problem([link])
    await session.flush()
    return item


async def put_variant(
    session: AsyncSession,
    principal: Principal,
    item_id: uuid.UUID,
    channel: Channel,
    spec: VariantFields,
) -> Variant:
    item = await require_item(session, item_id)
    _edited(session, principal, item)
    wanted = item.media_ids if spec.media_ids is None else spec.media_ids
    media = await require_media(session, item.organization_id, wanted)
    variant, violations = resolve_variant(item, channel, spec, media)
    if violations:
        raise PlatformRuleViolationError(violations)
    saved = attach_variant(item, variant)
    await session.flush()
    return saved


async def delete_variant(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, channel: Channel
) -> None:
    item = await require_item(session, item_id)
    variant = next((v for v in item.variants if v.channel == channel.value), None)
    if variant is None:
        raise NotFoundError("variant", f"{item_id}/{channel.value}")
    _edited(session, principal, item)
    item.variants.remove(variant)
    await session.flush()


async def submit(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, note: ReviewNote
) -> ContentItem:
    item = await require_item(session, item_id)
    review.require_state(item.status, frozenset({ReviewState.DRAFT}), "submit")
    if not item.variants:
        raise ConflictError("an item needs at least one channel variant before review")
    # The rules table may have changed since the variants were saved: check them again.
    media = await require_media(
        session, item.organization_id, {m for v in item.variants for m in v.media_ids}
    )
    violations = [broken for v in item.variants for broken in check_variant(v, media)]
    if violations:
        raise PlatformRuleViolationError(violations)
    item.agency_approved_by = item.client_approved_by = None
    _record(
        session,
        item,
        ReviewAction.SUBMIT,
        ReviewState.IN_REVIEW,
        *_who(principal, item),
        note.comment,
    )
    await session.flush()
    await emit(
        session,
        events.REVIEW_REQUESTED,
        events.ReviewRequested(
            **item_fact(item),
            requested_by=principal.subject,
            channels=[Channel(v.channel) for v in item.variants],
            client_approval_required=item.client_approval_required,
        ),
        item.id,
    )
    return item


async def approve(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, note: ReviewNote
) -> ContentItem:
    item = await require_item(session, item_id)
    review.require_state(item.status, frozenset({ReviewState.IN_REVIEW}), "approve")
    sides = review.approval_sides(
        principal.roles_in(item.organization_id), item.client_approval_required
    )
    recorded = {
        review.ApprovalSide.AGENCY: item.agency_approved_by,
        review.ApprovalSide.CLIENT: item.client_approved_by,
    }
    pending = {side for side in sides if recorded[side] is None}
    if not pending:
        raise ConflictError(
            "this item already has your approval", approved_as=sorted(side.value for side in sides)
        )
    if review.ApprovalSide.AGENCY in pending:
        item.agency_approved_by = principal.subject
    if review.ApprovalSide.CLIENT in pending:
        item.client_approved_by = principal.subject
    complete = review.is_fully_approved(
        item.agency_approved_by, item.client_approved_by, item.client_approval_required
    )
    to_state = ReviewState.APPROVED if complete else ReviewState.IN_REVIEW
    _record(session, item, ReviewAction.APPROVE, to_state, *_who(principal, item), note.comment)
    await session.flush()
    if complete and item.agency_approved_by is not None:
        await emit(
            session,
            events.ITEM_APPROVED,
            events.ItemApproved(
                **item_fact(item),
                agency_approved_by=item.agency_approved_by,
                client_approved_by=item.client_approved_by,
                variants=await _approved_variant_facts(session, item),
            ),
            item.id,
        )
    return item


async def _approved_variant_facts(
    session: AsyncSession, item: ContentItem
) -> list[events.ApprovedVariantFact]:
    media = await require_media(
        session, item.organization_id, {m for v in item.variants for m in v.media_ids}
    )
    return [
        events.ApprovedVariantFact(
            variant_id=variant.id,
            channel=Channel(variant.channel),
            text=variant.text,
            title=variant.title,
            link=variant.link,
            media=[_approved_medium(media[media_id]) for media_id in variant.media_ids],
        )
        for variant in item.variants
    ]


def _approved_medium(media: Media) -> events.ApprovedMedium:
    return events.ApprovedMedium(
        media_id=media.id,
        mime_type=media.mime_type,
        size_bytes=media.size_bytes,
        width=media.width,
        height=media.height,
        duration_seconds=media.duration_seconds,
    )


async def reject(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, rejection: Rejection
) -> ContentItem:
    item = await require_item(session, item_id)
    review.require_state(item.status, frozenset({ReviewState.IN_REVIEW}), "reject")
    review.approval_sides(principal.roles_in(item.organization_id), item.client_approval_required)
    item.agency_approved_by = item.client_approved_by = None
    _record(
        session,
        item,
        ReviewAction.REJECT,
        ReviewState.REJECTED,
        *_who(principal, item),
        rejection.comment,
    )
    await session.flush()
    await emit(
        session,
        events.ITEM_REJECTED,
        events.ItemRejected(
            **item_fact(item), rejected_by=principal.subject, comment=rejection.comment
        ),
        item.id,
    )
    return item


def _system_event_id(item_id: uuid.UUID, action: ReviewAction) -> uuid.UUID:
    """One id per item and system move, however often the activity runs."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:engage:content-item:{item_id}/{action.value}")


# What each publisher move announces.
SYSTEM_MOVE_EVENTS: dict[ReviewAction, tuple[str, type[events.ItemFact]]] = {
    ReviewAction.SCHEDULE: (events.ITEM_SCHEDULED, events.ItemScheduled),
    ReviewAction.PUBLISH: (events.ITEM_PUBLISHED, events.ItemPublished),
}


async def _system_move(
    session: AsyncSession,
    request: MarkScheduled | MarkPublished,
    action: ReviewAction,
    **details: object,
) -> ReviewStateChanged:
    """Apply a publisher move and announce it with ``details``; a retry finds the item already
    there or beyond, and changes and announces nothing."""
    item = await require_item(session, request.item_id)
    from_state, to_state = review.SYSTEM_MOVES[action]
    later = {ReviewState.SCHEDULED, ReviewState.PUBLISHED}
    if item.status == to_state or (to_state == ReviewState.SCHEDULED and item.status in later):
        return ReviewStateChanged(item_id=item.id, status=ReviewState(item.status), changed=False)
    review.require_state(item.status, frozenset({from_state}), action.value)
    _record(session, item, action, to_state, request.actor)
    await session.flush()
    name, fact = SYSTEM_MOVE_EVENTS[action]
    payload = fact(**item_fact(item), **details)
    await emit(session, name, payload, item.id, _system_event_id(item.id, action))
    return ReviewStateChanged(item_id=item.id, status=ReviewState(item.status), changed=True)


async def mark_scheduled(session: AsyncSession, request: MarkScheduled) -> ReviewStateChanged:
    return await _system_move(
        session, request, ReviewAction.SCHEDULE, scheduled_for=request.scheduled_for
    )


async def mark_published(session: AsyncSession, request: MarkPublished) -> ReviewStateChanged:
    return await _system_move(
        session, request, ReviewAction.PUBLISH, published_at=request.published_at
    )


async def approved_variants(
    session: AsyncSession, query: ApprovedVariantsQuery, links: MediaLinks | None = None
) -> ApprovedVariants:
    rows = await repository.approved_variants(
        session, query.organization_id, query.engagement_id, query.channel
    )
    media = await repository.media_of_organization(
        session, query.organization_id, {m for variant, _ in rows for m in variant.media_ids}
    )
    return ApprovedVariants(
        variants=[
            ApprovedVariant(
                item_id=item.id,
                variant_id=variant.id,
                organization_id=item.organization_id,
                engagement_id=item.engagement_id,
                channel=Channel(variant.channel),
                title=variant.title,
                text=variant.text,
                link=variant.link,
                media=[_media_ref(media[media_id], links) for media_id in variant.media_ids],
            )
            for variant, item in rows
        ]
    )


def _media_ref(media: Media, links: MediaLinks | None) -> MediaRef:
    return MediaRef(
        media_id=media.id,
        storage_key=media.storage_key,
        mime_type=media.mime_type,
        size_bytes=media.size_bytes,
        sha256=media.sha256,
        width=media.width,
        height=media.height,
        duration_seconds=media.duration_seconds,
        url=links.url(media.organization_id, media.id) if links else None,
    )
