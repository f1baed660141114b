"""``/v1/content-items``, ``/v1/media`` and ``/v1/platform-rules``: content and its review.

The content service enforces roles and scoping; the gateway checks what only it can see across
services (an item's engagement belongs to the item's organisation).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from pydantic import TypeAdapter

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
from services.content.uploads import (
    IMPORT_MEDIA_TYPES,
    MAX_IMPORT_BYTES,
    import_format,
    media_type_of_upload,
    read_capped_body,
    upload_limit,
)
from services.gateway.clients import query_params
from services.gateway.deps import ServicesDep
from services.strategy.schemas import EngagementOut
from shared.domain import Channel
from shared.errors import FieldError, ProblemError
from shared.settings import Settings

router = APIRouter(tags=["content items"])

_ITEMS = TypeAdapter(list[ContentItemOut])
_EVENTS = TypeAdapter(list[ReviewEventOut])
_MEDIA = TypeAdapter(list[MediaOut])
_RULES = TypeAdapter(list[RuleInfo])

FileName = Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f/\\]+$")]
OptionalNote = Annotated[ReviewNote | None, Body()]


def _binary_body(media_types: frozenset[str] | list[str]) -> dict[str, Any]:
    schema = {"type": "string", "format": "binary"}
    content = {media_type: {"schema": schema} for media_type in sorted(media_types)}
    return {"requestBody": {"required": True, "content": content}}


def _file_response(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {"schema": {"type": "string"}}}}}


async def _require_engagement_of(
    request: Request, services: ServicesDep, engagement_id: uuid.UUID, organization_id: uuid.UUID
) -> None:
    engagement = await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}", EngagementOut
    )
    if engagement.organization_id != organization_id:
        raise ProblemError(
            422,
            "validation-error",
            "The request has invalid fields.",
            title="Validation failed",
            errors=[
                FieldError(
                    field="body.engagement_id",
                    message=f"engagement {engagement_id} belongs to another organisation",
                    type="organization_mismatch",
                ).model_dump()
            ],
        )


@router.post(
    "/content-items",
    status_code=status.HTTP_201_CREATED,
    response_model=ContentItemOut,
    summary="Create a content item, optionally with its channel variants (admin, manager, editor)",
)
async def create_item(
    body: ContentItemCreate, request: Request, services: ServicesDep
) -> ContentItemOut:
    if body.engagement_id is not None:
        await _require_engagement_of(request, services, body.engagement_id, body.organization_id)
    return await services.content.call(request, "POST", "/content-items", ContentItemOut, body=body)


@router.get(
    "/content-items",
    response_model=list[ContentItemOut],
    summary="Content items the caller may see (any role)",
)
async def list_items(
    request: Request,
    services: ServicesDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: ReviewState | None = None,
) -> list[ContentItemOut]:
    params = query_params(
        organization_id=organization_id, engagement_id=engagement_id, status=status
    )
    return await services.content.call(request, "GET", "/content-items", _ITEMS, params=params)


@router.get(
    "/content-items/export.csv",
    response_class=Response,
    responses=_file_response("text/csv"),
    summary="Export content items as CSV, in the columns the import reads (any role)",
)
async def export_items(
    request: Request,
    services: ServicesDep,
    organization_id: uuid.UUID | None = None,
    engagement_id: uuid.UUID | None = None,
    status: ReviewState | None = None,
) -> Response:
    params = query_params(
        organization_id=organization_id, engagement_id=engagement_id, status=status
    )
    answer = await services.content.raw(request, "GET", "/content-items/export.csv", params=params)
    return Response(
        answer.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": answer.headers.get("content-disposition", "attachment")},
    )


@router.post(
    "/content-items/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    openapi_extra=_binary_body(list(IMPORT_MEDIA_TYPES)),
    summary="Import posts from a CSV or JSON file: all rows or none; bad rows are reported with "
    "their line (admin, manager, editor)",
)
async def import_items(
    organization_id: uuid.UUID, request: Request, services: ServicesDep
) -> ImportResult:
    content_type = request.headers.get("content-type", "")
    import_format(content_type)  # refuse an unsupported file before reading it
    data = await read_capped_body(request, MAX_IMPORT_BYTES)
    answer = await services.content.raw(
        request,
        "POST",
        "/content-items/import",
        params={"organization_id": str(organization_id)},
        content=data,
        content_type=content_type,
    )
    return ImportResult.model_validate_json(answer.content)


@router.get(
    "/content-items/{item_id}",
    response_model=ContentItemOut,
    summary="One content item with its variants (any role, own organisations)",
)
async def get_item(item_id: uuid.UUID, request: Request, services: ServicesDep) -> ContentItemOut:
    return await services.content.call(request, "GET", f"/content-items/{item_id}", ContentItemOut)


@router.patch(
    "/content-items/{item_id}",
    response_model=ContentItemOut,
    summary="Edit a draft or rejected item; a rejected item becomes a draft again (admin, "
    "manager, editor)",
)
async def update_item(
    item_id: uuid.UUID, body: ContentItemUpdate, request: Request, services: ServicesDep
) -> ContentItemOut:
    if body.engagement_id is not None:
        item = await services.content.call(
            request, "GET", f"/content-items/{item_id}", ContentItemOut
        )
        await _require_engagement_of(request, services, body.engagement_id, item.organization_id)
    # The client forwards only the fields given: one left out is unchanged, a null clears it.
    path = f"/content-items/{item_id}"
    return await services.content.call(request, "PATCH", path, ContentItemOut, body=body)


@router.put(
    "/content-items/{item_id}/variants/{channel}",
    response_model=VariantOut,
    summary="Create or replace the item's variant for a channel, checked against the platform "
    "rules (admin, manager, editor)",
)
async def put_variant(
    item_id: uuid.UUID,
    channel: Channel,
    body: VariantPut,
    request: Request,
    services: ServicesDep,
) -> VariantOut:
    path = f"/content-items/{item_id}/variants/{channel.value}"
    return await services.content.call(request, "PUT", path, VariantOut, body=body)


@router.delete(
    "/content-items/{item_id}/variants/{channel}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove the item's variant for a channel (admin, manager, editor)",
)
async def delete_variant(
    item_id: uuid.UUID, channel: Channel, request: Request, services: ServicesDep
) -> Response:
    path = f"/content-items/{item_id}/variants/{channel.value}"
    await services.content.raw(request, "DELETE", path)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/content-items/{item_id}/submit",
    response_model=ContentItemOut,
    summary="Submit a draft for review (admin, manager, editor)",
)
async def submit(
    item_id: uuid.UUID, request: Request, services: ServicesDep, note: OptionalNote = None
) -> ContentItemOut:
    path = f"/content-items/{item_id}/submit"
    return await services.content.call(request, "POST", path, ContentItemOut, body=note)


@router.post(
    "/content-items/{item_id}/approve",
    response_model=ContentItemOut,
    summary="Approve an item in review: the agency's approval (admin, manager) and, when the item "
    "needs it, the client's (client_approver)",
)
async def approve(
    item_id: uuid.UUID, request: Request, services: ServicesDep, note: OptionalNote = None
) -> ContentItemOut:
    path = f"/content-items/{item_id}/approve"
    return await services.content.call(request, "POST", path, ContentItemOut, body=note)


@router.post(
    "/content-items/{item_id}/reject",
    response_model=ContentItemOut,
    summary="Reject an item in review with a comment (admin, manager; client_approver on items "
    "that need client approval)",
)
async def reject(
    item_id: uuid.UUID, body: Rejection, request: Request, services: ServicesDep
) -> ContentItemOut:
    path = f"/content-items/{item_id}/reject"
    return await services.content.call(request, "POST", path, ContentItemOut, body=body)


@router.get(
    "/content-items/{item_id}/review-events",
    response_model=list[ReviewEventOut],
    summary="The item's review audit trail: who moved it, when, from and to which state, why "
    "(any role, own organisations)",
)
async def review_events(
    item_id: uuid.UUID, request: Request, services: ServicesDep
) -> list[ReviewEventOut]:
    path = f"/content-items/{item_id}/review-events"
    return await services.content.call(request, "GET", path, _EVENTS)


@router.post(
    "/media",
    status_code=status.HTTP_201_CREATED,
    response_model=MediaOut,
    openapi_extra=_binary_body(SUPPORTED_TYPES),
    summary="Upload a media file as the raw body with its Content-Type; its bytes must match the "
    "type (admin, manager, editor)",
)
async def upload_media(
    organization_id: uuid.UUID, filename: FileName, request: Request, services: ServicesDep
) -> MediaOut:
    settings: Settings = request.app.state.settings
    mime_type = media_type_of_upload(request.headers.get("content-type"))
    data = await read_capped_body(request, upload_limit(mime_type, settings.media))
    answer = await services.content.raw(
        request,
        "POST",
        "/media",
        params={"organization_id": str(organization_id), "filename": filename},
        content=data,
        content_type=mime_type,
    )
    return MediaOut.model_validate_json(answer.content)


@router.get("/media", response_model=list[MediaOut], summary="Media the caller may see (any role)")
async def list_media(
    request: Request, services: ServicesDep, organization_id: uuid.UUID | None = None
) -> list[MediaOut]:
    params = query_params(organization_id=organization_id)
    return await services.content.call(request, "GET", "/media", _MEDIA, params=params)


@router.get(
    "/media/{media_id}", response_model=MediaOut, summary="One medium's metadata (any role)"
)
async def get_media(media_id: uuid.UUID, request: Request, services: ServicesDep) -> MediaOut:
    return await services.content.call(request, "GET", f"/media/{media_id}", MediaOut)


@router.get(
    "/media/{media_id}/content",
    response_class=Response,
    responses=_file_response("application/octet-stream"),
    summary="The medium's bytes, with its MIME type and SHA-256 as ETag (any role)",
)
async def media_content(media_id: uuid.UUID, request: Request, services: ServicesDep) -> Response:
    answer = await services.content.raw(request, "GET", f"/media/{media_id}/content")
    passed = {"etag", "content-disposition"}
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type"),
        headers={name: value for name, value in answer.headers.items() if name in passed},
    )


@router.delete(
    "/media/{media_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a medium no item or variant uses (admin, manager, editor)",
)
async def delete_media(media_id: uuid.UUID, request: Request, services: ServicesDep) -> Response:
    await services.content.raw(request, "DELETE", f"/media/{media_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/platform-rules",
    response_model=list[RuleInfo],
    summary="The platform rules table, each rule with the document it comes from (any role)",
)
async def list_platform_rules(
    request: Request, services: ServicesDep, channel: Channel | None = None
) -> list[RuleInfo]:
    params = query_params(channel=channel)
    return await services.content.call(request, "GET", "/platform-rules", _RULES, params=params)


@router.post(
    "/platform-rules/check",
    response_model=CheckResult,
    summary="Check a variant against the platform rules without saving it (any role)",
)
async def check_variant(body: VariantCheck, request: Request, services: ServicesDep) -> CheckResult:
    return await services.content.call(
        request, "POST", "/platform-rules/check", CheckResult, body=body
    )
