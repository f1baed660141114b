"""HTTP routes for content items, variants, review, media, import/export and the platform rules.

The gateway calls them with the caller's own token; roles are enforced here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from services.content import (
    exporting,
    importing,
    media_service,
    platform_rules,
    previews,
    repository,
)
from services.content import service as items
from services.content.contracts import ReviewState
from services.content.media_probe import SUPPORTED_TYPES
from services.content.platform_rules import RuleInfo
from services.content.schemas import (
    CheckResult,
    ContentItemCreate,
    ContentItemOut,
    ContentItemUpdate,
    ImportResult,
    MediaOut,
    Rejection,
    ReviewEventOut,
    ReviewNote,
    VariantCheck,
    VariantOut,
    VariantPut,
)
from services.content.storage import MediaStorage, media_storage
from services.content.uploads import (
    IMPORT_MEDIA_TYPES,
    MAX_IMPORT_BYTES,
    body_chunks,
    import_format,
    media_response,
    media_type_of_upload,
    spooled_body,
    upload_limit,
)
from shared.app import SessionDep, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal, current_principal
from shared.domain import Channel
from shared.paging import PageDep, page_of

router = APIRouter(tags=["content items"])


def _binary_body(media_types: Iterable[str]) -> dict[str, Any]:
    """An upload's documented body: the file's bytes as they are, in one of ``media_types``."""
    schema = {"type": "string", "format": "binary"}
    content = {media_type: {"schema": schema} for media_type in sorted(media_types)}
    return {"requestBody": {"required": True, "content": content}}


def _file_response(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {"schema": {"type": "string"}}}}}


FileName = Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f/\\]+$")]
OptionalNote = Annotated[ReviewNote | None, Body()]


async def _storage(settings: SettingsDep) -> MediaStorage:
    return media_storage(settings)


StorageDep = Annotated[MediaStorage, Depends(_storage)]


def _item_out(item: object) -> ContentItemOut:
    return ContentItemOut.model_validate(item)


@router.post(
    "/content-items",
    status_code=status.HTTP_201_CREATED,
    response_model=ContentItemOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Create a content item, optionally with its channel variants (admin, manager, editor)"
    ),
)
async def create_item(
    body: ContentItemCreate, session: SessionDep, principal: CurrentPrincipal
) -> ContentItemOut:
    return _item_out(await items.create_item(session, principal, body))


@router.get(
    "/content-items",
    response_model=list[ContentItemOut],
    summary="Content items the caller may see, oldest first, a page at a time (any role)",
)
async def list_items(
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: ReviewState | None = None,
) -> list[ContentItemOut]:
    found = await repository.page_of_items(session, page, organization_id, engagement_id, status)
    held = page_of(found, repository.ITEM_ORDER, page, request, response)
    return [_item_out(item) for item in held]


@router.get(
    "/content-items/export.csv",
    response_class=Response,
    responses=_file_response("text/csv"),
    summary="Export content items as CSV, in the columns the import reads (any role)",
)
async def export_items(
    session: SessionDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: ReviewState | None = None,
) -> Response:
    found = await repository.list_items(session, organization_id, engagement_id, status)
    return Response(
        exporting.export_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="content-items.csv"'},
    )


@router.post(
    "/content-items/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    dependencies=[AUTHORIZED],
    openapi_extra=_binary_body(IMPORT_MEDIA_TYPES),
    summary=(
        "Import posts from a CSV or JSON file: all rows or none; bad rows are reported "
        "with their line (admin, manager, editor)"
    ),
)
async def import_items(
    organization_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> ImportResult:
    file_format = import_format(request.headers.get("content-type"))
    principal.require_organization(organization_id)
    body = body_chunks(request, MAX_IMPORT_BYTES)
    created = await importing.import_posts(session, principal, organization_id, file_format, body)
    return ImportResult(imported=len(created), item_ids=[item.id for item in created])


@router.get(
    "/content-items/{item_id}",
    response_model=ContentItemOut,
    summary="One content item with its variants (any role, own organisations)",
)
async def get_item(item_id: uuid.UUID, session: SessionDep) -> ContentItemOut:
    return _item_out(await items.require_item(session, item_id))


@router.patch(
    "/content-items/{item_id}",
    response_model=ContentItemOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Edit a draft or rejected item; a rejected item becomes a draft again (admin, "
        "manager, editor)"
    ),
)
async def update_item(
    item_id: uuid.UUID, body: ContentItemUpdate, session: SessionDep, principal: CurrentPrincipal
) -> ContentItemOut:
    return _item_out(await items.update_item(session, principal, item_id, body))


@router.put(
    "/content-items/{item_id}/variants/{channel}",
    response_model=VariantOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Create or replace the item's variant for a channel, checked against the platform "
        "rules (admin, manager, editor)"
    ),
)
async def put_variant(
    item_id: uuid.UUID,
    channel: Channel,
    body: VariantPut,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> VariantOut:
    variant = await items.put_variant(session, principal, item_id, channel, body)
    return VariantOut.model_validate(variant)


@router.delete(
    "/content-items/{item_id}/variants/{channel}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AUTHORIZED],
    summary="Remove the item's variant for a channel (admin, manager, editor)",
)
async def delete_variant(
    item_id: uuid.UUID, channel: Channel, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await items.delete_variant(session, principal, item_id, channel)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/content-items/{item_id}/variants/{channel}/preview",
    response_class=Response,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
    summary=(
        "How the platform's feed will show the item's variant for a channel: text cut at its "
        '"see more", first image cropped to its ratio, link card; an HTML page (any role, own '
        "organisations)"
    ),
)
async def preview_variant(item_id: uuid.UUID, channel: Channel, session: SessionDep) -> Response:
    html = await previews.variant_preview(session, item_id, channel)
    return Response(html, media_type="text/html")


@router.post(
    "/content-items/{item_id}/submit",
    response_model=ContentItemOut,
    dependencies=[AUTHORIZED],
    summary="Submit a draft for review (admin, manager, editor)",
)
async def submit_item(
    item_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    note: OptionalNote = None,
) -> ContentItemOut:
    return _item_out(await items.submit(session, principal, item_id, note or ReviewNote()))


@router.post(
    "/content-items/{item_id}/approve",
    response_model=ContentItemOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Approve an item in review: the agency's approval (admin, manager) and, when the "
        "item needs it, the client's (client_approver)"
    ),
)
async def approve_item(
    item_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    note: OptionalNote = None,
) -> ContentItemOut:
    return _item_out(await items.approve(session, principal, item_id, note or ReviewNote()))


@router.post(
    "/content-items/{item_id}/reject",
    response_model=ContentItemOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Reject an item in review with a comment (admin, manager; client_approver on "
        "items that need client approval)"
    ),
)
async def reject_item(
    item_id: uuid.UUID, body: Rejection, session: SessionDep, principal: CurrentPrincipal
) -> ContentItemOut:
    return _item_out(await items.reject(session, principal, item_id, body))


@router.get(
    "/content-items/{item_id}/review-events",
    response_model=list[ReviewEventOut],
    summary=(
        "The item's review audit trail: who moved it, when, from and to which state, why; "
        "oldest first, a page at a time (any role, own organisations)"
    ),
)
async def list_review_events(
    item_id: uuid.UUID, page: PageDep, request: Request, response: Response, session: SessionDep
) -> list[ReviewEventOut]:
    await items.require_item(session, item_id)
    found = await repository.review_events(session, item_id, page)
    held = page_of(found, repository.REVIEW_ORDER, page, request, response)
    return [ReviewEventOut.model_validate(event) for event in held]


@router.post(
    "/media",
    status_code=status.HTTP_201_CREATED,
    response_model=MediaOut,
    dependencies=[AUTHORIZED],
    openapi_extra=_binary_body(SUPPORTED_TYPES),
    summary=(
        "Upload a media file as the raw body with its Content-Type; its bytes must match "
        "the type (admin, manager, editor)"
    ),
)
async def upload_media(
    organization_id: uuid.UUID,
    filename: FileName,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    storage: StorageDep,
) -> MediaOut:
    mime_type = media_type_of_upload(request.headers.get("content-type"))
    principal.require_organization(organization_id)
    limit = upload_limit(mime_type, settings.media)
    async with spooled_body(request, limit, storage.spool_dir) as spooled:
        media = await media_service.upload(
            session, principal, storage, organization_id, filename, mime_type, spooled
        )
    return MediaOut.model_validate(media)


@router.get(
    "/media",
    response_model=list[MediaOut],
    summary="Media the caller may see, oldest first, a page at a time (any role)",
)
async def list_media(
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
    organization_id: uuid.UUID | None = None,
) -> list[MediaOut]:
    found = await repository.list_media(session, page, organization_id)
    held = page_of(found, repository.MEDIA_ORDER, page, request, response)
    return [MediaOut.model_validate(media) for media in held]


@router.get(
    "/media/{media_id}", response_model=MediaOut, summary="One medium's metadata (any role)"
)
async def get_media(media_id: uuid.UUID, session: SessionDep) -> MediaOut:
    return MediaOut.model_validate(await media_service.require_media(session, media_id))


@router.get(
    "/media/{media_id}/content",
    response_class=Response,
    responses=_file_response("application/octet-stream"),
    summary=(
        "The medium's bytes, with its MIME type and SHA-256 as ETag; one byte range with "
        "Range (any role)"
    ),
)
async def get_media_content(
    media_id: uuid.UUID, request: Request, session: SessionDep, storage: StorageDep
) -> Response:
    media = await media_service.require_media(session, media_id)
    disposition = f"inline; filename*=UTF-8''{quote(media.filename)}"
    return await media_response(request, storage, media, {"Content-Disposition": disposition})


@router.delete(
    "/media/{media_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AUTHORIZED],
    summary="Delete a medium no item or variant uses (admin, manager, editor)",
)
async def delete_media(media_id: uuid.UUID, session: SessionDep, storage: StorageDep) -> Response:
    await media_service.delete(session, storage, media_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/platform-rules",
    response_model=list[RuleInfo],
    dependencies=[Depends(current_principal)],
    summary="The platform rules table, each rule with the document it comes from (any role)",
)
async def list_platform_rules(channel: Channel | None = None) -> list[RuleInfo]:
    return [rule.info() for rule in platform_rules.RULES if channel in (None, rule.channel)]


@router.post(
    "/platform-rules/check",
    response_model=CheckResult,
    summary="Check a variant against the platform rules without saving it (any role)",
)
async def check_variant(body: VariantCheck, session: SessionDep) -> CheckResult:
    violations = await items.check(session, body)
    return CheckResult(passes=not violations, violations=violations)
